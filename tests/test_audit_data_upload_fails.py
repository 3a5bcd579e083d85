"""An upload that cannot be read (or no file yet) leaves the data set in use as it was, and the page says which
one that is: the preview below the error is that data set, not the file just uploaded (views/data.py)."""

from __future__ import annotations

from app_support import app_state, messages, open_page

UPLOAD = "Upload a file ..."


def test_a_failed_upload_names_the_data_set_still_in_use():
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value(UPLOAD).run()
    captions = " | ".join(c.value for c in at.caption)
    assert "the data set in use stays **digits** (shown below)" in captions
    at.file_uploader(key="data:upload").set_value(("bad.npy", b"not an npy file", "application/octet-stream")).run()
    assert not at.exception
    said = messages(at)
    assert "bad.npy is not a NumPy .npy file" in said and "The data set in use is still **digits**" in said, said
    assert app_state(at).data.label == "digits" and at.subheader[0].value == "digits"


def test_the_array_box_says_which_array_of_a_npz_is_read_when_it_is_empty():
    """A .npz of several arrays is read without a name (its first numeric array): the box's help said a name was
    needed when the file holds several."""
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value(UPLOAD).run()
    assert "left empty: its first numeric array" in at.text_input(key="data:upload:key").help
