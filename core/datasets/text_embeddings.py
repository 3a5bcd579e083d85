"""An offline demo of text embeddings: short sentences about a few topics, embedded by TF-IDF + TruncatedSVD.

Sparse autoencoders are mostly trained on activations and embeddings of text, not pictures. This set
stands in for such a file without a network or a language model: each sentence is made from one topic's
vocabulary (some also borrow words from a second topic), the sentences are embedded with scikit-learn's
TF-IDF followed by a truncated SVD (latent semantic analysis) to ``dims`` signed features, and each row is
scaled to unit length as embeddings usually are. ``texts`` holds the sentences, ``labels`` the main topic
(``label_names`` its name), so a feature can be read through the sentences that drive it.
"""

from __future__ import annotations

import numpy as np

from .base import Dataset, check_float, check_int
from .synthetic import generated

# Each topic: (nouns, verbs, adjectives). Sentences join a subject, a verb and an object of one topic.
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "space": (
        ("rocket", "astronaut", "orbit", "planet", "telescope", "galaxy", "moon", "satellite", "comet", "crater"),
        ("launches", "orbits", "observes", "lands on", "circles", "photographs"),
        ("distant", "lunar", "bright", "icy", "orbital", "martian"),
    ),
    "cooking": (
        ("chef", "soup", "oven", "recipe", "garlic", "dough", "sauce", "kitchen", "pasta", "butter"),
        ("bakes", "stirs", "roasts", "seasons", "tastes", "chops"),
        ("spicy", "fresh", "golden", "savory", "crispy", "sweet"),
    ),
    "football": (
        ("striker", "goalkeeper", "referee", "stadium", "match", "penalty", "coach", "league", "goal", "midfield"),
        ("scores", "defends", "tackles", "passes", "wins", "blocks"),
        ("final", "fierce", "late", "home", "winning", "injured"),
    ),
    "music": (
        ("guitar", "melody", "drummer", "orchestra", "chorus", "violin", "concert", "singer", "album", "rhythm"),
        ("plays", "records", "tunes", "performs", "hums", "composes"),
        ("loud", "acoustic", "gentle", "live", "catchy", "minor"),
    ),
    "finance": (
        ("market", "investor", "bank", "stock", "bond", "budget", "dividend", "loan", "profit", "inflation"),
        ("buys", "sells", "lends", "trades", "raises", "cuts"),
        ("quarterly", "risky", "volatile", "fiscal", "steady", "annual"),
    ),
    "weather": (
        ("storm", "rain", "forecast", "cloud", "thunder", "snow", "wind", "drought", "fog", "heatwave"),
        ("soaks", "batters", "chills", "covers", "sweeps", "floods"),
        ("humid", "freezing", "cloudy", "stormy", "chilly", "sunny"),
    ),
}
_CONNECTIVES = ("while", "and", "as", "after", "before")
EMBEDDING_CORPUS = 1_000
#: fewer than the ~130 words the topics use, so that every dimension carries a direction of the TF-IDF
MAX_DIMS = 128


def make_text_embeddings(n_samples: int, rng: np.random.Generator, *, dims: int = 64, topic_mix: float = 0.2) -> Dataset:
    """``n_samples`` sentences about ``TOPICS``, embedded to ``dims`` features (unit rows, signed).

    ``topic_mix``: the share of sentences that add a clause from a second topic (their label stays the first).
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    dims = check_int("dims", dims, 2, MAX_DIMS)
    topic_mix = check_float("topic_mix", topic_mix, 0.0, 1.0)
    names = tuple(TOPICS)
    # the embedding is fitted on at least EMBEDDING_CORPUS sentences, so that a small sample keeps all dims
    n_sentences = max(n_samples, EMBEDDING_CORPUS)
    labels = rng.integers(len(names), size=n_sentences)
    texts = []
    for topic in labels:
        sentence = _clause(TOPICS[names[topic]], rng)
        if rng.random() < topic_mix:
            other = (topic + rng.integers(1, len(names))) % len(names)
            sentence += f" {_CONNECTIVES[rng.integers(len(_CONNECTIVES))]} {_clause(TOPICS[names[other]], rng)}"
        texts.append(sentence[0].upper() + sentence[1:] + ".")
    tfidf = TfidfVectorizer(sublinear_tf=True).fit_transform(texts)
    svd = TruncatedSVD(n_components=dims, random_state=int(rng.integers(2**31)))
    X = svd.fit_transform(tfidf)
    X = X[:n_samples] / np.maximum(np.linalg.norm(X[:n_samples], axis=1, keepdims=True), 1e-12)
    description = (f"Text embeddings (offline demo): {n_samples:,} sentences about {len(names)} topics "
                   f"({', '.join(names)}), TF-IDF + TruncatedSVD to {dims} signed features, unit length; "
                   "texts = the sentences, labels = the main topic.")
    return generated(X, "text-embeddings", description, labels=labels[:n_samples].astype(np.int64),
                     label_names=names, texts=np.asarray(texts[:n_samples], dtype=str))


def _clause(topic, rng: np.random.Generator) -> str:
    nouns, verbs, adjectives = topic

    subject, thing = rng.choice(len(nouns), size=2, replace=False)  # two different nouns
    adjective, verb = adjectives[rng.integers(len(adjectives))], verbs[rng.integers(len(verbs))]
    return f"the {adjective} {nouns[subject]} {verb} the {nouns[thing]}"
