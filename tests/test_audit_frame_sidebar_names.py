"""The sidebar shows an uploaded file's name as text: a name holding markup ('<b>x</b>.npy') is not drawn
as markup (it is the user's text, put into the sidebar's HTML)."""

from __future__ import annotations

from app_support import app_state, open_page
from ui import session


def test_an_uploaded_files_name_is_shown_as_text_in_the_sidebar():
    at = open_page("views/home.py")
    app_state(at).data = session.DataChoice("upload", {}, upload="<b>bold</b>.npy", upload_id="1")
    at.run()
    (setup,) = [element.proto.body for element in at.get("html") if 'class="setup"' in element.proto.body]
    assert "<b>bold</b>" not in setup
    assert "upload: &lt;b&gt;bold&lt;/b&gt;.npy" in setup
