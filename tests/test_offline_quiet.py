"""Offline, loading a set that needs a download shows core's one clear error, not scikit-learn's download-retry
warnings before it ('A network error occurred ... Retrying...', 'Retry downloading from url')."""

from __future__ import annotations

import urllib.error
import warnings

import pytest

from core import cli
from core.datasets import online
from datasets_fixtures import go_offline

# scikit-learn's own downloaders, taken before any fixture replaces them
REAL_DOWNLOADERS = {"mnist": online._download_mnist, "olivetti": online._download_olivetti}


def _refused(*args, **kwargs):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """The real downloaders, with scikit-learn's network calls failing as they do offline (no waits between
    its retries)."""
    go_offline(monkeypatch, tmp_path / "cache")
    monkeypatch.setattr(online, "_download_mnist", REAL_DOWNLOADERS["mnist"])
    monkeypatch.setattr(online, "_download_olivetti", REAL_DOWNLOADERS["olivetti"])
    monkeypatch.setattr("sklearn.datasets._openml.urlopen", _refused)
    monkeypatch.setattr("sklearn.datasets._base.urlretrieve", _refused)
    monkeypatch.setattr("sklearn.datasets._openml.time.sleep", lambda seconds: None)


@pytest.mark.parametrize("name", ["mnist", "olivetti"])
def test_an_offline_download_warns_nothing_and_raises_the_clear_error(no_network, name):
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with pytest.raises(online.DatasetError, match="needs a one-time download"):
            online.load_online(name)
    assert [str(w.message) for w in shown] == []


def test_cli_train_on_mnist_offline_prints_only_the_clear_error(no_network, capsys):
    with warnings.catch_warnings(record=True) as shown:  # what `python -m core` would print to stderr
        warnings.simplefilter("default")
        code = cli.main(["train", "--model", "sae-topk", "--data", "mnist"])
    said = capsys.readouterr()
    assert code != 0
    assert "needs a one-time download" in said.err
    assert [str(w.message) for w in shown] == []
