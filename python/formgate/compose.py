r"""Grammar composition: union, concatenation, and EBNF with embedded JSON schemas.

``Grammar.union(a, b, ...)`` accepts the strings any part accepts; ``Grammar.concat(a, b,
...)`` the strings that split into a sentence of each part, in order. Parts are
:class:`formgate.Grammar` objects (from any frontend) or EBNF text; each part's rules are renamed
with a prefix of its own (``g0_``, ``g1_``...; nesting stacks them: ``g0_g1_``), so rule names
never clash and the result's root rule is ``root``. The result is an ordinary Grammar: print it,
compose it again, or compile it.

``Grammar.from_ebnf_with_schemas(text, schemas)`` reads EBNF in which ``%json {...}`` or
``%json NAME`` stand for JSON values valid under a schema (see :mod:`formgate.embedded_json`).

Example:
    >>> import formgate
    >>> g = formgate.Grammar.concat(formgate.Grammar.from_regex(r"[a-z]+"),
    ...                             'root ::= "=" [0-9]+')
    >>> print(g, end="")
    root ::= g0_root g1_root
    g0_root ::= [a-z]+
    g1_root ::= "=" [0-9]+
    >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
    >>> m = formgate.GrammarMatcher(formgate.GrammarCompiler(info).compile_grammar(g))
    >>> m.accept_string("x=42") and m.is_completed()
    True
"""

from __future__ import annotations

from typing import Any, Optional, Union

from formgate import _core
from formgate.embedded_json import find_json_slots, fresh_prefix, substitute
from formgate.tools.ebnf_compose import prefix_rules

__all__ = ["concat", "ebnf_with_schemas", "grammar_from_ebnf_with_schemas", "union"]

GrammarPart = Union[_core.Grammar, str]


def _prefixed_parts(grammars: tuple[GrammarPart, ...],
                    operation: str) -> tuple[list[str], list[str]]:
    """``(root references, prefixed rule texts)`` of the parts."""
    if not grammars:
        raise ValueError(f"Grammar.{operation}() needs at least one grammar")
    roots, bodies = [], []
    for i, part in enumerate(grammars):
        if isinstance(part, str):
            part = _core.Grammar.from_ebnf(part)
        elif not isinstance(part, _core.Grammar):
            raise TypeError(f"Grammar.{operation}: part {i} is a {type(part).__name__}, not a "
                            f"Grammar or EBNF text")
        roots.append(f"g{i}_{part.root_name}")
        bodies.append(prefix_rules(str(part).strip(), f"g{i}_"))
    return roots, bodies


def union(*grammars: GrammarPart) -> _core.Grammar:
    """The grammar of the strings at least one of ``grammars`` accepts. Installed as
    ``formgate.Grammar.union``.

    Example:
        >>> import formgate
        >>> print(formgate.Grammar.union('root ::= "yes"', formgate.Grammar.from_regex("[0-9]+")),
        ...       end="")
        root ::= g0_root | g1_root
        g0_root ::= "yes"
        g1_root ::= [0-9]+
    """
    roots, bodies = _prefixed_parts(grammars, "union")
    return _core.Grammar.from_ebnf("\n".join([f"root ::= {' | '.join(roots)}", *bodies]) + "\n")


def concat(*grammars: GrammarPart) -> _core.Grammar:
    """The grammar of the strings ``s1 + s2 + ...`` with each ``si`` accepted by
    ``grammars[i]``. Installed as ``formgate.Grammar.concat``.

    Example:
        >>> import formgate
        >>> g = formgate.Grammar.concat('root ::= "a"', 'root ::= "b"?')
        >>> print(g, end="")
        root ::= g0_root g1_root
        g0_root ::= "a"
        g1_root ::= "b"?
    """
    roots, bodies = _prefixed_parts(grammars, "concat")
    return _core.Grammar.from_ebnf("\n".join([f"root ::= {' '.join(roots)}", *bodies]) + "\n")


def ebnf_with_schemas(text: str, schemas: Optional[dict[str, Any]] = None,
                      **schema_opts: Any) -> str:
    """Plain EBNF for ``text`` with every ``%json {...}`` / ``%json NAME`` replaced by a
    reference to the schema's rules (appended, under a prefix no rule of ``text`` uses).
    ``schema_opts`` go to the JSON Schema converter (``any_whitespace``, ``strict``...).

    Example:
        >>> print(ebnf_with_schemas('root ::= "n=" %json {"type": "integer"}'), end="")
        root ::= "n=" json0_root
        json0_root ::= json0_integer
        json0_integer ::= "-"? ("0" | [1-9] [0-9]*)
        json0_ws ::= [ \\t\\n\\r]{0,64}
    """
    spans, slots = find_json_slots(text, "ebnf", schemas, **schema_opts)
    if not slots:
        return text
    prefix = fresh_prefix(substitute(text, spans, [""] * len(slots)), "json")
    out = substitute(text, spans, [f"{prefix}{k}_root" for k in range(len(slots))])
    rules = [prefix_rules(slot.ebnf.strip(), f"{prefix}{k}_") for k, slot in enumerate(slots)]
    return out.rstrip("\n") + "\n" + "\n".join(rules) + "\n"


def grammar_from_ebnf_with_schemas(text: str, schemas: Optional[dict[str, Any]] = None,
                                   root: str = "root", **schema_opts: Any) -> _core.Grammar:
    """:func:`ebnf_with_schemas`, parsed. Installed as
    ``formgate.Grammar.from_ebnf_with_schemas``.

    Example:
        >>> import formgate
        >>> g = formgate.Grammar.from_ebnf_with_schemas(
        ...     'root ::= "Person: " %json person', {"person": {"type": "object", "properties":
        ...     {"name": {"type": "string"}}, "required": ["name"],
        ...     "additionalProperties": False}}, any_whitespace=False)
        >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
        >>> m = formgate.GrammarMatcher(formgate.GrammarCompiler(info).compile_grammar(g))
        >>> m.accept_string('Person: {"name":"Ada"}') and m.is_completed()
        True
    """
    return _core.Grammar.from_ebnf(ebnf_with_schemas(text, schemas, **schema_opts), root)


_core.Grammar.union = staticmethod(union)
_core.Grammar.concat = staticmethod(concat)
_core.Grammar.from_ebnf_with_schemas = staticmethod(grammar_from_ebnf_with_schemas)
