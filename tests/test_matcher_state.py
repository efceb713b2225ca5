"""Matcher state: rollback, fork and reset restore exact state; stop, special and padding ids;
jump-forward; errors on misuse; counted repetitions with large bounds."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formgate
from formgate.testing import allowed_tokens, bitmask_to_bool

VOCAB = [b"a", b"b", b"ab", b"{", b"}", b'"', b"1", b"12", b",", b" ", b"\xc3", b"\xa9", b"\xc3\xa9"]
STOP = len(VOCAB)
SPECIAL = STOP + 1
INFO = formgate.TokenizerInfo(
    VOCAB + [b"</s>", b"<|special|>"],
    stop_token_ids=[STOP],
    special_token_ids=[SPECIAL],
    vocab_size=STOP + 10,  # padded like real model vocabularies
)
COMPILER = formgate.GrammarCompiler(INFO, max_threads=2)


def compile_(ebnf: str) -> formgate.CompiledGrammar:
    return COMPILER.compile_grammar(ebnf)


def snapshot(m: formgate.GrammarMatcher) -> tuple:
    mask = formgate.allocate_token_bitmask(1, INFO.vocab_size)
    terminated = m.is_terminated()
    if not terminated:
        m.fill_next_token_bitmask(mask)
    return (tuple(allowed_tokens(mask[0], INFO.vocab_size)) if not terminated else None,
            m.is_completed(), terminated, m.find_jump_forward_string())


def test_stop_special_and_padding_ids() -> None:
    m = formgate.GrammarMatcher(compile_('root ::= "a"+'))
    mask = formgate.allocate_token_bitmask(1, INFO.vocab_size)
    m.fill_next_token_bitmask(mask)
    assert allowed_tokens(mask[0], INFO.vocab_size) == [0]  # not stop: the grammar cannot end yet
    assert not m.accept_token(STOP)
    assert not m.accept_token(SPECIAL)
    assert not m.accept_token(STOP + 5)  # padding id
    assert m.accept_token(0)
    m.fill_next_token_bitmask(mask)
    assert allowed_tokens(mask[0], INFO.vocab_size) == [0, STOP]
    assert m.accept_token(STOP) and m.is_terminated() and m.is_completed()


def test_misuse_raises_value_error() -> None:
    m = formgate.GrammarMatcher(compile_('root ::= "a"'))
    with pytest.raises(ValueError, match="outside"):
        m.accept_token(-1)
    with pytest.raises(ValueError, match="outside"):
        m.accept_token(INFO.vocab_size)
    with pytest.raises(ValueError, match="shape"):
        m.fill_next_token_bitmask(formgate.allocate_token_bitmask(1, INFO.vocab_size + 64))
    with pytest.raises(ValueError, match="int32"):
        m.fill_next_token_bitmask(np.zeros((1, 1), dtype=np.int64))
    with pytest.raises(ValueError, match="index"):
        m.fill_next_token_bitmask(formgate.allocate_token_bitmask(1, INFO.vocab_size), index=1)
    with pytest.raises(ValueError, match="roll back"):
        m.rollback(1)
    assert m.accept_token(0) and m.accept_token(STOP)
    with pytest.raises(ValueError, match="terminated"):
        m.accept_token(0)
    with pytest.raises(ValueError, match="terminated"):
        m.fill_next_token_bitmask(formgate.allocate_token_bitmask(1, INFO.vocab_size))
    m.rollback(1)  # un-terminates
    assert not m.is_terminated() and m.is_completed()


def test_rejected_token_leaves_state_unchanged() -> None:
    m = formgate.GrammarMatcher(compile_('root ::= "a" "b"* "1"'))
    assert m.accept_token(0)
    before = snapshot(m)
    assert not m.accept_token(3)
    assert not m.accept_string("bb2")  # all or nothing
    assert snapshot(m) == before


def test_jump_forward() -> None:
    m = formgate.GrammarMatcher(compile_('root ::= "{" "\\"key\\"" ":" ("1" | "12") "}"'))
    assert m.find_jump_forward_string() == '{"key":1'
    assert m.accept_string('{"key":12')
    assert m.find_jump_forward_string() == "}"
    # Jump-forward does not move the matcher.
    assert m.accept_string("}") and m.find_jump_forward_string() == ""
    m2 = formgate.GrammarMatcher(compile_('root ::= "é" "a"'))
    assert m2.find_jump_forward_string() == "éa"
    assert m2.accept_token(10)  # the first byte of é alone
    assert m2.find_jump_forward_string() == ""  # starts inside the split character
    assert m2.find_jump_forward_bytes() == b"\xa9a"
    assert m2.accept_token(11) and m2.find_jump_forward_string() == "a"


def test_multibyte_characters_split_across_tokens() -> None:
    m = formgate.GrammarMatcher(compile_("root ::= [^a]"))
    mask = formgate.allocate_token_bitmask(1, INFO.vocab_size)
    m.fill_next_token_bitmask(mask)
    allowed = allowed_tokens(mask[0], INFO.vocab_size)
    assert 10 in allowed and 12 in allowed and 11 not in allowed  # lone continuation byte
    assert m.accept_token(10) and not m.is_completed() and m.accept_token(11)
    assert m.is_completed()


def test_large_counted_repetition_is_exact() -> None:
    cg = compile_('root ::= "a"{3,100000} "b"')
    m = formgate.GrammarMatcher(cg)
    assert m.accept_string("a" * 99999)
    assert m.accept_string("a") and not m.accept_string("a")
    assert m.accept_string("b") and m.is_completed()
    for n, ok in [(2, False), (3, True), (100000, True), (100001, False)]:
        m = formgate.GrammarMatcher(cg)
        assert (m.accept_string("a" * n + "b") and m.is_completed()) == ok, n


@settings(max_examples=60, deadline=None)
@given(lo=st.integers(0, 40), span=st.integers(0, 40), body=st.sampled_from(['"ab"', '("a" | "b1")', "[a-b]"]),
       n=st.integers(0, 90))
def test_counted_repetition_matches_python_re(lo: int, span: int, body: str, n: int) -> None:
    hi = lo + span
    py_body = {'"ab"': "ab", '("a" | "b1")': "(?:a|b1)", "[a-b]": "[a-b]"}[body]
    cg = compile_(f"root ::= ({body}){{{lo},{hi}}} \"}}\"")
    for text in ["ab" * n + "}", "a" * n + "}", ("b1a" * n)[:n] + "}"]:
        m = formgate.GrammarMatcher(cg)
        got = m.accept_string(text) and m.is_completed()
        assert got == bool(re.fullmatch(f"(?:{py_body}){{{lo},{hi}}}}}", text)), (lo, hi, body, text)


@st.composite
def operations(draw):
    return draw(st.lists(st.sampled_from(["accept", "rollback", "fork", "reset", "string"]),
                         min_size=1, max_size=25))


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_rollback_fork_reset_restore_exact_state(data) -> None:
    """A model of the matcher as 'the list of accepted steps': after any operation sequence the
    matcher equals a fresh matcher fed those steps."""
    grammar = data.draw(st.sampled_from([
        'root ::= ("{" "\\"" [a-b]* "\\"" ("," "\\"" [a-b]* "\\"")* "}") | "1"+',
        'root ::= ("a" | "ab" "b"? ) ("1"{2,5} | " " root)?',
        'root ::= item+\nitem ::= "a" item? "b" | "1"',
    ]))
    cg = compile_(grammar)
    m = formgate.GrammarMatcher(cg)
    steps: list = []
    for op in data.draw(operations()):
        if op in ("accept", "string") and not m.is_terminated():
            mask = formgate.allocate_token_bitmask(1, INFO.vocab_size)
            m.fill_next_token_bitmask(mask)
            allowed = allowed_tokens(mask[0], INFO.vocab_size)
            if not allowed:
                continue
            tok = data.draw(st.sampled_from(allowed))
            if op == "string" and tok != STOP:
                assert m.accept_string(INFO.decoded_vocab[tok])
            else:
                assert m.accept_token(tok)
            steps.append((op, tok))
        elif op == "rollback" and steps:
            k = data.draw(st.integers(1, len(steps)))
            m.rollback(k)
            del steps[-k:]
        elif op == "fork":
            twin = m.fork()
            assert snapshot(twin) == snapshot(m)
            if not m.is_terminated():  # the fork is independent
                mask = formgate.allocate_token_bitmask(1, INFO.vocab_size)
                twin.fill_next_token_bitmask(mask)
                allowed = allowed_tokens(mask[0], INFO.vocab_size)
                if allowed:
                    twin.accept_token(allowed[0])
        elif op == "reset":
            m.reset()
            steps.clear()
        fresh = formgate.GrammarMatcher(cg)
        for kind, tok in steps:
            assert fresh.accept_string(INFO.decoded_vocab[tok]) if kind == "string" and tok != STOP else fresh.accept_token(tok)
        assert snapshot(m) == snapshot(fresh), (grammar, steps)
        assert m.num_steps == len(steps)


def test_max_rollback_tokens_bounds_history() -> None:
    m = formgate.GrammarMatcher(compile_('root ::= "a"*'), max_rollback_tokens=2)
    for _ in range(5):
        assert m.accept_token(0)
    m.rollback(2)
    with pytest.raises(ValueError):
        m.rollback(1)


def test_batch_fill_matches_single_fill() -> None:
    cg = compile_('root ::= ("a" | "b")+ "1"')
    matchers = [formgate.GrammarMatcher(cg) for _ in range(6)]
    for i, m in enumerate(matchers):
        for _ in range(i % 3):
            m.accept_token(1)
    batch = formgate.allocate_token_bitmask(8, INFO.vocab_size)
    batch.fill_(0)
    formgate.BatchGrammarMatcher(3).batch_fill_next_token_bitmask(matchers, batch, indices=[7, 6, 5, 4, 3, 2])
    for i, m in enumerate(matchers):
        single = formgate.allocate_token_bitmask(1, INFO.vocab_size)
        m.fill_next_token_bitmask(single)
        assert np.array_equal(bitmask_to_bool(batch[7 - i], INFO.vocab_size), bitmask_to_bool(single[0], INFO.vocab_size))
    assert not bitmask_to_bool(batch[0], INFO.vocab_size).any()  # untouched rows stay as they were


def test_batch_rejects_duplicate_matchers() -> None:
    m = formgate.GrammarMatcher(compile_('root ::= "a"'))
    with pytest.raises(ValueError, match="twice"):
        formgate.BatchGrammarMatcher(2).batch_fill_next_token_bitmask(
            [m, m], formgate.allocate_token_bitmask(2, INFO.vocab_size)
        )


def test_compiler_cache_is_bounded_and_reused() -> None:
    compiler = formgate.GrammarCompiler(INFO, cache_limit_bytes=1 << 20)
    a = compiler.compile_grammar('root ::= "a"+')
    assert compiler.compile_grammar('root ::= ("a")+') is a  # same normalised grammar
    assert compiler.cache_size_bytes > 0
    for i in range(200):  # far more than fits: old entries are evicted
        compiler.compile_grammar(f'root ::= "a"{{{i}}} [a-z]*')
    assert compiler.cache_size_bytes <= 1 << 20
    compiler.clear_cache()
    assert compiler.cache_size_bytes == 0
    assert formgate.GrammarCompiler(INFO, cache_enabled=False).cache_size_bytes == 0


def test_fill_fast_path_revalidates_a_changed_tensor() -> None:
    m = formgate.GrammarMatcher(compile_('root ::= "a"+'))
    mask = formgate.allocate_token_bitmask(2, INFO.vocab_size)
    m.fill_next_token_bitmask(mask, 1)
    assert allowed_tokens(mask[1], INFO.vocab_size) == [0]
    mask.resize_(1, mask.shape[1] + 1)  # same object, new shape: must be re-checked
    with pytest.raises(ValueError, match="shape"):
        m.fill_next_token_bitmask(mask, 0)
