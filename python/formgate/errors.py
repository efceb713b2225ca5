"""Exceptions raised by formgate. The compiled core raises these with positions filled in."""

from __future__ import annotations


class GrammarError(ValueError):
    """A grammar is malformed or unusable.

    ``line`` and ``column`` are 1-based (column in code points) and 0 when the problem has no
    single position; ``cause`` is the message without the position and excerpt.

    Example:
        >>> import formgate
        >>> try:
        ...     formgate.Grammar.from_ebnf('root ::= "a" b')
        ... except formgate.GrammarError as e:
        ...     (e.line, e.column, e.cause)
        (1, 14, "undefined rule 'b'")
    """

    def __init__(self, message: str, line: int = 0, column: int = 0, cause: str | None = None):
        super().__init__(message)
        self.line = line
        self.column = column
        self.cause = cause if cause is not None else message


class LimitError(GrammarError):
    """A documented resource limit (states, nesting, repetition bound, work per step) was hit."""
