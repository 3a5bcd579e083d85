"""How a sweep's group of same-shape points is cut into batched stacks (``core.sweep.Sweep.units``)."""

from __future__ import annotations

import torch

#: On the CPU a stack pays only while its members' encoder and decoder weights together fit about this many
#: bytes (the last-level cache of the EPYC measured): past it the per-step passes over the stacked weights run
#: from memory and a stack's step costs each model as much as its own step alone, or more (sae-topk, stacks of
#: 8, CPU time per model and step, 1 thread: 1.07x at 1 MB of stacked weights, 0.90-0.99x at 16-49 MB, 0.91x at
#: 98-196 MB; bench/RESULTS.md, issue 21). On a GPU one stack holds the whole group.
CPU_STACK_BYTES = 32 * 2**20


def stack_limit(n_latents: int, n_features: int, device: torch.device,
                budget: int | None = CPU_STACK_BYTES) -> int | None:
    """The most points of one shape that train as one stack: on the CPU as many as ``budget`` bytes of
    stacked encoder and decoder weights hold (at least 1); None: no limit (a GPU, or no budget)."""
    if device.type != "cpu" or budget is None:
        return None
    return max(1, int(budget) // (2 * n_latents * n_features * 4))


def cut_into_stacks(group: list[int], limit: int | None) -> list[list[int]]:
    """``group`` (point indices) in stacks of at most ``limit`` points, in order; None: one stack."""
    limit = limit or len(group)
    return [list(group[start:start + limit]) for start in range(0, len(group), limit)]
