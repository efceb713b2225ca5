"""``python -m formgate demo``: constrained generation with a real chat model, offline.

Loads SmolLM2-135M-Instruct (see :mod:`formgate.model_cache`), builds the ``TokenizerInfo`` from
its Hugging Face tokenizer and generates, greedily, under three grammars:

(a) a JSON object for a person with fixed keys ``{"name": string, "age": integer,
    "languages": [string, ...]}`` (checked with ``json.loads``),
(b) an arithmetic expression (``grammars/arithmetic.ebnf`` from the repository when present,
    else the embedded copy below; checked by parsing it as a Python expression),
(c) a tool call ``{"tool": "get_weather", "arguments": {"city": string}}``.

For each it prints the prompt, the output, the number of tokens, ms/token with the constraint
and without it (an unconstrained generation of the same length), and the processor's own time
per token (accepting the token, filling the bitmask, applying it). It exits 1 when an output
does not parse.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Strings are full JSON strings (escapes included). They are deliberately unbounded: a counted
# repetition such as char{1,32} would bound them, but it keeps the mask cache from answering
# inside the string and costs tens of ms per token with a 49k vocabulary.
PERSON_GRAMMAR = r"""
root ::= "{" ws "\"name\"" ws ":" ws string ws "," ws "\"age\"" ws ":" ws age ws "," ws
         "\"languages\"" ws ":" ws languages ws "}"
languages ::= "[" ws ( string ( ws "," ws string ){0,2} ws )? "]"
age ::= "0" | [1-9] [0-9]{0,2}
string ::= "\"" char* "\""
char ::= [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
ws ::= [ ]?
"""

TOOL_CALL_GRAMMAR = r"""
root ::= "{" ws "\"tool\"" ws ":" ws "\"get_weather\"" ws "," ws
         "\"arguments\"" ws ":" ws "{" ws "\"city\"" ws ":" ws string ws "}" ws "}"
string ::= "\"" char* "\""
char ::= [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
ws ::= [ ]?
"""

# Copy of grammars/arithmetic.ebnf, used when the package runs outside the repository.
ARITHMETIC_GRAMMAR = r"""
root ::= sp expr sp
expr ::= term ( sp ( "+" | "-" ) sp term )*
term ::= factor ( sp ( "*" | "/" ) sp factor )*
factor ::= "-" sp factor | number | "(" sp expr sp ")"
number ::= [0-9]+ ( "." [0-9]+ )?
sp ::= " "*
"""

def arithmetic_grammar() -> tuple[str, str]:
    """``(text, source)``: the repository's ``grammars/arithmetic.ebnf`` or the embedded copy."""
    path = Path(__file__).resolve().parents[2] / "grammars" / "arithmetic.ebnf"
    if path.is_file():
        return path.read_text(), str(path)
    return ARITHMETIC_GRAMMAR, "embedded copy of grammars/arithmetic.ebnf"


# ---------------------------------------------------------------------- validators


def check_person(text: str) -> str:
    value = json.loads(text)
    if set(value) != {"name", "age", "languages"}:
        raise ValueError(f"unexpected keys {sorted(value)}")
    if not isinstance(value["name"], str) or not isinstance(value["age"], int):
        raise ValueError("name must be a string and age an integer")
    if not all(isinstance(x, str) for x in value["languages"]):
        raise ValueError("languages must be strings")
    return f"json.loads OK: {value!r}"


_ARITH_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub,
)


def check_arithmetic(text: str) -> str:
    tree = ast.parse(text.strip(), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ARITH_NODES):
            raise ValueError(f"not plain arithmetic: {type(node).__name__}")
    try:
        value = eval(compile(tree, "<expr>", "eval"), {"__builtins__": {}}, {})
        shown = f"= {value:g}" if isinstance(value, float) else f"= {value}"
    except ZeroDivisionError:
        shown = "(division by zero)"
    except OverflowError:
        shown = "(overflow)"
    return f"parses as arithmetic {shown}"


def check_tool_call(text: str) -> str:
    value = json.loads(text)
    if value.get("tool") != "get_weather" or set(value) != {"tool", "arguments"}:
        raise ValueError(f"not a get_weather call: {value!r}")
    if set(value["arguments"]) != {"city"} or not isinstance(value["arguments"]["city"], str):
        raise ValueError(f"bad arguments: {value['arguments']!r}")
    return f"json.loads OK: get_weather(city={value['arguments']['city']!r})"


@dataclass
class Task:
    key: str
    title: str
    prompt: str
    grammar: str
    grammar_source: str
    check: Callable[[str], str]


def tasks() -> list[Task]:
    arith, arith_source = arithmetic_grammar()
    return [
        Task(
            "a", "JSON object: person", "Give me a JSON object describing Linus Torvalds: his "
            "name, his age, and the programming languages he knows.",
            PERSON_GRAMMAR, "demo.PERSON_GRAMMAR", check_person,
        ),
        Task(
            "b", "arithmetic expression", "What is 12 times 7 minus 5? Answer with the "
            "arithmetic expression only.",
            arith, arith_source, check_arithmetic,
        ),
        Task(
            "c", "tool call", "What is the weather like in Paris right now? Call the "
            "get_weather tool.", TOOL_CALL_GRAMMAR, "demo.TOOL_CALL_GRAMMAR", check_tool_call,
        ),
    ]


# ---------------------------------------------------------------------- timing


class _StepClock:
    """A no-op logits processor that records when each step's logits arrive."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        self.times.append(time.perf_counter())
        return scores


def _latencies_ms(start: float, clock: _StepClock) -> tuple[float, list[float]]:
    """``(first, steps)``: time to the first token's logits (prefill), then the time between
    consecutive tokens' logits (one decode step: forward pass, processors, sampling)."""
    if not clock.times:
        return 0.0, []
    marks = clock.times
    return 1e3 * (marks[0] - start), [1e3 * (b - a) for a, b in itertools.pairwise(marks)]


def _run(model: Any, inputs: Any, processors: list[Any], n: int, forced: bool, pad: int | None,
         eos: list[int]) -> tuple[Any, float, tuple[float, list[float]]]:
    import torch
    import transformers

    clock = _StepClock()
    kwargs: dict[str, Any] = {"max_new_tokens": n, "do_sample": False, "pad_token_id": pad}
    if forced:  # unconstrained baseline: exactly n tokens
        kwargs.update(min_new_tokens=n)
    else:
        kwargs.update(eos_token_id=eos)
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            logits_processor=transformers.LogitsProcessorList([*processors, clock]),
            **kwargs,
        )
    end = time.perf_counter()
    return out, end - start, _latencies_ms(start, clock)


def _fmt_ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (f"mean {statistics.fmean(values):.1f}, median {statistics.median(values):.1f}, "
            f"max {max(values):.1f} ms")


# ---------------------------------------------------------------------- main


def run_demo(max_new_tokens: int = 48, baseline: bool = True, rebuild_cache: bool = False,
             show_tokens: bool = False, threads: int | None = None,
             model_and_tokenizer: tuple[Any, Any] | None = None) -> int:
    """Run the demo and return the exit status (0: every output parsed).

    ``model_and_tokenizer`` skips loading (tests pass the one they already hold)."""
    t_start = time.perf_counter()
    from formgate.model_cache import ModelUnavailableError, load_smollm2, set_offline

    set_offline()  # before transformers is imported: nothing may come from a model hub
    try:
        import torch
    except ImportError:
        print("formgate demo: needs torch and transformers: pip install torch "
              "\".[demo]\"", file=sys.stderr)
        return 2
    import formgate
    import formgate.hf as fhf

    busy = ""
    if threads is None and torch.get_num_threads() > 1 and hasattr(os, "getloadavg"):
        # Several torch threads on a CPU that other processes keep busy wait on each other
        # (OpenMP), and each token gets several times slower; one thread degrades gracefully.
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
        if load > cores - 0.5:
            threads = 1
            busy = f" (machine busy: load {load:.1f} on {cores} cores; --threads N overrides)"
    if threads:
        torch.set_num_threads(threads)
    print("formgate demo: SmolLM2-135M-Instruct, CPU, greedy decoding, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads{busy}")
    t0 = time.perf_counter()
    try:
        if model_and_tokenizer is not None:
            model, tokenizer = model_and_tokenizer
        else:
            model, tokenizer = load_smollm2(rebuild=rebuild_cache)
    except ModelUnavailableError as err:
        print(f"formgate demo: {err}", file=sys.stderr)
        return 2
    t_model = time.perf_counter() - t0

    t0 = time.perf_counter()
    info = fhf.tokenizer_info(model, tokenizer)
    t_info = time.perf_counter() - t0
    stop_names = [tokenizer.convert_ids_to_tokens(i) for i in info.stop_token_ids]
    print(f"model loaded in {t_model:.1f} s; TokenizerInfo in {1e3 * t_info:.0f} ms "
          f"(vocab {info.vocab_size}, {info.vocab_type}, logits width "
          f"{fhf.model_vocab_size(model)}, stop tokens {stop_names})")

    compiler = formgate.GrammarCompiler(info)
    pad = fhf._pad_id(model, tokenizer)
    config_eos = model.generation_config.eos_token_id
    eos = sorted(set([config_eos] if isinstance(config_eos, int) else list(config_eos or []))
                 | set(info.stop_token_ids))

    # Warm-up: the first generate call pays one-time costs that would skew the timings.
    warm = tokenizer("Hello", return_tensors="pt")
    _run(model, warm, [], 4, True, pad, eos)

    failures = 0
    rows = []
    for task in tasks():
        print()
        print(f"== ({task.key}) {task.title} " + "=" * max(0, 60 - len(task.title)))
        t0 = time.perf_counter()
        compiled = compiler.compile_grammar(task.grammar)
        t_compile = time.perf_counter() - t0
        processor = fhf.LogitsProcessor(compiled)
        text = fhf.build_prompt(tokenizer, task.prompt)
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        prompt_len = inputs["input_ids"].shape[1]
        print(f"prompt:   {task.prompt}")
        print(f"          (ChatML chat template, {prompt_len} tokens; grammar "
              f"{task.grammar_source}, compiled in {1e3 * t_compile:.1f} ms)")

        out, seconds, (first_ms, step_ms) = _run(model, inputs, [processor], max_new_tokens,
                                                 False, pad, eos)
        ids = out[0, prompt_len:].tolist()
        stops = set(info.stop_token_ids)
        end = next((k for k, t in enumerate(ids) if t in stops), None)
        ids = ids if end is None else ids[: end + 1]
        output = fhf.decode_tokens(info, ids)
        n = len(ids)
        stats = processor.stats
        print(f"output:   {output}")
        try:
            verdict = task.check(output)
            ok = True
        except (ValueError, SyntaxError) as err:
            verdict = f"FAILED to parse: {err}"
            ok = False
            failures += 1
        ended = "stop token" if end is not None else f"max_new_tokens={max_new_tokens} reached"
        print(f"check:    {verdict}")
        c_ms = 1e3 * seconds / max(1, n)
        mask_ms = 1e3 * stats.total_s / max(1, stats.calls)
        print(f"tokens:   {n} (ended by {ended})")
        line = f"speed:    constrained {c_ms:.1f} ms/token"
        u_ms = None
        u_steps: list[float] = []
        if baseline:
            _, u_seconds, (_, u_steps) = _run(model, inputs, [], n, True, pad, eos)
            u_ms = 1e3 * u_seconds / max(1, n)
            diff = c_ms - u_ms
            line += (f", unconstrained {u_ms:.1f} ms/token (same length, same prompt): "
                     f"overhead {diff:+.1f} ms/token")
        print(line + " [wall time of generate / tokens]")
        calls = max(1, stats.calls)
        print(f"mask:     {mask_ms:.3f} ms/token in the processor (accept "
              f"{1e3 * stats.accept_s / calls:.3f} + fill {1e3 * stats.fill_s / calls:.3f} + "
              f"apply {1e3 * stats.apply_s / calls:.3f}); "
              f"max {1e3 * max(stats.step_s or [0]):.3f} ms")
        print(f"latency:  first token {first_ms:.1f} ms (prefill); then per token "
              f"{_fmt_ms(step_ms)}")
        if baseline and u_steps:
            print(f"          unconstrained per token {_fmt_ms(u_steps)}")
        if show_tokens:
            vocab = fhf._decoded_vocab(info)
            for k, t in enumerate(ids):
                mask = 1e3 * stats.step_s[k] if k < len(stats.step_s) else float("nan")
                lat = first_ms if k == 0 else (step_ms + [float("nan")] * n)[k - 1]
                piece = vocab[t].decode("utf-8", "replace") if vocab[t] else f"<{t}>"
                print(f"   {k:3d} {t:6d} {piece!r:>16}  {lat:7.1f} ms  mask {mask:.3f} ms")
        rows.append((task.key, task.title, n, c_ms, u_ms, mask_ms, ok))

    print()
    print("summary:  task                       tokens  constrained  unconstrained  mask/token  ok")
    for key, title, n, c_ms, u_ms, mask_ms, ok in rows:
        u = f"{u_ms:8.1f} ms" if u_ms is not None else "       n/a"
        print(f"          ({key}) {title:<22} {n:6d}  {c_ms:8.1f} ms  {u}    "
              f"{mask_ms:6.3f} ms  {'yes' if ok else 'NO'}")
    if busy:
        print("note:     other processes keep this machine busy, so the timings are noisy")
    print(f"total {time.perf_counter() - t_start:.1f} s; "
          f"{'all outputs parsed' if not failures else f'{failures} output(s) failed to parse'}")
    return 1 if failures else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-new-tokens", type=int, default=48, metavar="N",
                        help="token budget per generation (default 48)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the unconstrained runs used to measure the overhead")
    parser.add_argument("--rebuild-cache", action="store_true",
                        help="convert the GGUF again and rewrite the safetensors cache")
    parser.add_argument("--tokens", action="store_true",
                        help="print every generated token with its latency and mask time")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch CPU threads (default: torch's choice, or 1 when the "
                        "machine is already busy)")


def main(args: argparse.Namespace) -> int:
    return run_demo(
        max_new_tokens=args.max_new_tokens,
        baseline=not args.no_baseline,
        rebuild_cache=args.rebuild_cache,
        show_tokens=args.tokens,
        threads=args.threads,
    )
