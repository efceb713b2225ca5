"""Grammar frontends on top of the core: JSON Schema and regex to the same grammar IR.

Every frontend produces formgate EBNF text, so what :class:`formgate.Grammar` prints is exactly
what gets compiled, and the compiler's cache (keyed by normalised grammar text) serves all of
them.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from formgate import _core
from formgate.json_schema import DEFAULT_MAX_WHITESPACE, json_schema_to_ebnf


def _regex_ebnf(pattern: "str | re.Pattern[str]") -> str:
    from formgate.errors import GrammarError
    from formgate.json_schema.regex import regex_to_ebnf

    flags = 0
    if isinstance(pattern, re.Pattern):
        if not isinstance(pattern.pattern, str):
            raise TypeError("bytes patterns are not supported; compile a str pattern")
        pattern, flags = pattern.pattern, pattern.flags
    body = regex_to_ebnf(pattern, mode="fullmatch", dialect="python", flags=flags)
    if body is None:
        raise GrammarError(f"the regex {pattern!r} matches no string")
    return f"root ::= {body}\n"


def _schema_ebnf(schema: Any, any_whitespace: bool, indent: Optional[int],
                 separators: Optional[tuple[str, str]], strict: bool, lenient: bool,
                 max_whitespace: Optional[int]) -> str:
    if indent is not None:
        # Pretty-printed output with a fixed indent is a subset of what bounded free
        # whitespace accepts, and models trained on json.dumps(indent=...) produce it.
        any_whitespace = True
    return json_schema_to_ebnf(schema, any_whitespace=any_whitespace,
                               max_whitespace=max_whitespace, separators=separators,
                               strict=strict, lenient=lenient)


def grammar_from_json_schema(schema: Any, *, any_whitespace: bool = True,
                             indent: Optional[int] = None,
                             separators: Optional[tuple[str, str]] = None, strict: bool = False,
                             lenient: bool = False,
                             max_whitespace: Optional[int] = DEFAULT_MAX_WHITESPACE
                             ) -> _core.Grammar:
    """The grammar of the JSON texts valid under ``schema`` (dict, JSON text, bool or pydantic
    model class), without compiling it. Installed as ``formgate.Grammar.from_json_schema``.

    Example:
        >>> import formgate
        >>> g = formgate.Grammar.from_json_schema({"enum": ["a", "b"]}, any_whitespace=False)
        >>> print(g, end="")
        root ::= "\\"a\\"" | "\\"b\\""
    """
    return _core.Grammar.from_ebnf(_schema_ebnf(schema, any_whitespace, indent, separators,
                                                strict, lenient, max_whitespace))


def grammar_from_regex(pattern: "str | re.Pattern[str]") -> _core.Grammar:
    """The grammar of the strings ``pattern`` fully matches (Python ``re.fullmatch``
    semantics on str, Unicode-aware ``\\d\\w\\s``; a compiled ``re.Pattern`` brings its
    DOTALL/ASCII flags; backreferences and lookaround raise GrammarError with the column; see
    docs/frontends.md). Installed as ``formgate.Grammar.from_regex``.

    Example:
        >>> import formgate
        >>> print(formgate.Grammar.from_regex("ab?"), end="")
        root ::= "a" "b"?
    """
    return _core.Grammar.from_ebnf(_regex_ebnf(pattern))


_core.Grammar.from_json_schema = staticmethod(grammar_from_json_schema)
_core.Grammar.from_regex = staticmethod(grammar_from_regex)


class GrammarCompiler(_core.GrammarCompiler):
    """Compiles grammars for one vocabulary: EBNF, JSON Schema and regex.

    ``GrammarCompiler(tokenizer_info, max_threads=8, cache_enabled=True,
    cache_limit_bytes=-1)``; compiled grammars are cached by normalised grammar text,
    bounded in bytes (default 256 MiB, least recently used evicted first).

    Example:
        >>> import formgate
        >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
        >>> compiler = formgate.GrammarCompiler(info)
        >>> m = formgate.GrammarMatcher(compiler.compile_json_schema(
        ...     {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}))
        >>> m.accept_string('{"n": 42}') and m.is_completed()
        True
    """

    def compile_json_schema(self, schema: Any, *, any_whitespace: bool = True,
                            indent: Optional[int] = None,
                            separators: Optional[tuple[str, str]] = None, strict: bool = False,
                            lenient: bool = False,
                            max_whitespace: Optional[int] = DEFAULT_MAX_WHITESPACE
                            ) -> _core.CompiledGrammar:
        """Compile a JSON Schema (draft 2020-12 semantics; see docs/json_schema.md).

        ``any_whitespace`` allows whitespace between tokens, at most ``max_whitespace``
        characters per run (None: unbounded); with ``any_whitespace=False`` the output uses
        ``separators`` (default ``(",", ":")``). ``strict`` makes ``additionalProperties``
        default to false; ``lenient`` over-approximates constructs that cannot be expressed
        exactly instead of raising SchemaError. ``indent`` is accepted for XGrammar
        compatibility and implies bounded free whitespace.
        """
        from formgate.errors import GrammarError
        from formgate.json_schema import SchemaError

        text = _schema_ebnf(schema, any_whitespace, indent, separators, strict, lenient,
                            max_whitespace)
        try:
            return self.compile_grammar(text)
        except GrammarError as e:
            if "empty language" in str(e):
                raise SchemaError("the schema is unsatisfiable: no JSON value validates "
                                  "against it") from None
            raise

    def compile_regex(self, pattern: "str | re.Pattern[str]") -> _core.CompiledGrammar:
        """Compile a regex with Python ``re.fullmatch`` semantics (see
        :func:`grammar_from_regex`).

        Example:
            >>> import formgate
            >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
            >>> cg = formgate.GrammarCompiler(info).compile_regex(r"[0-9]{2}-[a-z]+")
            >>> formgate.GrammarMatcher(cg).accept_string("42-ab")
            True
        """
        return self.compile_grammar(_regex_ebnf(pattern))

    def compile_lark(self, text: str, start: str = "start",
                     schemas: Optional[dict[str, Any]] = None,
                     **schema_opts: Any) -> _core.CompiledGrammar:
        """Compile a Lark grammar (loaded by the ``lark`` package; see docs/frontends.md for
        how terminals, ``%ignore`` and priorities are treated). ``%json NAME`` embeds
        ``schemas[NAME]``; ``schema_opts`` convert the embedded schemas (see
        :func:`formgate.lark_grammar.lark_to_ebnf`).

        Example:
            >>> import formgate
            >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
            >>> cg = formgate.GrammarCompiler(info).compile_lark(
            ...     'start: "(" INT ")"\\n%import common.INT\\n%import common.WS\\n%ignore WS')
            >>> formgate.GrammarMatcher(cg).accept_string("( 42 )")
            True
            >>> cg = formgate.GrammarCompiler(info).compile_lark(
            ...     'start: "p=" %json p', schemas={"p": {"type": "integer"}},
            ...     any_whitespace=False)
            >>> formgate.GrammarMatcher(cg).accept_string("p=7")
            True
        """
        from formgate.lark_grammar import lark_to_ebnf

        return self.compile_grammar(lark_to_ebnf(text, start, schemas, **schema_opts))

    def compile_type(self, tp: Any, **opts: Any) -> _core.CompiledGrammar:
        """Compile the JSON form of a Python type (``list[int]``, ``Literal[..]``, TypedDict,
        dataclass, pydantic model, ``Optional``/``Union``...) via pydantic's JSON schema;
        options as :meth:`compile_json_schema`.

        Example:
            >>> import formgate
            >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
            >>> m = formgate.GrammarMatcher(formgate.GrammarCompiler(info).compile_type(list[int]))
            >>> m.accept_string("[1, 2]") and m.is_completed()
            True
        """
        from formgate.types import type_json_schema

        return self.compile_json_schema(type_json_schema(tp), **opts)

    def compile_builtin_json_grammar(self) -> _core.CompiledGrammar:
        """Any JSON value (RFC 8259), with bounded free whitespace.

        Example:
            >>> import formgate
            >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
            >>> m = formgate.GrammarMatcher(formgate.GrammarCompiler(info)
            ...                             .compile_builtin_json_grammar())
            >>> m.accept_string('[1, {"a": null}]') and m.is_completed()
            True
        """
        return self.compile_json_schema(True)
