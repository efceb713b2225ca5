"""Jump-forward decoding keeps tokenization canonical.

The main property: decode a string of a grammar with a *canonical oracle* for a model (it
always picks the next token of ``tokenizer.encode(target)``) and jump-forward on; after every
step the token ids so far must be a prefix of ``tokenizer.encode(target)``, and at the end
equal to it, with the grammar accepting. Grammars are random templates: literal segments that
the grammar forces, separated by choice points. Runs on the shipped byte-level BPE fixture
(Llama-3 layout) and, when ../shared is present, the real Llama-3 and Qwen2 tokenizers.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formgate
from conftest import hf_tokenizer, tokenizer_info
from formgate.jump_forward import JumpForward

WORDS = ["name", "value", " the", "id", "Paris", "x", "42", "3.5", "true", "über", "日本",
         "\n", "  ", ", ", ": ", '"', "{", "}", "[", "]", "\"key\": ", "}\n", " -", "a b",
         "ing", "don't", "\t", "é", ".", "''", "()", "->", "=", "  \n  "]


def ebnf_literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


@st.composite
def template(draw):
    """(ebnf, a target string in its language)."""
    parts, target = [], []
    for _ in range(draw(st.integers(1, 5))):
        literal = "".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4)))
        parts.append(ebnf_literal(literal))
        target.append(literal)
        if draw(st.booleans()):
            options = draw(st.lists(st.sampled_from(WORDS), min_size=2, max_size=3, unique=True))
            parts.append("(" + " | ".join(ebnf_literal(o) for o in options) + ")")
            target.append(draw(st.sampled_from(options)))
    return "root ::= " + " ".join(parts), "".join(target)


def oracle_decode(compiled, tokenizer, jump, target):
    """Decode ``target`` with the canonical oracle; check the prefix property at every step."""
    canonical = tokenizer.encode(target, add_special_tokens=False)
    matcher = formgate.GrammarMatcher(compiled)
    tokens = list(jump.extend(matcher, None).tokens)
    forced = len(tokens)
    assert tokens == canonical[: len(tokens)], (tokens, canonical)
    while len(tokens) < len(canonical):
        sampled = canonical[len(tokens)]
        assert matcher.accept_token(sampled), (target, tokens)
        step = jump.extend(matcher, sampled, context=tokens)
        tokens.extend(step.tokens)
        forced += step.forced
        assert tokens == canonical[: len(tokens)], (target, tokens, canonical)
    assert matcher.is_completed()
    return tokens, forced


TOKENIZERS = ["tokenizer_bpe_small", "llama3", "qwen2"]


@pytest.mark.parametrize("name", TOKENIZERS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=template())
def test_oracle_decoding_with_jump_forward_is_canonical(name, case):
    ebnf, target = case
    tokenizer = hf_tokenizer(name)
    info = tokenizer_info(name)
    compiled = formgate.GrammarCompiler(info).compile_grammar(ebnf)
    jump = JumpForward.from_huggingface(tokenizer, info)
    oracle_decode(compiled, tokenizer, jump, target)


def test_context_tokens_keep_their_boundaries():
    """Found by the property test on Qwen2: after " -" and a sampled '"', the forced "name" must
    not make '"name' one token: in the whole text the pre-tokenizer puts '"' with " -"."""
    tokenizer, info = hf_tokenizer("qwen2"), tokenizer_info("qwen2")
    compiled = formgate.GrammarCompiler(info).compile_grammar(
        'root ::= " -" ("\\"" | "name") "name"')
    jump = JumpForward.from_huggingface(tokenizer, info)
    tokens, _ = oracle_decode(compiled, tokenizer, jump, ' -"name')
    assert tokens == tokenizer.encode(' -"name', add_special_tokens=False)


def test_a_fully_forced_grammar_is_committed_in_one_step():
    tokenizer, info = hf_tokenizer("tokenizer_bpe_small"), tokenizer_info("tokenizer_bpe_small")
    text = '{"name": "formgate", "version": 1}'
    compiled = formgate.GrammarCompiler(info).compile_grammar(f"root ::= {ebnf_literal(text)}")
    matcher = formgate.GrammarMatcher(compiled)
    step = JumpForward.from_huggingface(tokenizer, info).extend(matcher, None)
    # Only a stop token can follow, so nothing is held back.
    assert step.tokens == tokenizer.encode(text, add_special_tokens=False)
    assert step.forced == len(step.tokens) - 1 and not step.replaced
    assert matcher.is_completed()


def test_the_sampled_token_is_replaced_when_the_forced_text_merges_with_it():
    """Grammar "{" "\\"" forced after a sampled "{": the pair is one token in the fixture (as in
    Llama-3), so the jump replaces the sampled token rather than appending a second one."""
    tokenizer, info = hf_tokenizer("tokenizer_bpe_small"), tokenizer_info("tokenizer_bpe_small")
    merged = tokenizer.encode('{"', add_special_tokens=False)
    assert len(merged) == 1, "fixture changed: '{\"' is no longer one token"
    compiled = formgate.GrammarCompiler(info).compile_grammar(
        'root ::= ("{" | "[") "\\"" [a-z]+')
    matcher = formgate.GrammarMatcher(compiled)
    brace = tokenizer.encode("{", add_special_tokens=False)[0]
    assert matcher.accept_token(brace)
    step = JumpForward.from_huggingface(tokenizer, info).extend(matcher, brace)
    assert step.replaced and step.tokens == merged
    assert matcher.accept_string("abc") and matcher.is_completed()


def test_no_jump_when_nothing_is_forced_or_the_text_is_not_utf8():
    info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
    jump = JumpForward(info, lambda text: list(text.encode()))
    compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= [ab] "é"')
    matcher = formgate.GrammarMatcher(compiled)
    assert jump.extend(matcher, None).tokens == []
    assert matcher.accept_token(ord("a"))
    step = jump.extend(matcher, ord("a"))  # forced "é": bytes C3 A9, one token each
    assert step.tokens == [ord("a"), 0xC3, 0xA9] and step.forced == 2
    assert matcher.is_completed()
    # Forced bytes ending inside a character ("é" and "è" share their first byte C3): the text
    # cannot be re-encoded, so nothing is committed; the model samples that byte itself.
    compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= "é" | "è"')
    matcher = formgate.GrammarMatcher(compiled)
    assert matcher.find_jump_forward_bytes() == b"\xc3"
    assert jump.extend(matcher, None).tokens == []
    assert matcher.accept_token(0xC3)  # the matcher was left unchanged


def test_a_tokenizer_that_does_not_round_trip_commits_nothing():
    """An encode() that returns the wrong bytes: the step falls back to the sampled token and
    the matcher is left exactly as it was."""
    info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
    jump = JumpForward(info, lambda text: [ord("z")] * len(text))
    compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= "a" "bcd" [xy]')
    matcher = formgate.GrammarMatcher(compiled)
    assert matcher.accept_token(ord("a"))
    step = jump.extend(matcher, ord("a"))
    assert step.tokens == [ord("a")] and step.forced == 0
    assert matcher.accept_string("bcdx") and matcher.is_completed()


def test_random_walk_keeps_the_grammar_accepting():
    """Random sampled tokens (not canonical ones) with jump-forward: whatever is committed is
    accepted by a fresh matcher, and forced tokens are counted."""
    tokenizer, info = hf_tokenizer("tokenizer_bpe_small"), tokenizer_info("tokenizer_bpe_small")
    schema = {"type": "object", "additionalProperties": False, "required": ["city", "days"],
              "properties": {"city": {"enum": ["Paris", "Berlin", "Tokyo"]},
                             "days": {"type": "integer", "minimum": 1, "maximum": 9}}}
    compiled = formgate.GrammarCompiler(info).compile_json_schema(schema, any_whitespace=False)
    jump = JumpForward.from_huggingface(tokenizer, info)
    mask = formgate.allocate_token_bitmask(1, info.vocab_size)
    rng = random.Random(0)
    total_forced = 0
    for _ in range(10):
        matcher = formgate.GrammarMatcher(compiled)
        tokens = list(jump.extend(matcher, None).tokens)
        total_forced += len(tokens)
        while not matcher.is_terminated():
            matcher.fill_next_token_bitmask(mask)
            allowed = formgate.testing.allowed_tokens(mask[0], info.vocab_size)
            token = rng.choice(allowed)
            assert matcher.accept_token(token)
            if matcher.is_terminated():
                tokens.append(token)
                break
            step = jump.extend(matcher, token, context=tokens)
            tokens.extend(step.tokens)
            total_forced += step.forced
        replay = formgate.GrammarMatcher(compiled)
        assert all(replay.accept_token(t) for t in tokens) and replay.is_terminated()
        text = b"".join(info.decoded_vocab[t] for t in tokens[:-1]).decode()
        value = json.loads(text)
        assert value["city"] in ("Paris", "Berlin", "Tokyo") and 1 <= value["days"] <= 9
    assert total_forced >= 10 * 3  # '{"city":"' at least is forced every time
