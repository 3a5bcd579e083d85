"""An online lesson (Olivetti) offline, as a teacher meets it: its Home card says before the click how to get
its one download and what to open without internet; once open, its box says what to do instead of offering
"Train the NMF" / "Train the PCA" buttons that lead to Train's data error, and its offline stand-in opens in one
click."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core import lessons
from core.datasets import online
from tests.app_support import open_page
from tests.lesson_fixtures import no_downloads, olivetti_shaped_faces  # noqa: F401 - fixture

NAME = "olivetti-nmf-vs-eigenfaces"


def _open_offline():
    st.cache_data.clear()  # another test's cached Olivetti would load from the server's cache
    st.cache_resource.clear()
    at = open_page("views/home.py")
    at.button(key=f"lesson:open:{NAME}").click().run()
    at.switch_page("views/compare.py")  # AppTest reruns the page it was told, not the one the app switched to
    return at.run()


def test_its_card_says_how_to_get_the_download_and_what_to_open_offline(no_downloads):
    at = open_page("views/home.py")
    captions = " | ".join(str(caption.value) for caption in at.caption)
    assert "Before class, open it once while online" in captions
    assert f"Offline instead: *{lessons.get('eigenfaces-vs-nmf-parts').title}*" in captions


def test_offline_its_train_buttons_are_disabled_and_the_box_says_what_to_do(no_downloads):
    at = _open_offline()
    assert not at.exception
    for index in range(len(lessons.get(NAME).runs)):
        assert at.button(key=f"lesson:run:{index}").disabled
    box = " ".join(str(info.value) for info in at.info)
    assert "Try the download again" in box and str(online.cache_dir()) in box
    assert "Open the offline lesson" in box
    assert not at.button(key="lesson:retry").disabled


def test_the_offline_lesson_opens_in_one_click(no_downloads):
    at = _open_offline()
    at.button(key="lesson:offline").click().run()
    at.switch_page("views/compare.py").run()
    assert not at.exception
    assert f"Lesson: {lessons.get('eigenfaces-vs-nmf-parts').title}" in " ".join(str(box.value) for box in at.info)
    assert not at.error
    assert not at.button(key="lesson:run:0").disabled


def test_a_cached_online_lesson_keeps_its_train_buttons(no_downloads):
    X, labels = olivetti_shaped_faces()
    no_downloads.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(online.cache_file("olivetti"), X=X, labels=labels)
    at = _open_offline()
    assert not at.exception and not at.error
    assert not at.button(key="lesson:run:0").disabled
    assert "Try the download again" not in " ".join(str(info.value) for info in at.info)



def test_homes_caption_promises_no_data_picture_before_the_download(no_downloads):
    at = open_page("views/home.py")
    intro = next(str(caption.value) for caption in at.caption if "Classic results of the papers" in str(caption.value))
    assert "once it is downloaded" in intro
