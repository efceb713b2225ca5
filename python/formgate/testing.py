"""Helpers for tests and debugging: bitmask rows as booleans, reference acceptance checks."""

from __future__ import annotations

from typing import Any

import numpy as np


def bitmask_to_bool(bitmask_row: Any, vocab_size: int) -> np.ndarray:
    """Boolean array of length vocab_size: True where the token is allowed.

    Example:
        >>> import numpy as np
        >>> bitmask_to_bool(np.array([5], dtype=np.int32), 4).tolist()
        [True, False, True, False]
    """
    row = np.asarray(bitmask_row.cpu() if hasattr(bitmask_row, "cpu") else bitmask_row)
    words = row.astype(np.int32).view(np.uint32).reshape(-1)
    bits = (words[:, None] >> np.arange(32, dtype=np.uint32)) & 1
    return bits.reshape(-1)[:vocab_size].astype(bool)


def allowed_tokens(bitmask_row: Any, vocab_size: int) -> list[int]:
    """Ids of allowed tokens, in increasing order."""
    return np.flatnonzero(bitmask_to_bool(bitmask_row, vocab_size)).tolist()
