r"""Lark grammars to formgate EBNF.

The grammar is loaded by the ``lark`` package itself (``lark.Lark(text, parser="earley",
lexer="dynamic")``), so imports (``%import common.*``), templates, ``%override``/``%extend``,
``?rule``/``!rule``, aliases and ``[..]``/``?``/``*``/``+`` are resolved exactly as Lark
resolves them; what comes out is Lark's compiled form (BNF rules over terminals, each terminal
one regex or string), which is translated here:

* each terminal becomes a lexical rule, its regex translated with the Python ``re`` dialect of
  :mod:`formgate.json_schema.regex` (``"kw"i`` and ``/../i`` work; lookaround does not, except
  in ``common.ESCAPED_STRING``, translated by hand to the language Lark's lexer gives it);
* a terminal matches exactly the strings its regex *fully* matches (greedy/lazy quantifiers do
  not restrict it), as with Earley's ``lexer="dynamic_complete"``;
* ``%ignore``\d terminals may occur any number of times before the first token, between any
  two tokens and after the last one (never inside a terminal), which is how Lark's dynamic
  lexer treats them: every terminal reference ``T`` in a rule becomes ``T ignored*``, and the
  start rule is preceded by ``ignored*``;
* immediate left recursion (``sum: sum "+" term | term``, and Lark's own helper rules for
  ``*``/``+``) is rewritten to repetition; indirect left recursion raises GrammarError;
* priorities (``rule.2``, ``TERM.2``) change which parse Lark picks, not which strings are in
  the language: they are ignored with a :class:`UserWarning`;
* ``%json {schema}`` / ``%json NAME`` in a rule (not in a terminal) is a JSON value valid under
  the schema (see :mod:`formgate.embedded_json`); to Lark it is a ``%declare``\d terminal, so
  ``%ignore``\d text may surround it but not enter it.

Errors: what Lark rejects raises :class:`formgate.GrammarError` with Lark's message; constructs
formgate cannot translate (``%declare``\d terminals, unsupported regex features, ...) raise
GrammarError naming the terminal or rule.

Example:
    >>> import formgate
    >>> g = formgate.Grammar.from_lark('start: "a"+ NUMBER\n%import common.NUMBER')
    >>> m = formgate.GrammarMatcher(formgate.GrammarCompiler(
    ...     formgate.TokenizerInfo([bytes([b]) for b in range(256)])).compile_grammar(g))
    >>> m.accept_string("aa1.5e3") and m.is_completed()
    True
"""

from __future__ import annotations

import functools
import re
import warnings
from typing import Any, Optional

from formgate import _core
from formgate.embedded_json import JsonSlot, find_json_slots, fresh_prefix, substitute
from formgate.errors import GrammarError
from formgate.tools.ebnf_compose import prefix_rules

__all__ = ["lark_to_ebnf", "grammar_from_lark"]

_NAME_OK = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RE_FLAGS = {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE, "u": 0, "x": re.VERBOSE,
             "l": re.LOCALE}
# common.ESCAPED_STRING relies on a lookbehind and a lazy quantifier; the language Lark's
# lexer gives it is: a quote, then characters other than quote/backslash/newline or a
# backslash followed by any non-newline character, then a quote.
_ESCAPED_STRING_EBNF = '"\\"" ( [^"\\\\\\n] | "\\\\" [^\\n] )* "\\""'


@functools.lru_cache(maxsize=1)
def _escaped_string_regex() -> str:
    import lark

    parser = lark.Lark('start: ESCAPED_STRING\n%import common.ESCAPED_STRING',
                       parser="earley", lexer="dynamic")
    return next(t.pattern.value for t in parser.terminals if t.name == "ESCAPED_STRING")


def _load(text: str, start: str):
    import lark

    try:
        return lark.Lark(text, start=start, parser="earley", lexer="dynamic")
    except lark.exceptions.LarkError as e:
        line, column = getattr(e, "line", 0) or 0, getattr(e, "column", 0) or 0
        raise GrammarError(f"Lark could not load the grammar: {e}", line, column,
                           cause=str(e).splitlines()[0]) from None


class _Names:
    """Lark names (templates give ``_sep{NAME,COMMA}``) to distinct EBNF rule names."""

    def __init__(self) -> None:
        self.map: dict[tuple[str, str], str] = {}
        self.used = {"root", "ignored"}

    def get(self, kind: str, name: str) -> str:
        key = (kind, name)
        if key not in self.map:
            base = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or kind
            if not _NAME_OK.fullmatch(base):
                base = f"{kind}_{base}"
            cand, n = base, 1
            while cand in self.used:
                n += 1
                cand = f"{base}_{n}"
            self.used.add(cand)
            self.map[key] = cand
        return self.map[key]


def _terminal_ebnf(term) -> str:
    from formgate.json_schema.regex import ebnf_literal, regex_to_ebnf

    pattern = term.pattern
    flags = 0
    for letter in pattern.flags:
        if letter not in _RE_FLAGS or _RE_FLAGS[letter] in (re.VERBOSE, re.LOCALE):
            raise GrammarError(f"terminal {term.name}: regex flag {letter!r} is not supported")
        flags |= _RE_FLAGS[letter]
    if pattern.type == "str" and not flags:
        return ebnf_literal(pattern.value)
    source = pattern.value if pattern.type == "re" else re.escape(pattern.value)
    if pattern.type == "re" and source == _escaped_string_regex() and not flags:
        return _ESCAPED_STRING_EBNF
    try:
        body = regex_to_ebnf(source, mode="fullmatch", dialect="python", flags=flags)
    except GrammarError as e:
        raise GrammarError(f"terminal {term.name} /{source}/: {e.cause}", cause=e.cause) \
            from None
    if body is None:
        raise GrammarError(f"terminal {term.name} /{source}/ matches no string")
    return body


def _alternatives(origin: str, expansions: list[list[str]]) -> str:
    """EBNF alternatives for one rule, immediate left recursion turned into repetition."""
    def seq(symbols: list[str]) -> str:
        return " ".join(symbols) if symbols else '""'

    recursive = [e[1:] for e in expansions if e and e[0] == origin and len(e) > 1]
    base = [e for e in expansions if not (e and e[0] == origin)]
    if not recursive:
        return " | ".join(dict.fromkeys(seq(e) for e in base))
    if not base:
        raise GrammarError(f"rule {origin!r} is left-recursive with no other alternative: it "
                           f"derives no finite string")
    head = " | ".join(dict.fromkeys(seq(e) for e in base))
    tail = " | ".join(dict.fromkeys(seq(e) for e in recursive))
    return f"({head}) ({tail})*"


def _embed_json(text: str, schemas: Optional[dict[str, Any]], schema_opts: dict[str, Any]
                ) -> tuple[str, dict[str, JsonSlot]]:
    """``text`` with each ``%json ...`` replaced by a terminal named in ``%declare``, and the
    schema each such terminal stands for."""
    spans, slots = find_json_slots(text, "lark", schemas, **schema_opts)
    if not slots:
        return text, {}
    base = fresh_prefix(substitute(text, spans, [""] * len(slots)), "JSON")
    names = [f"{base}{k}" for k in range(len(slots))]
    declares = "".join(f"\n%declare {name}" for name in names)
    return substitute(text, spans, names) + declares + "\n", dict(zip(names, slots))


def lark_to_ebnf(text: str, start: str = "start", schemas: Optional[dict[str, Any]] = None,
                 **schema_opts: Any) -> str:
    """formgate EBNF (start rule ``root``) for the Lark grammar ``text`` with start rule
    ``start``. See the module docstring for the translation and its limits; ``%json {...}``
    and ``%json NAME`` (a name in ``schemas``) embed JSON schemas, converted with
    ``schema_opts`` (see :mod:`formgate.embedded_json`).

    Example:
        >>> print(lark_to_ebnf('start: "a" b*\\nb: "b"'), end="")
        root ::= start
        start ::= A start_star_0 | A
        b ::= B
        start_star_0 ::= (b) (b)*
        A ::= "a"
        B ::= "b"
    """
    text, embedded = _embed_json(text, schemas, schema_opts)
    parser = _load(text, start)
    names = _Names()
    ignored = list(dict.fromkeys(parser.ignore_tokens))
    terminals = {t.name: t for t in parser.terminals}
    for name in ignored:
        if name not in terminals:
            raise GrammarError(f"%ignore {name}: the terminal is not defined")

    prioritised = sorted({r.origin.name for r in parser.rules if r.options.priority}
                         | {t.name for t in parser.terminals if t.priority})
    if prioritised:
        warnings.warn(f"Lark priorities are ignored (they pick among parses, the language is "
                      f"unchanged): {', '.join(str(p) for p in prioritised)}", stacklevel=3)

    suffix = " ignored" if ignored else ""
    by_origin: dict[str, list[list[str]]] = {}
    used_terms: list[str] = []
    for rule in parser.rules:
        origin = names.get("rule", rule.origin.name)
        syms = []
        for sym in rule.expansion:
            if sym.is_term:
                if sym.name not in used_terms:
                    used_terms.append(sym.name)
                syms.append(names.get("term", sym.name) + suffix)
            else:
                syms.append(names.get("rule", sym.name))
        by_origin.setdefault(origin, []).append(syms)

    declared = [t for t in used_terms if t not in terminals and t not in embedded]
    if declared:
        raise GrammarError(f"%declare'd terminals are not supported (they need a postlexer): "
                           f"{', '.join(declared)}")
    start_name = names.get("rule", start)
    if start_name not in by_origin:
        raise GrammarError(f"no rule named {start!r} (the start rule)")
    lines = [f"root ::= {'ignored ' if ignored else ''}{start_name}"]
    for origin, expansions in by_origin.items():
        lines.append(f"{origin} ::= {_alternatives(origin, expansions)}")
    for name in used_terms + [n for n in ignored if n not in used_terms]:
        if name not in embedded:
            lines.append(f"{names.get('term', name)} ::= {_terminal_ebnf(terminals[name])}")
    if ignored:
        lines.append("ignored ::= (" + " | ".join(names.get("term", n) for n in ignored)
                     + ")*")
    used_embedded = [n for n in used_terms if n in embedded]
    if used_embedded:
        # The schemas' rules get a prefix that no rule or terminal name above starts with.
        prefix = fresh_prefix("\n".join(lines) + " " + " ".join(
            names.get("term", n) for n in used_embedded), "json")
        for k, name in enumerate(used_embedded):
            lines.append(f"{names.get('term', name)} ::= {prefix}{k}_root")
            lines.append(prefix_rules(embedded[name].ebnf.strip(), f"{prefix}{k}_"))
    return "\n".join(lines) + "\n"


def grammar_from_lark(text: str, start: str = "start",
                      schemas: Optional[dict[str, Any]] = None,
                      **schema_opts: Any) -> _core.Grammar:
    """The grammar of a Lark grammar's language (see :mod:`formgate.lark_grammar`), without
    compiling it. Installed as ``formgate.Grammar.from_lark``. ``schemas`` and ``schema_opts``
    as in :func:`lark_to_ebnf`.

    Example:
        >>> import formgate
        >>> g = formgate.Grammar.from_lark('start: WORD ("," WORD)*\\n%import common.WORD')
        >>> g.root_name
        'root'
    """
    return _core.Grammar.from_ebnf(lark_to_ebnf(text, start, schemas, **schema_opts))


_core.Grammar.from_lark = staticmethod(grammar_from_lark)
