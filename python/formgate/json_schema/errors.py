"""Errors raised while turning a JSON Schema (or a regex) into EBNF."""

from __future__ import annotations

from formgate.errors import GrammarError, LimitError

__all__ = ["SchemaError", "RegexError", "LimitError"]


class SchemaError(GrammarError):
    """The schema uses something formgate cannot translate exactly, or it is unsatisfiable.

    ``pointer`` is the JSON pointer of the offending schema ("" for the root) and ``keyword`` the
    keyword at fault (None when the whole schema is at fault).

    Example:
        >>> from formgate.json_schema import json_schema_to_ebnf, SchemaError
        >>> try:
        ...     json_schema_to_ebnf({"properties": {"tags": {"uniqueItems": True}}})
        ... except SchemaError as e:
        ...     print(e)
        unsupported keyword 'uniqueItems' at /properties/tags
    """

    def __init__(self, message: str, pointer: str = "", keyword: str | None = None):
        super().__init__(message)
        self.pointer = pointer
        self.keyword = keyword


class RegexError(SchemaError):
    """A regular expression is outside the supported ECMA-262 subset (or malformed)."""
