r"""JSON Schema -> formgate grammar.

Three entry points:

* :func:`json_schema_to_ebnf` -- the EBNF text (start rule ``root``);
* :func:`compile_json_schema` -- convert and compile with a :class:`formgate.GrammarCompiler`;
* :func:`formgate.json_schema.regex.regex_to_ebnf` -- the ECMA-262 regex subset alone.

Anything that cannot be translated exactly raises :class:`SchemaError` (a
:class:`formgate.GrammarError`) naming the keyword and its JSON pointer; resource limits raise
:class:`formgate.LimitError`. See ``converter.py`` for the policies (whitespace, property order,
number spellings) and ``strings.py`` for the supported formats.

Example:
    >>> import formgate
    >>> from formgate.json_schema import compile_json_schema
    >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
    >>> cg = compile_json_schema(formgate.GrammarCompiler(info), {"type": "integer", "maximum": 3})
    >>> m = formgate.GrammarMatcher(cg)
    >>> m.accept_string("3") and m.is_completed(), formgate.GrammarMatcher(cg).accept_string("4")
    (True, False)
"""

from __future__ import annotations

from typing import Any

from formgate.json_schema.converter import DEFAULT_MAX_WHITESPACE, Converter, json_schema_to_ebnf
from formgate.json_schema.errors import LimitError, RegexError, SchemaError

__all__ = [
    "Converter",
    "DEFAULT_MAX_WHITESPACE",
    "LimitError",
    "RegexError",
    "SchemaError",
    "compile_json_schema",
    "json_schema_to_ebnf",
]


def compile_json_schema(compiler: Any, schema: Any, **opts: Any):
    """Convert ``schema`` (dict, bool, JSON text or pydantic model class) and compile it with
    ``compiler`` (a :class:`formgate.GrammarCompiler`). Options as :func:`json_schema_to_ebnf`.

    Example:
        >>> import formgate
        >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
        >>> cg = compile_json_schema(formgate.GrammarCompiler(info), {"const": "hi"})
        >>> formgate.GrammarMatcher(cg).accept_string('"hi"')
        True
    """
    from formgate.errors import GrammarError

    text = json_schema_to_ebnf(schema, **opts)
    try:
        return compiler.compile_grammar(text)
    except GrammarError as e:
        if "empty language" in str(e):
            raise SchemaError("the schema is unsatisfiable: no JSON value validates against it") \
                from None
        raise
