"""Bitmask application in plain torch: any device and dtype (the CUDA path without Triton)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

_BITS = 32


def apply(
    logits: torch.Tensor, bitmask: torch.Tensor, rows: Sequence[int] | None, covered: int
) -> None:
    """Mask ``logits`` (2-D) in place; see :mod:`formgate.kernels` for the contract.

    Example:
        >>> logits = torch.zeros(1, 40)
        >>> apply(logits, torch.tensor([[0b101, 0]], dtype=torch.int32), None, 40)
        >>> torch.isfinite(logits[0]).nonzero().flatten().tolist()
        [0, 2]
    """
    bitmask = bitmask.to(logits.device, non_blocking=True)
    words = -(-covered // _BITS)
    shifts = torch.arange(_BITS, device=logits.device, dtype=torch.int32)
    disallowed = ((bitmask[:, :words].unsqueeze(-1) >> shifts) & 1) == 0
    disallowed = disallowed.flatten(-2)[:, :covered]
    neg_inf = float("-inf")
    if rows is None:
        logits[:, :covered].masked_fill_(disallowed, neg_inf)
        logits[:, covered:] = neg_inf
        return
    index = torch.as_tensor(list(rows), device=logits.device, dtype=torch.long)
    # Advanced indexing copies: mask the gathered rows, then scatter them back.
    picked = logits.index_select(0, index)
    picked[:, :covered].masked_fill_(disallowed, neg_inf)
    picked[:, covered:] = neg_inf
    logits.index_copy_(0, index, picked)
