"""Security defaults: the server's config, where `make run` listens, no unpickling anywhere in the code,
and no path from a user (zip entries, run names, run ids) that leaves the data folder."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bad_inputs import FILES, image, zipped
from core import datasets, models
from core.store import RunNotFoundError, RunStore

REPO = Path(__file__).resolve().parents[1]


def _python_files() -> list[Path]:
    files = [REPO / "app.py"]
    for folder in ("core", "views", "ui", "bench", "tests"):
        files += sorted((REPO / folder).rglob("*.py"))
    return files


# -- the server's configuration ------------------------------------------------------------------------------
def test_streamlit_config_turns_on_xsrf_limits_uploads_and_sends_no_statistics():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    server = config["server"]
    assert server["enableXsrfProtection"] is True
    assert server.get("enableCORS", True) is True  # Streamlit turns XSRF off when CORS is off
    assert 1 <= server["maxUploadSize"] <= 200
    assert config["browser"]["gatherUsageStats"] is False
    assert "address" not in server  # where to listen is the Makefile's (or Docker's) decision


def test_streamlit_reads_these_settings():
    script = ("from streamlit import config; config.get_config_options(force_reparse=True); "
              "print(config.get_option('server.enableXsrfProtection'), config.get_option('server.maxUploadSize'), "
              "config.get_option('browser.gatherUsageStats'))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    expected = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert done.stdout.split() == ["True", str(expected), "False"], done.stderr


def _make_n(*args: str) -> str:
    done = subprocess.run(["make", "-n", *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return next(line for line in done.stdout.splitlines() if "streamlit run" in line)


def test_make_run_serves_on_localhost_unless_told_otherwise():
    line = _make_n("run")
    assert "--server.address 127.0.0.1" in line and "0.0.0.0" not in line
    assert "--server.address 0.0.0.0" in _make_n("run", "HOST=0.0.0.0")


# -- nothing is ever unpickled -------------------------------------------------------------------------------
def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
            yield node, owner, name


def _keyword(node: ast.Call, name: str):
    for keyword in node.keywords:
        if keyword.arg == name:
            return keyword.value.value if isinstance(keyword.value, ast.Constant) else "not a constant"
    return "missing"


def test_no_load_in_the_code_can_unpickle():
    problems, seen = [], 0
    for path in _python_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, owner, name in _calls(tree):
            where = f"{path.relative_to(REPO)}:{node.lineno}"
            if owner in ("np", "numpy") and name == "load":
                seen += 1
                if _keyword(node, "allow_pickle") is not False:
                    problems.append(f"{where}: np.load without allow_pickle=False")
            if owner == "torch" and name == "load":
                seen += 1
                if _keyword(node, "weights_only") is not True:
                    problems.append(f"{where}: torch.load without weights_only=True")
            if owner in ("pickle", "cPickle", "dill", "joblib", "cloudpickle") and name in ("load", "loads"):
                problems.append(f"{where}: {owner}.{name}")
            if owner in ("pd", "pandas") and name == "read_pickle":
                problems.append(f"{where}: pandas.read_pickle")
    assert seen >= 2  # the loaders were scanned
    assert not problems, "\n".join(problems)


def test_the_scanner_catches_what_it_looks_for():
    bad = ast.parse("import numpy as np, torch, pickle\nnp.load(f)\nnp.load(f, allow_pickle=True)\n"
                    "torch.load(f)\npickle.loads(b)\n")
    found = [(owner, name) for _, owner, name in _calls(bad)]
    assert found.count(("np", "load")) == 2 and ("torch", "load") in found and ("pickle", "loads") in found
    assert [_keyword(node, "allow_pickle") for node, o, n in _calls(bad) if n == "load" and o == "np"] == \
        ["missing", True]


# -- paths from users never leave the data folder ------------------------------------------------------------------
@pytest.mark.parametrize("entry", ["../evil.png", "a/../../evil.png", "/tmp/evil.png", "..\\evil.png",
                                   "C:/evil.png", "ok/../../../etc/evil.png"])
def test_zip_entries_with_escaping_paths_are_refused_and_nothing_is_written(tmp_path, monkeypatch, entry):
    work = tmp_path / "work" / "deeper"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    data = zipped({"fine/a.png": image(4, 4), entry: image(4, 4), "fine/b.png": image(4, 4)})
    (work / "upload.zip").write_bytes(data)
    before = set(tmp_path.rglob("*"))
    for load in (lambda: datasets.load_bytes(data, "upload.zip"), lambda: datasets.load(work / "upload.zip")):
        with pytest.raises(datasets.DatasetError, match="unsafe path"):
            load()
    assert set(tmp_path.rglob("*")) == before
    assert not Path("/tmp/evil.png").exists()


def test_escaping_zip_cases_are_in_the_corpus():
    assert sum(case.kind == "escape" for case in FILES.values()) >= 3


@pytest.mark.parametrize("name", ["../../escape", "/etc/passwd", "..\\..\\win", "a/../../b", "~root/x", "%2e%2e/x",
                                  "名前/../../x", ".", ".."])
def test_run_names_never_become_paths(tmp_path, name):
    X = np.random.default_rng(0).random((20, 6)).astype(np.float32)
    store = RunStore(tmp_path / "data" / "runs")
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(store.root)}
    record = store.save_run(models.create("pca", n_components=2).fit(X), dataset=name, name=name)
    assert store.get(record.id).name == name
    renamed = store.rename(record.id, name + "/../../again")
    assert renamed.name == name + "/../../again"
    assert {p for p in tmp_path.rglob("*") if not p.is_relative_to(store.root)} == before
    assert store.run_folder(record.id).parent == store.root / "runs"
    for bad_id in (name, f"{record.id}/../..", "../" + record.id):
        with pytest.raises(RunNotFoundError):
            store.load_model(bad_id)


def test_a_zip_member_is_read_up_to_its_limit_and_no_further(tmp_path):
    from core.zipread import MemberTooLarge, read_member

    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", bytes(3 << 20))  # 3 MiB that deflate to a few KiB
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("zeros.bin")
        assert read_member(archive, info, limit=3 << 20) == bytes(3 << 20)
        with pytest.raises(MemberTooLarge, match="inflates past 2,097,152 bytes"):
            read_member(archive, info, limit=2 << 20)
