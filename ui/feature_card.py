"""Inspect's feature card: one feature of a saved run up close.

Its atom and top-activating samples (or texts), examples from across its activation range, its nearest atoms
and most correlated features, its mean activation per class, a slider that scales it in a sample, its firing
density over training (runs trained in the app record it), and the activation and density histograms. On
data with texts: a keyword label per feature and a search for the features that fire on a word.

Thin: the math is in ``core.analysis.features`` and ``core.analysis.text_features``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import analysis, metrics, render
from core.analysis import features as card
from core.analysis.text_features import keyword_labels, search_features
from ui import look, session

SMALL = {"height": 260, "margin": {"l": 10, "r": 10, "t": 30, "b": 10}}
RED, BLUE, GREY = "#e15759", "#4e79a7", "#bab0ac"
FEATURE_KEY = "inspect:feature"
SEARCH_APPLIED = "_inspect_search_applied"  # the search result last opened, so it is opened once
N_NEIGHBOURS = 8


def texts_of(run) -> np.ndarray | None:
    """The texts behind the run's analysed rows, or None when its data has none."""
    texts = getattr(run.dataset, "texts", None)
    return None if texts is None else np.asarray(texts, dtype=str)[run.rows]


def class_names(run, classes) -> list[str]:
    names = getattr(run.dataset, "label_names", None)
    return [str(names[int(c)]) if names is not None and 0 <= int(c) < len(names) else str(c) for c in classes]


@st.cache_resource(show_spinner="Labelling the features by their top texts ...", max_entries=8)
def _keywords(run_id: str, updated_at: float, _run) -> list[str]:
    return keyword_labels(_run.codes, texts_of(_run))


@st.cache_resource(show_spinner=False, max_entries=16)
def _firing(root: str, run_id: str, updated_at: float, _run_store):
    try:
        return card.firing_over_training(_run_store.load_history(run_id))
    except (OSError, ValueError):  # no readable history: nothing to draw
        return None


def _chart(fig: go.Figure, key: str, title: str, **layout) -> None:
    fig.update_layout(title={"text": title, "font": {"size": 13}}, **{**SMALL, **layout})
    st.plotly_chart(fig, key=key, config={"displayModeBar": False})


def _text_table(texts, indices, values, key: str) -> None:
    st.dataframe([{"activation": float(v), "text": str(texts[i]), "sample": int(i)} for i, v in zip(indices, values)],
                 hide_index=True, width="stretch", key=key,
                 column_config={"activation": st.column_config.NumberColumn(format="%.3g", width="small"),
                                "sample": st.column_config.NumberColumn(width="small")})


def search_box(run, texts, keywords) -> None:
    """'Which features fire on X?': a text box and the features ranked for it; a picked row opens that feature."""
    query = st.text_input("Which features fire on ...?", key=session.persist("inspect:search", ""),
                          placeholder="a word or phrase in the texts, e.g. guitar",
                          help="Ranks the features by how much more they fire on the texts that contain it than on "
                               "the others; features whose keyword label contains it are marked.")
    session.remember("inspect:search")
    if not query.strip():
        return
    found = search_features(query, run.codes, texts, keywords)
    if found.n_matching == 0 and not found.rows:
        st.info(f"No text contains {found.query!r} and no feature's keyword label does: try another word.")
        return
    st.caption(f"{found.n_matching:,} of {len(texts):,} texts contain {found.query!r}"
               + ("" if found.n_matching else "; features whose keyword label contains it")
               + ". Pick a row to open that feature.")
    picked = st.dataframe(found.rows, hide_index=True, width="stretch", on_select="rerun",
                          selection_mode="single-row", key="inspect:search-results",
                          column_config={"mean on matching texts": st.column_config.NumberColumn(format="%.3g"),
                                         "mean on the others": st.column_config.NumberColumn(format="%.3g")})
    rows = picked.selection.rows if picked is not None else []
    choice = (found.query, found.rows[rows[0]]["feature"]) if rows else None
    if choice is not None and st.session_state.get(SEARCH_APPLIED) != choice:
        st.session_state[SEARCH_APPLIED] = choice
        session.set_widget(FEATURE_KEY, choice[1])


def feature_card(run, run_store, table: list[dict]) -> None:
    """The whole card: ``table`` is ``core.analysis.feature_table`` of the run (density and activations)."""
    m, shape = run.codes.shape[1], run.image_shape
    texts = texts_of(run)
    keywords = _keywords(run.record.id, run.record.updated_at, run) if texts is not None else None
    if texts is not None:
        search_box(run, texts, keywords)
    cols = st.columns([1, 3], vertical_alignment="bottom")
    feature = int(cols[0].number_input("Feature", 0, m - 1, key=session.persist_choice(FEATURE_KEY, range(m), 0),
                                       help=f"Which latent (0 to {m - 1}): an atom is a row of components_."))
    session.remember(FEATURE_KEY)
    row = table[feature]
    cols[1].caption((f"Keywords: **{keywords[feature] or '(none)'}** · " if keywords is not None else "")
                    + f"Fires on {row['density']:.1%} of samples · mean activation {row['mean activation']:.3g} · "
                    f"max {row['max activation']:.3g} · Hoyer sparseness of its atom {row['atom hoyer']:.2f}")
    threshold = metrics.activity_threshold(run.model)  # as the table's density: sigmoid codes fire above 0.5
    examples = card.quantile_examples(run.codes, feature, threshold=threshold)
    _atom_and_top(run, feature, texts)
    _across_quantiles(run, feature, examples, texts)
    _neighbours(run, feature, table, keywords)
    left, right = st.columns(2, gap="large")
    with left:
        _class_means(run, feature)
    with right:
        _firing_heatmap(run, run_store, feature)
    _scale_in_sample(run, feature, examples)
    _histograms(run, feature, np.array([r["density"] for r in table]), threshold)


def _atom_and_top(run, feature: int, texts) -> None:
    shape = run.image_shape
    atom_col, top_col = st.columns([1, 2.2], gap="large")
    with atom_col:
        atom = run.model.components_[feature]
        if shape is None:  # a vector: its values as bars, one per dimension
            _chart(go.Figure(go.Bar(y=atom, marker={"color": np.where(atom >= 0, RED, BLUE)})), "inspect:atom-bars",
                   f"Its atom ({atom.size} dimensions)", xaxis={"title": "dimension"}, yaxis={"title": "value"},
                   height=300)
        else:
            st.markdown("**Its atom**")
            picture = render.atom_grid(atom[None, :], shape, scale=look.tile_scale(shape, 160))
            st.image(picture, width=look.picture_width(picture))
    with top_col:
        order, values = analysis.top_activating(run.codes, feature, 12)
        st.markdown("**Top-activating texts**" if texts is not None else "**Top-activating samples**")
        if order.size == 0:
            st.info(f"Feature {feature} never fires on these samples (a dead latent).")
        elif texts is not None:
            _text_table(texts, order, values, key="inspect:top-texts")
        else:
            grid = render.sample_grid(run.X[order], shape, columns=6 if shape else None, scale=look.tile_scale(shape))
            st.image(grid, width=look.picture_width(grid),
                     caption="Activations, largest first: " + ", ".join(f"{v:.3g}" for v in values))


def _across_quantiles(run, feature: int, examples, texts) -> None:
    if not examples:
        return
    st.markdown("**Examples from across its activation range** (where it fires: the largest activation, then "
                "the 90th, 75th, 50th and 25th percentiles and the smallest)")
    if texts is not None:
        st.dataframe([{"percentile": f"{e.quantile:.0%}", "activation": float(v), "text": str(texts[i])}
                      for e in examples for i, v in zip(e.indices[:2], e.activations[:2])],
                     hide_index=True, width="stretch", key="inspect:quantile-texts",
                     column_config={"activation": st.column_config.NumberColumn(format="%.3g", width="small"),
                                    "percentile": st.column_config.TextColumn(width="small")})
        return
    shape = run.image_shape
    for col, e in zip(st.columns(len(examples)), examples):
        grid = render.sample_grid(run.X[e.indices], shape, columns=2 if shape else None, scale=look.tile_scale(shape, 40))
        col.image(grid, width="stretch", caption=f"{e.quantile:.0%} · ≈{e.level:.3g}")


def _neighbours(run, feature: int, table, keywords) -> None:
    shape = run.image_shape
    near, cosines = card.nearest_atoms(run.model.components_, feature, N_NEIGHBOURS)
    linked, correlations = card.correlated_features(run.codes, feature, N_NEIGHBOURS)

    def rows(indices, values, name):
        return [{"feature": int(j), name: float(v), "fires on": table[int(j)]["density"],
                 **({"keywords": keywords[int(j)]} if keywords is not None else {}),
                 "atom": analysis.atoms_thumbnail(run.model.components_[int(j):int(j) + 1], shape, n=1)}
                for j, v in zip(indices, values)]

    config = {"atom": st.column_config.ImageColumn(width="small"),
              "fires on": st.column_config.NumberColumn(format="percent"),
              "cosine": st.column_config.NumberColumn(format="%.3f"),
              "correlation": st.column_config.NumberColumn(format="%.3f")}
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**Nearest atoms** (cosine of decoder directions)")
        st.dataframe(rows(near, cosines, "cosine"), hide_index=True, width="stretch", column_config=config,
                     key="inspect:nearest-atoms")
    with right:
        st.markdown("**Most correlated features** (Pearson, over the samples' codes)")
        if linked.size == 0:
            st.info(f"Feature {feature} is constant on these samples: it correlates with nothing.")
        else:
            st.dataframe(rows(linked, correlations, "correlation"), hide_index=True, width="stretch",
                         column_config=config, key="inspect:correlated")


def _class_means(run, feature: int) -> None:
    labels = run.labels
    if labels is None:
        st.caption("Mean activation per class: this data set has no labels.")
        return
    classes, means = card.class_means(run.codes, labels)
    column = means[:, feature]
    fig = go.Figure(go.Bar(x=class_names(run, classes), y=column,
                           marker={"color": [RED if v == column.max() and v > 0 else BLUE for v in column]}))
    _chart(fig, "inspect:class-means", f"Mean activation of feature {feature} per class",
           xaxis={"title": "class", "type": "category"}, yaxis={"title": "mean activation"}, height=300)


def _firing_heatmap(run, run_store, feature: int) -> None:
    record = _firing(str(run_store.root), run.record.id, run.record.updated_at, run_store)
    if record is None:
        st.caption("Firing density over training: recorded for runs trained in the app (Train, Compare, Sweep); "
                   "this run has no such record.")
        return
    steps, fractions = record
    floor = 1e-3  # about one firing in the 1,024 recorded samples
    z = np.log10(np.maximum(fractions.T, floor))
    fig = go.Figure(go.Heatmap(x=steps, y=np.arange(fractions.shape[1]), z=z, zmin=np.log10(floor), zmax=0,
                               colorscale="Viridis", colorbar={"title": "log10<br>density", "thickness": 12},
                               hovertemplate="step %{x}<br>feature %{y}<br>log10 density %{z:.2f}<extra></extra>"))
    fig.add_shape(type="rect", x0=steps[0], x1=steps[-1], y0=feature - 0.5, y1=feature + 0.5,
                  line={"color": RED, "width": 2})
    _chart(fig, "inspect:firing-heatmap", f"Firing density over training (feature {feature} outlined in red)",
           xaxis={"title": "step"}, yaxis={"title": "feature", "autorange": "reversed"}, height=300)


def _scale_in_sample(run, feature: int, examples) -> None:
    st.markdown("**Scale it in a sample**: the reconstruction with this feature's activation multiplied")
    if not examples:
        st.info(f"Feature {feature} never fires here, so there is nothing to scale.")
        return
    choices = list(dict.fromkeys(int(i) for e in examples for i in e.indices))
    cols = st.columns([1, 2], vertical_alignment="bottom")
    sample = cols[0].selectbox("Sample (where it fires)", choices,
                               key=session.persist_choice("inspect:scale-sample", choices, choices[0]),
                               format_func=lambda i: f"#{i} · activation {run.codes[i, feature]:.3g}")
    factor = cols[1].slider("Scale the feature by", 0.0, 5.0, step=0.25, key=session.persist("inspect:factor", 2.0),
                            help="0 removes the feature from the sample's reconstruction; 1 leaves it as it is.")
    session.remember("inspect:scale-sample", "inspect:factor")
    edit = card.scale_feature(run.model, run.X[sample], run.codes[sample], feature, factor)
    panels = [(edit.original, "original"), (edit.reconstruction, "reconstruction"),
              (edit.edited, f"feature {feature} × {factor:g}"), (edit.difference, "difference")]
    shape = run.image_shape
    if shape is not None:
        # the sample and both reconstructions on one colour scale, so that brighter means larger in all three
        cmap = "gray" if getattr(run.dataset, "non_negative", False) else "auto"
        three, difference = st.columns([3, 1.2])[0].columns([3, 1])
        three.image(render.sample_grid(np.stack([values for values, _ in panels[:3]]), shape, columns=3,
                                       scale=look.tile_scale(shape, 96), cmap=cmap, normalize="global", padding=4,
                                       background=(255, 255, 255)),
                    caption=" · ".join(name for _, name in panels[:3]) + " (one colour scale)", width="stretch")
        difference.image(render.sample_grid(edit.difference[None, :], shape, scale=look.tile_scale(shape, 96),
                                              cmap="diverging"),
                         caption="difference (red +, blue −)", width="stretch")
    else:
        fig = go.Figure([go.Scatter(y=values, name=name, mode="lines",
                                    line={"color": color, "width": 1.5 if name != "difference" else 2.5})
                         for (values, name), color in zip(panels, [GREY, BLUE, RED, "#59a14f"])])
        _chart(fig, "inspect:scaled", f"Sample {sample}, its {len(edit.original)} dimensions",
               xaxis={"title": "dimension"}, yaxis={"title": "value"}, height=280)
    change = float(np.linalg.norm(edit.difference))
    st.caption(f"Activation {edit.activation:.3g} → {edit.new_activation:.3g}: the reconstruction moves by "
               f"{change:.3g} (Euclidean) along the feature's atom; the MSE to the sample goes from "
               f"{np.mean((edit.reconstruction - edit.original) ** 2):.4g} to "
               f"{np.mean((edit.edited - edit.original) ** 2):.4g}.")


def _histograms(run, feature: int, density: np.ndarray, threshold: float) -> None:
    """The feature's activations and the density of all features, counting a firing as the feature table does
    (``|code| > threshold``)."""
    m = run.codes.shape[1]
    hist_col, density_col = st.columns(2, gap="large")
    with hist_col:
        column = run.codes[:, feature]
        n_fired = int(np.count_nonzero(np.abs(column) > threshold))
        if threshold > 0:  # codes that are never 0 (sigmoids): all of them, and the line above which they fire
            fig = go.Figure(go.Histogram(x=column, nbinsx=40, marker={"color": RED}))
            fig.add_vline(x=threshold, line={"color": "#111827", "dash": "dash", "width": 1.5})
            title = (f"Activations of feature {feature}: it fires above {threshold:g} (dashed) on {n_fired:,} of "
                     f"{column.size:,} samples")
        else:
            fig = go.Figure(go.Histogram(x=column[column != 0], nbinsx=40, marker={"color": RED}))
            title = f"Activations of feature {feature} where it fires ({n_fired:,} of {column.size:,} samples)"
        _chart(fig, "inspect:activations", title, xaxis={"title": "activation"}, yaxis={"title": "samples"})
    with density_col:
        hist = metrics.density_histogram(run.codes, bins=30, threshold=threshold)
        centers = (hist.edges[:-1] + hist.edges[1:]) / 2
        colors = [BLUE] * len(centers)
        if density[feature] > 0:
            colors[int(np.clip(np.searchsorted(hist.edges, np.log10(density[feature])) - 1, 0, len(centers) - 1))] = RED
        fig = go.Figure(go.Bar(x=centers, y=hist.counts, marker={"color": colors},
                               width=float(hist.edges[1] - hist.edges[0])))
        _chart(fig, "inspect:density", f"Feature density, all {m} features ({hist.n_dead} dead); this feature in red",
               xaxis={"title": "log10(fraction of samples it fires on)"}, yaxis={"title": "features"})
