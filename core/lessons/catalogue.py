"""The lessons: each a classic result of the research notes (../shared/seeds), its setup and its measure."""

from __future__ import annotations

import numpy as np

from core import metrics
from core.analysis.geometry import subspace_angle, top_principal_components
from core.analysis.receptive_fields import orientation_selectivity, width_across
from core.lessons import Bars, Lesson, Run, register
from core.lessons.pictures import loss_curves, matched_dictionary, noisy_reconstructions, parts_beside_eigenfaces


def _reconstruction_mse(model, X) -> float:
    return metrics.mse(X, model.inverse_transform(model.transform(X)))


def _mse_ratio_to_pca(data, fitted) -> dict[str, float]:
    (model,) = fitted
    rank = model.components_.shape[0]
    return {"mse_ratio_to_pca": _reconstruction_mse(model, data.X) / metrics.pca_mse(data.X, rank),
            "largest_angle_to_pcs_degrees": subspace_angle(model.components_,
                                                           top_principal_components(data.X, rank))}


register(Lesson(
    name="linear-ae-is-pca",
    title="A linear autoencoder learns the PCA subspace",
    paper="Baldi & Hornik (1989); Refinetti & Goldt, ICML 2022",
    look_for="The loss falls to the dashed PCA error of the same rank and stays on it: a linear autoencoder "
             "can do no better than PCA, and with enough steps it does as well. Its atoms are not the "
             "principal components themselves (any basis of the same subspace reconstructs as well), "
             "but they span the same subspace: the largest angle between the two spans is a degree or two.",
    data="digits", data_options={"scale": "minmax"},
    runs=(Run("linear-ae", {"n_components": 8, "max_steps": 2000}, "linear autoencoder"),),
    measure=_mse_ratio_to_pca,
    expected={"mse_ratio_to_pca": (0.99, 1.01), "largest_angle_to_pcs_degrees": (0.0, 5.0)},
))


def _dictionary_recovered(data, fitted) -> dict[str, float]:
    (model,) = fitted
    return {"mmcs_to_truth": metrics.mmcs(data.truth, model.components_),
            "fvu": metrics.fvu(data.X, model.inverse_transform(model.transform(data.X)))}


register(Lesson(
    name="topk-recovers-a-dictionary",
    title="A TopK sparse autoencoder recovers the dictionary that made the data",
    paper="Gao et al., Scaling and evaluating sparse autoencoders (2024)",
    look_for="Every sample is 3 of 32 hidden directions plus a little noise. A TopK SAE with k = 3 and twice "
             "as many atoms as directions finds each of them: the mean max cosine of the true directions to "
             "the learned atoms (MMCS) reaches 1. The spare atoms duplicate found directions or stay unused; "
             "AuxK keeps pulling dead ones back towards what is left unexplained. Once trained, the picture puts "
             "each true direction beside the atom matched to it: the two columns look the same.",
    data="sparse-synthetic", data_options={"n_atoms": 32, "n_samples": 4000},
    runs=(Run("sae-topk", {"n_components": 64, "k": 3, "max_steps": 3000, "dead_window": 1024}, "TopK SAE"),),
    measure=_dictionary_recovered,
    expected={"mmcs_to_truth": (0.98, 1.0), "fvu": (0.0, 0.05)},
    picture=lambda data, fitted: matched_dictionary(data.truth, fitted[0].components_),
))


def _ratios_to_pca(data, fitted) -> dict[str, float]:
    rank = fitted[0].components_.shape[0]
    floor = metrics.pca_mse(data.X, rank)
    names = ("tied_sigmoid", "untied_sigmoid", "relu_without_bias", "relu_with_bias")
    return {f"{name}_mse_ratio_to_pca": _reconstruction_mse(model, data.X) / floor
            for name, model in zip(names, fitted)}


register(Lesson(
    name="autoencoder-grid",
    title="Which shallow autoencoders reach the PCA error",
    paper="Refinetti & Goldt, The dynamics of representation learning in shallow, non-linear autoencoders "
          "(ICML 2022)",
    look_for="Four autoencoders of rank 4 on the spiked Gaussian data. A sigmoidal autoencoder with tied "
             "weights stays above the PCA error, as does a ReLU autoencoder without biases; untie the "
             "weights, or give the ReLU its biases, and the error comes down to PCA's. Train the four runs (the "
             "buttons below); once all are saved, one bar per run shows how far its error lies above PCA's "
             "(the dashed line). The atoms of any two are compared under Two saved runs.",
    data="gaussian",
    runs=(Run("ae", {"n_components": 4, "activation": "sigmoid", "tied": True}, "tied sigmoid"),
          Run("ae", {"n_components": 4, "activation": "sigmoid", "tied": False}, "untied sigmoid"),
          Run("ae", {"n_components": 4, "activation": "relu", "bias": False}, "ReLU without bias"),
          Run("ae", {"n_components": 4, "activation": "relu", "bias": True}, "ReLU with bias")),
    measure=_ratios_to_pca,
    bars=Bars(axis="error above PCA's (rank 4)", reference=1.0,
              reference_label="PCA's error: no autoencoder of rank 4 does better"),
    expected={"tied_sigmoid_mse_ratio_to_pca": (1.04, 2.0), "untied_sigmoid_mse_ratio_to_pca": (0.99, 1.03),
              "relu_without_bias_mse_ratio_to_pca": (1.04, 2.0), "relu_with_bias_mse_ratio_to_pca": (0.99, 1.02)},
))

#: the corruption the denoising lesson tests with (the model's own training noise)
TEST_NOISE = 0.3


def _noisy(X) -> np.ndarray:
    """``X`` with the lesson's Gaussian test noise (a fixed draw: the measure and the picture see the same)."""
    return X + TEST_NOISE * np.random.default_rng(0).standard_normal(X.shape).astype(np.float32)


def _denoising_picture(data, fitted):
    plain, denoising = fitted
    return noisy_reconstructions(data.X, _noisy(data.X), {"plain autoencoder": plain,
                                                          "denoising autoencoder": denoising}, data.image_shape)


def _denoising_gain(data, fitted) -> dict[str, float]:
    plain, denoising = fitted
    noisy = _noisy(data.X)
    errors = [metrics.mse(data.X, model.inverse_transform(model.transform(noisy))) for model in fitted]
    return {"plain_error_on_noisy_input": errors[0], "denoising_error_on_noisy_input": errors[1],
            "denoising_gain": errors[0] / errors[1]}


register(Lesson(
    name="denoising",
    title="A denoising autoencoder cleans what it has never seen clean",
    paper="Vincent et al., Extracting and composing robust features with denoising autoencoders (ICML 2008)",
    look_for="Both autoencoders learn 32 atoms of the digits; the denoising one only ever sees them with "
             f"Gaussian noise (sigma {TEST_NOISE}) and must give back the clean digit. Give both the same noisy digits (the picture under the measured line, once "
             "both runs are saved: clean, noisy, then each one's reconstruction of the noisy input): the "
             "denoising autoencoder's is about twice as close to the clean digit, while the plain one passes "
             "much of the noise through.",
    data="digits", data_options={"scale": "minmax"},
    runs=(Run("ae", {"n_components": 32}, "plain autoencoder"),
          Run("denoising-ae", {"n_components": 32, "noise": "gaussian", "noise_level": TEST_NOISE},
              "denoising autoencoder")),
    measure=_denoising_gain,
    picture=_denoising_picture,
    expected={"denoising_gain": (1.5, 100.0)},
))


def _edge_detectors(data, fitted) -> dict[str, float]:
    (model,) = fitted
    pcs = top_principal_components(data.X, model.encoder_weight_.shape[0])
    shape = data.image_shape
    return {"orientation_selectivity": float(np.median(orientation_selectivity(model.encoder_weight_, shape))),
            "width_across_orientation": float(np.median(width_across(model.encoder_weight_, shape))),
            "pca_width_across_orientation": float(np.median(width_across(pcs, shape)))}


register(Lesson(
    name="cs294a-edges",
    title="A sparse autoencoder on natural image patches learns edge detectors",
    paper="Ng, CS294A lecture notes: Sparse autoencoder (and UFLDL's linear decoders); Olshausen & Field, "
          "Nature 1996",
    look_for="25 sigmoid units, each asked to be active 3.5% of the time (KL penalty, beta 5, weight decay "
             "3e-3), trained by full-batch L-BFGS on 10,000 ZCA-whitened 8x8 patches of photographs. Each unit's "
             "input weights (measured here; its atom, the decoder row drawn on the page, looks alike) become an edge "
             "detector: a light and a dark stripe side by side, at its own "
             "position and orientation, like the simple cells of the visual cortex. PCA's components of the "
             "same patches are gratings across the whole patch instead. Measured: the orientation selectivity "
             "of each atom's spectrum (1 = one orientation) and its width across that orientation (1 = as wide "
             "as the patch).",
    data="patches", data_options={"whiten": True, "epsilon": 0.1, "n_samples": 10000},
    runs=(Run("sae-kl", {"n_components": 25, "optimizer": "lbfgs", "max_steps": 500, "sparsity_target": 0.035,
                         "sparsity_weight": 5.0, "weight_decay": 3e-3}, "KL sparse autoencoder"),),
    measure=_edge_detectors,
    expected={"orientation_selectivity": (0.45, 1.0), "width_across_orientation": (0.0, 0.75),
              "pca_width_across_orientation": (0.78, 1.0)},
))


def _parts_against_truth(data, fitted) -> dict[str, float]:
    nmf, pca = fitted
    return {"nmf_mmcs_to_parts": metrics.mmcs(data.truth, nmf.components_),
            "pca_mmcs_to_parts": metrics.mmcs(data.truth, pca.components_)}


register(Lesson(
    name="eigenfaces-vs-nmf-parts",
    title="NMF learns the parts of faces; PCA learns eigenfaces",
    paper="Lee & Seung, Learning the parts of objects by non-negative matrix factorization (Nature 1999)",
    look_for="Each face here is an outline plus one of three brows, eyes, noses and mouths. NMF may only add "
             "non-negative parts, so its atoms are those parts: a brow, an eye, a mouth (their match to the true "
             "parts, MMCS, is near 1). PCA's components are whole faces with positive and negative regions "
             "(eigenfaces): each mixes every part, and none of them is a part. Real faces (Olivetti, when "
             "online) show the same contrast, less cleanly.",
    data="face-parts", data_options={"n_samples": 600},
    runs=(Run("nmf", {"n_components": 13, "max_steps": 300}, "NMF"), Run("pca", {"n_components": 13}, "PCA")),
    measure=_parts_against_truth,
    expected={"nmf_mmcs_to_parts": (0.9, 1.0), "pca_mmcs_to_parts": (0.0, 0.75)},
    picture=lambda data, fitted: parts_beside_eigenfaces(fitted[0].components_, fitted[1].components_,
                                                         data.image_shape),
))


def _sparseness_of_atoms(data, fitted) -> dict[str, float]:
    """Hoyer's sparseness (core.metrics; 1 = one pixel, 0 = all pixels alike), the median over the atoms:
    Hoyer (2004) defined it to say how parts-based NMF's atoms are. A part (an eye, a brow, a mouth) lights a
    few pixels; an eigenface spreads signed weight over the whole face."""
    nmf, pca = fitted
    nmf_sparseness = float(np.median(metrics.hoyer_sparseness(nmf.components_)))
    pca_sparseness = float(np.median(metrics.hoyer_sparseness(pca.components_)))
    return {"nmf_median_sparseness": nmf_sparseness, "pca_median_sparseness": pca_sparseness,
            "sparseness_ratio": nmf_sparseness / pca_sparseness}


#: Lee & Seung's rank on faces
FACE_RANK = 49

register(Lesson(
    name="olivetti-nmf-vs-eigenfaces",
    title="On real faces (Olivetti), NMF's atoms are sparser than PCA's eigenfaces",
    paper="Lee & Seung, Learning the parts of objects by non-negative matrix factorization (Nature 1999); "
          "Hoyer, Non-negative matrix factorization with sparseness constraints (JMLR 2004)",
    look_for=f"Lee & Seung's experiment on real faces: 400 photographs (Olivetti, 64x64), rank {FACE_RANK} as "
             "theirs. PCA's components are eigenfaces: whole faces, light and dark everywhere. NMF may only add "
             "non-negative pieces, so many of its atoms light one region (brows, eyes, a nose, a cheek) and are "
             "black elsewhere; on faces this varied others stay whole faces (Hoyer saw the same). Measured: "
             "Hoyer's sparseness of each atom (1 = one pixel lit, 0 = every pixel alike), NMF's median against "
             "PCA's. Needs one download (about 1.5 MB), then cached; offline, eigenfaces-vs-nmf-parts shows the "
             "same contrast on drawn faces.",
    data="olivetti",
    runs=(Run("nmf", {"n_components": FACE_RANK, "max_steps": 200}, "NMF"),
          Run("pca", {"n_components": FACE_RANK}, "PCA")),
    measure=_sparseness_of_atoms,
    expected={"sparseness_ratio": (1.3, 100.0)},
    offline_alternative="eigenfaces-vs-nmf-parts",
    picture=lambda data, fitted: parts_beside_eigenfaces(fitted[0].components_, fitted[1].components_,
                                                         data.image_shape),
))


#: the swimmer's parts: torso and 16 limb positions (core.datasets' truth)
SWIMMER_PARTS = 17


def _agreement_with_nmf(data, fitted) -> dict[str, float]:
    nmf, parts_sae, signed_sae = fitted
    parts = metrics.match_atoms(parts_sae.components_, nmf.components_).similarity
    signed = metrics.match_atoms(signed_sae.components_, nmf.components_).similarity
    return {"non_negative_sae_median_cos_to_nmf": float(np.median(parts)),
            "signed_sae_mean_cos_to_nmf": float(signed.mean())}


_TOPK_ON_SWIMMER = {"n_components": SWIMMER_PARTS, "k": 5, "max_steps": 1000, "batch_size": 64}

register(Lesson(
    name="when-sae-and-nmf-agree",
    title="When a sparse autoencoder learns what NMF learns",
    paper="Lee & Seung (1999); Gao et al. (2024); the research notes' question 'NMF vs SAE'",
    look_for="Three models of the swimmer, 17 atoms each. NMF finds the torso and the 16 limb positions. A "
             "TopK SAE kept non-negative (codes and atoms) and without a decoder bias finds the same parts: "
             "each of its atoms matches one of NMF's with |cos| near 1. The usual signed TopK SAE, with a "
             "bias that holds the mean pose, learns contrasts instead ('this arm up minus that arm down') "
             "and matches NMF's parts only half way. Sparsity alone does not make parts: non-negativity does.",
    data="swimmer",
    runs=(Run("nmf", {"n_components": SWIMMER_PARTS}, "NMF"),
          Run("sae-topk", {**_TOPK_ON_SWIMMER, "non_negative": True, "decoder_bias": False, "resample_dead": True},
              "non-negative TopK SAE"),
          Run("sae-topk", _TOPK_ON_SWIMMER, "signed TopK SAE")),
    measure=_agreement_with_nmf,
    expected={"non_negative_sae_median_cos_to_nmf": (0.9, 1.0), "signed_sae_mean_cos_to_nmf": (0.0, 0.75)},
))


def _steps_in_the_loss(data, fitted) -> dict[str, float]:
    paper, usual = fitted
    levels = metrics.plateau_levels([row["loss"] for row in paper.history_])
    return {"plateaus_with_plain_sgd": len(levels),
            "plateaus_fall": float(levels == sorted(levels, reverse=True)),
            "plateaus_with_adam": len(metrics.plateau_levels([row["loss"] for row in usual.history_]))}


_SPIKES = {"n_components": 2, "bias": False, "max_steps": 1000, "batch_size": 100, "log_every": 20}

register(Lesson(
    name="learning-in-steps",
    title="An autoencoder learns the principal components one at a time",
    paper="Refinetti & Goldt, The dynamics of representation learning in shallow, non-linear autoencoders "
          "(ICML 2022)",
    look_for="Data with two strong directions (spikes) in noise. Trained as in the paper (plain SGD, tiny "
             "initial weights, pre-activations w.x / sqrt(D)), the loss rests on a plateau, drops when the "
             "strongest spike is learned, rests again, and drops for the next: the components are learned "
             "in order of their variance. Adam from the usual initialisation falls smoothly, in one slide. Once both "
             "runs are saved, their loss curves are drawn together under the measured line.",
    data="gaussian", data_options={"n_samples": 2000, "spike_strength": [100.0, 40.0]},
    runs=(Run("linear-ae", {**_SPIKES, "optimizer": "sgd", "init_scale": 1e-3, "sqrt_d_scaling": True,
                            "learning_rate": 0.2}, "plain SGD, small initialisation"),
          Run("linear-ae", _SPIKES, "Adam")),
    measure=_steps_in_the_loss,
    expected={"plateaus_with_plain_sgd": (3, 10), "plateaus_fall": (1, 1), "plateaus_with_adam": (0, 2)},
    picture=lambda data, fitted: loss_curves({"plain SGD, small initialisation": fitted[0], "Adam": fitted[1]}),
))
