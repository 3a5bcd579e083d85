"""The Dockerfile, checked without a Docker engine: its instructions parsed and what they rely on tested here
(COPY sources exist and are not ignored, pip installs requirements.txt before the code is copied, a non-root
user, the run store on a volume, the health check command works against a server, the CMD's program, flags
and script exist)."""

from __future__ import annotations

import fnmatch
import http.server
import json
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        current += " " + line.rstrip("\\").strip() if current else line.rstrip("\\").strip()
        if not line.endswith("\\"):
            lines.append(current)
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def args_of(kind: str) -> list[str]:
    return [args for instruction, args in instructions() if instruction == kind]


def exec_form(args: str) -> list[str]:
    return json.loads(args) if args.startswith("[") else shlex.split(args)


def ignored(path: str) -> bool:
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines() if p.strip() and p[0] != "#"]
    parts = path.split("/")
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        if fnmatch.fnmatch(path, pattern) or any(fnmatch.fnmatch(part, bare) for part in parts) \
                or fnmatch.fnmatch(parts[0], pattern):
            return True
    return False


def test_base_image_and_layer_order():
    order = [kind for kind, _ in instructions()]
    assert instructions()[0] == ("FROM", "python:3.11-slim")
    copies = args_of("COPY")
    assert copies[0].split() == ["requirements.txt", "constraints.txt", "./"]  # requirements alone first
    pip = next(i for i, (kind, args) in enumerate(instructions()) if kind == "RUN" and "pip install" in args)
    first_code_copy = next(i for i, (kind, args) in enumerate(instructions())
                           if kind == "COPY" and "requirements.txt" not in args)
    assert order.index("COPY") < pip < first_code_copy  # the code changes; the installed packages stay cached


def test_pip_installs_exactly_requirements_txt_pinned_by_constraints_and_the_venv_satisfies_it():
    (run,) = [args for args in args_of("RUN") if "pip install" in args]
    words = shlex.split(run)
    assert words[words.index("-r") + 1] == "requirements.txt" and "--no-cache-dir" in words
    assert words[words.index("-c") + 1] == "constraints.txt"
    assert [w for w in words if not w.startswith("-")
            and w not in ("pip", "install", "requirements.txt", "constraints.txt")] == []
    from importlib.metadata import version

    from packaging.requirements import Requirement

    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            installed = version(requirement.name)
            assert requirement.specifier.contains(installed.split("+")[0], prereleases=True), (line, installed)


def test_copy_sources_exist_and_are_not_ignored():
    needed = set()
    for args in args_of("COPY"):
        words = [w for w in args.split() if not w.startswith("--")]
        for source in words[:-1]:
            assert (REPO / source).exists(), source
            assert not ignored(source), f"{source} is in .dockerignore"
            needed.add(source)
    assert {"app.py", "core", "views", "ui", "assets", ".streamlit", "requirements.txt", "constraints.txt"} <= needed
    for path in ("core/cli.py", "views/train.py", "ui/look.py", "assets/style.css", ".streamlit/config.toml"):
        assert not ignored(path)
    for path in (".venv", "runs", ".git", "tests", "core/__pycache__"):
        assert ignored(path), path


def test_non_root_user_owns_the_run_store_volume():
    (user,) = args_of("USER")
    assert user not in ("root", "0")
    env = " ".join(args_of("ENV"))
    assert "SAE_EXPLORER_RUNS=/data/runs" in env
    (volume,) = args_of("VOLUME")
    assert exec_form(volume) == ["/data/runs"]
    setup = " ".join(args_of("RUN"))
    assert f"useradd" in setup and f"chown -R {user}:{user} /data" in setup
    kinds = [kind for kind, _ in instructions()]
    assert kinds.index("USER") < kinds.index("CMD") and kinds.index("USER") < kinds.index("VOLUME")


def test_cmd_runs_streamlit_on_all_interfaces_with_flags_streamlit_knows():
    assert args_of("EXPOSE") == ["8501"]
    (cmd,) = args_of("CMD")
    argv = exec_form(cmd)
    assert argv[:3] == ["streamlit", "run", "app.py"] and (REPO / "app.py").is_file()
    flags = dict(zip(argv[3::2], argv[4::2]))
    assert flags == {"--server.port": "8501", "--server.address": "0.0.0.0"}
    from streamlit import config

    options = config.get_config_options()
    for flag in flags:
        assert flag.removeprefix("--") in options
    done = subprocess.run([sys.executable, "-m", "streamlit", "run", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "--server.address" in done.stdout


class _Health(http.server.BaseHTTPRequestHandler):
    body = b"ok"

    def do_GET(self):  # noqa: N802 - the http.server API
        if self.path == "/_stcore/health":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(self.body)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("body, status", [(b"ok", 0), (b"not ready", 1)])
def test_the_healthcheck_command_asks_the_health_endpoint(body, status):
    (health,) = args_of("HEALTHCHECK")
    assert "--interval" in health and "--start-period" in health
    argv = exec_form(health.split("CMD", 1)[1].strip())
    assert argv[0] == "python" and "http://localhost:8501/_stcore/health" in argv[-1]
    handler = type("Handler", (_Health,), {"body": body})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        script = argv[-1].replace("localhost:8501", f"127.0.0.1:{port}")
        done = subprocess.run([sys.executable, *argv[1:-1], script], capture_output=True, timeout=30)
        assert done.returncode == status, done.stderr
    finally:
        server.shutdown()
    free = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    port = free.server_address[1]
    free.server_close()  # nothing listens here now: the check must fail, not hang
    script = argv[-1].replace("localhost:8501", f"127.0.0.1:{port}")
    assert subprocess.run([sys.executable, *argv[1:-1], script], capture_output=True, timeout=30).returncode != 0


def test_readme_shows_build_and_run_with_and_without_a_gpu():
    text = (REPO / "README.md").read_text()
    assert "docker build -t sae-nmf-explorer ." in text
    runs = [line for line in text.splitlines() if line.strip().startswith("docker run")]
    assert any("--gpus all" in line for line in runs) and any("--gpus" not in line for line in runs)
    assert all("-p 8501:8501" in line and "/data/runs" in line for line in runs)
