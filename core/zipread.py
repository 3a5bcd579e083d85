"""Reading one member of a user's ZIP file without trusting its headers (upload a zip bomb, get an error)."""

from __future__ import annotations

import zipfile
import zlib

#: what reading a damaged, encrypted, truncated or odd member can raise; callers word their own message
ZIP_ERRORS = (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError, NotImplementedError, zlib.error)


class MemberTooLarge(zipfile.BadZipFile):
    """A member inflated past the bytes it was allowed."""


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, chunk: int = 1 << 20) -> bytes:
    """The bytes of member ``info``, at most ``limit`` of them, inflated a MiB at a time.

    ``archive.read()`` inflates a whole deflate stream in one call, so a member whose headers lie about
    its size would balloon in memory before its size or CRC is checked; here it stops at ``limit + 1``
    bytes with ``MemberTooLarge``."""
    parts, total = [], 0
    with archive.open(info) as stream:
        while part := stream.read(chunk):
            total += len(part)
            if total > limit:
                raise MemberTooLarge(f"it inflates past {limit:,} bytes")
            parts.append(part)
    return b"".join(parts)
