"""The autoencoder family against the findings it is built to teach (all on the CPU).

- A linear autoencoder reaches the PCA error (Baldi & Hornik); the shallow non-linear grid of Refinetti &
  Goldt: sigmoid tied stays above it, untied reaches it, ReLU needs its biases.
- A TopK SAE recovers a known sparse dictionary with exactly k codes, and AuxK revives dead latents.
- Live control, divergence, reproducibility and the constraints each model promises.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import metrics, models
from core.datasets import load
from core.datasets.synthetic import make_sparse_synthetic, make_spiked_gaussian
from core.models import create
from core.training import TrainControl, TrainingDiverged, train_steps


@pytest.fixture(scope="module")
def gaussian() -> np.ndarray:
    # Refinetti & Goldt's spiked model: 4 strong directions in 50 dimensions
    return make_spiked_gaussian(4000, np.random.default_rng(0), n_features=50, n_spikes=4,
                                spike_strength=20.0, noise=0.5).X


@pytest.fixture(scope="module")
def sparse_data():
    return make_sparse_synthetic(8192, np.random.default_rng(0), n_features=32, n_atoms=48, k=3, noise=0.01)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load("digits", scale="minmax").X


def _ratio_to_pca(model, X) -> float:
    """Training MSE of ``model`` over the rank-matched PCA error."""
    reconstruction = model.inverse_transform(model.transform(X))
    return float(((X - reconstruction) ** 2).mean()) / metrics.pca_mse(X, model.n_components)


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_linear_autoencoder_reaches_the_pca_error(gaussian, tied):
    model = create("linear-ae", n_components=4, tied=tied, max_steps=2000, random_state=0).fit(gaussian)
    assert _ratio_to_pca(model, gaussian) <= 1.01


@pytest.mark.parametrize(
    "params, low, high",
    [
        (dict(activation="sigmoid", tied=True), 1.5, np.inf),  # stuck well above PCA
        (dict(activation="sigmoid", tied=False), 0.99, 1.06),  # untied: reaches it
        (dict(activation="relu", bias=True), 0.99, 1.03),  # ReLU with biases reaches it
        (dict(activation="relu", bias=False), 1.5, np.inf),  # without biases it cannot
    ],
    ids=["sigmoid-tied", "sigmoid-untied", "relu-bias", "relu-no-bias"],
)
def test_shallow_autoencoder_grid_matches_refinetti_and_goldt(gaussian, params, low, high):
    model = create("ae", n_components=4, max_steps=4000, learning_rate=1e-2, random_state=0, **params)
    ratio = _ratio_to_pca(model.fit(gaussian), gaussian)
    assert low <= ratio <= high


def test_topk_recovers_the_dictionary_with_exactly_k_codes(sparse_data):
    model = create("sae-topk", n_components=96, k=3, max_steps=3000, dead_window=1024, random_state=0)
    codes = model.fit(sparse_data.X).transform(sparse_data.X)
    assert metrics.mmcs(sparse_data.truth, model.components_) >= 0.9
    assert np.all((codes != 0).sum(axis=1) <= 3)
    assert (codes != 0).sum(axis=1).mean() > 2.9  # ReLU of a top-k value is almost never 0
    np.testing.assert_allclose(np.linalg.norm(model.components_, axis=1), 1.0, atol=1e-5)


def test_auxk_keeps_dead_latents_under_ten_percent(sparse_data):
    # 112 latents for 48 true atoms: plain TopK leaves many latents that never fire on the data set.
    common = dict(n_components=112, k=3, max_steps=2000, dead_window=256, random_state=0)
    plain = create("sae-topk", auxk_coef=0.0, **common).fit(sparse_data.X)
    with_auxk = create("sae-topk", **common).fit(sparse_data.X)
    plain_dead = metrics.dead_fraction(plain.transform(sparse_data.X))
    auxk_dead = metrics.dead_fraction(with_auxk.transform(sparse_data.X))
    assert plain_dead > 0.10
    assert auxk_dead < 0.10
    assert metrics.mmcs(sparse_data.truth, with_auxk.components_) >= 0.9


def test_batchtopk_keeps_k_codes_per_sample_on_average_in_training_and_at_inference(digits):
    model = create("sae-batchtopk", n_components=64, k=6, max_steps=400, random_state=0).fit(digits)
    assert model.history_[-1]["l0"] == pytest.approx(model.k, abs=0.01)
    # at inference a learned threshold replaces the batch top-k: the mean count stays within 15% of k
    # (5.6 for k = 6); a threshold 1.5 times too high gives 3.6
    assert metrics.l0(model.transform(digits)) == pytest.approx(model.k, rel=0.15)


@pytest.mark.parametrize("name", ["sae-l1", "sae-kl", "sae-topk", "sae-jumprelu", "nnsae"])
def test_each_sparse_model_learns_digits(digits, name):
    """Each sparse model's defaults explain most of the variance of digits within its default steps."""
    model = create(name, random_state=0).fit(digits)
    assert metrics.fvu(digits, model.inverse_transform(model.transform(digits))) < 0.35
    assert model.history_[-1]["loss"] < model.history_[0]["loss"]


# The dense autoencoders against PCA at their rank (FVU 0.151 for 16 atoms): the plain one comes within 8%
# of it (0.163); the denoising one, trained on noisy inputs, pays for its robustness (0.218, 1.44 x PCA).
@pytest.mark.parametrize("name, ratio_to_pca", [("ae", 1.15), ("denoising-ae", 1.6)])
def test_dense_autoencoders_come_close_to_pca_at_the_same_rank(digits, name, ratio_to_pca):
    model = create(name, random_state=0).fit(digits)
    pca = create("pca", n_components=model.n_components).fit(digits)
    pca_fvu = metrics.fvu(digits, pca.inverse_transform(pca.transform(digits)))
    model_fvu = metrics.fvu(digits, model.inverse_transform(model.transform(digits)))
    assert pca_fvu <= model_fvu <= ratio_to_pca * pca_fvu, (model_fvu, pca_fvu)
    assert model.history_[-1]["loss"] < model.history_[0]["loss"]


def test_l1_penalty_trades_fidelity_for_sparsity(digits):
    weak = create("sae-l1", l1_coef=1e-4, max_steps=600, random_state=0).fit(digits)
    strong = create("sae-l1", l1_coef=1e-2, max_steps=600, random_state=0).fit(digits)
    assert metrics.l0(strong.transform(digits)) < metrics.l0(weak.transform(digits))
    assert metrics.mse(digits, strong.inverse_transform(strong.transform(digits))) > \
        metrics.mse(digits, weak.inverse_transform(weak.transform(digits)))


def test_kl_sae_pulls_mean_activation_to_rho(digits):
    model = create("sae-kl", sparsity_target=0.05, random_state=0).fit(digits)
    assert model.history_[-1]["mean_activation"] == pytest.approx(0.05, abs=0.02)


def test_nnsae_keeps_atoms_and_codes_non_negative(digits):
    model = create("nnsae", max_steps=300, random_state=0).fit(digits)
    assert model.components_.min() >= 0
    assert model.transform(digits).min() >= 0
    with pytest.raises(ValueError, match="Negative values in data"):
        create("nnsae", max_steps=5).fit(digits - 0.5)


@pytest.mark.parametrize("noise", ["gaussian", "salt-pepper", "masking"])
def test_denoising_autoencoder_trains_with_each_noise(digits, noise):
    model = create("denoising-ae", noise=noise, max_steps=200, random_state=0).fit(digits)
    assert np.isfinite(model.components_).all()
    # noise is applied in training only: transform is deterministic
    np.testing.assert_array_equal(model.transform(digits[:5]), model.transform(digits[:5]))


@pytest.mark.parametrize("name", ["sae-topk", "linear-ae", "nnsae"])
def test_same_seed_gives_the_same_result(digits, name):
    first = create(name, max_steps=100, random_state=3).fit(digits)
    second = create(name, max_steps=100, random_state=3).fit(digits)
    other = create(name, max_steps=100, random_state=4).fit(digits)
    np.testing.assert_array_equal(first.components_, second.components_)
    assert [row["loss"] for row in first.history_] == [row["loss"] for row in second.history_]
    assert not np.array_equal(first.components_, other.components_)


def test_diverging_run_stops_with_its_last_good_weights(digits):
    # warm-up keeps the first steps sane; the full rate of 1e6 then blows the weights up
    model = create("sae-topk", learning_rate=1e6, warmup_steps=100, log_every=1, max_steps=500, random_state=0)
    with pytest.raises(TrainingDiverged, match="exploded|became nan") as error:
        model.fit(digits)
    assert "Lower the learning rate" in str(error.value)
    assert len(model.history_) >= 1 and all(np.isfinite(row["loss"]) for row in model.history_)
    assert np.isfinite(model.components_).all()
    good_error = metrics.mse(digits, model.inverse_transform(model.transform(digits)))
    # the weights of the last logged (good) step: their error is that step's, not the exploded one
    assert good_error < 10 * model.history_[-1]["mse"]


def _late_diverging_topk(max_steps: int):
    return create("sae-topk", n_components=32, k=4, warmup_steps=0, log_every=10, max_steps=max_steps,
                  random_state=0)


def test_a_run_that_diverges_late_keeps_the_weights_of_its_last_good_step_not_its_first(digits):
    """200 sane steps, then a learning rate of 1e6 blows the run up at the next logged step (210). The
    kept weights are those the last logged finite loss (step 200) was measured on: the weights after step
    199, which a re-run of the same seed stopped at step 199 reproduces exactly. The step-0 weights (what
    an early divergence cannot tell apart from the last good ones) are far from them."""
    model, control = _late_diverging_topk(max_steps=400), TrainControl()
    with pytest.raises(TrainingDiverged, match="at step 210.*keeps its weights from step 199"):
        for row in train_steps(model, digits, control):
            if row["step"] == 200:
                control.update(learning_rate=1e6)
    assert model.history_[-1]["step"] == 200 and model.n_steps_ == 199

    last_good = _late_diverging_topk(max_steps=199).fit(digits)
    for name, kept in model.get_weights().items():
        np.testing.assert_array_equal(kept, last_good.get_weights()[name], err_msg=name)

    untrained, stop_at_once = _late_diverging_topk(max_steps=400), TrainControl()
    stop_at_once.request_stop()
    for _ in train_steps(untrained, digits, stop_at_once):
        pass
    assert untrained.n_steps_ == 0
    assert np.abs(model.components_ - untrained.components_).max() > 0.1
    kept_error = metrics.mse(digits, model.reconstruct(digits))
    first_error = metrics.mse(digits, untrained.reconstruct(digits))
    assert kept_error == pytest.approx(model.history_[-1]["mse"], rel=0.2) and kept_error < first_error / 2


def _decoder_bias_at_step_0(name: str, X: np.ndarray, **params) -> np.ndarray:
    model, stop_at_once = create(name, n_components=8, random_state=0, **params), TrainControl()
    stop_at_once.request_stop()
    for _ in train_steps(model, X, stop_at_once):
        pass
    assert model.n_steps_ == 0
    return model.decoder_bias_


@pytest.mark.parametrize("name", ["sae-topk", "sae-l1", "sae-jumprelu"])
def test_decoder_bias_starts_at_the_data_mean_or_its_geometric_median(name):
    """'mean' starts b_dec at the mean; 'median' at the point with the least total distance to the
    samples (found here by scipy's minimiser), which a few far outliers do not drag away as they drag the
    mean. The coordinate-wise median is another point (the cloud is skewed along rotated axes)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    cloud = (rng.exponential(size=(300, 5)) * [3.0, 1.0, 2.0, 0.5, 1.0]) @ rotation
    X = np.vstack([cloud, 60.0 + rng.normal(size=(12, 5))]).astype(np.float32)  # 4% far outliers
    X64 = X.astype(np.float64)
    total_distance = lambda point: np.linalg.norm(X64 - point, axis=1).sum()  # noqa: E731
    unit_pulls = lambda point: ((point - X64) / np.linalg.norm(point - X64, axis=1, keepdims=True)).sum(0)  # noqa: E731
    reference = minimize(total_distance, np.median(X64, axis=0), jac=unit_pulls, method="BFGS",
                         options=dict(gtol=1e-10)).x

    np.testing.assert_allclose(_decoder_bias_at_step_0(name, X, decoder_bias_init="mean"), X.mean(0), rtol=1e-5)
    median = _decoder_bias_at_step_0(name, X, decoder_bias_init="median")
    np.testing.assert_allclose(median, reference, atol=1e-4)
    assert np.linalg.norm(np.median(X, axis=0) - reference) > 0.1  # the test tells the two medians apart
    assert np.linalg.norm(X.mean(0) - reference) > 1.0  # and the mean, dragged by the outliers
    with pytest.raises(ValueError, match="decoder_bias_init must be one of"):
        _decoder_bias_at_step_0(name, X, decoder_bias_init="mode")


def test_live_control_changes_k_and_stops(digits):
    model = create("sae-topk", n_components=32, k=8, max_steps=1000, log_every=10, random_state=0)
    control = TrainControl()
    rows = []
    for row in train_steps(model, digits, control):
        rows.append(row)
        if row["step"] == 100:
            control.update(k=2)
        if row["step"] == 300:
            control.request_stop()
    assert rows[-1]["step"] < 1000
    changed = [row for row in rows if "event" in row]
    assert len(changed) == 1 and changed[0]["event"] == {"k": 2}
    assert model.k == 2
    assert rows[-1]["l0"] <= 2
    assert model.transform(digits).astype(bool).sum(axis=1).max() <= 2


def test_unknown_live_parameter_is_refused(digits):
    model = create("ae", max_steps=50)
    control = TrainControl()
    control.update(k=3)
    with pytest.raises(ValueError, match="k"):
        for _ in train_steps(model, digits, control):
            pass


def test_bad_parameters_name_the_problem():
    with pytest.raises(ValueError, match="larger than n_components"):
        create("sae-topk", n_components=4, k=9, max_steps=5).fit(np.random.rand(20, 6).astype(np.float32))
    with pytest.raises(ValueError, match="sparsity_target"):
        create("sae-kl", sparsity_target=1.5).fit(np.random.rand(20, 6).astype(np.float32))
    with pytest.raises(ValueError, match="NaN|infinity"):
        create("sae-l1", max_steps=5).fit(np.full((20, 6), np.nan, dtype=np.float32))


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["linear-ae", "sae-topk", "sae-l1", "nnsae", "nmf", "pca"])
def test_models_train_on_the_gpu(digits, name):
    model = create(name, n_components=16, device="cuda", random_state=0)
    if "max_steps" in model.get_params():
        model.set_params(max_steps=300)
    model.fit(digits)
    cpu = create(name, **{**model.get_params(), "device": "cpu"}).fit(digits)
    gpu_error = metrics.mse(digits, model.inverse_transform(model.transform(digits)))
    cpu_error = metrics.mse(digits, cpu.inverse_transform(cpu.transform(digits)))
    assert gpu_error == pytest.approx(cpu_error, rel=0.15)
    assert torch.cuda.is_available()


@pytest.mark.parametrize("name", ["sae-topk", "sae-batchtopk"])
def test_sparse_and_dense_decoders_give_the_same_curve(digits, name):
    """The fast path (gather the k active atoms) computes what the dense product computes."""
    curves = {}
    for decoder in ("dense", "sparse"):
        model = create(name, n_components=48, k=4, max_steps=200, random_state=0)
        model._decoder = decoder
        model.fit(digits)
        curves[decoder] = (np.array([row["loss"] for row in model.history_]), model.components_)
    np.testing.assert_allclose(curves["sparse"][0], curves["dense"][0], rtol=1e-4)
    np.testing.assert_allclose(curves["sparse"][1], curves["dense"][1], atol=1e-4)


def test_bf16_training_stays_close_to_fp32(digits):
    fp32 = create("sae-topk", n_components=48, k=4, max_steps=300, random_state=0).fit(digits)
    bf16 = create("sae-topk", n_components=48, k=4, max_steps=300, random_state=0, precision="bf16").fit(digits)
    assert bf16.components_.dtype == np.float32 and np.isfinite(bf16.components_).all()
    assert bf16.history_[-1]["mse"] == pytest.approx(fp32.history_[-1]["mse"], rel=0.15)
    with pytest.raises(ValueError, match="precision"):
        create("sae-topk", precision="fp8").fit(digits)


def test_nmf_at_full_rank_has_no_nan():
    # digits' border pixels are always 0: rank 64 is above the data's, singular values at rounding level
    X = load("digits").X
    for init in ("nndsvd", "nndsvda", "nndsvdar"):
        model = create("nmf", init=init, random_state=0).fit(X)
        assert model.n_components_ == 64 and np.isfinite(model.components_).all()
        assert np.isfinite([row["loss"] for row in model.history_]).all()


def test_check_params_refuses_what_fit_would_refuse_without_training():
    with pytest.raises(ValueError, match="k=8 is larger than n_components=2"):
        models.create("sae-topk", n_components=2, k=8).check_params(64)
    with pytest.raises(ValueError, match="max_steps"):
        models.create("sae-l1", max_steps=0).check_params(64)
    model = models.create("sae-topk", n_components=16, k=4)
    model.check_params(64)  # fine: nothing raised, nothing fitted
    assert not hasattr(model, "components_")
    models.create("pca", n_components=4).check_params(64)  # closed-form models have nothing to check early


def test_check_sign_names_only_the_models_that_need_non_negative_data():
    models.check_sign(["sae-topk", "nmf"], True, "digits", "rescale.")  # non-negative data: fine
    models.check_sign(["sae-topk", "pca"], False, "faces", "rescale.")  # no model needs it: fine
    with pytest.raises(ValueError) as one:
        models.check_sign(["sae-topk", "nmf"], False, "faces", "choose scale = minmax.")
    assert str(one.value) == "nmf needs non-negative data, but faces has values below 0: choose scale = minmax."
    with pytest.raises(ValueError, match=r"^nmf, nnsae need non-negative data, but faces"):
        models.check_sign(["nmf", "ae", "nnsae"], False, "faces", "rescale.")


def test_two_threads_cannot_flip_the_tf32_flag_under_each_others_step():
    """Runs in threads of one process share torch's fp32-matmul flag: a step's mode holds until it ends."""
    import threading
    import time

    from core.models.precision import _cuda_matmul_fp32_precision

    matmul = torch.backends.cuda.matmul
    original = matmul.fp32_precision
    inside, release, seen = threading.Event(), threading.Event(), []

    def tf32_step():
        with _cuda_matmul_fp32_precision("tf32"):
            inside.set()
            release.wait(5)
            seen.append(("tf32 step", matmul.fp32_precision))

    def ieee_step():
        inside.wait(5)
        with _cuda_matmul_fp32_precision("ieee"):
            seen.append(("ieee step", matmul.fp32_precision))

    threads = [threading.Thread(target=tf32_step), threading.Thread(target=ieee_step)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    assert seen == []  # the second step waits for the first
    release.set()
    for thread in threads:
        thread.join(5)
    assert seen == [("tf32 step", "tf32"), ("ieee step", "ieee")]
    assert matmul.fp32_precision == original
