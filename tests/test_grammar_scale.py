"""Grammars far larger than hand-written ones: long rule chains, long literals, wide choices.

These once crashed (the inliner recursed once per chained rule and overflowed the C stack at
~14,000 rules) or took minutes (quadratic parsing and minimisation). They must compile and give
correct answers; the time they take is measured in bench/, not asserted here.
"""

from __future__ import annotations

import functools
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import formgate

BYTES = formgate.TokenizerInfo([bytes([b]) for b in range(256)])


def accepts(compiled: formgate.CompiledGrammar, text: str) -> bool:
    m = formgate.GrammarMatcher(compiled)
    return m.accept_string(text) and m.is_completed()


@pytest.fixture(scope="module")
def compiler() -> formgate.GrammarCompiler:
    return formgate.GrammarCompiler(BYTES, cache_enabled=False)


def test_chain_of_50000_rules(compiler: formgate.GrammarCompiler) -> None:
    n = 50_000
    text = "\n".join(f'r{i} ::= "a" r{i + 1}' for i in range(n)) + f'\nr{n} ::= "b"\n'
    compiled = compiler.compile_grammar(text, root="r0")
    assert accepts(compiled, "a" * n + "b")
    assert not accepts(compiled, "a" * (n - 1) + "b")
    assert not accepts(compiled, "a" * (n + 1) + "b")


def test_chain_through_recursion(compiler: formgate.GrammarCompiler) -> None:
    # Every rule of the chain can also restart it, so nothing may be inlined.
    n = 20_000
    rules = [f'r{i} ::= "a" r{i + 1} | "(" r0 ")"' for i in range(n)] + [f'r{n} ::= "b"']
    compiled = compiler.compile_grammar("\n".join(rules), root="r0")
    assert accepts(compiled, "a" * n + "b")
    assert accepts(compiled, "aa(" + "a" * n + "b)")
    assert not accepts(compiled, "aa(" + "a" * n + "b")


@pytest.mark.parametrize("length", [1, 5_000, 40_000])
def test_long_literal_then_loop(compiler: formgate.GrammarCompiler, length: int) -> None:
    rng = random.Random(length)
    literal = "".join(rng.choice("abc") for _ in range(length))
    compiled = compiler.compile_grammar(f'root ::= "{literal}" [a-c]* "!"')
    assert accepts(compiled, literal + "!")
    assert accepts(compiled, literal + "cab!")
    assert not accepts(compiled, literal[:-1] + "!")
    # A literal is one chain of states: minimisation must not merge any of them.
    assert compiled.stats["states"] >= length


def test_wide_choice_of_literals(compiler: formgate.GrammarCompiler) -> None:
    rng = random.Random(7)
    words = sorted({"".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 12)))
                    for _ in range(20_000)})
    body = " | ".join(f'"{w}"' for w in words)
    compiled = compiler.compile_grammar(f"root ::= {body}")
    for w in words[::997]:
        assert accepts(compiled, w)
    present = set(words)
    misses = [w + "h" for w in words[:200] if w + "h" not in present]
    assert misses and not any(accepts(compiled, w) for w in misses)


def test_error_position_late_in_a_huge_grammar() -> None:
    n = 30_000
    text = "\n".join(f'r{i} ::= "a" r{i + 1}' for i in range(n)) + f"\nr{n} ::= missing\n"
    with pytest.raises(formgate.GrammarError) as info:
        formgate.Grammar.from_ebnf(text, root="r0")
    assert info.value.line == n + 1 and "missing" in info.value.cause


def test_stacked_plus_compiles_in_linear_size() -> None:
    """`x++++...` (each + over the last) once doubled the NFA per level: 16 levels took a
    second to compile and 50 (found by the timed fuzz run) never finished."""
    info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
    compiled = formgate.GrammarCompiler(info, cache_enabled=False).compile_grammar(
        'root ::= "a" ' + "[b-c]" + "+" * 50 + ' "d"')
    assert compiled.stats["states"] < 50
    for text, ok in (("abd", True), ("abcbcd", True), ("ad", False), ("abdd", False)):
        m = formgate.GrammarMatcher(compiled)
        assert (m.accept_string(text) and m.is_completed()) is ok


# Found by test_grammar_oracle's random grammars: with `x.y` (and its `.*`) inlined twice into
# `root`, root's DFA passed the 100,000-state limit, so a five-rule grammar failed to compile.
# Compilation now retries with every rule separate. Its language as a Python regex:
INLINING_BLOWUP = r'''root ::= | ( | _z | "\x61"{0,2}) "\x61"
    | x.y ([^\x63] | [^\x63] | "\x61") (x.y item [\x0a-\x22\x61\x61])
item ::= | "\x61" (. "\x61" [^\x61]{1,3}) | "\x61" "\x61"
x.y ::= | (r-1{2,} | (r-1 | _z | _z)) [^\x61\x61] | "\x61" item | "\x61" .* "\x61"
r-1 ::= | ([^\\]{3}){2,}
_z ::= | "\x61"
'''
_ITEM = r"(?:|a(?:.a[^a]{1,3})|aa)"
_R1 = r"(?:(?:[^\\]{3}){2,})?"
_XY = rf"(?:|(?:(?:{_R1}){{2,}}|{_R1}|a?)[^a]|a{_ITEM}|a.*a)"
INLINING_BLOWUP_RE = re.compile(rf"|a?a|a{{0,2}}a|{_XY}[^c]{_XY}{_ITEM}[\n-\"a]", re.DOTALL)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet='ab\\c\n"x', max_size=14))
def test_rule_that_blows_up_when_inlined_compiles_separately(text: str) -> None:
    compiled = _blowup_grammar()
    assert accepts(compiled, text) == bool(INLINING_BLOWUP_RE.fullmatch(text)), text


@functools.lru_cache(maxsize=None)
def _blowup_grammar() -> formgate.CompiledGrammar:
    return formgate.GrammarCompiler(BYTES, cache_enabled=False).compile_grammar(INLINING_BLOWUP)


def test_callee_shared_along_every_path_is_inlined_as_a_dag(
        compiler: formgate.GrammarCompiler) -> None:
    """Each rule reaches the next twice in tail position, so the inlined root is a DAG whose
    unfolding as a tree has 2^40 paths (MaskBench o69970 has this shape and once hung the
    inliner's reachability walk). One rule, linear states, exact language."""
    n = 40
    text = "\n".join(f'r{i} ::= "a" r{i + 1} | "b" r{i + 1}' for i in range(n)) + f'\nr{n} ::= "c"'
    compiled = compiler.compile_grammar(text, root="r0")
    assert compiled.stats["rules"] == 1 and compiled.stats["states"] <= 2 * n
    rng = random.Random(3)
    word = "".join(rng.choice("ab") for _ in range(n))
    assert accepts(compiled, word + "c")
    assert not accepts(compiled, word[1:] + "c")
    assert not accepts(compiled, word + "ac")


def test_small_minimum_without_maximum_is_unrolled(compiler: formgate.GrammarCompiler) -> None:
    """`x{m,}` with a counter is a counter then a loop that starts like an iteration, which
    keeps masks from counting iterations along the closure; a small m (a JSON string with only
    minLength) is unrolled instead, so the grammar needs no counter rule."""
    body = r'([ -!#-\[\]-\U0010FFFF] | "\\" (["\\/bfnrt] | "u" [0-9A-Fa-f]{4}))'
    compiled = compiler.compile_grammar(f'root ::= "\\"" {body}{{5,}} "\\""')
    assert compiled.stats["rules"] == 1
    for text, ok in (('"abcd"', False), ('"abcde"', True), ('"ab\\ncd"', True),
                     ('"ab\\nc"', False), ('"\\u00e9bcde"', True), ('"\\u00e9bc"', False),
                     ('"' + "é" * 9 + '"', True)):
        assert accepts(compiled, text) is ok, text
