"""Bitmask application for CPU tensors: the core's C++ loop when built in, else numpy.

The C++ entry point is ``formgate._core.apply_token_bitmask_cpu(logits_ptr, dtype, num_rows,
row_stride, vocab, bitmask_ptr, bitmask_row_stride_words, bitmask_words, rows)``; it masks
columns ``>= 32 * bitmask_words`` too. Extensions built without it use the numpy path, which
works on integer views of the logits (the ``-inf`` bit pattern of each float type), so fp16
and bf16 are handled without a float conversion and with one thread.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from formgate import _core

# -inf as the integer with the same bits, per float type, and the integer type to view as.
_NEG_INF_BITS: dict[torch.dtype, tuple[torch.dtype, int]] = {
    torch.float32: (torch.int32, -(1 << 23)),  # 0xFF800000
    torch.float16: (torch.int16, -(1 << 10)),  # 0xFC00
    torch.bfloat16: (torch.int16, -(1 << 7)),  # 0xFF80
}
_CPP_DTYPES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def has_cpp() -> bool:
    """Whether the compiled core provides ``apply_token_bitmask_cpu``."""
    return hasattr(_core, "apply_token_bitmask_cpu")


def backend_name(logits: torch.Tensor) -> str:
    """``"cpp"`` when :func:`apply` would use the C++ loop for ``logits``, else ``"numpy"``."""
    return "cpp" if has_cpp() and _cpp_layout_ok(logits) else "numpy"


def _cpp_layout_ok(logits: torch.Tensor) -> bool:
    return logits.dtype in _CPP_DTYPES and logits.dim() == 2 and logits.stride(1) == 1


def apply(
    logits: torch.Tensor,
    bitmask: torch.Tensor,
    rows: Sequence[int] | None,
    covered: int,
    use_cpp: bool | None = None,
) -> None:
    """Mask the 2-D CPU tensor ``logits`` in place (contract: :mod:`formgate.kernels`).

    ``use_cpp``: force (True) or forbid (False) the C++ loop; default: use it when present.
    Tests compare both paths through this switch.

    Example:
        >>> logits = torch.zeros(1, 40)
        >>> apply(logits, torch.tensor([[0b101, 0]], dtype=torch.int32), None, 40)
        >>> torch.isfinite(logits[0]).nonzero().flatten().tolist()
        [0, 2]
    """
    if use_cpp is None:
        use_cpp = has_cpp() and _cpp_layout_ok(logits)
    elif use_cpp and not has_cpp():
        raise RuntimeError("this build of formgate._core has no apply_token_bitmask_cpu")
    elif use_cpp and not _cpp_layout_ok(logits):
        raise ValueError("the C++ path needs fp32/fp16/bf16 logits with contiguous rows")
    if use_cpp:
        _apply_cpp(logits, bitmask, rows, covered)
    else:
        _apply_numpy(logits, bitmask, rows, covered)


def _apply_cpp(
    logits: torch.Tensor, bitmask: torch.Tensor, rows: Sequence[int] | None, covered: int
) -> None:
    if bitmask.stride(-1) != 1:
        bitmask = bitmask.contiguous()
    words = min(bitmask.shape[1], -(-covered // 32))
    width = logits.shape[1]
    dtype = _CPP_DTYPES[logits.dtype]
    if rows is None:
        _core.apply_token_bitmask_cpu(
            logits.data_ptr(), dtype, logits.shape[0], max(logits.stride(0), width), width,
            bitmask.data_ptr(), bitmask.stride(0), words, None,
        )
    else:
        # The core pairs logits row r with bitmask row r; here bitmask row i goes to logits
        # row rows[i], so each row is one call on shifted pointers.
        item, mask_item = logits.element_size(), bitmask.element_size()
        for i, r in enumerate(rows):
            _core.apply_token_bitmask_cpu(
                logits.data_ptr() + r * logits.stride(0) * item, dtype, 1, width, width,
                bitmask.data_ptr() + i * bitmask.stride(0) * mask_item, words, words, None,
            )
    end = min(width, 32 * words)
    if covered < end:
        # ``covered`` (a vocab_size argument) ends inside the last word: the core applied that
        # word's bits past it, which must be masked whatever they say.
        int_dtype, neg_inf = _NEG_INF_BITS[logits.dtype]
        view = logits.view(int_dtype).numpy()
        view[slice(None) if rows is None else list(rows), covered:end] = neg_inf


def _apply_numpy(
    logits: torch.Tensor, bitmask: torch.Tensor, rows: Sequence[int] | None, covered: int
) -> None:
    int_dtype, neg_inf = _NEG_INF_BITS.get(logits.dtype, (None, 0))
    if int_dtype is None:  # float64 and friends: no bit trick needed for correctness
        from formgate.kernels import torch_apply

        torch_apply.apply(logits, bitmask, rows, covered)
        return
    words = -(-covered // 32)
    bits = np.unpackbits(
        bitmask[:, :words].contiguous().numpy().view(np.uint8), axis=-1, bitorder="little"
    )
    disallowed = bits[:, :covered] == 0
    view = logits.view(int_dtype).numpy()
    if rows is None:
        np.putmask(view[:, :covered], disallowed, neg_inf)
        view[:, covered:] = neg_inf
        return
    for i, r in enumerate(rows):
        np.putmask(view[r, :covered], disallowed[i], neg_inf)
        view[r, covered:] = neg_inf
