"""The Olivetti lesson (issue 19): real faces when online, cached after one download; offline its card says so,
opening it says so and the command line says so (non-zero exit, a JSON last line with the reason), never a
traceback. (tests/test_lessons.py runs it on a small Olivetti-shaped cache of real faces.)"""

from __future__ import annotations

import json

import pytest
import streamlit as st

from core import cli, lessons
from tests.app_support import elements, open_page
from tests.lesson_fixtures import no_downloads, olivetti_cache  # noqa: F401 - fixtures

NAME = "olivetti-nmf-vs-eigenfaces"


@pytest.fixture(autouse=True)
def empty_run_store(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))


def _card_captions(at) -> str:
    return " | ".join(str(caption.value) for caption in at.caption)


def test_the_lesson_is_on_real_faces_at_lee_and_seungs_rank_and_online():
    lesson = lessons.get(NAME)
    assert lesson.data == "olivetti" and lesson.online
    assert [run.model for run in lesson.runs] == ["nmf", "pca"]
    assert all(run.params["n_components"] == 49 for run in lesson.runs)
    assert not lessons.get("eigenfaces-vs-nmf-parts").online


def test_the_command_line_marks_it_online_and_offline_says_why_in_its_json_last_line(no_downloads, capsys):
    assert cli.main(["lessons"]) == 0
    listed = capsys.readouterr().out
    line = next(line for line in listed.splitlines() if line.startswith(NAME))
    assert "[online: one download, then cached]" in line
    assert "linear-ae-is-pca" in listed and "[online" not in listed.split("linear-ae-is-pca")[1].splitlines()[0]
    status = cli.main(["lesson", NAME, "--device", "cpu"])
    out, err = capsys.readouterr()
    assert status != 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["lesson"] == NAME and result["ok"] is False
    assert "one-time download" in result["error"] and str(no_downloads) in result["error"]
    assert "error: " in err and "Traceback" not in err


def test_offline_its_home_card_says_it_needs_one_download_and_draws_no_picture(no_downloads):
    at = open_page("views/home.py")
    assert not at.exception
    captions = _card_captions(at)
    assert "Needs internet once: olivetti (about 1.5 MB)" in captions and "No picture" not in captions
    assert not any("olivetti" in image.proto.imgs[0].caption for image in elements(at, "image"))
    assert at.button(key=f"lesson:open:{NAME}").label == "Open"


def test_cached_its_home_card_says_so_and_shows_faces(olivetti_cache):
    at = open_page("views/home.py")
    assert not at.exception
    captions = _card_captions(at)
    assert "olivetti is downloaded and cached on this machine" in captions
    assert any(image.proto.imgs[0].caption == "olivetti: 12 samples" for image in elements(at, "image"))


def test_opening_it_offline_gives_the_clear_offline_message_not_a_traceback(no_downloads):
    st.cache_data.clear()  # the server's loaded sets: another test's cached Olivetti would load from there
    st.cache_resource.clear()
    at = open_page("views/home.py")
    at.button(key=f"lesson:open:{NAME}").click().run()
    at.switch_page("views/compare.py")  # AppTest reruns the page it was told, not the one the app switched to
    at.run()
    assert not at.exception
    errors = " | ".join(str(error.value) for error in at.error)
    assert "one-time download" in errors and "internet" in errors
    assert lessons.get(NAME).title in " ".join(str(box.value) for box in at.info)


def test_its_picture_puts_nmfs_atoms_sparsest_first_beside_the_eigenfaces():
    import numpy as np

    from core import metrics, render
    from core.lessons.pictures import parts_beside_eigenfaces

    rng = np.random.default_rng(0)
    nmf_atoms = rng.random((4, 36))
    nmf_atoms[2, 1:] = 0.0  # one pixel lit: the sparsest
    pca = rng.standard_normal((4, 36))
    picture, caption = parts_beside_eigenfaces(nmf_atoms, pca, (6, 6))
    order = np.argsort(-metrics.hoyer_sparseness(nmf_atoms))
    assert order[0] == 2
    expected = render.side_by_side(
        [render.atom_grid(nmf_atoms[order], (6, 6), scale=1, cmap="gray", padding=2, background="white"),
         render.atom_grid(pca, (6, 6), scale=1, cmap="diverging", padding=2, background="white")],
        ["NMF's 4 atoms, sparsest first", "PCA's 4 components (eigenfaces)"], gap=24)
    assert np.array_equal(np.asarray(picture), np.asarray(expected))
    assert "from 1.00 down to" in caption
