"""A short theory panel per model: its objective (LaTeX, after the research notes in shared/seeds) and
what to look for while it trains."""

from __future__ import annotations

import streamlit as st

# name -> (objective lines in LaTeX, what to look for)
THEORY: dict[str, tuple[list[str], str]] = {
    "pca": ([r"\underbrace{\tfrac{1}{N}\textstyle\sum_i \|\tilde{x}^{(i)}-\mu\|^2}_{\text{projected variance}}"
             r"+\underbrace{\tfrac{1}{N}\textstyle\sum_i \|x^{(i)}-\tilde{x}^{(i)}\|^2}_{\text{reconstruction error}}"
             r"=\underbrace{\tfrac{1}{N}\textstyle\sum_i \|x^{(i)}-\mu\|^2}_{\text{constant}}"],
            "Solved in closed form, not trained. The atoms are orthogonal and ordered by variance (eigenfaces): "
            "global, signed patterns. Its error is the floor for every rank-matched linear model."),
    "nmf": ([r"\min_{W,H}\ \|D - WH\|_F^2 \quad \text{s.t. } W \ge 0,\ H \ge 0"],
            "Only adding, never cancelling: the atoms become parts (strokes of digits, limbs of the swimmer, "
            "regions of faces), as Lee & Seung showed. HALS reaches its error in tens of steps."),
    "linear-ae": ([r"L(x,\hat{x}) = \|x-\hat{x}\|_2^2, \qquad \hat{x} = UVx"],
                  "A linear autoencoder spans the same subspace as PCA: its MSE falls onto the PCA line, "
                  "but its atoms are mixtures of the principal components, not ordered or orthogonal."),
    "ae": ([r"\hat{x} = \sum_k v^k\, g(\lambda^k), \qquad \lambda^k \equiv \frac{w^k x}{\sqrt{D}}",
            r"\text{pmse} \equiv \frac{1}{D}\sum_i \mathbb{E}\,(x_i-\hat{x}_i)^2"],
           "Refinetti & Goldt: the loss falls in steps as the principal components are learned one after "
           "another. Sigmoidal activations with tied weights stop above the PCA error; ReLU needs its bias."),
    "denoising-ae": ([r"\min_{\theta,\phi}\ \mathbb{E}\,\|x - g_\phi(f_\theta(\tilde{x}))\|^2, "
                      r"\qquad \tilde{x} \sim \text{corrupt}(x)"],
                     "It must reconstruct the clean input from a noisy one, so it learns structure, not pixels: "
                     "raise the noise level while it runs and watch the atoms get smoother."),
    "sae-l1": ([r"\tilde{J}(x) = J(x, g(f(x))) + \alpha\,\Omega(h), \qquad \Omega(h) = \sum_i |h_i|"],
               "Raising the L1 weight lowers L0 (fewer active codes) and raises the MSE above the PCA line; "
               "too much and atoms die (dead fraction)."),
    "sae-kl": ([r"J_{\text{sparse}}(W,b) = J(W,b) + \beta \sum_{j=1}^{s_2} \mathrm{KL}(\rho\,\|\,\hat{\rho}_j)",
                r"\mathrm{KL}(\rho\|\hat{\rho}_j) = \rho\log\frac{\rho}{\hat{\rho}_j}"
                r" + (1-\rho)\log\frac{1-\rho}{1-\hat{\rho}_j}, \quad \hat{\rho}_j = \frac{1}{m}\sum_i a_j(x^{(i)})"],
               "The CS294A sparse autoencoder: each unit should be active a fraction rho of the time. "
               "On natural image patches the atoms become localised, oriented edge detectors."),
    "sae-topk": ([r"\min_{U,X}\ \|D-\hat{D}\|_2^2 \quad \text{s.t. } \hat{D} = HX^T,\ H = \mathrm{TopK}(DU^T),"
                  r"\ \|H_{i\cdot}\|_0 = k",
                  r"\mathcal{L} = \tfrac{1}{d}\|x-\hat{x}\|_2^2 + \alpha\, \|e-\hat{e}\|_2^2"],
                 "L0 is exactly k. Lower k and the atoms turn into parts; raise it and they get blurrier. "
                 "The AuxK term (e: the residual, ê: its reconstruction from dead latents) keeps atoms alive."),
    "sae-batchtopk": ([r"H = \mathrm{BatchTopK}_{k \cdot B}(DU^T)",
                       r"\mathcal{L} = \tfrac{1}{d}\|x-\hat{x}\|_2^2 + \alpha\, \|e-\hat{e}\|_2^2"],
                      "The k x B largest codes of a batch of B samples survive: k active codes per sample on "
                      "average, more for complex samples, fewer for simple ones."),
    "sae-matryoshka": ([r"H = \mathrm{BatchTopK}_{k \cdot B}(DU^T), \qquad "
                        r"\hat{x}_m = H_{\cdot,1:m} X_{1:m} + b, \quad m \in \{M/2^{G-1}, \dots, M/2, M\}",
                        r"\mathcal{L} = \sum_m \tfrac{1}{d}\|x-\hat{x}_m\|_2^2 + \alpha\, \|e-\hat{e}\|_2^2"],
                       "Bussmann et al.: every prefix of the dictionary must reconstruct on its own, so the first "
                       "atoms are general (whole digits) and later ones add detail; a wider dictionary refines "
                       "features instead of splitting them. Compare the first atoms with BatchTopK's."),
    "sae-gated": ([r"h = [\pi_{\text{gate}} > 0] \odot \mathrm{ReLU}(\pi_{\text{mag}}), \quad "
                   r"\pi_{\text{gate}} = W_{\text{gate}}(x-b) + b_{\text{gate}}, \quad "
                   r"\pi_{\text{mag}} = e^{r_{\text{mag}}} \odot W_{\text{gate}}(x-b) + b_{\text{mag}}",
                   r"\mathcal{L} = \|x-\hat{x}\|_2^2 + \lambda \|\mathrm{ReLU}(\pi_{\text{gate}})\|_1 "
                   r"+ \|x - \hat{x}_{\text{frozen}}(\mathrm{ReLU}(\pi_{\text{gate}}))\|_2^2"],
                  "Rajamanoharan et al.: the gate decides which latents fire and the L1 penalty acts on it alone, "
                  "so the codes that fire keep their full size (no L1 shrinkage): at the same L0 its MSE sits "
                  "below the L1 SAE's."),
    "sae-jumprelu": ([r"H = \mathrm{JumpReLU}_\theta(DU^T), \qquad \mathrm{JumpReLU}_\theta(z) = z\,[z > \theta]",
                      r"\mathcal{L} = \|x-\hat{x}\|_2^2 + \lambda \|h\|_0"],
                     "Each latent learns its own threshold theta. The L0 weight trades MSE for sparsity directly: "
                     "watch L0 fall as you raise it."),
    "nnsae": ([r"\min\ \|x - W_d\,h\|_2^2 + \lambda \|h\|_1 \quad \text{s.t. } W_d \ge 0,\ h \ge 0"],
              "Non-negative weights and codes, as in NMF: the atoms become parts-based. Compare them with NMF's "
              "on the same data."),
}


def theory_panel(model_name: str) -> None:
    lines, look_for = THEORY.get(model_name, ([], ""))
    with st.expander(f"Theory: what {model_name} optimises", expanded=False):
        for line in lines:
            st.latex(line)
        if look_for:
            st.markdown(f"**What to look for.** {look_for}")
