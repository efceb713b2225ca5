#!/usr/bin/env python3
"""Mask time of host-name shapes for ``format: hostname`` / ``email`` (Llama-3 vocabulary).

A format is a regex subset of the RFC (``python/formgate/json_schema/strings.py``); how it is cut
decides how fast its masks are. Each shape below is compiled as the string schema
``{"type": "string", "pattern": "^...$"}`` (the same path a format takes) and forced through
typical host names and e-mail addresses, once character by character and once token by token
(the Llama-3 tokenization of the JSON string). Every mask (``fill_next_token_bitmask``) is timed;
"cold" is the first pass over the inputs (prechecks computed on first use), "warm" a second pass
on the same matcher. Each shape runs in a fresh process with a fresh vocabulary, so no shape
inherits another's caches. Also reported: compile time, first mask, how many of the inputs the
shape rejects, its longest accepted string, and the size of its Python automaton (``Dfa``, which
a format intersected with a ``pattern`` needs; capped at 2,000 states).

Usage (about 1 minute):
    python bench/format_masks.py               # writes bench/results/format_masks.md
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

common.pin_single_thread()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

REPO = common.repo_root()
sys.path.insert(0, str(REPO / "python"))

HOSTS = ["localhost", "example.com", "www.example.com", "stoltenberg.info", "admin.example.com",
         "bastion-host", "ns1.example.com", "a.b.c.example.co.uk", "api.github.com",
         "my-server-01.us-east-1.compute.amazonaws.com", "kubernetes.default.svc.cluster.local",
         "raw.githubusercontent.com", "registry-1.docker.io", "db-primary-replica-03.internal",
         "ec2-54-123-45-67.us-west-2.compute.amazonaws.com"]
EMAILS = ["maiya@stoltenberg.info", "john.doe@example.com", "claire.kiehn@ward.net",
          "user+tag@mail.example.co.uk", "aa@bb.ru", "support@my-company-name.io"]

A, X = "[A-Za-z0-9]", "[A-Za-z0-9-]"
LOCAL = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"


def _nest(labels: list[str]) -> str:
    """labels[0](\\.labels[1](\\.labels[2]...)?)?"""
    out = ""
    for lab in reversed(labels[1:]):
        out = f"(\\.{lab}{out})?"
    return labels[0] + out


def _rfc_label(n: int) -> str:
    """Exactly the RFC 1123 labels of at most n characters without "--" at positions 3-4."""
    return f"{A}({X}{{0,2}}{A}|{X}({A}{X}|-{A}){X}{{0,{n - 5}}}{A})?"


def shapes() -> dict[str, tuple[str, str]]:
    """name -> (host regex, one-line description)."""
    from formgate.json_schema import strings

    label8 = f"{A}{{1,8}}(-{A}{{1,8}}){{0,2}}"
    return {
        "previous": (f"{label8}(\\.{label8}){{0,7}}",
                     "labels of <= 3 hyphen-joined runs of <= 8, <= 8 labels (before this change)"),
        "current": (strings._host(strings._LD),
                    "3 dot-joined blocks of <= 32 letters/digits (strings._host)"),
        "one block": (strings._host(strings._LD, 1),
                      "1 block of <= 32 letters/digits (used next to a pattern)"),
        "exact labels": (_nest([_rfc_label(63)] + [_rfc_label(26)] * 7),
                         "RFC labels counted in characters: first <= 63, 7 more <= 26"),
        "4 labels": (_nest([f"{A}(-?{A}){{0,31}}"] + [f"{A}(-?{A}){{0,30}}"] * 3),
                     "<= 4 labels of <= 32/31 letters/digits (one counter per label)"),
    }


def run_shape(name: str) -> dict:
    """Compile and time one shape (in this process)."""
    import formgate
    from formgate.json_schema.automaton import Dfa
    from formgate.json_schema.errors import LimitError
    from formgate.json_schema import regex as rx
    from transformers import AutoTokenizer

    host, _ = shapes()[name]
    tok = AutoTokenizer.from_pretrained(str(common.shared_dir() / "tokenizers" / "llama3"))
    info = formgate.TokenizerInfo.from_huggingface(tok)
    bitmask = formgate.allocate_token_bitmask(1, info.vocab_size)
    try:
        dfa_states = str(len(Dfa.from_pattern(host, search=False).trans))
    except LimitError:
        dfa_states = "> 2,000"
    out = {"max_len": rx.length_bounds(rx.parse_regex(host))[1], "dfa_states": dfa_states}
    for kind, regex, inputs in (("hostname", host, HOSTS), ("email", f"{LOCAL}@{host}", EMAILS)):
        compiler = formgate.GrammarCompiler(info, max_threads=1, cache_enabled=False)
        gc.disable()
        t0 = time.perf_counter()
        compiled = compiler.compile_json_schema({"type": "string", "pattern": f"^{regex}$"})
        t1 = time.perf_counter()
        m = formgate.GrammarMatcher(compiled)
        m.fill_next_token_bitmask(bitmask)
        t2 = time.perf_counter()
        times: dict[str, list[float]] = {"cold": [], "warm": []}
        rejected = set()
        for phase in ("cold", "warm"):
            for s in inputs:
                text = json.dumps(s)
                for pieces in (list(text), tok.encode(text, add_special_tokens=False)):
                    m.reset()
                    for p in pieces:
                        a = time.perf_counter()
                        m.fill_next_token_bitmask(bitmask)
                        times[phase].append(time.perf_counter() - a)
                        ok = m.accept_string(p) if isinstance(p, str) else m.accept_token(p)
                        if not ok:
                            rejected.add(s)
                            break
        gc.enable()
        row = {"compile_ms": 1e3 * (t1 - t0), "first_ms": 1e3 * (t2 - t1),
               "rejected": sorted(rejected), "inputs": len(inputs)}
        for phase, ts in times.items():
            p = common.percentiles([1e3 * t for t in ts])
            row[phase] = {k: p[k] for k in ("n", "p50", "p99", "max")}
        out[kind] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", help=argparse.SUPPRESS)  # worker mode: one shape, JSON on stdout
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "format_masks.md"))
    args = ap.parse_args()
    if args.shape:
        print(json.dumps(run_shape(args.shape)))
        return
    results = {}
    for name in shapes():
        r = subprocess.run([sys.executable, __file__, "--shape", name], capture_output=True,
                           text=True, check=True)
        results[name] = json.loads(r.stdout.strip().splitlines()[-1])
        print(name, json.dumps(results[name])[:300], flush=True)
    rows = []
    for name, (_, desc) in shapes().items():
        res = results[name]
        for kind in ("hostname", "email"):
            r = res[kind]
            rows.append({
                "shape": name, "input": kind, "compile ms": r["compile_ms"],
                "first mask ms": r["first_ms"], "cold p50": r["cold"]["p50"],
                "cold p99": r["cold"]["p99"], "cold max": r["cold"]["max"],
                "warm p50": r["warm"]["p50"], "warm p99": r["warm"]["p99"],
                "warm max": r["warm"]["max"], "masks": r["cold"]["n"] + r["warm"]["n"],
                "rejected": f"{len(r['rejected'])}/{r['inputs']}",
            })
    cols = list(rows[0])
    shape_rows = [{"shape": n, "description": d, "longest name": results[n]["max_len"],
                   "Dfa states": results[n]["dfa_states"],
                   "inputs rejected": ", ".join(results[n]["hostname"]["rejected"]
                                                + results[n]["email"]["rejected"]) or "none"}
                  for n, (_, d) in shapes().items()]
    setup = (
        "- Tokenizer: `../shared/tokenizers/llama3` (128,256 tokens). One mask = one "
        "`fill_next_token_bitmask`, timed with `perf_counter`, garbage collector off, one thread.\n"
        f"- Host names ({len(HOSTS)}): {', '.join(HOSTS)}.\n"
        f"- E-mail addresses ({len(EMAILS)}): {', '.join(EMAILS)}; the local part is "
        "`atext+(\\.atext+)*` for every shape.\n"
        "- Each input is forced character by character and token by token; a rejected input "
        "stops at the rejection (so a shape that rejects more times fewer masks). Cold = first "
        "pass (prechecks computed on first use), warm = second pass, same matcher. Times in ms, "
        "nearest-rank percentiles.")
    common.write_results(args.out, "Mask time of host-name shapes (format: hostname / email)", [
        ("Setup", setup),
        ("Shapes", common.markdown_table(shape_rows, list(shape_rows[0]))),
        ("Mask times", common.markdown_table(rows, cols)),
    ], packages=("formgate", "transformers"))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
