"""Token bitmasks: int32 tensors of shape (batch, ceil(vocab_size / 32)); bit j % 32 of word
j // 32 set means token j is allowed (the layout XGrammar, LLGuidance and Outlines share)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

try:
    import torch
except ImportError:  # torch is optional for the core; bitmasks then are numpy arrays
    torch = None  # type: ignore[assignment]


def bitmask_words(vocab_size: int) -> int:
    """Number of int32 words per bitmask row.

    Example:
        >>> bitmask_words(128256)
        4008
    """
    return (vocab_size + 31) // 32


def allocate_token_bitmask(batch_size: int, vocab_size: int) -> Any:
    """A bitmask with every token allowed: a torch int32 tensor (numpy array without torch).

    Example:
        >>> m = allocate_token_bitmask(2, 100)
        >>> tuple(m.shape)
        (2, 4)
    """
    shape = (batch_size, bitmask_words(vocab_size))
    if torch is not None:
        return torch.full(shape, -1, dtype=torch.int32)
    return np.full(shape, -1, dtype=np.int32)


def row_pointer(bitmask: Any, index: int, vocab_size: int) -> int:
    """Address of row `index` after checking dtype, shape, device and layout (ValueError)."""
    words = bitmask_words(vocab_size)
    if torch is not None and isinstance(bitmask, torch.Tensor):
        if bitmask.dtype != torch.int32:
            raise ValueError(f"bitmask must be int32, got {bitmask.dtype}")
        if bitmask.device.type != "cpu":
            raise ValueError("bitmask must be on the CPU; copy it to the GPU after filling")
        shape, strides = tuple(bitmask.shape), tuple(bitmask.stride())
        base, itemsize = bitmask.data_ptr(), 4
    elif isinstance(bitmask, np.ndarray):
        if bitmask.dtype != np.int32:
            raise ValueError(f"bitmask must be int32, got {bitmask.dtype}")
        if not bitmask.flags.writeable:
            raise ValueError("bitmask is read-only")
        shape, itemsize = bitmask.shape, 4
        strides = tuple(s // itemsize for s in bitmask.strides)
        base = bitmask.ctypes.data
    else:
        raise ValueError(f"bitmask must be a torch.Tensor or numpy.ndarray, got {type(bitmask)}")
    if len(shape) == 1:
        shape, strides = (1, shape[0]), (shape[0], strides[0])
    if len(shape) != 2 or shape[1] != words:
        raise ValueError(
            f"bitmask must have shape (batch, {words}) for vocab_size {vocab_size}, got {shape}"
        )
    if strides[1] != 1:
        raise ValueError("bitmask rows must be contiguous")
    if not 0 <= index < shape[0]:
        raise ValueError(f"index {index} is outside the bitmask's {shape[0]} rows")
    return base + index * strides[0] * itemsize


def apply_token_bitmask_inplace(
    logits: Any,
    bitmask: Any,
    indices: Sequence[int] | None = None,
    vocab_size: int | None = None,
) -> None:
    """Set logits of disallowed tokens to -inf, in place; allowed logits are not modified.

    ``logits``: a float32/float16/bfloat16 torch tensor, (batch, vocab) or (vocab,), on the CPU
    or a GPU. ``bitmask``: int32, (rows, words) or (words,); on another device than ``logits``
    it is copied (non-blocking when pinned). Columns from ``32 * words`` on (a padded
    vocabulary) are masked, and so are columns from ``vocab_size`` on when it is given.
    ``indices``: only these logits rows are masked, the others are untouched (mixed batches
    where only some rows are constrained). As in XGrammar, when the bitmask has one row per
    logits row, row r of the bitmask applies to row r of the logits; a bitmask with exactly
    ``len(indices)`` rows (and a different number of rows than the logits) is compact: its row
    i applies to logits row ``indices[i]``. Without ``indices`` the bitmask must have one row
    per logits row.

    Backends (:func:`formgate.kernels.backend_name`): CPU tensors use the core's C++ loop when
    the extension provides it, else numpy; CUDA tensors a Triton kernel when ``triton`` imports,
    else torch.

    Example:
        >>> import torch
        >>> logits = torch.zeros(1, 40)
        >>> mask = allocate_token_bitmask(1, 40)
        >>> mask[0, 0] = 0b101
        >>> mask[0, 1] = 0
        >>> apply_token_bitmask_inplace(logits, mask)
        >>> [i for i in range(40) if logits[0, i] == 0]
        [0, 2]
    """
    if torch is None:
        raise RuntimeError("apply_token_bitmask_inplace needs torch")
    from formgate import kernels

    rows_logits, bitmask, rows, covered = _check_apply_args(logits, bitmask, indices, vocab_size)
    if rows_logits.device.type == "cpu":
        kernels.cpu.apply(rows_logits, bitmask, rows, covered)
    elif (
        rows_logits.device.type == "cuda"
        and rows_logits.stride(1) == 1
        and kernels.triton_apply.available()
    ):
        kernels.triton_apply.apply(rows_logits, bitmask, rows, covered)
    else:
        kernels.torch_apply.apply(rows_logits, bitmask, rows, covered)


_FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")


def _check_apply_args(
    logits: Any, bitmask: Any, indices: Sequence[int] | None, vocab_size: int | None
) -> tuple[Any, Any, list[int] | None, int]:
    """``(2-D logits, 2-D bitmask, rows, covered columns)`` after checking every argument."""
    if not isinstance(logits, torch.Tensor) or not isinstance(bitmask, torch.Tensor):
        raise ValueError(
            f"logits and bitmask must be torch tensors, got {type(logits).__name__} and "
            f"{type(bitmask).__name__}"
        )
    if str(logits.dtype).removeprefix("torch.") not in _FLOAT_DTYPES:
        raise ValueError(f"logits must be a floating tensor, got {logits.dtype}")
    if logits.dim() not in (1, 2):
        raise ValueError(f"logits must be (batch, vocab) or (vocab,), got {tuple(logits.shape)}")
    if bitmask.dtype != torch.int32:
        raise ValueError(f"bitmask must be int32, got {bitmask.dtype}")
    if bitmask.dim() not in (1, 2):
        raise ValueError(f"bitmask must be (rows, words) or (words,), got {tuple(bitmask.shape)}")
    rows_logits = logits.unsqueeze(0) if logits.dim() == 1 else logits
    bitmask = bitmask.unsqueeze(0) if bitmask.dim() == 1 else bitmask
    width = rows_logits.shape[1]
    if vocab_size is not None and vocab_size < 0:
        raise ValueError(f"vocab_size must be >= 0, got {vocab_size}")
    covered = min(width, 32 * bitmask.shape[1], width if vocab_size is None else vocab_size)
    if indices is None:
        if bitmask.shape[0] != rows_logits.shape[0]:
            raise ValueError(
                f"bitmask has {bitmask.shape[0]} rows but logits have {rows_logits.shape[0]}; "
                "pass indices to constrain only some rows"
            )
        return rows_logits, bitmask, None, covered
    rows = [int(i) for i in indices]
    for r in rows:
        if not 0 <= r < rows_logits.shape[0]:
            raise ValueError(f"index {r} is outside the logits' {rows_logits.shape[0]} rows")
    if len(set(rows)) != len(rows):
        raise ValueError(f"indices has a repeated row: {rows}")
    if bitmask.shape[0] == rows_logits.shape[0]:
        # XGrammar's convention: one bitmask row per logits row, indices pick which apply.
        index = torch.as_tensor(rows, dtype=torch.long, device=bitmask.device)
        return rows_logits, bitmask.index_select(0, index), rows, covered
    if len(rows) != bitmask.shape[0]:
        raise ValueError(
            f"indices has {len(rows)} entries but the bitmask has {bitmask.shape[0]} rows "
            f"(expected {rows_logits.shape[0]}, one per logits row, or {len(rows)}, one per index)"
        )
    return rows_logits, bitmask, rows, covered
