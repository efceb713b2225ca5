"""The ECMA-262 regex subset (formgate.json_schema.regex) against Python's ``re``.

Patterns are generated from a small grammar of the supported constructs; for each, strings
drawn near the pattern's alphabet must get the same verdict from ``re.fullmatch`` / ``re.search``
and from the compiled EBNF. Constructs whose ECMA and Python meanings differ are translated to the
intersection, so the EBNF may reject what ``re`` accepts only for those (never the reverse); the
generator avoids them except in the dedicated tests.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formgate
from formgate.json_schema.errors import RegexError
from formgate.json_schema import regex as rx
from formgate.json_schema.regex import regex_to_ebnf

BYTE_VOCAB = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
COMPILER = formgate.GrammarCompiler(BYTE_VOCAB, max_threads=1)


def _matcher_for(expr: str | None):
    if expr is None:
        return None
    return COMPILER.compile_grammar(f"root ::= {expr}")


def _accepts(compiled, s: str) -> bool:
    if compiled is None:
        return False
    m = formgate.GrammarMatcher(compiled)
    return m.accept_string(s) and m.is_completed()


ALPHABET = "ab0-. _\n\"\\/é"

atoms = st.sampled_from(["a", "b", "0", "\\.", "-", "[ab]", "[^a]", "[a-c0]", "\\d", "\\w",
                         ".", "\\-", "\\/", "é", "[\\-a]", "\\\\", "\"", "\\n", "\\x61",
                         "\\u00e9", " "])


def _regexes():
    def extend(children):
        return st.one_of(
            st.tuples(children, children).map(lambda t: t[0] + t[1]),
            st.tuples(children, children).map(lambda t: f"(?:{t[0]}|{t[1]})"),
            st.tuples(children, children).map(lambda t: f"({t[0]}|{t[1]})"),
            children.map(lambda c: f"(?:{c})*"),
            children.map(lambda c: f"(?:{c})+"),
            children.map(lambda c: f"(?:{c})?"),
            st.tuples(children, st.integers(0, 3), st.integers(0, 3)).map(
                lambda t: f"(?:{t[0]}){{{min(t[1], t[2])},{max(t[1], t[2])}}}"),
            children.map(lambda c: f"(?:{c}){{2}}"),
            children.map(lambda c: f"(?:{c}){{1,}}"),
        )

    return st.recursive(atoms, extend, max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_regexes(), st.lists(st.text(alphabet=ALPHABET, max_size=6), min_size=1, max_size=8))
def test_fullmatch_agrees_with_re(pattern: str, samples: list[str]) -> None:
    compiled = _matcher_for(regex_to_ebnf(pattern, mode="fullmatch"))
    py = re.compile(pattern)
    # ECMA's \w is ASCII, Python's is Unicode ('é'): the translation takes the intersection
    exact = "\\w" not in pattern
    for s in samples:
        got = _accepts(compiled, s)
        if exact:
            assert got == bool(py.fullmatch(s)), (pattern, s)
        elif got:
            assert py.fullmatch(s), (pattern, s)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(_regexes(), st.booleans(), st.booleans(),
       st.lists(st.text(alphabet=ALPHABET, max_size=6), min_size=1, max_size=8))
def test_search_agrees_with_re(pattern: str, start: bool, end: bool, samples: list[str]) -> None:
    pattern = ("^" if start else "") + f"(?:{pattern})" + ("$" if end else "")
    compiled = _matcher_for(regex_to_ebnf(pattern, mode="search"))
    py = re.compile(pattern)
    for s in samples:
        # Python's $ also matches before a final newline; the translation does not (ECMA)
        expected = bool(py.search(s)) and not (end and s.endswith("\n")
                                                and not py.search(s[:-1] + "\x00"))
        got = _accepts(compiled, s)
        if got:
            assert py.search(s), (pattern, s)
        elif expected and not s.endswith("\n") and "\\w" not in pattern:
            raise AssertionError((pattern, s))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(_regexes(), st.lists(st.text(alphabet=ALPHABET, max_size=6), min_size=1, max_size=6))
def test_json_mode_is_exact_on_decoded_strings(pattern: str, samples: list[str]) -> None:
    """json_string=True: the grammar reads the JSON-encoded body; verdicts must equal re's on
    the decoded string, for json.dumps' spelling (ensure_ascii False and True)."""
    compiled = _matcher_for(regex_to_ebnf(pattern, mode="fullmatch", json_string=True))
    py = re.compile(pattern)
    for s in samples:
        body = json.dumps(s, ensure_ascii=False)[1:-1]
        got = _accepts(compiled, body)
        if "\\w" not in pattern:  # ECMA \w is ASCII: the intersection rejects 'é'
            assert got == bool(py.fullmatch(s)), (pattern, s, body)
        elif got:
            assert py.fullmatch(s), (pattern, s, body)
        body_ascii = json.dumps(s)[1:-1]
        if _accepts(compiled, body_ascii):  # \\u00e9 spellings are not produced; never wrong
            assert py.fullmatch(s)


@pytest.mark.parametrize("pattern,good,bad", [
    (r"^\d+$", ["0", "123"], ["", "١٢", "a1"]),  # Arabic-Indic digits: Python \d, not ECMA
    (r"^\w+$", ["a_Z9"], ["é", "-"]),
    (r"^\s$", [" ", "\t", "\u00a0"], ["\x1c", "a"]),  # \x1c: Python whitespace, not ECMA
    (r"^\S$", ["a"], ["\x1c", " ", "\u00a0"]),
    (r"^\D$", ["a"], ["5", "١"]),
    (r"^.$", ["a", "é"], ["\n", "\r", "\u2028"]),
    (r"^a$", ["a"], ["a\n"]),
    (r"^[^\]]$", ["a"], ["]"]),
    (r"^[\b]$", ["\b"], ["b"]),
])
def test_dialect_intersection(pattern: str, good: list[str], bad: list[str]) -> None:
    compiled = _matcher_for(regex_to_ebnf(pattern, mode="search"))
    for s in good:
        assert _accepts(compiled, s), (pattern, s)
    for s in bad:
        assert not _accepts(compiled, s), (pattern, s)


@pytest.mark.parametrize("pattern", [
    r"(?=a)", r"(?!a)", r"(?<=a)b", r"a\1", r"\bword\b", r"\p{L}", r"a{,3}", r"[]", r"[^]",
    r"a*+", r"(?i)a", r"\cJ", r"\01", r"a^b", r"(^a)b", r"[\d-z]", r"\q", r"(?P<x>a)",
])
def test_rejected_constructs(pattern: str) -> None:
    with pytest.raises(RegexError):
        regex_to_ebnf(pattern)


def test_large_repetition_uses_counters() -> None:
    compiled = _matcher_for(regex_to_ebnf("^a{1000,5000}$"))
    assert _accepts(compiled, "a" * 1000) and not _accepts(compiled, "a" * 999)
    with pytest.raises(formgate.LimitError):
        regex_to_ebnf("a{2000000}")


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(atoms, _regexes(), atoms, st.integers(0, 3), st.integers(0, 3), st.integers(0, 2),
       st.lists(st.text(alphabet="ab0-.", max_size=8), min_size=1, max_size=12))
def test_search_with_counted_ends_agrees_with_re(head: str, mid: str, tail: str, m: int, k: int,
                                                  p: int, samples: list[str]) -> None:
    """Unanchored ends shrink a counted repetition there to its minimum (search_core); both
    the EBNF translation and the automaton of patternProperties keys must keep re.search's
    verdict."""
    from formgate.json_schema.automaton import Dfa

    pattern = f"(?:{head}){{{m},{m + k}}}(?:{mid})(?:{tail}){{{p},}}"
    compiled = _matcher_for(regex_to_ebnf(pattern, mode="search"))
    dfa = Dfa.from_pattern(pattern)
    py = re.compile(pattern)
    for s in samples:
        if "\\w" in pattern:
            continue
        expected = bool(py.search(s))
        assert _accepts(compiled, s) == expected, (pattern, s)
        assert dfa.matches(s) == expected, (pattern, s)


def _inside(rs, c: int) -> bool:
    return any(lo <= c <= hi for lo, hi in rs)


# Small sets near the surrogate block and the ends of Unicode, where off-by-ones would show.
_POINTS = st.sampled_from([0, 1, 2, 0x41, 0x42, 0xD7FE, 0xD7FF, 0xD800, 0xDFFF, 0xE000, 0xE001,
                           0x10FFFE, 0x10FFFF])
_RANGE_SETS = st.lists(st.tuples(_POINTS, _POINTS), max_size=5).map(
    lambda rs: rx.norm([(min(a, b), max(a, b)) for a, b in rs]))


@given(a=_RANGE_SETS, b=_RANGE_SETS)
def test_range_set_algebra(a, b) -> None:
    """intersect is a merge pass and complement cuts surrogates itself (both on the converter's
    hot path); checked against set algebra at every point where a set can change (all range
    ends and their neighbours)."""
    inter, comp = rx.intersect(a, b), rx.complement(a)
    assert inter == rx.norm(inter) and comp == rx.norm(comp)
    probes = {p + d for lo, hi in a + b + ((0xD800, 0xDFFF),) for p in (lo, hi) for d in (-1, 0, 1)}
    for c in sorted(x for x in probes | {0, 0x10FFFF} if 0 <= x <= 0x10FFFF):
        surrogate = 0xD800 <= c <= 0xDFFF
        assert _inside(inter, c) == (_inside(a, c) and _inside(b, c)), hex(c)
        assert _inside(comp, c) == (not _inside(a, c) and not surrogate), hex(c)
