"""Hypothesis strategies for the sentences of a grammar or the instances of a JSON Schema.

Each example is built byte by byte from draws hypothesis can shrink: at an accepting point a
boolean "go on" (shrinks to stopping), elsewhere an index where 0 means "take the next byte of
the shortest known completion" and ``k > 0`` the k-th allowed byte in ascending order. So
failing examples shrink towards short sentences and small bytes (earlier alternatives
of a class or a choice of literals). Shrinking is greedy: an index whose smaller values all end
the string early (after ``[a-z]+ "!"``'s first letter index 1 is "!") may stay where it is. A drawn byte after which no completion fits in
``max_bytes`` is replaced by the completion's byte, so every example is a sentence.

Example:
    >>> from hypothesis import find
    >>> find(from_grammar('root ::= "zz" | "y" | "xxx"'), lambda s: True)
    'y'
    >>> find(from_grammar('root ::= "zz" | "y" | "xxx"'), lambda s: len(s) > 2)
    'xxx'
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from formgate.fuzz.acceptor import (GrammarSource, accepts, allowed_bytes, compile_bytes,
                                     new_matcher, step)
from formgate.fuzz.walk import first_witness, replan

__all__ = ["from_grammar", "from_json_schema"]


def from_grammar(grammar: GrammarSource, *, max_bytes: int = 64) -> st.SearchStrategy[str]:
    """Sentences of ``grammar`` (EBNF text, a :class:`formgate.Grammar` or a compiled grammar)
    of at most ``max_bytes`` UTF-8 bytes. Raises formgate.fuzz.NoStringError at once when no
    sentence fits.

    Example:
        >>> from hypothesis import given
        >>> @given(from_grammar('root ::= "(" [0-9]* ")"', max_bytes=8))
        ... def test(s):
        ...     assert s[0] == "(" and s[-1] == ")" and len(s) <= 8
        >>> test()
    """
    compiled = compile_bytes(grammar)
    witness = first_witness(compiled, max_bytes)

    @st.composite
    def sentences(draw: Any) -> str:
        matcher = new_matcher(compiled)
        out = bytearray()
        plan = witness
        while True:
            if matcher.is_completed() and (len(out) >= max_bytes or not draw(st.booleans())):
                break
            allowed = allowed_bytes(matcher)
            if not allowed.size:
                break
            choice = draw(st.integers(0, int(allowed.size)))
            byte = plan[0] if choice == 0 and plan else int(allowed[max(choice, 1) - 1])
            child = step(matcher, byte)
            new_plan = replan(child, plan, max_bytes - len(out) - 1, prefer_short=True)
            if new_plan is None:
                # The drawn byte leaves no room to finish: take the planned one instead.
                if not plan:
                    break
                byte, child, new_plan = plan[0], step(matcher, plan[0]), plan[1:]
            matcher, plan = child, new_plan
            out.append(byte)
        data = bytes(out)
        assert accepts(compiled, data), data
        return data.decode("utf-8")

    return sentences()


def from_json_schema(schema: Any, *, max_bytes: int = 256,
                     as_text: bool = False) -> st.SearchStrategy[Any]:
    """Instances of the JSON Schema ``schema`` (as Python values, or as compact JSON text with
    ``as_text``) whose compact JSON text is at most ``max_bytes`` bytes. Schemas formgate
    cannot translate exactly raise formgate.json_schema.SchemaError.

    Example:
        >>> from hypothesis import find
        >>> find(from_json_schema({"type": "array", "items": {"type": "integer"}}),
        ...      lambda v: len(v) >= 2)
        [0, 0]
    """
    from formgate import _core

    grammar = _core.Grammar.from_json_schema(schema, any_whitespace=False)
    texts = from_grammar(grammar, max_bytes=max_bytes)
    return texts if as_text else texts.map(json.loads)
