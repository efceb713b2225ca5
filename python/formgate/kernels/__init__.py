"""Bitmask application kernels behind :func:`formgate.apply_token_bitmask_inplace`.

One module per backend, all with the same contract: logits rows ``rows[i]`` (all rows when
``rows`` is None) take bitmask row ``i``; a logit becomes ``-inf`` when its bit is clear or its
column is ``>= covered``; allowed logits are left untouched (never rewritten).

- :mod:`formgate.kernels.cpu`: the core's vectorised C++ loop when the extension has it, else
  numpy (integer views, so fp16/bf16 need no conversion).
- :mod:`formgate.kernels.triton_apply`: one Triton kernel for CUDA tensors (imported lazily;
  only ``-inf`` stores for disallowed columns, no read of the logits).
- :mod:`formgate.kernels.torch_apply`: plain torch for any device (CUDA without Triton).

:func:`backend_name` says which one a tensor would get.
"""

from __future__ import annotations

from typing import Any

from formgate.kernels import cpu, torch_apply, triton_apply

__all__ = ["backend_name"]


def backend_name(logits: Any) -> str:
    """The backend ``apply_token_bitmask_inplace`` uses for ``logits``: ``"cpp"``, ``"numpy"``,
    ``"triton"`` or ``"torch"``.

    Example:
        >>> import torch
        >>> backend_name(torch.zeros(2, 8)) in ("cpp", "numpy")
        True
    """
    if logits.device.type == "cpu":
        return cpu.backend_name(logits)
    if logits.device.type == "cuda" and triton_apply.available():
        return "triton"
    return "torch"
