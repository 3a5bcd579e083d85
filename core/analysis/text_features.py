"""Features read through texts (activations or embeddings of texts, ``Dataset.texts``).

* ``keyword_labels``: a few words per feature that its top-activating texts use more than the whole set does
  (scikit-learn's TF-IDF, fitted on every text, so a word common everywhere scores low).
* ``search_features``: "which features fire on X?": features ranked by how much more they fire on the texts
  that contain X than on the others, with the features whose keyword label contains X marked.

Functions of arrays; no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import metrics


def _codes(codes) -> np.ndarray:
    return np.asarray(metrics.as_numpy(codes), dtype=np.float64)


def _texts(texts, n: int) -> np.ndarray:
    texts = np.asarray(texts, dtype=str)
    if texts.shape != (n,):
        raise ValueError(f"{texts.shape[0] if texts.ndim else 0} texts for {n} samples: pass one text per sample.")
    return texts


def keyword_labels(codes, texts, n_top: int = 20, n_words: int = 3) -> list[str]:
    """Per feature, its ``n_words`` most distinctive words (comma-separated; '' for a feature that never fires):
    the words whose TF-IDF, averaged over its ``n_top`` top-activating texts weighted by activation, most
    exceeds their average over all texts."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    codes = _codes(codes)
    texts = _texts(texts, codes.shape[0])
    try:
        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
        tfidf = vectorizer.fit_transform(texts)
    except ValueError:  # no words at all (empty texts, or only stop words)
        return [""] * codes.shape[1]
    words = vectorizer.get_feature_names_out()
    overall = np.asarray(tfidf.mean(axis=0)).ravel()
    n_top = min(int(n_top), codes.shape[0])
    top = np.argsort(-codes, axis=0, kind="stable")[:n_top].T  # (features, n_top)
    weights = np.clip(np.take_along_axis(codes.T, top, axis=1), 0, None)
    totals = weights.sum(axis=1, keepdims=True)
    weights = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
    pick = sparse.csr_matrix((weights.ravel(), top.ravel(), np.arange(0, top.size + 1, n_top)),
                             shape=(codes.shape[1], codes.shape[0]))
    profile = (pick @ tfidf).tocsr()  # each feature's weighted mean TF-IDF over its top texts
    labels = []
    for j in range(codes.shape[1]):
        start, end = profile.indptr[j], profile.indptr[j + 1]
        columns = profile.indices[start:end]
        lift = profile.data[start:end] - overall[columns]
        best = np.argsort(-lift, kind="stable")[:n_words]
        labels.append(", ".join(words[columns[i]] for i in best if lift[i] > 0))
    return labels


@dataclass(frozen=True)
class FeatureSearch:
    query: str
    n_matching: int  # texts that contain the query
    rows: list[dict]  # one per feature shown, best first

    @property
    def features(self) -> list[int]:
        return [row["feature"] for row in self.rows]


def search_features(query: str, codes, texts, labels: list[str] | None = None, n: int = 10) -> FeatureSearch:
    """The features that fire on texts containing ``query`` (case-insensitive): ranked by their mean activation
    on those texts minus that on the others; features whose keyword label (``labels``) contains the query come
    too, and when no text contains it they alone are ranked (by their mean activation)."""
    query = str(query).strip()
    if not query:
        raise ValueError("Type a word or phrase to search for, e.g. 'guitar'.")
    codes = _codes(codes)
    texts = _texts(texts, codes.shape[0])
    matching = np.char.find(np.char.lower(texts), query.lower()) >= 0
    n_matching = int(matching.sum())
    inside = codes[matching].mean(axis=0) if n_matching else np.zeros(codes.shape[1])
    outside = codes[~matching].mean(axis=0) if n_matching < codes.shape[0] else np.zeros(codes.shape[1])
    in_label = np.array([query.lower() in (label or "").lower() for label in (labels or [""] * codes.shape[1])])
    if n_matching:
        score = inside - outside
        keep = (score > 0) | in_label
    else:
        score, keep = codes.mean(axis=0), in_label
    order = [j for j in np.argsort(-score, kind="stable") if keep[j]][: int(n)]
    rows = [{"feature": int(j), "mean on matching texts": float(inside[j]), "mean on the others": float(outside[j]),
             "keyword label": (labels or [""] * codes.shape[1])[j], "label matches": bool(in_label[j])}
            for j in order]
    return FeatureSearch(query=query, n_matching=n_matching, rows=rows)
