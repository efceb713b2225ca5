"""Helpers for tests and debugging: bitmask rows as booleans, reference acceptance checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from formgate import _core
from formgate.bitmask import allocate_token_bitmask, row_pointer


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


def brute_force_bitmask(matcher: Any) -> Any:
    """The mask computed by trying ``accept_token`` on every id (then rolling back): a slow
    oracle for ``fill_next_token_bitmask`` that shares no code with the mask cache.

    Example:
        >>> import formgate
        >>> info = formgate.TokenizerInfo([b"a", b"b"])
        >>> m = formgate.GrammarMatcher(formgate.GrammarCompiler(info).compile_grammar('root ::= "b"'))
        >>> allowed_tokens(brute_force_bitmask(m)[0], 2)
        [1]
    """
    vocab_size = matcher.vocab_size
    mask = allocate_token_bitmask(1, vocab_size)
    _core._brute_force_mask(matcher, row_pointer(mask, 0, vocab_size))
    return mask
