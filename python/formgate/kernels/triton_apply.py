"""Bitmask application on CUDA with one Triton kernel (used when ``triton`` imports).

Grid: one program per (bitmask row, block of ``BLOCK`` columns). A program loads the int32
words under its columns, and stores ``-inf`` only where a bit is clear or the column is past
``covered``: allowed logits are neither read nor written, so the traffic is the bitmask plus
the disallowed entries (under a constraint, most of the row).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch

BLOCK = 4096


@functools.lru_cache(maxsize=1)
def _kernel() -> Any:
    """The compiled-on-first-use kernel, or None when triton is not importable."""
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None

    @triton.jit
    def apply_bitmask_kernel(
        logits_ptr,
        bitmask_ptr,
        rows_ptr,
        logits_row_stride,
        bitmask_row_stride,
        covered,
        width,
        HAS_ROWS: tl.constexpr,
        BLOCK: tl.constexpr,
    ):
        mask_row = tl.program_id(0)
        if HAS_ROWS:
            logits_row = tl.load(rows_ptr + mask_row).to(tl.int64)
        else:
            logits_row = mask_row.to(tl.int64)
        cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        words = tl.load(
            bitmask_ptr + mask_row.to(tl.int64) * bitmask_row_stride + cols // 32,
            mask=cols < covered,
            other=0,
        )
        bit_clear = ((words >> (cols % 32)) & 1) == 0  # also true past ``covered`` (other=0)
        disallowed = (cols < width) & bit_clear
        neg_inf = tl.full([BLOCK], float("-inf"), tl.float32).to(logits_ptr.dtype.element_ty)
        tl.store(logits_ptr + logits_row * logits_row_stride + cols, neg_inf, mask=disallowed)

    return apply_bitmask_kernel


def available() -> bool:
    """Whether triton imports (the kernel itself compiles on first use)."""
    return _kernel() is not None


def apply(
    logits: torch.Tensor, bitmask: torch.Tensor, rows: Sequence[int] | None, covered: int
) -> None:
    """Mask the 2-D CUDA tensor ``logits`` in place (contract: :mod:`formgate.kernels`).

    ``bitmask`` may be on the CPU (it is copied, non-blocking when pinned); ``rows`` is copied
    to the device as int32. Columns must be contiguous (``logits.stride(1) == 1``).
    """
    kernel = _kernel()
    if kernel is None:
        raise RuntimeError("triton is not importable")
    if logits.stride(1) != 1:
        raise ValueError("the Triton kernel needs logits with contiguous columns")
    bitmask = bitmask.to(logits.device, non_blocking=True)
    if bitmask.stride(1) != 1:
        bitmask = bitmask.contiguous()
    has_rows = rows is not None
    rows_tensor = (
        torch.as_tensor(list(rows), dtype=torch.int32).to(logits.device, non_blocking=True)
        if has_rows
        else bitmask  # unused by the kernel when HAS_ROWS is False
    )
    width = logits.shape[1]
    grid = (bitmask.shape[0], -(-width // BLOCK))
    kernel[grid](
        logits, bitmask, rows_tensor, logits.stride(0), bitmask.stride(0),
        min(covered, width), width, HAS_ROWS=has_rows, BLOCK=BLOCK, num_warps=8,
    )
