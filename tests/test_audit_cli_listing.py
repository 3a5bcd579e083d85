"""``python -m core datasets`` lists each kind of file's options, as README's Data sets section describes."""

from __future__ import annotations

from core import cli, datasets


def test_the_datasets_listing_names_every_file_option(capsys):
    """`python -m core datasets` lists what each kind of file takes (--data-option), e.g. .npz's key and
    every array file's as_vectors, which README's Data sets section describes."""
    assert cli.main(["datasets"]) == 0
    listing = capsys.readouterr().out
    for kind, options in datasets.FILE_OPTIONS.items():
        line = next(line for line in listing.splitlines() if line.strip().startswith(kind))
        assert all(option in line for option in options), (kind, line)
