"""formgate.sampling with a real transformers model: a tiny random-weight Llama built in the
test (no download), through TransformersLM's KV-cached sessions."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import formgate  # noqa: E402
from formgate.sampling import (  # noqa: E402
    ASApSampler,
    GCDSampler,
    MemoLM,
    TransformersLM,
    enumerate_target,
    next_draw_distribution,
)
from formgate.sampling.metrics import chi_square_pooled, kl, smoothed_empirical  # noqa: E402

WORDS = ["0", "1", "(", ")", "a", "b", "ab", "</s>"]
STOP = 7
INFO = formgate.TokenizerInfo([w.encode() for w in WORDS], stop_token_ids=[STOP])
COMPILER = formgate.GrammarCompiler(INFO)
GRAMMARS = {  # name -> (grammar, max_new_tokens)
    "skewed": ('root ::= "00000" | "1" [01]{4}', 6),
    "tokens": ('root ::= "ab"{1,3}', 7),
}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, intermediate_size=32, max_position_embeddings=64,
        bos_token_id=STOP, eos_token_id=STOP, pad_token_id=STOP,
    )
    llama = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():  # random weights give near-uniform conditionals; sharpen them
        llama.lm_head.weight.mul_(20.0)
    return llama


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers

    raw = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="</s>"))
    raw.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="</s>")


def test_kv_cached_session_matches_full_forward(model):
    lm = TransformersLM(model)
    session = lm.session([STOP, 1])
    stepped = session.extend([0])
    stepped = session.extend([6, 4])
    full = lm.session([STOP, 1, 0, 6, 4]).logits
    assert np.abs(stepped - full).max() < 1e-5
    assert lm.calls == 4 and lm.vocab_size == len(WORDS)
    with pytest.raises(ValueError, match="non-empty context"):
        lm.session([])


@pytest.mark.parametrize("name", list(GRAMMARS))
def test_asap_matches_target_with_a_transformers_model(model, tokenizer, name):
    grammar, max_new = GRAMMARS[name]
    compiled = COMPILER.compile_grammar(grammar)
    memo = MemoLM(TransformersLM(model))
    exact = enumerate_target(memo, compiled, "</s>", tokenizer=tokenizer,
                             max_new_tokens=max_new)
    assert kl(exact.target, exact.gcd) >= 0.1  # the random Llama is skewed enough

    lm = TransformersLM(model)  # the sampler's own: KV-cached sessions, no memo
    sampler = ASApSampler(model, tokenizer, compiled, "</s>", max_new_tokens=max_new, seed=0)
    assert sampler.prompt_ids == (STOP,)
    assert sampler.key.model == lm.fingerprint()
    drawn = Counter(tuple(s.token_ids) for s in sampler.sample(2000))
    assert kl(exact.target, smoothed_empirical(drawn, exact.target)) <= 0.01
    assert kl(exact.target, next_draw_distribution(sampler)) <= 0.01
    stats = sampler.stats()
    assert stats["lm_calls"] < 100 and stats["Z_lower"] <= exact.Z * (1 + 1e-6)
    assert exact.Z <= stats["Z_upper"] * (1 + 1e-6)

    gcd = GCDSampler(memo, None, compiled, [STOP], max_new_tokens=max_new, seed=0)
    gcd_drawn = Counter(tuple(s.token_ids) for s in gcd.sample(2000))
    assert kl(exact.target, smoothed_empirical(gcd_drawn, exact.target)) >= 0.1

    exact_mode = ASApSampler(model, None, compiled, [STOP], max_new_tokens=max_new, seed=1,
                             mode="exact")
    counts = Counter(tuple(s.token_ids) for s in exact_mode.sample(500))
    assert chi_square_pooled(counts, exact.target)[2] > 0.01


def test_fingerprint_follows_the_weights(model):
    before = TransformersLM(model).fingerprint()
    other = transformers.LlamaForCausalLM(model.config).eval()
    assert TransformersLM(other).fingerprint() != before
    assert TransformersLM(model).fingerprint() == before
