r"""JSON schemas inside EBNF and Lark grammars: the ``%json`` form.

Wherever a rule body may name a rule, ``%json`` followed by a JSON schema stands for "a JSON
value valid under this schema" (the syntax LLGuidance's Lark dialect uses)::

    root   ::= "Result: " %json {"type": "object", "properties": {"n": {"type": "integer"}}} "\n"

``%json NAME`` instead refers to ``schemas[NAME]``, a schema given in Python (a dict, JSON text,
bool or a pydantic model class), for schemas too long to inline or that exist as models::

    formgate.Grammar.from_ebnf_with_schemas('root ::= %json person ("," %json person)*',
                                            {"person": Person})

Each distinct schema becomes one set of rules, converted by
:func:`formgate.json_schema.json_schema_to_ebnf` (options such as ``any_whitespace=False`` are
passed on) and renamed with a prefix no rule of the surrounding grammar uses, so names never
clash. ``%json`` is recognised outside strings, character classes (EBNF), regexes (Lark) and
comments.

Errors name the position of the ``%json``: JSON that does not parse and an unknown ``NAME``
raise :class:`formgate.GrammarError`; a schema the converter rejects or that no value satisfies
raises :class:`formgate.SchemaError` (line and column set, ``pointer`` inside the schema kept).
Everything after the substitution keeps its line and column, so the core's own errors still
point into the text as written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, Optional

from formgate.errors import GrammarError
from formgate.json_schema.errors import SchemaError

__all__ = ["JsonSlot", "find_json_slots", "fresh_prefix", "substitute"]

Syntax = Literal["ebnf", "lark"]

_KEYWORD = "%json"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
# A Lark definition header at the start of a line: `name:`, `?name.2:`, `_sep{x, y}:`.
_LARK_HEADER = re.compile(r"^[ \t]*[?!]?([A-Za-z_][A-Za-z0-9_]*)(?:\{[^}\n]*\})?(?:\.-?\d+)?"
                          r"[ \t]*:", re.MULTILINE)


@dataclass
class JsonSlot:
    """One distinct embedded schema: ``ebnf`` is its grammar (start rule ``root``)."""

    key: str
    ebnf: str


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    slot: int


def _position(text: str, i: int) -> tuple[int, int]:
    """1-based line and column (in code points) of offset ``i``."""
    return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1


def _error(text: str, i: int, cause: str) -> GrammarError:
    line, column = _position(text, i)
    return GrammarError(f"line {line}, column {column}: {cause}", line, column, cause=cause)


def _schema_type_error(text: str, i: int, schema: Any) -> SchemaError:
    line, column = _position(text, i)
    err = SchemaError(f"line {line}, column {column}: %json: a schema is a JSON object or a "
                      f"boolean, not {json.dumps(schema)[:40]}")
    err.line, err.column = line, column
    return err


def _skip_quoted(text: str, i: int, close: str) -> int:
    """Offset just past the closing ``close`` of the literal opened at ``i`` (or the end)."""
    j = i + 1
    while j < len(text) and text[j] != close:
        j += 2 if text[j] == "\\" else 1
    return j + 1


def _schema_ebnf(schema: Any, text: str, at: int, opts: dict[str, Any]) -> str:
    from formgate import _core
    from formgate.json_schema import json_schema_to_ebnf

    line, column = _position(text, at)
    where = f"line {line}, column {column}: %json schema"
    try:
        ebnf = json_schema_to_ebnf(schema, **opts)
        _core.Grammar.from_ebnf(ebnf)  # an unsatisfiable schema fails here, not in the whole
    except SchemaError as e:
        err = SchemaError(f"{where}: {e}", e.pointer, e.keyword)
    except TypeError as e:  # not a schema at all (a number, a list, an arbitrary object)
        err = SchemaError(f"{where}: {e}")
    except GrammarError as e:
        if "empty language" in str(e):
            err = SchemaError(f"{where} is unsatisfiable: no JSON value validates against it")
        else:  # LimitError and friends keep their class
            err = type(e)(f"{where}: {e}", cause=e.cause)
    else:
        return ebnf
    err.line, err.column = line, column
    raise err from None


def _in_lark_terminal(text: str, i: int) -> Optional[str]:
    """The terminal being defined at offset ``i`` of a Lark grammar, if any."""
    header = None
    for m in _LARK_HEADER.finditer(text, 0, i):
        header = m
    if header and header.group(1).lstrip("_")[:1].isupper():
        return header.group(1)
    return None


def find_json_slots(text: str, syntax: Syntax, schemas: Optional[dict[str, Any]] = None,
                    **schema_opts: Any) -> tuple[list[_Span], list[JsonSlot]]:
    """The ``%json`` occurrences of ``text`` and the distinct schemas they use (converted).

    Example:
        >>> spans, slots = find_json_slots('root ::= "x" %json {"type": "null"} # %json', "ebnf")
        >>> [(s.start, s.end, s.slot) for s in spans], slots[0].ebnf
        ([(13, 35, 0)], 'root ::= "null"\\nws ::= [ \\\\t\\\\n\\\\r]{0,64}\\n')
    """
    schemas = dict(schemas or {})
    for name in schemas:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"schemas: {name!r} is not a name ([A-Za-z_][A-Za-z0-9_]*)")
    decoder = json.JSONDecoder()
    spans: list[_Span] = []
    slots: list[JsonSlot] = []
    index: dict[str, int] = {}
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or (c == "[" and syntax == "ebnf"):
            i = _skip_quoted(text, i, '"' if c == '"' else "]")
        elif c == "#" or (syntax == "lark" and text.startswith("//", i)):
            i = n if (j := text.find("\n", i)) < 0 else j
        elif c == "/" and syntax == "lark":
            i = _skip_quoted(text, i, "/")
        elif (text.startswith(_KEYWORD, i) and not _WORD.match(text, i + len(_KEYWORD))
              and not (i and _WORD.match(text[i - 1]))):
            if syntax == "lark" and (term := _in_lark_terminal(text, i)):
                raise _error(text, i, f"%json may appear in rules, not in the definition of "
                                      f"terminal {term}")
            j = i + len(_KEYWORD)
            while j < n and text[j] in " \t\r\n":
                j += 1
            name = _NAME.match(text, j)
            if name and name.group() not in ("true", "false", "null"):
                if name.group() not in schemas:
                    known = ", ".join(sorted(schemas)) or "none given"
                    raise _error(text, j, f"%json {name.group()}: no schema of that name "
                                          f"(schemas: {known})")
                key, schema, end = "name:" + name.group(), schemas[name.group()], name.end()
            else:
                try:
                    schema, end = decoder.raw_decode(text, j)
                except json.JSONDecodeError as e:
                    raise _error(text, e.pos, f"%json: the schema is not JSON ({e.msg})") \
                        from None
                if not isinstance(schema, (dict, bool)):
                    raise _schema_type_error(text, j, schema)
                key = "inline:" + json.dumps(schema, sort_keys=True)
            if key not in index:
                index[key] = len(slots)
                slots.append(JsonSlot(key, _schema_ebnf(schema, text, i, schema_opts)))
            spans.append(_Span(i, end, index[key]))
            i = end
        else:
            i += 1
    return spans, slots


def fresh_prefix(text: str, base: str) -> str:
    """``base`` followed by as many ``_`` as needed for no word of ``text`` to start with it.

    Example:
        >>> fresh_prefix("root ::= json0_x json", "json")
        'json_'
    """
    words = set(_WORD.findall(text))
    prefix = base
    while any(w.startswith(prefix) for w in words):
        prefix += "_"
    return prefix


def substitute(text: str, spans: list[_Span], names: list[str]) -> str:
    """``text`` with each span replaced by ``names[span.slot]``, padded with spaces and keeping
    the span's newlines, so that what follows keeps its line and column.

    Example:
        >>> spans, _ = find_json_slots('a ::= %json\\n  {"const": 1} "x"', "ebnf")
        >>> substitute('a ::= %json\\n  {"const": 1} "x"', spans, ["j0"])
        'a ::= j0\\n               "x"'
    """
    out, pos = [], 0
    for span in spans:
        old = text[span.start:span.end]
        first, nl, rest = old.partition("\n")
        name = names[span.slot]
        line_end = text.find("\n", span.end)
        # Padding only matters when something follows on the span's last line.
        pad = " " if text[span.end:None if line_end < 0 else line_end].strip() else ""
        last = rest.rsplit("\n", 1)[-1]
        out.append(text[pos:span.start])
        if nl:
            out.append(name + "\n" * (rest.count("\n") + 1) + pad * len(last))
        else:
            out.append(name + pad * max(0, len(first) - len(name)))
        if _WORD.match(text, span.end) and len(first) <= len(name):
            out.append(" ")  # `%json 1x` must not become one name
        pos = span.end
    out.append(text[pos:])
    return "".join(out)
