"""The central invariant: a bit is set in the mask iff accept_token succeeds, checked over the
whole vocabulary at every step of accepted strings, for the shipped grammars with real
tokenizers and for random grammars with random vocabularies."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from conftest import (
    REAL_TOKENIZERS,
    ROOT,
    SHIPPED_GRAMMARS,
    SMALL_TOKENIZERS,
    compiled,
    hf_tokenizer,
)
from grammar_gen import derivations, random_grammars
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import formgate
from formgate.testing import bitmask_to_bool, brute_force_bitmask


def check_steps(matcher: formgate.GrammarMatcher, token_ids: list[int], every: int = 1) -> int:
    """Walks token_ids, comparing the mask with the brute-force oracle at every `every`-th step;
    returns the number of steps checked."""
    vocab = matcher.vocab_size
    mask = formgate.allocate_token_bitmask(1, vocab)
    checked = 0
    for step, tok in enumerate(token_ids + [None]):
        if step % every == 0 or tok is None:
            matcher.fill_next_token_bitmask(mask)
            fast = bitmask_to_bool(mask[0], vocab)
            slow = bitmask_to_bool(brute_force_bitmask(matcher)[0], vocab)
            if not np.array_equal(fast, slow):
                extra = np.flatnonzero(fast & ~slow)[:10].tolist()
                missing = np.flatnonzero(slow & ~fast)[:10].tolist()
                pytest.fail(
                    f"step {step}: mask allows rejected ids {extra}, forbids accepted ids {missing}"
                )
            checked += 1
            if tok is not None:
                assert fast[tok], f"step {step}: valid token {tok} is masked"
        if tok is not None:
            assert matcher.accept_token(tok), f"step {step}: token {tok} rejected"
    return checked


@functools.lru_cache(maxsize=None)
def _token_by_bytes(info: formgate.TokenizerInfo) -> dict[bytes, int]:
    by_bytes: dict[bytes, int] = {}
    special = set(info.special_token_ids) | set(info.stop_token_ids)
    for i, b in enumerate(info.decoded_vocab):
        if b and i not in special:
            by_bytes.setdefault(b, i)
    return by_bytes


def greedy_tokenize(info: formgate.TokenizerInfo, data: bytes) -> list[int]:
    """Longest-match tokenization over the decoded vocabulary: a valid (if not canonical) token
    sequence for any text, used where the HF tokenizer adds a prefix space."""
    by_bytes = _token_by_bytes(info)
    longest = max(map(len, by_bytes))
    ids, pos = [], 0
    while pos < len(data):
        for n in range(min(longest, len(data) - pos), 0, -1):
            if data[pos : pos + n] in by_bytes:
                ids.append(by_bytes[data[pos : pos + n]])
                pos += n
                break
        else:
            raise AssertionError(f"no token for byte {data[pos]}")
    return ids


def examples(name: str) -> dict:
    return json.loads((ROOT / "tests" / "data" / "grammar_examples" / f"{name}.json").read_text())


@pytest.mark.parametrize("tokenizer_name", SMALL_TOKENIZERS + REAL_TOKENIZERS)
@pytest.mark.parametrize("grammar_name", SHIPPED_GRAMMARS)
def test_mask_equals_accept_on_shipped_grammars(grammar_name: str, tokenizer_name: str) -> None:
    tok = hf_tokenizer(tokenizer_name)
    cg = compiled(grammar_name, tokenizer_name)
    stop = cg.tokenizer_info.stop_token_ids
    real = tokenizer_name in REAL_TOKENIZERS
    valid = examples(grammar_name)["valid"]
    # The real vocabularies make each oracle step cost ~30 ms: sample steps there.
    checked = 0
    for text in valid[:4] if real else valid:
        ids = tok.encode(text, add_special_tokens=False)
        decoded = b"".join(cg.tokenizer_info.decoded_vocab[i] for i in ids)
        if decoded != text.encode():  # SentencePiece adds a prefix space
            ids = greedy_tokenize(cg.tokenizer_info, text.encode())
        m = formgate.GrammarMatcher(cg)
        checked += check_steps(m, ids, every=3 if real else 1)
        assert m.is_completed()
        assert m.accept_token(stop[0]) and m.is_terminated()
    assert checked > 0


@st.composite
def vocabularies(draw, alphabet: str):
    """Small random vocabularies over the grammar's alphabet, including multi-byte characters
    split across tokens, duplicates and a stop token."""
    pieces = list(alphabet.encode()) + [b for ch in alphabet for b in ch.encode()]
    byte_pool = sorted(set(pieces))
    tokens = set()
    for ch in alphabet:
        tokens.add(ch.encode())
    n = draw(st.integers(5, 40))
    for _ in range(n):
        length = draw(st.integers(1, 4))
        if draw(st.booleans()):
            tokens.add("".join(draw(st.sampled_from(alphabet)) for _ in range(length)).encode())
        else:
            tokens.add(bytes(draw(st.sampled_from(byte_pool)) for _ in range(length)))
    vocab = sorted(tokens)
    vocab.append(vocab[0])  # duplicate spelling under another id
    vocab.append(b"</s>")
    return vocab


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mask_equals_accept_on_random_grammars(data) -> None:
    g = data.draw(random_grammars())
    alphabet = "".join(sorted(set("ab\u00e9\U0001F642\"\\ ") | set(g.alphabet)))
    vocab = data.draw(vocabularies(alphabet))
    info = formgate.TokenizerInfo(vocab, stop_token_ids=[len(vocab) - 1], vocab_size=len(vocab) + 3)
    cg = formgate.GrammarCompiler(info, max_threads=2).compile_grammar(g.ebnf)
    m = formgate.GrammarMatcher(cg)
    # Random walk: pick allowed tokens, checking the mask against the oracle at every step.
    mask = formgate.allocate_token_bitmask(1, info.vocab_size)
    for _ in range(12):
        try:
            m.fill_next_token_bitmask(mask)
            slow = bitmask_to_bool(brute_force_bitmask(m)[0], info.vocab_size)
        except formgate.LimitError:
            # Exponentially ambiguous grammars hit the documented per-step budget.
            event("per-step limit")
            return
        fast = bitmask_to_bool(mask[0], info.vocab_size)
        assert np.array_equal(fast, slow), (g.ebnf, vocab, np.flatnonzero(fast != slow))
        allowed = np.flatnonzero(fast).tolist()
        if not allowed:
            break
        tok = data.draw(st.sampled_from(allowed))
        assert m.accept_token(tok)
        if m.is_terminated():
            break


@pytest.mark.parametrize(
    "tokenizer_name,examples", [("tokenizer_bpe_small", 15), ("llama3", 3), ("phi3", 2)]
)
def test_random_grammars_over_real_vocabulary(tokenizer_name: str, examples: int) -> None:
    # Random grammars full of `.` make every state accept most of a 128k vocabulary, so each
    # compile walks the whole trie ~100 times: few examples on the big vocabularies.
    settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))(
        given(data=st.data())(lambda data: _random_grammar_over(tokenizer_name, data))
    )()


def _random_grammar_over(tokenizer_name: str, data) -> None:
    """Random grammars against a whole real vocabulary, walking tokens of derived sentences."""
    from conftest import tokenizer_info

    info = tokenizer_info(tokenizer_name)
    g = data.draw(random_grammars())
    cg = formgate.GrammarCompiler(info, max_threads=2).compile_grammar(g.ebnf)
    sentence = data.draw(derivations(g))
    try:
        ids = greedy_tokenize(info, sentence.encode())
        check_steps(formgate.GrammarMatcher(cg), ids, every=max(1, len(ids) // 4))
    except formgate.LimitError:
        event("per-step limit")


@pytest.mark.parametrize("tokenizer_name", ["tokenizer_bpe_small", "llama3"])
@pytest.mark.parametrize(
    "grammar,texts",
    [
        ('root ::= "\\"" [a-z ]{3,40} "\\""', ['"' + "ab cd" * k + '"' for k in (1, 4, 8)]),
        (
            'root ::= "{\\"s\\": \\"" ([^"\\\\\\x00-\\x1F] | "\\\\" ["\\\\/bfnrt]){0,60} "\\"}"',
            ['{"s": "' + t + '"}' for t in ["", "hello world", "x" * 60, "a\\n" * 20, "ünïcode " * 7]],
        ),
        ('root ::= ("ab" | " ") {20,100000} "."', ["ab" * 10 + " " * 30 + ".", "ab" * 400 + "."]),
    ],
)
def test_counted_repetition_masks_near_bounds(tokenizer_name: str, grammar: str, texts: list) -> None:
    """Counter frames use saturated prechecks once the minimum is reached; near the maximum,
    accepted tokens longer than the remaining budget must be re-checked. Every step is compared
    with the brute-force oracle."""
    from conftest import tokenizer_info

    info = tokenizer_info(tokenizer_name)
    cg = formgate.GrammarCompiler(info).compile_grammar(grammar)
    for text in texts:
        ids = greedy_tokenize(info, text.encode())
        m = formgate.GrammarMatcher(cg)
        check_steps(m, ids, every=1 if len(ids) < 60 else 7)
        assert m.is_completed()
