"""What an open lesson's trained runs show (ui.lessons calls it): its picture (core.lessons.pictures) and its
outcome as bars against the lesson's reference line, drawn once per set of runs."""

from __future__ import annotations

from typing import Any, Sequence

import plotly.graph_objects as go
import streamlit as st

from core import lessons

#: the lessons' pictures and charts of this session, by lesson and runs (not redrawn on every rerun)
CACHE_KEY = "_lesson_results"


def _remembered(kind: str, lesson: lessons.Lesson, runs_key: Any, make):
    cache = st.session_state.setdefault(CACHE_KEY, {})
    key = (kind, lesson.name)
    if cache.get(key, (None,))[0] != runs_key:
        cache[key] = (runs_key, make())
    return cache[key][1]


def picture(lesson: lessons.Lesson, data, fitted: Sequence[Any], runs_key: Any) -> None:
    """The lesson's picture of its fitted runs (``runs_key`` names them: a finished job, saved runs' ids)."""
    if lesson.picture is None:
        return
    try:
        image, caption = _remembered("picture", lesson, runs_key, lambda: lesson.picture(data, list(fitted)))
    except (AttributeError, ValueError) as error:  # a run without what the picture reads
        st.caption(f"No picture of these runs: {error}")
        return
    st.image(image, width=image.width, output_format="PNG", caption=caption)  # its own size: never blurred


def bars(lesson: lessons.Lesson, outcome: dict[str, float], key: str) -> None:
    """The outcome as one bar per run, in the order of its runs: how far above the reference (e.g. PCA's error)
    each lies, in percent, so that a few percent show; a gray band behind each bar is its expected range, the
    bar green inside it and red outside."""
    if lesson.bars is None:
        return
    reference = lesson.bars.reference
    names = [run.label or run.model for run in lesson.runs]
    above = [100.0 * (value / reference - 1.0) for value in list(outcome.values())[:len(names)]]
    ranges = [(100.0 * (low / reference - 1.0), 100.0 * (high / reference - 1.0))
              for low, high in list(lesson.expected.values())[:len(names)]]
    inside = [low <= value <= high for value, (low, high) in zip(above, ranges)]
    bottom = min(-2.0, min(above) * 1.2)
    top = max(2.0, max(above) * 1.3, *(low * 1.5 for low, _ in ranges))
    figure = go.Figure(go.Bar(x=names, y=above, text=[f"{value:+.1f}%" for value in above], textposition="outside",
                              marker_color=["#15803d" if ok else "#b91c1c" for ok in inside], width=0.5))
    for index, (low, high) in enumerate(ranges):
        figure.add_shape(type="rect", x0=index - 0.4, x1=index + 0.4, y0=max(low, bottom), y1=min(high, top),
                         fillcolor="#e5e7eb", line_width=0, layer="below")
    figure.add_hline(y=0.0, line_dash="dash", line_color="#111827", annotation_text=lesson.bars.reference_label,
                     annotation_position="bottom right")
    figure.update_layout(height=340, margin={"l": 10, "r": 10, "t": 20, "b": 10}, showlegend=False,
                         yaxis={"title": lesson.bars.axis, "range": [bottom, top], "ticksuffix": "%"})
    st.plotly_chart(figure, key=key)
    st.caption("One bar per run of the lesson: how far its error lies above the reference (the dashed line). "
               "The gray band behind a bar is the range the lesson expects for it; the bar is green inside it, "
               "red outside.")
