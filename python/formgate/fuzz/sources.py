"""Grammar sources by format: EBNF, Lark, regex and JSON Schema text to a :class:`Grammar`."""

from __future__ import annotations

import json
from typing import Any

from formgate import _core

FORMATS = ("ebnf", "lark", "regex", "json-schema")
_SUFFIXES = {".ebnf": "ebnf", ".gbnf": "ebnf", ".lark": "lark", ".regex": "regex",
             ".re": "regex", ".json": "json-schema"}


def format_for_path(path: str) -> str:
    """The format a file name implies (EBNF unless its suffix says otherwise).

    Example:
        >>> format_for_path("schemas/user.json"), format_for_path("g.lark"), format_for_path("x")
        ('json-schema', 'lark', 'ebnf')
    """
    for suffix, fmt in _SUFFIXES.items():
        if path.endswith(suffix):
            return fmt
    return "ebnf"


def _lark_grammar(text: str) -> _core.Grammar:
    from_lark: Any = getattr(_core.Grammar, "from_lark", None)
    if from_lark is None:
        raise NotImplementedError(
            "this formgate build has no Lark frontend (formgate.Grammar.from_lark); convert the "
            "grammar to EBNF or use --format ebnf|regex|json-schema")
    return from_lark(text)


def load_grammar(text: str, fmt: str) -> _core.Grammar:
    """The grammar ``text`` describes in format ``fmt`` (one of :data:`FORMATS`). A regex is
    full-match; a JSON Schema is JSON text. Errors: GrammarError (SchemaError for schemas),
    ValueError for JSON that does not parse, NotImplementedError for a missing frontend.

    Example:
        >>> print(load_grammar("a|bc", "regex"), end="")
        root ::= "a" | "bc"
    """
    if fmt == "ebnf":
        return _core.Grammar.from_ebnf(text)
    if fmt == "regex":
        return _core.Grammar.from_regex(text.rstrip("\n"))
    if fmt == "json-schema":
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"line {e.lineno}, column {e.colno}: the schema is not valid JSON: "
                             f"{e.msg}") from None
        return _core.Grammar.from_json_schema(schema)
    if fmt == "lark":
        return _lark_grammar(text)
    raise ValueError(f"unknown grammar format {fmt!r}; expected one of {', '.join(FORMATS)}")
