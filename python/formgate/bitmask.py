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
    """Set logits of disallowed tokens to -inf, in place (CPU and GPU tensors).

    ``logits`` is (batch, vocab) or (vocab,); columns beyond the bitmask (padded vocabularies)
    are masked too, and so are columns from ``vocab_size`` on when it is given. ``indices``
    selects which logits rows are constrained; bitmask row i applies to logits row indices[i].

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
    squeeze = logits.dim() == 1
    rows_logits = logits.unsqueeze(0) if squeeze else logits
    if bitmask.dim() == 1:
        bitmask = bitmask.unsqueeze(0)
    if bitmask.dtype != torch.int32:
        raise ValueError(f"bitmask must be int32, got {bitmask.dtype}")
    vocab = rows_logits.shape[-1]
    covered = min(vocab, bitmask.shape[-1] * 32, vocab if vocab_size is None else vocab_size)
    bits = torch.arange(32, device=bitmask.device, dtype=torch.int32)
    bitmask = bitmask.to(rows_logits.device)
    allowed = ((bitmask.unsqueeze(-1) >> bits) & 1).bool().flatten(-2)[:, :covered]
    if indices is None:
        if bitmask.shape[0] != rows_logits.shape[0]:
            raise ValueError(
                f"bitmask has {bitmask.shape[0]} rows but logits have {rows_logits.shape[0]}"
            )
        target = rows_logits
    else:
        index = torch.as_tensor(list(indices), device=rows_logits.device, dtype=torch.long)
        if index.numel() != bitmask.shape[0]:
            raise ValueError("indices must have one entry per bitmask row")
        target = rows_logits[index]
    masked = target[:, :covered].masked_fill(~allowed, float("-inf"))
    if indices is None:
        rows_logits[:, :covered] = masked
        rows_logits[:, covered:] = float("-inf")
    else:
        rows_logits[index, :covered] = masked
        rows_logits[index, covered:] = float("-inf")
