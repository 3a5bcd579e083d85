"""A model that needs non-negative data, refused on centred data, is told the fix that works: turn Center off
(centring comes after scaling, so scale = minmax alone leaves values below 0); on signed data without
centring, scale = minmax (ui.data_loading.sign_fix, used by ui.train_runner)."""

from __future__ import annotations

from app_support import messages, open_page, stop_job


def _refusal(center: bool) -> str:
    at = open_page("views/data.py")
    at.toggle(key="data:digits:center").set_value(center).run()
    at.switch_page("views/train.py")
    at.run()
    at.selectbox(key="train:model").set_value("nmf").run()
    next(b for b in at.button if b.label == "Train").click().run()
    try:
        assert not at.exception
        return messages(at)
    finally:
        stop_job(at)


def test_centred_digits_are_refused_with_the_fix_that_works():
    said = _refusal(center=True)
    assert "nmf needs non-negative data" in said and "turn Center off" in said, said

