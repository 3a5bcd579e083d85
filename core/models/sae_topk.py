"""TopK sparse autoencoder with the AuxK loss on dead latents (Gao et al. 2024, "Scaling and evaluating SAEs").

The training step is written for speed (figures in ``bench/``): codes stay as the k (value, index) pairs
of each sample, decoded either by a dense product or, where the cost model says it is cheaper (all but
the smallest dictionaries), by gathering the k active atoms (``F.embedding_bag``, the eager path of
EleutherAI's sparsify); the encoder's backward gets the decoder bias's gradient from one vector-matrix
product instead of a batch-sized one, and on the CPU the encoder weights' gradient from the non-zeros of
the pre-activations' gradient only (``sparse_weight_gradient``: TopK's k per row, and AuxK's); AuxK is not
computed while no latent can be dead (a bound on the dead-latent counters, checked with one host sync per
horizon); ``precision='bf16'`` casts the two big products to bfloat16 while the weights, Adam and the loss
stay fp32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse
import torch
import torch.nn.functional as F

from core.models.autoencoder import check_positive, hyper
from core.models.precision import resolve_precision
from core.models.sae import BaseSAE, SAEState

#: steps between two host checks of "is any latent dead?" once some are (AuxK runs in between)
_AUXK_RECHECK = 100
#: on a GPU, AuxK is skipped only when at least this many steps are known to have no dead latent
_AUXK_MIN_SKIP = 16
#: 'auto' chooses by the cost model below; 'dense' or 'sparse' force a decoder (for benchmarks and tests)
DECODERS = ("auto", "dense", "sparse")
#: the sparse encoder gradient is used while at most this share of the pre-activations' gradient is non-zero:
#: measured on 2 EPYC cores (bench/RESULTS.md, issue 21), scipy's single-threaded sparse product over 10%
#: non-zeros (TopK 32 + AuxK 392 of 4096) still beats the 2-thread dense GEMM; past ~20% it loses
SPARSE_GRADIENT_MAX_DENSITY = 0.15
#: and only from this many input features per torch thread: finding the non-zeros costs a pass over the
#: (batch x n) gradient whatever d, and scipy's product runs on one thread, while the dense product's cost grows
#: with d and shrinks with threads (k = n/128, 1 thread: 0.4x at d 64, 0.8x at 128, 1.6x at 256, 3.8x at 784):
#: more cores give the dense GEMM the advantage
SPARSE_GRADIENT_MIN_FEATURES_PER_THREAD = 256


def largest(values: torch.Tensor, n) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, indices) of the n largest entries along the last dimension. ``n`` is an int, or in a stack of
    S models (values: S x ...) an (S,) tensor of counts: each model then gets max(n) entries, those past its
    own count set to 0."""
    if not isinstance(n, torch.Tensor):
        return values.topk(int(n), dim=-1)
    top, indices = values.topk(int(n.max()), dim=-1)
    kept = torch.arange(top.shape[-1], device=top.device) < n.view(-1, *([1] * (top.dim() - 1)))
    return torch.where(kept, top, torch.zeros_like(top)), indices


def top_k(pre: torch.Tensor, k) -> tuple[torch.Tensor, torch.Tensor]:
    """The TopK activation as (values, indices): ReLU of the k largest pre-activations of each row.
    pre: (..., batch, n_latents); k: an int or a stack's (S,) tensor (see ``largest``)."""
    values, indices = largest(pre, k)
    return torch.relu(values), indices


def keep_top_k(pre: torch.Tensor, k) -> torch.Tensor:
    """``top_k`` as dense codes: every code but each row's k largest is 0."""
    values, indices = top_k(pre, k)
    return torch.zeros_like(pre).scatter_(-1, indices, values)


class TopKCodes(NamedTuple):
    """The codes of a batch as each sample's k (ReLU'd value, latent index) pairs."""

    values: torch.Tensor   # (..., batch, k)
    indices: torch.Tensor  # (..., batch, k), distinct within a row
    n_latents: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (*self.values.shape[:-1], self.n_latents)

    def dense(self) -> torch.Tensor:
        out = self.values.new_zeros(self.shape)
        return out.scatter_(-1, self.indices, self.values)


def gathered_decode(indices: torch.Tensor, values: torch.Tensor, W_dec: torch.Tensor) -> torch.Tensor:
    """sum_j values[..., j] * W_dec[indices[..., j]]: each row's k active atoms gathered and weighted
    (``F.embedding_bag``), without forming the dense (batch x n_latents) codes.

    indices, values: (batch, k) with W_dec (n_latents, d); or a stack's (S, batch, k) with W_dec
    (S, n_latents, d), decoded as one bag over the S stacked dictionaries (model s's indices shifted by
    s * n_latents). Returns (batch, d) or (S, batch, d)."""
    if W_dec.dim() == 2:
        return F.embedding_bag(indices, W_dec, per_sample_weights=values.to(W_dec.dtype), mode="sum")
    stack, n_latents, n_features = W_dec.shape
    shift = (torch.arange(stack, device=indices.device) * n_latents).view(stack, 1, 1)
    flat = F.embedding_bag((indices + shift).flatten(0, 1), W_dec.reshape(stack * n_latents, n_features),
                           per_sample_weights=values.to(W_dec.dtype).flatten(0, 1), mode="sum")
    return flat.view(stack, -1, n_features)


def sparse_decode_is_faster(rows: int, n_latents: int, n_features: int, k: int, device: torch.device,
                            precision: str) -> bool:
    """Cost model: gathering k atoms per sample against the dense (rows x n_latents x n_features) products.

    Dense decoder, forward and backward: 3 products of 2 * rows * n_latents * n_features flops. Sparse:
    about 3 passes over the rows * k gathered atoms (forward, gradient of the values, scatter of the
    atoms' gradient) plus a few passes over the dense decoder gradient, all memory-bound, plus a fixed
    overhead (the backward's sort). The GPU constants are an H100's, achieved rather than peak; the CPU
    ones were measured on 2 cores of an EPYC (dense wins below ~300 latents at k=8, sparse above:
    25x faster at 4096 latents). Only the ratio matters.
    """
    bytes_per_value = 2 if precision == "bf16" else 4
    if device.type == "cuda":
        flops = {"fp32": 40e12, "tf32": 250e12, "bf16": 500e12}[precision]
        bandwidth, overhead = 2e12, 1e-4
    else:  # bf16 products are emulated on most CPUs
        flops, bandwidth, overhead = (5e9 if precision == "bf16" else 40e9), 10e9, 3e-4
    dense = 6.0 * rows * n_latents * n_features / flops
    gathered = 3.0 * rows * k * n_features * bytes_per_value + 3.0 * n_latents * n_features * 4
    return gathered / bandwidth + overhead < dense


def sparse_weight_gradient(grad: torch.Tensor, xc: torch.Tensor) -> torch.Tensor | None:
    """``grad.mT @ xc`` from the non-zeros of ``grad`` only, or None where that would not pay (fewer than
    ``SPARSE_GRADIENT_MIN_FEATURES_PER_THREAD`` columns in xc per torch thread, or over
    ``SPARSE_GRADIENT_MAX_DENSITY`` of grad non-zero): the caller then takes the dense product.

    grad: (..., batch, n) the pre-activations' gradient, xc: (..., batch, d) the encoder's input; returns
    (..., n, d). A TopK code passes gradient only through its k selected pre-activations (and AuxK's top
    dead ones), so the dense (n x batch) @ (batch x d) product is mostly multiplications by 0. A stack
    (S leading members) is one block-diagonal sparse matrix (S n x S batch) times the S batches stacked.
    CPU tensors of float32 or float64 (scipy); anything else gets None.
    """
    if (grad.device.type != "cpu" or grad.dtype not in (torch.float32, torch.float64) or xc.dtype != grad.dtype
            or xc.shape[-1] < SPARSE_GRADIENT_MIN_FEATURES_PER_THREAD * torch.get_num_threads()):
        return None
    *stack, rows, n_latents = grad.shape
    members = math.prod(stack)
    flat = grad.detach().reshape(-1)
    where = flat.nonzero().squeeze(1)  # one pass over the gradient: (member, sample, latent) flattened
    if where.numel() > SPARSE_GRADIENT_MAX_DENSITY * flat.numel():
        return None
    member, sample, latent = where // (rows * n_latents), where // n_latents % rows, where % n_latents
    # the gradient transposed, block-diagonal over the stack's members: row (member, latent), column (member,
    # sample); scipy sorts the entries into CSR rows, so the product writes each gradient row once
    sparse = scipy.sparse.csr_matrix(
        (flat[where].numpy(), ((member * n_latents + latent).numpy(), (member * rows + sample).numpy())),
        shape=(members * n_latents, members * rows))
    inputs = xc.detach().expand(*stack, rows, xc.shape[-1]).reshape(members * rows, -1).numpy()
    return torch.from_numpy(np.asarray(sparse @ inputs)).view(*stack, n_latents, xc.shape[-1])


class _CenteredLinear(torch.autograd.Function):
    """pre = (x - b_dec) W^T + b, in ``dtype`` (None: the inputs' fp32) for the products.

    Same forward as autograd's; the backward gives b_dec its gradient as -(sum_i g_i) W, one
    vector-matrix product, where autograd would form g W for the whole batch (a third big product) only
    to sum it, and, with ``sparse_grad`` (the TopK family), W its gradient from the non-zeros of the
    pre-activations' gradient (``sparse_weight_gradient``). x (the data) gets no gradient unless it asks
    for one. In a stack (W: S x n x d, biases S x 1 x ...) the products are batched over the stack.
    """

    @staticmethod
    def forward(ctx, x, b_dec, W, b, dtype, sparse_grad=False):
        xc = x - b_dec
        if dtype is None:
            pre = xc @ W.mT + b
        elif xc.dim() == 2:
            xc = xc.to(dtype)
            pre = torch.addmm(b.to(dtype), xc, W.to(dtype).T)
        else:
            xc = xc.to(dtype)
            pre = torch.baddbmm(b.to(dtype), xc, W.to(dtype).mT)
        ctx.save_for_backward(xc, W)
        ctx.x_shape, ctx.sparse_grad = x.shape, sparse_grad
        return pre

    @staticmethod
    def backward(ctx, grad):
        xc, W = ctx.saved_tensors
        grad_x = grad_b_dec = grad_W = grad_b = None
        column_sum = grad.sum(-2, keepdim=grad.dim() > 2, dtype=W.dtype)  # fp32 under bf16 products
        if ctx.needs_input_grad[2]:
            grad_W = sparse_weight_gradient(grad, xc) if ctx.sparse_grad else None
            grad_W = (grad.mT @ xc if grad_W is None else grad_W).to(W.dtype)
        if ctx.needs_input_grad[3]:
            grad_b = column_sum
        if ctx.needs_input_grad[1]:
            grad_b_dec = -(column_sum @ W)
        if ctx.needs_input_grad[0]:
            grad_x = (grad @ W.to(grad.dtype)).to(W.dtype).sum_to_size(ctx.x_shape)
        return grad_x, grad_b_dec, grad_W, grad_b, None, None


@dataclass(slots=True)
class TopKState(SAEState):
    compute_dtype: torch.dtype | None = None  # bf16 for the two big products, None: fp32
    auxk_check_at: int = 1  # the step of the next host check "could a latent be dead?"
    auxk_active: bool = False  # its answer until then
    W_dec_c: torch.Tensor | None = None  # this step's (cast) atoms, for AuxK


class TopKSAE(BaseSAE):
    """Minimise mean ||x - x_hat||^2 / d + auxk_coef * AuxK, with h = TopK(pre-activation): exactly k
    codes per sample may be non-zero, so sparsity is set directly instead of through a penalty.

    AuxK (against dead latents): e = x - x_hat is the residual (no gradient through it); the top
    ``auxk`` pre-activations among dead latents decode it, *without* the decoder bias, into e_hat;
    AuxK = mean ||e - e_hat||^2 / mean ||e - mean(e)||^2 (normalised by the residual's variance).
    A latent is dead when it has not fired for ``dead_window`` samples. auxk_coef=0 gives plain TopK.

    ``precision``: 'auto' (TF32 matmuls on CUDA, fp32 on the CPU), 'fp32', 'tf32' (CUDA) or 'bf16'
    (the encoder and decoder products in bfloat16; weights, optimiser and loss in fp32).
    """

    _live_params = ("learning_rate", "k")
    _explicit_casts = True
    _State = TopKState
    #: 'auto', 'dense' or 'sparse' (see ``sparse_decode_is_faster``); not a parameter: results agree
    _decoder = "auto"
    #: the encoder weights' gradient from the non-zeros of the pre-activations' (``sparse_weight_gradient``);
    #: False: the dense product (for benchmarks and tests; results agree to float rounding)
    _sparse_encoder_grad = True

    def __init__(self, n_components=64, *, k=8, auxk=None, auxk_coef=1 / 32, max_steps=2000, batch_size=256,
                 learning_rate=3e-3, warmup_steps=50, decoder_bias_init="mean", dead_window=2048,
                 random_state=None, device="auto", log_every=10, precision="auto",
                 non_negative=False, decoder_bias=True, resample_dead=False):
        self._common_init(n_components, max_steps, batch_size, learning_rate, warmup_steps,
                          decoder_bias_init, dead_window, random_state, device, log_every, non_negative,
                          decoder_bias, resample_dead)
        self.k = k
        self.auxk = auxk
        self.auxk_coef = auxk_coef
        self.precision = precision

    def _check_params(self) -> None:
        super()._check_params()
        check_positive("k", self.k, integer=True)
        check_positive("auxk_coef", self.auxk_coef, allow_zero=True)
        if self.auxk is not None:
            check_positive("auxk", self.auxk, integer=True)
        resolve_precision(self.precision, torch.device("cpu"))  # validates the name
        if self._decoder not in DECODERS:
            raise ValueError(f"_decoder must be one of {DECODERS}, got {self._decoder!r}.")

    def _n_latents(self, n_features: int) -> int:
        n_latents = super()._n_latents(n_features)
        if self.k > n_latents:
            raise ValueError(f"k={self.k} is larger than n_components={n_latents}: a sample cannot have more "
                             "active codes than there are latents. Lower k or raise n_components.")
        return n_latents

    def _apply_live_updates(self, updates):
        if "k" in updates:
            n_latents = self._t.params["W_dec"].shape[-2]
            updates = {**updates, "k": int(min(max(1, int(updates["k"])), n_latents))}
        return super()._apply_live_updates(updates)

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        return keep_top_k(pre, self.k)

    def _auxk_size(self, n_latents: int, n_features: int) -> int:
        return min(n_latents, int(self.auxk) if self.auxk is not None else max(1, n_features // 2))

    # ---- the training step ------------------------------------------------------------------------
    def _setup_extra(self, X: torch.Tensor) -> None:
        super()._setup_extra(X)
        self._t.compute_dtype = torch.bfloat16 if self._t.precision == "bf16" else None
        self._t.auxk_check_at, self._t.auxk_active = 1, False
        self._t.W_dec_c = None

    def _sparse_decode(self, k: int) -> bool:
        if self._decoder != "auto":
            return self._decoder == "sparse"
        n_latents, n_features = self._t.params["W_dec"].shape[-2:]
        return sparse_decode_is_faster(self._t.rows, n_latents, n_features, k, self._t.since_fired.device,
                                       self._t.precision)

    def _select(self, pre: torch.Tensor):
        """The batch's codes from its pre-activations: TopKCodes here, a dense tensor for BatchTopK."""
        return TopKCodes(*top_k(pre, self.k), pre.shape[-1])

    def _decode_codes(self, codes, W_dec: torch.Tensor) -> torch.Tensor:
        """codes @ W_dec, without the decoder bias, by the cheaper of the two decoders."""
        if isinstance(codes, TopKCodes):
            if self._sparse_decode(codes.values.shape[-1]):
                return gathered_decode(codes.indices, codes.values, W_dec)
            codes = codes.dense()
        return codes.to(W_dec.dtype) @ W_dec

    def _forward(self, x: torch.Tensor, p: dict[str, torch.Tensor]):
        dtype = self._t.compute_dtype
        pre = _CenteredLinear.apply(self._corrupt(x), p["b_dec"], p["W_enc"], p["b_enc"], dtype,
                                    self._sparse_encoder_grad)
        codes = self._select(pre)
        W_dec = p["W_dec"] if dtype is None else p["W_dec"].to(dtype)
        self._t.W_dec_c = W_dec  # AuxK decodes with the same (cast) atoms
        x_hat = self._decode_codes(codes, W_dec) + p["b_dec"]
        return x_hat, codes, pre

    def _l0(self, codes) -> torch.Tensor:
        if isinstance(codes, TopKCodes):
            return (codes.values != 0).float().sum(-1).mean(-1)
        return super()._l0(codes)

    def _step_metrics(self, codes) -> dict[str, torch.Tensor]:
        self._t.W_dec_c = None  # the step is over: let the cast atoms go
        if not isinstance(codes, TopKCodes):
            return super()._step_metrics(codes)
        stack = codes.values.shape[:-2]
        hits = torch.zeros(*stack, codes.n_latents, device=codes.values.device).scatter_add_(
            -1, codes.indices.flatten(-2), (codes.values != 0).flatten(-2).float())
        self._update_since_fired(hits > 0, codes.values.shape[-2])
        return self._dead_fraction()

    def _auxk_needed(self) -> bool:
        """Could a latent be dead at this step? Exact: the counters grow by at most one batch a step.

        One host sync per horizon: while every counter is below the window, the next steps that cannot
        reach it skip AuxK (its term would be multiplied by 0, so results are the same); once some
        latents are dead (or, on a GPU, when the horizon is too short to be worth a sync), AuxK runs, its
        term masked on the device as before, and the check comes back every ``_AUXK_RECHECK`` steps.
        """
        step = self._t.step
        if step < self._t.auxk_check_at:
            return self._t.auxk_active
        window = float(self.dead_window)
        oldest = float(self._t.since_fired.max())
        safe_steps = math.ceil((window - oldest) / self._t.rows)  # steps that cannot see a dead latent
        # On a GPU a sync stalls the queue: skipping AuxK must pay for it (a window shorter than a few
        # batches would otherwise mean a sync every step). On the CPU a check costs nothing.
        if oldest >= window or safe_steps < (_AUXK_MIN_SKIP if self._t.since_fired.is_cuda else 1):
            self._t.auxk_active, self._t.auxk_check_at = True, step + _AUXK_RECHECK
        else:
            self._t.auxk_active, self._t.auxk_check_at = False, step + safe_steps
        return self._t.auxk_active

    def _extra_loss(self, codes, pre, x, x_hat):
        coef = hyper(self.auxk_coef)  # a stack's (S,) tensor holds some non-zero (equal values stay a float)
        if not isinstance(coef, torch.Tensor) and not coef:
            return {}
        if not self._auxk_needed():
            return {"auxk": torch.zeros(x_hat.shape[:-2], device=x.device)}
        W_dec = self._t.W_dec_c if self._t.W_dec_c is not None else self._t.params["W_dec"]
        dead = self._dead_mask()
        size = self._auxk_size(*W_dec.shape[-2:])
        # Fixed-size top-k over dead latents only (live ones masked to -inf, giving ReLU 0): no host sync.
        masked = pre.masked_fill(~dead.unsqueeze(-2), float("-inf"))
        if self._sparse_decode(size):
            residual_hat = self._decode_codes(TopKCodes(*top_k(masked, size), masked.shape[-1]), W_dec)
        else:
            residual_hat = keep_top_k(masked, size) @ W_dec  # no decoder bias: the residual has none
        residual = (x - x_hat).detach()
        scale = (residual - residual.mean(-2, keepdim=True)).pow(2).mean((-2, -1)).clamp_min(1e-12)
        auxk = (residual - residual_hat).pow(2).mean((-2, -1)) / scale
        return {"auxk": coef * auxk * dead.any(-1)}
