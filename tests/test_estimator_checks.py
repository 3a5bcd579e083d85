"""Every model passes scikit-learn's estimator checks (small step counts keep them fast)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from core import models

AUTOENCODERS = ["linear-ae", "ae", "denoising-ae", "sae-l1", "sae-kl", "sae-topk", "sae-batchtopk",
                "sae-jumprelu", "nnsae"]


def _small(name):
    params = {"max_steps": 20, "batch_size": 16, "n_components": 4, "log_every": 5}
    if name in ("sae-topk", "sae-batchtopk"):
        params["k"] = 1  # the checks shrink n_components to 1
    return models.create(name, **params)


@parametrize_with_checks([_small(name) for name in AUTOENCODERS])
def test_sklearn_compatible(estimator, check):
    check(estimator)
