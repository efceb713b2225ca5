"""formgate.sampling: ASAp, its exact mode and GCD against exactly enumerated targets.

Every problem is small enough to enumerate: ``enumerate_target`` gives the target Q (the model
conditioned on the grammar) and the exact GCD distribution. Seeds are fixed, so the statistical
thresholds below are deterministic; they were chosen so that a correct sampler passes with a
margin (and GCD, the negative control, fails by a wide one).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import formgate
from formgate.sampling import (
    ASApSampler,
    FingerprintMismatchError,
    FunctionLM,
    GCDSampler,
    HashLM,
    MemoLM,
    NoGrammaticalCompletion,
    enumerate_target,
    next_draw_distribution,
)
from formgate.sampling.metrics import chi_square_pooled, kl, marginal, smoothed_empirical, tv

VOCAB = [b"0", b"1", b"(", b")", b"a", b"b", b"ab", b"</s>"]
STOP = 7
PROMPT = [STOP]  # the stop token doubles as BOS
INFO = formgate.TokenizerInfo(VOCAB, stop_token_ids=[STOP])
COMPILER = formgate.GrammarCompiler(INFO)


def parity_grammar(n: int) -> str:
    """Bit strings of length n with an even number of ones (a DFA as EBNF)."""
    rules = ['e0 ::= ""']
    for k in range(1, n + 1):
        rules.append(f'e{k} ::= "0" e{k - 1}' + (f' | "1" o{k - 1}' if k > 1 else ""))
        rules.append(f'o{k} ::= "1" e{k - 1}' + (f' | "0" o{k - 1}' if k > 1 else ""))
    return f"root ::= e{n}\n" + "\n".join(rules)


# name -> (grammar, max_new_tokens, HashLM seed). The Dyck grammar is unbounded, so the length
# cap makes dead ends (a prefix with more open brackets than tokens left); "tokens" admits every
# tokenisation of (ab){1,3} over the tokens a, b and ab.
PROBLEMS = {
    "skewed": ('root ::= "00000" | "1" [01]{4}', 6, 2),
    "parity": (parity_grammar(5), 6, 1),
    "dyck": ('root ::= p\np ::= "(" p? ")" p?', 9, 2),
    "tokens": ('root ::= "ab"{1,3}', 7, 1),
}
N = 2000


def problem(name: str):
    grammar, max_new, seed = PROBLEMS[name]
    return COMPILER.compile_grammar(grammar), max_new, HashLM(8, seed=seed, scale=1.5)


_TARGETS: dict[str, object] = {}


def target(name: str):
    if name not in _TARGETS:
        compiled, max_new, lm = problem(name)
        _TARGETS[name] = enumerate_target(lm, compiled, PROMPT, max_new_tokens=max_new)
    return _TARGETS[name]


def outputs(samples) -> Counter:
    return Counter(tuple(s.token_ids) for s in samples)


def smoothed_kl(exact, counts: Counter) -> float:
    """KL(Q || empirical), add-1/2 smoothed over Q's support (finite when a rare output is
    missing; the expected value for an exact sampler is about (K - 1) / (2N))."""
    return kl(exact.target, smoothed_empirical(counts, exact.target))


# ---------------------------------------------------------------------- analytic cases


def fair_bits(n: int) -> FunctionLM:
    """Fair bits for n steps, then the stop token with probability 1."""
    def fn(ctx):
        logits = np.full(8, -np.inf)
        if len(ctx) - len(PROMPT) < n:
            logits[[0, 1]] = 0.0
        else:
            logits[STOP] = 0.0
        return logits
    return FunctionLM(8, fn, f"fair bits x{n}")


def test_paper_example_closed_form_and_one_sample_learning():
    compiled = COMPILER.compile_grammar(PROBLEMS["skewed"][0])
    lm = fair_bits(5)
    exact = enumerate_target(lm, compiled, PROMPT, max_new_tokens=6)
    zeros = (0, 0, 0, 0, 0, STOP)
    assert len(exact.target) == 17
    assert exact.Z == pytest.approx(17 / 32, abs=1e-12)
    assert all(q == pytest.approx(1 / 17, abs=1e-12) for q in exact.target.values())
    assert exact.gcd[zeros] == pytest.approx(0.5, abs=1e-12)
    assert kl(exact.target, exact.gcd) == pytest.approx(0.4694, abs=1e-4)

    sampler = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=6, seed=0)
    # Before any sample the sampler is GCD.
    assert kl(exact.gcd, next_draw_distribution(sampler)) == pytest.approx(0, abs=1e-12)
    while tuple(sampler.sample()[0].token_ids) != zeros:
        pass
    # One pass through 00000 teaches c~(0) = 1/16 and c~(root) = Z exactly: exact from here.
    assert sampler.bounds([0])[1] == pytest.approx(1 / 16, abs=1e-12)
    assert sampler.bounds()[1] == pytest.approx(17 / 32, abs=1e-12)
    nd = next_draw_distribution(sampler)
    assert max(abs(nd[w] - exact.target[w]) for w in exact.target) < 1e-12


def test_parity_with_iid_bits_matches_closed_forms():
    def fn(ctx):
        logits = np.full(8, -np.inf)
        if len(ctx) - len(PROMPT) < 6:
            logits[0], logits[1] = math.log(0.3), math.log(0.7)
        else:
            logits[STOP] = 0.0
        return logits

    compiled = COMPILER.compile_grammar(parity_grammar(6))
    exact = enumerate_target(FunctionLM(8, fn, "iid 0.7"), compiled, PROMPT, max_new_tokens=7)
    assert exact.Z == pytest.approx((1 + 0.4 ** 6) / 2, abs=1e-12)
    assert len(exact.target) == 32
    for w, q in exact.target.items():
        k = w[:6].count(1)
        assert q == pytest.approx(0.7 ** k * 0.3 ** (6 - k) / exact.Z, abs=1e-12)
        k5 = w[:5].count(1)  # GCD: the 6th bit is forced by parity
        assert exact.gcd[w] == pytest.approx(0.7 ** k5 * 0.3 ** (5 - k5), abs=1e-12)
    assert kl(exact.target, exact.gcd) == pytest.approx(0.08182, abs=1e-5)


# ---------------------------------------------------------------------- convergence


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_asap_converges_and_gcd_does_not(name):
    compiled, max_new, lm = problem(name)
    exact = target(name)
    sampler = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, seed=7)
    drawn = []
    for checkpoint in (1, 10, 100, N):
        drawn += sampler.sample(checkpoint - len(drawn))
        stats = sampler.stats()
        # The bounds bracket Z, and the certificate bounds the next draw's distance to Q.
        assert stats["Z_lower"] <= exact.Z * (1 + 1e-9)
        assert stats["Z_upper"] >= exact.Z * (1 - 1e-9)
        nd = next_draw_distribution(sampler)
        assert tv(exact.target, nd) <= stats["tv_bound"] + 1e-9
    assert all(w in exact.target for w in outputs(drawn))
    assert smoothed_kl(exact, outputs(drawn)) <= 0.01
    assert kl(exact.target, nd) <= 0.01
    assert stats["lm_calls"] < 200  # one per expanded prefix, not one per token (~10k)
    assert stats["cache_hits"] > 5 * stats["lm_calls"]

    # Negative control: GCD's distribution is the exact GCD one, far from Q.
    assert kl(exact.target, exact.gcd) >= 0.1
    gcd = GCDSampler(MemoLM(lm), None, compiled, PROMPT, max_new_tokens=max_new, seed=7)
    gcd_counts = outputs(gcd.sample(N))
    assert smoothed_kl(exact, gcd_counts) >= 0.1
    assert chi_square_pooled(gcd_counts, exact.target)[2] < 1e-6
    assert chi_square_pooled(gcd_counts, exact.gcd)[2] > 0.01


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_exact_mode_passes_chi_square_at_every_sample_count(name):
    compiled, max_new, lm = problem(name)
    exact = target(name)
    sampler = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, seed=12,
                          mode="exact")
    drawn = sampler.sample(N)
    for n in (50, 200, 500, 1000, N):
        assert chi_square_pooled(outputs(drawn[:n]), exact.target)[2] > 0.01, n
    stats = sampler.stats()
    assert stats["rejections"] > 0  # it did propose outside the grammar, and rejected
    assert kl(exact.target, next_draw_distribution(sampler)) < 1e-9


def test_exact_mode_first_draw_of_fresh_samplers_is_exact():
    compiled, max_new, lm = problem("dyck")
    exact = target("dyck")
    memo = MemoLM(lm)
    first = Counter()
    for seed in range(400):
        sampler = ASApSampler(memo, None, compiled, PROMPT, max_new_tokens=max_new, seed=seed,
                              mode="exact")
        first[tuple(sampler.sample()[0].token_ids)] += 1
    assert chi_square_pooled(first, exact.target)[2] > 0.01
    gcd = GCDSampler(memo, None, compiled, PROMPT, max_new_tokens=max_new, seed=0)
    assert chi_square_pooled(outputs(gcd.sample(400)), exact.target)[2] < 1e-3


@pytest.mark.parametrize("name", ["skewed", "dyck", "tokens"])
def test_importance_weights_estimate_z(name):
    compiled, max_new, lm = problem(name)
    exact = target(name)
    for sampler in (GCDSampler(MemoLM(lm), None, compiled, PROMPT, max_new_tokens=max_new,
                               seed=3),
                    ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, seed=3)):
        samples = sampler.sample(1000)
        stats = sampler.stats()
        assert abs(stats["Z_is"] - exact.Z) <= 4 * stats["Z_is_se"], type(sampler).__name__
        # Self-normalised weights reweight samples to Q: P(first token is "(" or "1" or "a").
        w = np.exp([s.log_weight - samples[0].log_weight for s in samples])
        first = np.array([s.token_ids[0] in (1, 2, 4) for s in samples])
        reweighted = float((w * first).sum() / w.sum())
        truth = sum(q for o, q in exact.target.items() if o[0] in (1, 2, 4))
        assert reweighted == pytest.approx(truth, abs=0.05)


def test_tokenisation_ambiguity_string_law_is_the_marginal():
    compiled, max_new, lm = problem("tokens")
    exact = target("tokens")
    text = lambda w: b"".join(VOCAB[t] for t in w if t != STOP)  # noqa: E731
    strings = marginal(exact.target, text)
    assert set(strings) == {b"ab", b"abab", b"ababab"}
    assert len(exact.target) == 2 + 4 + 8  # every tokenisation is its own output
    sampler = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, seed=5)
    drawn = sampler.sample(N)
    assert {s.text for s in drawn} <= {"ab", "abab", "ababab"}
    emp = Counter(s.text.encode() for s in drawn)
    assert chi_square_pooled(emp, strings)[2] > 0.01


def test_temperature_is_applied_before_conditioning():
    compiled, max_new, lm = problem("dyck")
    tempered = enumerate_target(lm, compiled, PROMPT, max_new_tokens=max_new, temperature=0.5)
    # Tempering the conditioned distribution instead (what a warper after the reweighting
    # does) is a different distribution.
    after = {w: q ** 2 for w, q in target("dyck").target.items()}
    after = {w: v / sum(after.values()) for w, v in after.items()}
    assert kl(tempered.target, after) > 0.5
    sampler = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, seed=2,
                          temperature=0.5, mode="exact")
    counts = outputs(sampler.sample(1000))
    assert chi_square_pooled(counts, tempered.target)[2] > 0.01
    assert chi_square_pooled(counts, after)[2] < 1e-6


# ---------------------------------------------------------------------- dead ends, numerics


def test_dead_ends_become_rare_and_empty_languages_raise():
    compiled, max_new, _ = problem("dyck")
    lm = HashLM(8, seed=4, scale=1.5, stop_token_ids=[STOP], stop_bias=lambda n: -2.0)
    exact = enumerate_target(lm, compiled, PROMPT, max_new_tokens=max_new)
    assert exact.gcd_success < 0.5  # GCD hits a dead end more often than not
    sampler = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, seed=1)
    drawn = sampler.sample(1000)
    restarts = [s.attempts - 1 for s in drawn]
    assert sum(restarts[:250]) > 3 * max(1, sum(restarts[-250:]))
    assert sampler.stats()["dead_ends"] == sum(restarts)

    never_stops = HashLM(8, seed=1, banned=[STOP])
    with pytest.raises(NoGrammaticalCompletion, match="max_new_tokens=9"):
        ASApSampler(never_stops, None, compiled, PROMPT, max_new_tokens=max_new).sample()
    with pytest.raises(NoGrammaticalCompletion):
        GCDSampler(never_stops, None, compiled, PROMPT, max_new_tokens=max_new,
                   max_attempts=20).sample()


def test_tiny_probabilities_stay_finite_in_log_space():
    # The model puts ~all mass on "0"; the grammar forbids it at each of 199 steps. P(output)
    # is about exp(-10,000), far below the smallest float64, and the allowed token's log-prob
    # (-50) is far below float32 softmax underflow (-104 would already be 0).
    def fn(ctx):
        logits = np.full(8, -np.inf)
        logits[0], logits[1], logits[STOP] = 50.0, 0.0, 0.0
        return logits

    steps = 199
    compiled = COMPILER.compile_grammar(f'root ::= "1"{{{steps}}}')
    lm = FunctionLM(8, fn, "argmax forbidden")
    sampler = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=steps + 1, seed=0)
    s = sampler.sample()[0]
    lp_one = -math.log(math.exp(50) + 2)  # log P("1"), also log P(stop)
    assert s.token_ids == [1] * steps + [STOP]
    assert s.logp == pytest.approx((steps + 1) * lp_one, rel=1e-12)
    assert s.logq == pytest.approx(0.0, abs=1e-9)  # GCD's first draw: forced path
    assert sampler.trie.root.logc == pytest.approx(s.logp, rel=1e-12)
    stats = sampler.stats()
    assert stats["Z_upper"] == 0.0 and stats["Z_lower"] == 0.0  # exp underflows, logs do not
    assert all(math.isfinite(n.logc) for n in sampler.trie.walk())


# ---------------------------------------------------------------------- persistence, memory


def test_save_load_round_trip_and_fingerprint(tmp_path):
    compiled, max_new, lm = problem("dyck")
    a = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, seed=3)
    a.sample(300)
    path = tmp_path / "trie.npz"
    a.save(path)
    b = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, seed=99)
    b.load(path)
    before, after = a.trie.to_arrays(), b.trie.to_arrays()
    assert before.keys() == after.keys()
    for k in before:
        assert np.array_equal(before[k], after[k]), k
    assert b.stats() == a.stats()
    # Same random state too: both continue identically.
    assert [s.token_ids for s in a.sample(50)] == [s.token_ids for s in b.sample(50)]

    other_prompt = ASApSampler(lm, None, compiled, [0], max_new_tokens=max_new)
    with pytest.raises(FingerprintMismatchError, match="prompt"):
        other_prompt.load(path)
    hotter = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, temperature=2.0)
    with pytest.raises(FingerprintMismatchError, match="temperature"):
        hotter.load(path)
    other_lm = ASApSampler(HashLM(8, seed=5), None, compiled, PROMPT, max_new_tokens=max_new)
    with pytest.raises(FingerprintMismatchError, match="model"):
        other_lm.load(path)
    other_grammar = ASApSampler(lm, None, problem("parity")[0], PROMPT,
                                max_new_tokens=max_new)
    with pytest.raises(FingerprintMismatchError, match="grammar"):
        other_grammar.load(path)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a trie")
    with pytest.raises(ValueError, match="not a saved ASAp"):
        b.load(junk)


def test_memory_budgets_keep_bounds_valid():
    compiled, max_new, lm = problem("dyck")
    exact = target("dyck")
    small_cache = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, seed=4,
                              cache_bytes=1500)
    drawn = small_cache.sample(1000)
    stats = small_cache.stats()
    assert stats["evictions"] > 0 and stats["cache_bytes"] <= 1500
    assert stats["lm_calls"] > stats["expanded_nodes"]  # evicted prefixes were recomputed
    assert smoothed_kl(exact, outputs(drawn)) <= 0.02
    assert kl(exact.target, next_draw_distribution(small_cache)) <= 0.01

    few_nodes = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, seed=4,
                            max_nodes=12)
    for _ in range(20):
        few_nodes.sample(10)
        stats = few_nodes.stats()
        assert stats["nodes"] <= 12
        assert stats["Z_lower"] <= exact.Z * (1 + 1e-9) <= stats["Z_upper"] * (1 + 2e-9)
        assert tv(exact.target, next_draw_distribution(few_nodes)) <= stats["tv_bound"] + 1e-9
    assert stats["pruned_nodes"] > 0


def test_share_continues_the_same_trie():
    compiled, max_new, lm = problem("skewed")
    a = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, share=True)
    a.sample(20)
    b = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new, share=True)
    assert b.trie is a.trie
    c = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=max_new)
    assert c.trie is not a.trie and c.trie.nodes == 1


# ---------------------------------------------------------------------- properties


@settings(max_examples=12, deadline=None)
@given(
    words=st.sets(st.text(alphabet="01", min_size=1, max_size=4), min_size=1, max_size=8),
    seed=st.integers(0, 2**31),
    mode=st.sampled_from(["asap", "exact"]),
)
def test_bounds_are_sound_and_tighten(words, seed, mode):
    grammar = "root ::= " + " | ".join(f'"{w}"' for w in sorted(words))
    compiled = COMPILER.compile_grammar(grammar)
    lm = HashLM(8, seed=seed, scale=2.0)
    exact = enumerate_target(lm, compiled, PROMPT, max_new_tokens=5)
    sampler = ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=5, seed=seed, mode=mode)
    last_upper = math.inf
    for _ in range(15):
        s = sampler.sample()[0]
        assert s.text in words
        stats = sampler.stats()
        assert stats["Z_lower"] <= exact.Z * (1 + 1e-9)
        assert exact.Z <= stats["Z_upper"] * (1 + 1e-9) <= last_upper * (1 + 1e-9)
        last_upper = stats["Z_upper"]
        for node in sampler.trie.walk():  # invariant (I1) at every expanded node
            if node.expanded and node.cached:
                terms = [node.logU] + [c.edge_lp + c.logc for c in node.children.values()]
                assert node.logc == pytest.approx(float(np.logaddexp.reduce(terms)), abs=1e-12)
        assert tv(exact.target, next_draw_distribution(sampler)) <= stats["tv_bound"] + 1e-9


# ---------------------------------------------------------------------- other frontends


def test_regex_and_json_schema_grammars():
    byte_info = formgate.TokenizerInfo([bytes([b]) for b in range(256)] + [b"</s>"],
                                       stop_token_ids=[256])
    compiler = formgate.GrammarCompiler(byte_info)
    lm = HashLM(257, seed=1, scale=2.0)
    regex = compiler.compile_regex(r"(ab|c)[0-9]")
    sampler = ASApSampler(lm, None, regex, [256], max_new_tokens=4, seed=0)
    assert all(re.fullmatch(r"(ab|c)[0-9]", s.text) for s in sampler.sample(30))
    schema = {"enum": ["red", "green", "blue"]}
    compiled = compiler.compile_json_schema(schema)
    exact = enumerate_target(lm, compiled, [256], max_new_tokens=9)
    assert {json.loads(bytes(w[:-1]).decode()) for w in exact.target} == set(schema["enum"])
    sampler = ASApSampler(lm, None, compiled, [256], max_new_tokens=9, seed=0, mode="exact")
    assert chi_square_pooled(outputs(sampler.sample(300)), exact.target)[2] > 0.01


def test_bad_arguments_raise_clear_errors():
    compiled, _, lm = problem("skewed")
    with pytest.raises(ValueError, match="mode"):
        ASApSampler(lm, None, compiled, PROMPT, mode="greedy")
    with pytest.raises(ValueError, match="temperature"):
        ASApSampler(lm, None, compiled, PROMPT, temperature=0.0)
    with pytest.raises(ValueError, match="temperature"):
        GCDSampler(lm, None, compiled, PROMPT, temperature=float("nan"))
    with pytest.raises(ValueError, match="tokenizer"):
        ASApSampler(lm, None, compiled, "text prompt")
    with pytest.raises(ValueError, match="max_new_tokens"):
        ASApSampler(lm, None, compiled, PROMPT, max_new_tokens=0)
    no_stop = formgate.GrammarCompiler(formgate.TokenizerInfo(VOCAB)).compile_grammar(
        'root ::= "0"')
    with pytest.raises(ValueError, match="stop_token_ids"):
        ASApSampler(lm, None, no_stop, PROMPT)
    with pytest.raises(TypeError, match="LanguageModel"):
        ASApSampler(object(), None, compiled, PROMPT)
