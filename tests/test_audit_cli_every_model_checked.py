"""README: "Every model is a scikit-learn estimator ... and passes scikit-learn's estimator checks". The checks
of tests/test_estimator_checks.py and tests/test_pca_nmf.py name their models; this runs them on every model
of the registry those lists leave out (today sae-gated and sae-matryoshka), so a model added later is checked
too."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks
from test_estimator_checks import AUTOENCODERS

from core import models

CHECKED_ELSEWHERE = {*AUTOENCODERS, "pca", "nmf"}  # nmf and pca: tests/test_pca_nmf.py
UNCHECKED = [name for name in models.available() if name not in CHECKED_ELSEWHERE]


def _small(name: str):
    params = {"max_steps": 20, "batch_size": 16, "n_components": 4, "log_every": 5}
    defaults = models.default_params(name)
    if "k" in defaults:
        params["k"] = 1  # the checks shrink n_components to 1
    if "n_groups" in defaults:
        params["n_groups"] = 2
    return models.create(name, **params)


@parametrize_with_checks([_small(name) for name in UNCHECKED])
def test_every_model_passes_sklearns_checks(estimator, check):
    check(estimator)
