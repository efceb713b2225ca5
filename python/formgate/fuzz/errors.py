"""Errors of :mod:`formgate.fuzz`."""

from __future__ import annotations


class NoStringError(ValueError):
    """No sentence of the grammar fits in ``max_bytes`` bytes (``proven=True``), or the bounded
    search for one gave up (``proven=False``: a longer budget or a simpler grammar may help).

    Example:
        >>> import formgate.fuzz
        >>> try:
        ...     formgate.fuzz.generate('root ::= "abc"', 1, max_bytes=2)
        ... except formgate.fuzz.NoStringError as e:
        ...     print(e)
        the grammar has no string of at most 2 bytes
    """

    def __init__(self, max_bytes: int, proven: bool):
        if proven:
            message = f"the grammar has no string of at most {max_bytes} bytes"
        else:
            message = (f"found no string of at most {max_bytes} bytes within the search budget "
                       "(one may exist: raise max_bytes or the budget)")
        super().__init__(message)
        self.max_bytes = max_bytes
        self.proven = proven


class UniformFallbackWarning(UserWarning):
    """``mode="uniform"`` could not count the language within its budget and sampled by
    random walk instead (not uniform)."""
