"""Speculative decoding support: GrammarMatcher.validate_tokens and fill_draft_bitmasks, and
BatchGrammarMatcher.batch_fill_draft_bitmasks.

Oracle: a fork of the matcher stepped one token at a time with accept_token, its mask read with
fill_next_token_bitmask at every position. Drafts are random walks through the grammar (so
long prefixes are accepted) with random ids mixed in, on a JSON Schema and two EBNF grammars,
over the shipped byte-level BPE fixture (3,003 tokens) and a 7-token toy vocabulary. End to
end: speculative greedy decoding with a tiny random-weight Llama must produce exactly the
tokens of plain constrained greedy decoding.
"""

from __future__ import annotations

import doctest
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import formgate
import formgate.matcher
from conftest import grammar_text, tokenizer_info
from formgate.testing import allowed_tokens

PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SCHEMA = {"type": "object", "additionalProperties": False, "required": ["id", "tags"],
          "properties": {"id": {"type": "integer", "minimum": 0},
                         "tags": {"type": "array", "items": {"enum": ["a", "bc"]}, "maxItems": 3},
                         "ok": {"type": "boolean"}}}
TOY_VOCAB = [b"a", b"b", b"ab", b"(", b")", b"</s>", b"<pad>"]


@pytest.fixture(scope="module")
def grammars():
    bpe = formgate.GrammarCompiler(tokenizer_info("tokenizer_bpe_small"))
    toy = formgate.GrammarCompiler(formgate.TokenizerInfo(TOY_VOCAB, stop_token_ids=[5],
                                                          special_token_ids=[6]))
    return [bpe.compile_json_schema(SCHEMA, any_whitespace=False),
            bpe.compile_grammar(grammar_text("arithmetic")),
            toy.compile_grammar('root ::= item+\nitem ::= "a" | "b" | "(" root ")"')]


def mask_of(m: formgate.GrammarMatcher) -> np.ndarray:
    mask = formgate.allocate_token_bitmask(1, m.vocab_size)
    m.fill_next_token_bitmask(mask)
    return mask[0].numpy().copy()


def walk(data, m: formgate.GrammarMatcher, steps: int, stop_ok: bool) -> list[int]:
    """Accept up to ``steps`` tokens the grammar allows, chosen by hypothesis."""
    taken = []
    stops = set(m.compiled_grammar.tokenizer_info.stop_token_ids)
    for _ in range(steps):
        choices = [t for t in allowed_tokens(mask_of(m), m.vocab_size)
                   if stop_ok or t not in stops]
        if not choices:
            break
        token = choices[data.draw(st.integers(0, len(choices) - 1))]
        assert m.accept_token(token)
        taken.append(token)
        if m.is_terminated():
            break
    return taken


def draw_case(data, grammars, max_rollback_tokens: int = -1):
    """A matcher moved to a random state, and a draft: grammar-valid tokens and random ids."""
    compiled = grammars[data.draw(st.integers(0, len(grammars) - 1), label="grammar")]
    m = formgate.GrammarMatcher(compiled, max_rollback_tokens=max_rollback_tokens)
    walk(data, m, data.draw(st.integers(0, 12), label="prefix"), stop_ok=False)
    guide, draft = m.fork(), []
    for _ in range(data.draw(st.integers(0, 6), label="draft length")):
        if guide.is_terminated() or data.draw(st.integers(0, 3)) == 0:
            draft.append(data.draw(st.integers(0, m.vocab_size - 1), label="random id"))
            if not guide.is_terminated():
                guide.accept_token(draft[-1])  # a rejected id leaves the guide where it was
        else:
            draft += walk(data, guide, 1, stop_ok=True) or [0]
    return m, draft


def fork_oracle(m: formgate.GrammarMatcher, draft: list[int]) -> tuple[int, list]:
    """(accepted count, mask at each position 0..accepted or None once terminated)."""
    f, masks, accepted = m.fork(), [], 0
    for token in [*draft, None]:
        masks.append(None if f.is_terminated() else mask_of(f))
        if token is None or f.is_terminated() or not f.accept_token(token):
            break
        accepted += 1
    return accepted, masks


def snapshot(m: formgate.GrammarMatcher) -> tuple:
    """What the next decode step sees, and what rollback could restore."""
    undo = m.fork()
    undo.rollback(undo.num_steps)
    return (mask_of(m).tolist(), m.is_completed(), m.is_terminated(), m.num_steps,
            mask_of(undo).tolist())


@PROPERTY
@given(data=st.data(), bounded=st.booleans())
def test_validate_tokens_counts_the_prefix_a_fork_accepts(grammars, data, bounded):
    m, draft = draw_case(data, grammars, max_rollback_tokens=4 if bounded else -1)
    before = snapshot(m)
    assert m.validate_tokens(draft) == fork_oracle(m, draft)[0]
    assert snapshot(m) == before


@PROPERTY
@given(data=st.data(), start=st.integers(0, 2))
def test_draft_rows_equal_the_forks_masks(grammars, data, start):
    m, draft = draw_case(data, grammars)
    k = len(draft)
    bitmask = formgate.allocate_token_bitmask(start + k + 1 + 1, m.vocab_size)
    bitmask.fill_(0x5A5A5A5A)  # rows outside the draft's must keep it
    before = snapshot(m)
    n = m.fill_draft_bitmasks(draft, bitmask, start_index=start)
    expected_n, masks = fork_oracle(m, draft)
    assert n == expected_n == m.validate_tokens(draft)
    for i in range(k + 1):
        row = bitmask[start + i].numpy()
        if i <= n and masks[i] is not None:
            assert np.array_equal(row, masks[i]), f"row {i} of a draft of {k}, {n} accepted"
        else:  # after the first rejected token, or after an accepted stop token
            assert not row.any(), f"row {i} should be empty ({n} accepted)"
    untouched = [r for r in range(bitmask.shape[0]) if not start <= r <= start + k]
    assert (bitmask[untouched] == 0x5A5A5A5A).all()
    assert snapshot(m) == before


@PROPERTY
@given(data=st.data())
def test_rollback_after_partial_acceptance_restores_the_draft_rows(grammars, data):
    m, draft = draw_case(data, grammars)
    bitmask = formgate.allocate_token_bitmask(len(draft) + 1, m.vocab_size)
    n = m.fill_draft_bitmasks(draft, bitmask)
    keep = data.draw(st.integers(0, n), label="verified prefix")
    assert all(m.accept_token(t) for t in draft[:keep])
    for back in range(keep, -1, -1):  # undo the verified tokens one by one
        if not m.is_terminated():
            assert np.array_equal(mask_of(m), bitmask[back].numpy()), f"position {back}"
        if back:
            m.rollback(1)
    assert m.fill_draft_bitmasks(draft, bitmask) == n


def test_stop_token_ends_the_draft_and_empties_the_next_row(grammars):
    m = formgate.GrammarMatcher(grammars[2])  # toy: a, b, ab, (, ), </s>, <pad>
    bitmask = formgate.allocate_token_bitmask(5, m.vocab_size)
    assert m.fill_draft_bitmasks([2, 5, 0, 1], bitmask) == 2
    assert [allowed_tokens(bitmask[i], m.vocab_size) for i in range(5)] == [
        [0, 1, 2, 3], [0, 1, 2, 3, 5], [], [], []]
    assert m.validate_tokens([5]) == 0 and m.validate_tokens([6]) == 0  # no end yet; special
    assert m.num_steps == 0 and not m.is_completed()


def test_numpy_and_strided_bitmasks_get_the_same_rows(grammars):
    m = formgate.GrammarMatcher(grammars[2])
    words = formgate.allocate_token_bitmask(1, m.vocab_size).shape[1]
    dense = formgate.allocate_token_bitmask(6, m.vocab_size)
    wide = torch.full((7, words + 3), 7, dtype=torch.int32)
    strided = wide[1:, 2:2 + words]  # rows words + 3 apart, inside a larger buffer
    array = np.full((6, words), -1, dtype=np.int32)
    for draft in ([3, 0, 4, 1], [0, 4], [2, 5, 1]):
        results = [m.fill_draft_bitmasks(draft, b, start_index=1) for b in (dense, strided, array)]
        assert results[0] == results[1] == results[2]
        assert np.array_equal(dense[1:].numpy(), strided[1:].numpy())
        assert np.array_equal(dense[1:].numpy(), array[1:])
    assert (wide[:2] == 7).all() and (wide[:, :2] == 7).all() and (wide[:, 2 + words:] == 7).all()


def test_empty_draft_fills_the_current_mask(grammars):
    m = formgate.GrammarMatcher(grammars[0])
    bitmask = formgate.allocate_token_bitmask(1, m.vocab_size)
    assert m.validate_tokens([]) == 0
    assert m.fill_draft_bitmasks([], bitmask[0]) == 0  # a single (words,) row is fine
    assert np.array_equal(bitmask[0].numpy(), mask_of(m))


def test_drafts_longer_than_the_rollback_bound_use_a_fork(grammars):
    m = formgate.GrammarMatcher(grammars[2], max_rollback_tokens=2)
    m.accept_token(0)
    m.accept_token(1)
    assert m.validate_tokens([0, 0, 0, 0, 0]) == 5
    m.rollback(2)  # both steps of history survived the five-token draft
    assert m.num_steps == 0 and not m.is_completed()


def test_errors_leave_the_matcher_and_bitmask_untouched(grammars):
    m = formgate.GrammarMatcher(grammars[2])
    vocab = m.vocab_size
    bitmask = formgate.allocate_token_bitmask(4, vocab)
    for bad in ([0, 1, vocab], [-1], [0, 99]):
        with pytest.raises(ValueError, match="draft token"):
            m.validate_tokens(bad)
        with pytest.raises(ValueError, match="draft token"):
            m.fill_draft_bitmasks(bad, bitmask)
    with pytest.raises(ValueError, match="needs bitmask rows 2..6, but the bitmask has 4 rows"):
        m.fill_draft_bitmasks([0, 0, 0, 0], bitmask, start_index=2)
    with pytest.raises(ValueError, match="outside the bitmask's 4 rows"):
        m.fill_draft_bitmasks([], bitmask, start_index=4)
    with pytest.raises(ValueError, match="int32"):
        m.fill_draft_bitmasks([0], bitmask.to(dtype=torch.int64))
    with pytest.raises(TypeError):
        m.validate_tokens([0.5])
    assert (bitmask == -1).all() and m.num_steps == 0
    assert m.accept_token(0) and m.accept_token(5) and m.is_terminated()
    with pytest.raises(ValueError, match="terminated"):
        m.validate_tokens([])
    with pytest.raises(ValueError, match="terminated"):
        m.fill_draft_bitmasks([0], bitmask)
    assert (bitmask == -1).all()


@PROPERTY
@given(data=st.data(), packed=st.booleans())
def test_batch_draft_rows_equal_one_call_per_matcher(grammars, data, packed):
    cases = [draw_case(data, grammars[:1]) for _ in range(data.draw(st.integers(1, 4)))]
    matchers, drafts = [m for m, _ in cases], [d for _, d in cases]
    starts, row = [], data.draw(st.integers(0, 2))
    for d in drafts:  # packed, or with gaps that must stay untouched
        starts.append(row)
        row += len(d) + 1 + (0 if packed else data.draw(st.integers(0, 2)))
    batch = formgate.allocate_token_bitmask(row + 1, matchers[0].vocab_size)
    batch.fill_(0x5A5A5A5A)
    single = batch.clone()
    expected = [m.fill_draft_bitmasks(d, single, s) for m, d, s in zip(matchers, drafts, starts)]
    before = [snapshot(m) for m in matchers]
    got = formgate.BatchGrammarMatcher().batch_fill_draft_bitmasks(
        matchers, drafts, batch, None if packed and starts[0] == 0 else starts)
    assert got == expected
    assert torch.equal(batch, single)
    assert [snapshot(m) for m in matchers] == before


def test_batch_draft_errors_write_nothing(grammars):
    toy = grammars[2]
    m1, m2 = formgate.GrammarMatcher(toy), formgate.GrammarMatcher(toy)
    batch = formgate.BatchGrammarMatcher(2)
    bitmask = formgate.allocate_token_bitmask(5, m1.vocab_size)
    with pytest.raises(ValueError, match="2 matchers but 1 drafts"):
        batch.batch_fill_draft_bitmasks([m1, m2], [[0]], bitmask)
    with pytest.raises(ValueError, match="draft token 1 has id 7"):
        batch.batch_fill_draft_bitmasks([m1, m2], [[0], [0, 7]], bitmask)
    with pytest.raises(ValueError, match="overlap"):
        batch.batch_fill_draft_bitmasks([m1, m2], [[0, 0], [0]], bitmask, start_indices=[0, 2])
    with pytest.raises(ValueError, match="rows up to 5, but the bitmask has 5 rows"):
        batch.batch_fill_draft_bitmasks([m1, m2], [[0, 0], [0, 0]], bitmask)
    with pytest.raises(ValueError, match="outside the bitmask"):
        batch.batch_fill_draft_bitmasks([m1, m2], [[0], [0]], bitmask, start_indices=[-2, 0])
    assert (bitmask == -1).all()
    assert batch.batch_fill_draft_bitmasks([], [], bitmask) == []


def test_docstring_examples_run():
    result = doctest.testmod(formgate.matcher, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# End to end: a tiny random-weight Llama as the target; its own greedy continuation as the draft.

FLAGS = {"type": "object", "additionalProperties": False, "required": ["ok", "n", "tags"],
         "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"},
                        "tags": {"type": "array", "items": {"enum": ["red", "green"]}}}}


@pytest.fixture(scope="module")
def target():
    pytest.importorskip("transformers")
    import formgate.hf as fhf
    from tiny_models import tiny_llama

    torch.set_num_threads(1)  # deterministic and not slowed by a busy machine
    model, tokenizer = tiny_llama()
    info = fhf.tokenizer_info(model, tokenizer)
    compiler = formgate.GrammarCompiler(info)
    return model, tokenizer, info, {
        "flags": compiler.compile_json_schema(FLAGS, any_whitespace=False),
        "arithmetic": compiler.compile_grammar(grammar_text("arithmetic")),
        # Ends within the budget: a draft then carries the stop token, and nothing follows it.
        "short": compiler.compile_grammar('root ::= ("yes" | "no" | "maybe") " " [a-z]{0,3}'),
    }


def next_logits(model, ids: list[int], count: int = 1):
    """Logits for the token after ``ids[:len(ids) - count + 1]`` ... after ``ids``."""
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0, len(ids) - count:].float()


def plain_greedy(model, compiled, prompt: list[int], budget: int) -> list[int]:
    m, out = formgate.GrammarMatcher(compiled), []
    bitmask = formgate.allocate_token_bitmask(1, m.vocab_size)
    while len(out) < budget and not m.is_terminated():
        logits = next_logits(model, prompt + out)
        m.fill_next_token_bitmask(bitmask)
        formgate.apply_token_bitmask_inplace(logits, bitmask)
        out.append(int(logits[0].argmax()))
        assert m.accept_token(out[-1])
    return out


def draft_for(kind: str, model, m, ids: list[int], k: int, rng: random.Random) -> list[int]:
    """The target's own greedy continuation: unconstrained (the grammar cuts it short), under
    the grammar (all accepted), or under the grammar with one id replaced."""
    guide, draft = m.fork(), []
    bitmask = formgate.allocate_token_bitmask(1, m.vocab_size)
    for _ in range(k):
        logits = next_logits(model, ids + draft)
        if kind != "unconstrained":
            if guide.is_terminated():
                break
            guide.fill_next_token_bitmask(bitmask)
            formgate.apply_token_bitmask_inplace(logits, bitmask)
        draft.append(int(logits[0].argmax()))
        if kind != "unconstrained":
            assert guide.accept_token(draft[-1])
    if kind == "perturbed" and draft:
        draft[rng.randrange(len(draft))] = rng.randrange(m.vocab_size)
    return draft


def speculative_greedy(model, compiled, prompt: list[int], budget: int, kind: str,
                       k: int = 4) -> tuple[list[int], int]:
    """The generated ids and how many draft tokens the target rejected."""
    m, out, rng, rejected = formgate.GrammarMatcher(compiled), [], random.Random(0), 0
    while len(out) < budget and not m.is_terminated():
        draft = draft_for(kind, model, m, prompt + out, k, rng)
        bitmask = formgate.allocate_token_bitmask(len(draft) + 1, m.vocab_size)
        n = m.fill_draft_bitmasks(draft, bitmask)
        logits = next_logits(model, prompt + out + draft, len(draft) + 1)[: n + 1]
        formgate.apply_token_bitmask_inplace(logits, bitmask[: n + 1])
        choice = logits.argmax(-1).tolist()
        keep = 0
        while keep < n and draft[keep] == choice[keep]:
            keep += 1
        rejected += len(draft) - keep
        for token in draft[:keep][: budget - len(out)]:
            assert m.accept_token(token)
            out.append(token)
        # The target's own token after the verified prefix, unless that prefix ended the
        # sequence with a stop token (its row is empty) or the budget is spent.
        if len(out) < budget and not m.is_terminated():
            assert m.accept_token(choice[keep])
            out.append(choice[keep])
    return out, rejected


@pytest.mark.parametrize("kind", ["unconstrained", "constrained", "perturbed"])
@pytest.mark.parametrize("grammar", ["flags", "arithmetic", "short"])
def test_speculative_greedy_equals_plain_greedy(target, grammar, kind):
    model, tokenizer, info, compiled = target
    prompt = tokenizer.encode("Give me a value:")
    plain = plain_greedy(model, compiled[grammar], prompt, 24)
    assert (plain[-1] in info.stop_token_ids) == (grammar == "short")
    spec, rejected = speculative_greedy(model, compiled[grammar], prompt, 24, kind)
    assert spec == plain
    if kind == "constrained":  # the draft is exactly what the target picks
        assert rejected == 0
