#!/usr/bin/env python3
"""MaskBench: JSON-Schema coverage, correctness and mask speed of formgate, XGrammar, LLGuidance
and Outlines (outlines-core), same run, same Llama-3 vocabulary, one thread per engine.

Input: a folder of ``*.json`` files, each ``{"schema": ..., "tests": [{"data": ..., "valid":
bool, ...}, ...]}`` (default ``../shared/maskbench``, 6,691 schemas).

Per engine, one worker process (single-threaded; spawned, so a segfault or a hang of one engine
costs one schema, not the run). Per schema, inside the worker:

1. compile for the Llama-3 vocabulary (each engine's JSON-schema entry point; formgate:
   ``GrammarCompiler.compile_json_schema`` with its defaults), create a matcher and fill the
   first mask. TTFM = that whole time. An exception is an "unsupported" schema; going over
   ``--timeout`` a "timeout" (the worker is killed and restarted); a dead worker a "crash".
2. every test instance, serialized compactly (``json.dumps(x, separators=(",", ":"),
   ensure_ascii=False)``) and tokenized with the HF tokenizer (``add_special_tokens=False``), is
   forced token by token: fill the mask (timed with ``perf_counter_ns``, garbage collector off),
   check the token's bit, accept it; at the end fill once more and check the stop token's bit.
   A valid instance must get through ("valid rejected" otherwise); an invalid one must be stopped
   by some mask or by the final one ("invalid accepted" otherwise -- the error that matters).
   TBM (time between masks) counts the masks of valid instances only.
3. a schema *passes* when it compiles and every instance is judged right.

Speed percentiles (nearest rank) are given over the schemas every engine of the run passes, and
separately over each engine's own passes. Memory: RSS of the worker (baseline after tokenizer
setup, peak over the run, growth per compile) and bytes per compiled grammar where the engine
reports it (formgate and xgrammar: ``CompiledGrammar.memory_size_bytes``). The floor is a
plain memset of the bitmask (4,008 int32 words for 128,256 tokens), timed the same way.

Usage (one command for the committed results; ~1 h on a shared 2-core box):
    python bench/maskbench.py --sample 400 --seed 0
    python bench/maskbench.py --engines formgate --limit 50 --timeout 20
    python bench/maskbench.py --engines formgate --sample 400 --resume   # rerun one engine
    python bench/maskbench.py --report-only                           # re-render from records
    python bench/maskbench.py --dir path/to/folder/of/same/format

Writes ``--out`` (bench/results/maskbench.md), the CDF plot next to it (``.png``, needs
matplotlib) and a per-schema ``.csv``; raw records go to ``--records`` (one JSONL per engine).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

common.pin_single_thread()

import argparse  # noqa: E402
import collections  # noqa: E402
import csv  # noqa: E402
import gc  # noqa: E402
import glob  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = common.repo_root()
sys.path.insert(0, str(REPO / "python"))

ENGINES = ("formgate", "xgrammar", "llguidance", "outlines")
PCTS = ("p50", "p90", "p99", "p99.9", "max")
SLOW_PER_SCHEMA = 5  # slowest masks kept per schema record (for the global top-20 list)


# ---------------------------------------------------------------------------------------------
# engines (constructed inside a worker process)


class Engine:
    """One engine's JSON-schema path. ``compile`` builds what a matcher needs; ``start`` makes
    (first call) or resets (later calls) the matcher; ``fill`` writes the next mask into
    ``self.bitmask`` (row view ``self.row``)."""

    compiled_bytes_note = ""

    def __init__(self, tok, stop_ids: list[int], special_ids: list[int]):
        self.tok = tok
        self.stop_ids = stop_ids
        self.special_ids = special_ids
        self.vocab_size = len(tok)
        self.m = None

    def bit(self, t: int) -> bool:
        return bool((int(self.row[t >> 5]) >> (t & 31)) & 1)

    def compiled_bytes(self):
        return None

    def version(self) -> str:
        return ""


class Formgate(Engine):
    def setup(self):
        import formgate

        self.fg = formgate
        self.info = formgate.TokenizerInfo.from_huggingface(
            self.tok, vocab_size=self.vocab_size, stop_token_ids=self.stop_ids)
        # cache off: every schema is compiled from scratch, like the other engines
        self.compiler = formgate.GrammarCompiler(self.info, max_threads=1, cache_enabled=False)
        self.bitmask = formgate.allocate_token_bitmask(1, self.info.vocab_size)
        self.row = self.bitmask[0].numpy()

    def compile(self, schema):
        self.compiled = self.compiler.compile_json_schema(schema)
        self.m = None

    def start(self):
        if self.m is None:
            self.m = self.fg.GrammarMatcher(self.compiled)
            self.fill = lambda: self.m.fill_next_token_bitmask(self.bitmask)
        else:
            self.m.reset()

    def accept(self, t):
        return self.m.accept_token(t)

    def compiled_bytes(self):
        return int(self.compiled.memory_size_bytes)


class XGrammar(Engine):
    def setup(self):
        import xgrammar as xgr

        self.xgr = xgr
        info = xgr.TokenizerInfo.from_huggingface(self.tok, vocab_size=self.vocab_size,
                                                  stop_token_ids=self.stop_ids)
        if not info.special_token_ids and self.special_ids:
            # xgrammar recognises special tokens only as empty strings; this tokenizer keeps
            # "<|reserved_special_token_0|>" etc. as text, which it would allow inside strings.
            vocab = list(info.decoded_vocab)
            for i in self.special_ids:
                if i < len(vocab):
                    vocab[i] = b""
            info = xgr.TokenizerInfo(vocab, xgr.VocabType.RAW, vocab_size=self.vocab_size,
                                     stop_token_ids=self.stop_ids, add_prefix_space=False)
        self.compiler = xgr.GrammarCompiler(info, max_threads=1, cache_enabled=False)
        self.bitmask = xgr.allocate_token_bitmask(1, info.vocab_size)
        self.row = self.bitmask[0].numpy()

    def compile(self, schema):
        # strict_mode=False: additionalProperties defaults to true, as the spec (and the other
        # engines) say; any_whitespace=True is xgrammar's default
        self.compiled = self.compiler.compile_json_schema(json.dumps(schema), strict_mode=False)
        self.m = None

    def start(self):
        if self.m is None:
            self.m = self.xgr.GrammarMatcher(self.compiled)
            self.fill = lambda: self.m.fill_next_token_bitmask(self.bitmask)
        else:
            self.m.reset()

    def accept(self, t):
        return self.m.accept_token(t)

    def compiled_bytes(self):
        return int(self.compiled.memory_size_bytes)


class LLGuidance(Engine):
    def setup(self):
        import llguidance
        import llguidance.hf
        import llguidance.torch

        self.llg = llguidance
        self.lltok = llguidance.hf.from_tokenizer(self.tok, n_vocab=self.vocab_size,
                                                  eos_token=self.stop_ids)
        self.bitmask = llguidance.torch.allocate_token_bitmask(1, self.lltok.vocab_size)
        self.row = self.bitmask[0].numpy()

    def compile(self, schema):
        # llguidance has no compiled-grammar object: the matcher constructor compiles (its
        # lexer states are then built lazily while masking)
        self.grammar = self.llg.LLMatcher.grammar_from_json_schema(json.dumps(schema))
        m = self.llg.LLMatcher(self.lltok, self.grammar, log_level=0)
        if m.is_error():
            raise ValueError(m.get_error())
        self.m = m
        self.fresh = True

    def start(self):
        if not self.fresh:
            self.m.reset()
        self.fresh = False
        ptr, n = self.bitmask.data_ptr(), self.row.nbytes
        # what llguidance.torch.fill_next_token_bitmask calls, minus its Python asserts
        self.fill = lambda: self.m.unsafe_compute_mask_ptr(ptr, n)

    def accept(self, t):
        return self.m.consume_token(t) and not self.m.is_error()


class Outlines(Engine):
    def setup(self):
        import outlines_core
        import torch
        from outlines_core.json_schema import build_regex_from_schema

        import formgate

        self.oc = outlines_core
        self.build = build_regex_from_schema
        # formgate's byte decoding of the vocabulary (the same bytes every engine sees)
        info = formgate.TokenizerInfo.from_huggingface(self.tok, vocab_size=self.vocab_size,
                                                       stop_token_ids=self.stop_ids)
        skip = set(self.stop_ids) | set(self.special_ids)
        vmap: dict = {}
        for i, b in enumerate(info.decoded_vocab):
            if i in skip or not b:
                continue
            vmap.setdefault(bytes(b), []).append(i)
        self.eos = self.stop_ids[0]
        self.vocab = outlines_core.Vocabulary(self.eos, vmap)
        self.bitmask = torch.zeros((1, (self.vocab_size + 31) // 32), dtype=torch.int32)
        self.row = self.bitmask[0].numpy()

    def compile(self, schema):
        self.index = self.oc.Index(self.build(json.dumps(schema)), self.vocab)
        self.m = None

    def start(self):
        if self.m is None:
            self.m = self.oc.Guide(self.index)
            ptr, n = self.bitmask.data_ptr(), self.bitmask.numel()
            self.fill = lambda: self.m.write_mask_into(ptr, n, 4)
        else:
            self.m.reset()

    def accept(self, t):
        try:
            self.m.advance(t, return_tokens=False)
            return True
        except Exception:
            return False


ENGINE_CLASSES = {"formgate": Formgate, "xgrammar": XGrammar, "llguidance": LLGuidance,
                  "outlines": Outlines}
DIST = {"formgate": "formgate", "xgrammar": "xgrammar", "llguidance": "llguidance",
        "outlines": "outlines-core"}


# ---------------------------------------------------------------------------------------------
# worker


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    stop = [eot] if isinstance(eot, int) and eot >= 0 and eot != tok.unk_token_id else []
    if tok.eos_token_id is not None and tok.eos_token_id not in stop:
        stop.append(tok.eos_token_id)
    dec = getattr(tok, "added_tokens_decoder", {}) or {}
    special = sorted(i for i, t in dec.items() if getattr(t, "special", False))
    return tok, stop, special


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def instance_text(data) -> str | None:
    try:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")  # lone surrogates cannot be tokenized
    except (ValueError, UnicodeEncodeError):
        return None
    return text


def run_schema(engine: Engine, tok, path: str, conn) -> dict:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    rec = {"file": os.path.basename(path), "status": "ok", "error": None}
    pc = time.perf_counter_ns
    rss0 = rss_kib()
    t0 = pc()
    try:
        engine.compile(data["schema"])
        t1 = pc()
        engine.start()
        engine.fill()
        t2 = pc()
    except Exception as e:  # unsupported schema (or an engine bug): recorded, not fatal
        rec["status"] = "unsupported"
        rec["error"] = f"{type(e).__name__}: {str(e)[:400]}"
        return rec
    rec.update(compile_ms=(t1 - t0) / 1e6, ttfm_ms=(t2 - t0) / 1e6,
               rss_growth_kib=rss_kib() - rss0, compiled_bytes=engine.compiled_bytes())
    conn.send(("compiled", None))  # the parent now attributes a timeout to the masks
    eos = engine.stop_ids[0]
    tbm: list[float] = []
    slow: list[tuple[float, int, int]] = []  # (µs, test index, token position)
    counts = dict(valid=0, invalid=0, valid_rejected=0, invalid_accepted=0, skipped=0,
                  mask_accept_disagree=0)
    valid_rejected, invalid_accepted = [], []
    gc.disable()
    try:
        for i, test in enumerate(data.get("tests", [])):
            text = instance_text(test["data"])
            if text is None:
                counts["skipped"] += 1
                continue
            ids = tok.encode(text, add_special_tokens=False)
            valid = bool(test["valid"])
            counts["valid" if valid else "invalid"] += 1
            engine.start()
            fill, bit, accept = engine.fill, engine.bit, engine.accept
            times = []
            ok, where = True, len(ids)
            for k, t in enumerate(ids):
                a = pc()
                fill()
                times.append(pc() - a)
                if not bit(t):
                    ok, where = False, k
                    break
                if not accept(t):
                    counts["mask_accept_disagree"] += 1
                    ok, where = False, k
                    break
            if ok:
                a = pc()
                fill()
                times.append(pc() - a)
                ok = bit(eos)
            if valid:
                us = [x / 1e3 for x in times]
                tbm.extend(us)
                slow.extend((u, i, k) for k, u in enumerate(us))
                slow = sorted(slow, reverse=True)[:SLOW_PER_SCHEMA]
                if not ok:
                    counts["valid_rejected"] += 1
                    valid_rejected.append({"test": i, "at_token": where, "of": len(ids)})
            elif ok:
                counts["invalid_accepted"] += 1
                invalid_accepted.append({"test": i, "text": text[:200]})
    finally:
        gc.enable()
    rec.update(counts)
    rec["valid_rejected_list"] = valid_rejected[:5]
    rec["invalid_accepted_list"] = invalid_accepted[:5]
    rec["tbm_us"] = [round(x, 3) for x in tbm]
    rec["slow_masks"] = [{"us": round(u, 1), "test": i, "pos": k} for u, i, k in slow]
    rec["peak_rss_kib"] = peak_rss_kib()
    return rec


def worker_main(conn, engine_name: str, tok_path: str):
    tok, stop, special = load_tokenizer(tok_path)
    engine = ENGINE_CLASSES[engine_name](tok, stop, special)
    try:
        engine.setup()
    except Exception as e:
        conn.send(("setup_error", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", {"baseline_rss_kib": rss_kib(), "stop_ids": stop,
                         "special": len(special)}))
    while True:
        msg = conn.recv()
        if msg is None:
            return
        try:
            rec = run_schema(engine, tok, msg, conn)
        except Exception:
            rec = {"file": os.path.basename(msg), "status": "crash",
                   "error": "worker exception: " + traceback.format_exc()[-600:]}
        conn.send(("done", rec))


class Worker:
    """A spawned worker process for one engine; restarted after a timeout or a crash."""

    def __init__(self, engine: str, tok_path: str):
        self.engine, self.tok_path = engine, tok_path
        self.start()

    def start(self):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker_main, args=(child, self.engine, self.tok_path),
                                daemon=True)
        self.proc.start()
        child.close()
        kind, payload = self.conn.recv()  # tokenizer setup: not counted against a schema
        if kind != "ready":
            raise RuntimeError(f"{self.engine}: {payload}")
        self.info = payload

    def kill(self):
        self.proc.kill()
        self.proc.join()

    def stop(self):
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.kill()

    def run(self, path: str, timeout: float) -> dict:
        name = os.path.basename(path)
        self.conn.send(path)
        deadline = time.monotonic() + timeout
        phase = "compile"
        while True:
            left = deadline - time.monotonic()
            try:
                if not self.conn.poll(max(left, 0)):
                    self.kill()
                    self.start()
                    return {"file": name, "status": "timeout", "phase": phase,
                            "error": f"over {timeout:g} s ({phase})"}
                kind, payload = self.conn.recv()
            except (EOFError, OSError):
                code = self.proc.exitcode
                self.kill()
                self.start()
                return {"file": name, "status": "crash", "phase": phase,
                        "error": f"worker died in {phase} (exit code {code})"}
            if kind == "compiled":
                phase = "masks"
                continue
            return payload


def run_engine(engine: str, files: list[str], args, sink: Path) -> None:
    done = set()
    if args.resume and sink.exists():
        for line in sink.read_text(encoding="utf-8").splitlines():
            done.add(json.loads(line)["file"])
    elif sink.exists():
        sink.unlink()
    todo = [f for f in files if os.path.basename(f) not in done]
    # shuffled, so that the schemas done when a long run is stopped are a random subset
    random.Random(args.seed).shuffle(todo)
    print(f"{engine}: {len(todo)} schemas to run ({len(done)} already recorded)", flush=True)
    if not todo:
        return
    t_start = time.monotonic()
    w = Worker(engine, args.tokenizer)
    meta = {"engine": engine, "baseline_rss_kib": w.info["baseline_rss_kib"]}
    with open(sink, "a", encoding="utf-8") as out:
        for n, path in enumerate(todo, 1):
            rec = w.run(path, args.timeout)
            rec["engine"] = engine
            rec["baseline_rss_kib"] = meta["baseline_rss_kib"]
            out.write(json.dumps(rec) + "\n")
            out.flush()
            if rec["status"] in ("timeout", "crash"):
                print(f"  {engine}: {rec['status']} on {rec['file']} ({rec['error']})",
                      flush=True)
            if n % 25 == 0 or n == len(todo):
                print(f"  {engine}: {n}/{len(todo)} ({time.monotonic() - t_start:.0f} s)",
                      flush=True)
    w.stop()


# ---------------------------------------------------------------------------------------------
# floor: a plain memset of the bitmask, timed like a mask fill


def memset_floor(vocab_size: int, reps: int = 20000) -> dict:
    import ctypes

    import numpy as np

    words = (vocab_size + 31) // 32
    buf = np.full(words, -1, dtype=np.int32)
    ptr, n = buf.ctypes.data, buf.nbytes
    memset = ctypes.memset
    pc = time.perf_counter_ns
    for _ in range(1000):
        memset(ptr, 0, n)
    ts, empty = [], []
    gc.disable()
    try:
        for _ in range(reps):
            a = pc()
            memset(ptr, 0, n)
            ts.append((pc() - a) / 1e3)
        for _ in range(reps):
            a = pc()
            empty.append((pc() - a) / 1e3)
        a = pc()
        for _ in range(reps):
            memset(ptr, 0, n)
        loop = (pc() - a) / 1e3 / reps
    finally:
        gc.enable()
    return {"bytes": n, "timed": common.percentiles(ts), "timer": common.percentiles(empty),
            "loop_us": loop}


# ---------------------------------------------------------------------------------------------
# report


def load_records(rdir: Path, engines: list[str], files: list[str]) -> dict[str, dict]:
    want = {os.path.basename(f) for f in files}
    out: dict[str, dict] = {}
    for e in engines:
        p = rdir / f"{e}.jsonl"
        recs = {}
        if p.exists():
            for line in p.read_text(encoding="utf-8").splitlines():
                r = json.loads(line)
                if r["file"] in want:
                    recs[r["file"]] = r
        out[e] = recs
    return out


def passes(r: dict) -> bool:
    return r.get("status") == "ok" and not r.get("valid_rejected") and \
        not r.get("invalid_accepted")


def pct_cells(values: list[float], digits: int = 1) -> dict:
    p = common.percentiles(values)
    if not values:
        return {k: "—" for k in PCTS}
    return {k: common.fmt_num(p[k], digits) for k in PCTS}


def fmt(x, digits=1):
    return "—" if x is None else common.fmt_num(x, digits)


def correctness_table(recs: dict[str, dict], names: list[str]) -> str:
    rows = []
    for e, rs in recs.items():
        r = [rs[n] for n in names if n in rs]
        st = collections.Counter(x["status"] for x in r)
        ok = [x for x in r if x["status"] == "ok"]
        to = [x for x in r if x["status"] == "timeout"]
        rows.append({
            "engine": e, "schemas": len(r), "compiled": st["ok"],
            "unsupported": st["unsupported"],
            "timeouts (compile/masks)": f"{sum(x.get('phase') == 'compile' for x in to)} / "
                                        f"{sum(x.get('phase') == 'masks' for x in to)}",
            "crashes": st["crash"], "passing": sum(passes(x) for x in r),
            "valid accepted": f"{sum(x['valid'] - x['valid_rejected'] for x in ok):,} / "
                              f"{sum(x['valid'] for x in ok):,}",
            "schemas w/ valid rejected": sum(1 for x in ok if x["valid_rejected"]),
            "invalid accepted": f"{sum(x['invalid_accepted'] for x in ok):,} / "
                                f"{sum(x['invalid'] for x in ok):,}",
            "schemas w/ invalid accepted": sum(1 for x in ok if x["invalid_accepted"]),
        })
    cols = ["engine", ("schemas", "schemas", "r"), ("compiled", "compiled", "r"),
            ("unsupported", "unsupported", "r"), ("timeouts (compile / masks)",
                                                  "timeouts (compile/masks)", "r"),
            ("crashes", "crashes", "r"), ("**passing**", "passing", "r"),
            ("valid accepted / valid", "valid accepted", "r"),
            ("schemas w/ valid rejected", "schemas w/ valid rejected", "r"),
            ("**invalid accepted** / invalid", "invalid accepted", "r"),
            ("schemas w/ invalid accepted", "schemas w/ invalid accepted", "r")]
    return common.markdown_table(rows, cols)


def speed_table(recs: dict[str, dict], subset: dict[str, list[str]], floor_us: float) -> str:
    rows = []
    for e, rs in recs.items():
        r = [rs[n] for n in subset[e]]
        tbm = [x for q in r for x in q.get("tbm_us", [])]
        ttfm = [q["ttfm_ms"] for q in r]
        row = {"engine": e, "schemas": len(r), "masks": len(tbm)}
        for k, v in pct_cells(ttfm, 2).items():
            row["TTFM " + k] = v
        for k, v in pct_cells(tbm, 1).items():
            row["TBM " + k] = v
        p50 = common.percentiles(tbm)["p50"] if tbm else None
        row["TBM p50 / memset"] = "—" if p50 is None else f"{p50 / floor_us:.1f}×"
        rows.append(row)
    cols = ["engine", ("schemas", "schemas", "r"), ("masks", "masks", "r")]
    cols += [(f"TTFM {k} ms", f"TTFM {k}", "r") for k in PCTS]
    cols += [(f"TBM {k} µs", f"TBM {k}", "r") for k in PCTS]
    cols += [("TBM p50 / memset", "TBM p50 / memset", "r")]
    return common.markdown_table(rows, cols)


def memory_table(recs: dict[str, dict], names: list[str]) -> str:
    rows = []
    for e, rs in recs.items():
        r = [rs[n] for n in names if n in rs and rs[n]["status"] == "ok"]
        cb = [x["compiled_bytes"] for x in r if x.get("compiled_bytes") is not None]
        growth = [max(x.get("rss_growth_kib", 0), 0) / 1024 for x in r]
        base = [x.get("baseline_rss_kib", 0) for x in rs.values()]
        peak = [x.get("peak_rss_kib", 0) for x in rs.values()]
        pcb = common.percentiles(cb) if cb else None
        pg = common.percentiles(growth) if growth else None
        rows.append({
            "engine": e,
            "baseline RSS MiB": fmt(max(base) / 1024 if base else None, 0),
            "peak RSS MiB": fmt(max(peak) / 1024 if peak else None, 0),
            "RSS growth / compile p50 MiB": fmt(pg and pg["p50"], 2),
            "max MiB": fmt(pg and pg["max"], 1),
            "compiled KiB p50": fmt(pcb and pcb["p50"] / 1024, 0),
            "p90": fmt(pcb and pcb["p90"] / 1024, 0),
            "max": fmt(pcb and pcb["max"] / 1024, 0),
        })
    cols = ["engine"] + [(k, k, "r") for k in rows[0] if k != "engine"] if rows else []
    return common.markdown_table(rows, cols)


def _norm_error(msg: str) -> str:
    msg = re.sub(r"at (/[^\s()'\"]*|/)", "at <ptr>", msg or "")
    msg = re.sub(r"'[^']{25,}'", "'…'", msg)
    msg = re.sub(r"\d[\d,]*", "N", msg)
    return msg[:150]


def error_table(recs: dict[str, dict], names: list[str], engine: str, top: int) -> str:
    rs = recs[engine]
    errs = collections.Counter(_norm_error(rs[n]["error"]) for n in names
                               if n in rs and rs[n]["status"] == "unsupported")
    rows = [{"n": c, "error (normalised)": m.replace("|", "\\|")}
            for m, c in errs.most_common(top)]
    return common.markdown_table(rows, [("schemas", "n", "r"), "error (normalised)"]) \
        if rows else "(none)"


def slowest(recs: dict[str, dict], names: list[str], engine: str, n: int) -> tuple[str, str]:
    rs = [recs[engine][k] for k in names if k in recs[engine] and
          recs[engine][k]["status"] == "ok"]
    masks = sorted(((m["us"], r["file"], m["test"], m["pos"], passes(r))
                    for r in rs for m in r.get("slow_masks", [])), reverse=True)[:n]
    t1 = common.markdown_table(
        [{"us": common.fmt_num(u, 0), "f": f"`{f}`", "t": t, "p": p, "ok": "yes" if ok else "no"}
         for u, f, t, p, ok in masks],
        [("mask µs", "us", "r"), ("schema", "f"), ("test", "t", "r"), ("token", "p", "r"),
         ("passes", "ok")])
    comp = sorted(rs, key=lambda r: -r["ttfm_ms"])[:n]
    t2 = common.markdown_table(
        [{"ms": common.fmt_num(r["ttfm_ms"], 1), "c": common.fmt_num(r["compile_ms"], 1),
          "kb": fmt(r.get("compiled_bytes") and r["compiled_bytes"] / 1024, 0),
          "f": f"`{r['file']}`"} for r in comp],
        [("TTFM ms", "ms", "r"), ("compile ms", "c", "r"), ("compiled KiB", "kb", "r"),
         ("schema", "f")])
    return t1, t2


def plot(recs: dict[str, dict], own: dict[str, list[str]], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:
        return "matplotlib is not installed: no plot (pip install matplotlib)"
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for e, rs in recs.items():
        r = [rs[n] for n in own[e]]
        tbm = np.sort(np.array([x for q in r for x in q.get("tbm_us", [])]))
        ttfm = np.sort(np.array([q["ttfm_ms"] for q in r]))
        for ax, v in ((axes[0], tbm), (axes[1], ttfm)):
            if len(v):
                ax.plot(v, np.arange(1, len(v) + 1) / len(v), label=f"{e} ({len(r)} schemas)")
    for ax, t in ((axes[0], "TBM: time between masks (µs)"),
                  (axes[1], "TTFM: compile + first mask (ms)")):
        ax.set_xscale("log")
        ax.set_xlabel(t)
        ax.set_ylabel("fraction ≤ x")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("MaskBench sample, Llama-3 vocabulary, one thread; each engine's passing schemas")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return None


def write_csv(recs: dict[str, dict], names: list[str], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["schema", "engine", "status", "passes", "ttfm_ms", "compile_ms",
                    "compiled_bytes", "tbm_p50_us", "tbm_max_us", "valid", "valid_rejected",
                    "invalid", "invalid_accepted", "error"])
        for n in names:
            for e, rs in recs.items():
                r = rs.get(n)
                if r is None:
                    continue
                tbm = r.get("tbm_us") or []
                p = common.percentiles(tbm) if tbm else None
                w.writerow([n, e, r["status"], int(passes(r)),
                            f"{r['ttfm_ms']:.3f}" if r.get("ttfm_ms") else "",
                            f"{r['compile_ms']:.3f}" if r.get("compile_ms") else "",
                            r.get("compiled_bytes") or "",
                            f"{p['p50']:.2f}" if p else "", f"{p['max']:.1f}" if p else "",
                            r.get("valid", ""), r.get("valid_rejected", ""), r.get("invalid", ""),
                            r.get("invalid_accepted", ""), (r.get("error") or "")[:200]])


def report(args, files: list[str], engines: list[str]) -> None:
    names = [os.path.basename(f) for f in files]
    recs = load_records(Path(args.records), engines, files)
    missing = {e: len(set(names) - set(rs)) for e, rs in recs.items()}
    missing = {e: m for e, m in missing.items() if m}
    own = {e: [n for n in names if n in rs and passes(rs[n])] for e, rs in recs.items()}
    common_pass = [n for n in names if all(n in rs and passes(rs[n]) for rs in recs.values())]
    floor = memset_floor(128256)
    floor_us = floor["timed"]["p50"]

    sections = []
    load = common.machine_info().get("load_avg_1_5_15")
    setup = (
        f"{len(names):,} schemas of {args.total:,} in `{args.dir}` "
        f"({args.selection}); Llama-3 tokenizer (`{args.tokenizer}`, 128,256 tokens, stop "
        f"tokens `<|eot_id|>` and `<|end_of_text|>`, the 256 special tokens masked by every "
        f"engine); one worker process per engine, engines run one after another, one thread "
        f"each; {args.timeout:g} s limit per schema (compile + all instances). Instances are "
        f"compact JSON (`separators=(',', ':')`), tokenized by the HF tokenizer. Engines' JSON "
        f"defaults: formgate `compile_json_schema(schema)` (bounded free whitespace, "
        f"additionalProperties true, SchemaError on anything inexact); xgrammar "
        f"`compile_json_schema(strict_mode=False)`; llguidance `grammar_from_json_schema` "
        f"defaults; outlines-core `build_regex_from_schema` defaults. formgate's compile cache "
        f"is off. TBM: one mask fill in µs, masks of valid instances only; TTFM: compile + "
        f"matcher + first mask in ms. Load average at report time: {load} (the box is shared; "
        f"tails move with it).")
    if missing:
        setup += (f" **Incomplete:** {missing} schemas of the selection have no record for "
                  f"these engines (run stopped); their rows cover fewer schemas (`schemas` "
                  f"column), and the common-pass tables only schemas every engine ran.")
    sections.append(("Setup", setup))
    sections.append(("Coverage and correctness", correctness_table(recs, names) + "\n\n"
                     "*passing*: compiled, every valid instance accepted and every invalid one "
                     "rejected. *unsupported*: the engine raised at compile time. Timeouts in "
                     "the masks phase mean the instances did not finish in the limit."))
    sections.append((f"Speed over the {len(common_pass)} schemas every engine passes",
                     speed_table(recs, {e: common_pass for e in recs}, floor_us)))
    complete = [e for e in recs if e not in missing]
    if missing and len(complete) >= 2:
        sub = {e: recs[e] for e in complete}
        cp = [n for n in names if all(n in rs and passes(rs[n]) for rs in sub.values())]
        sections.append((f"Speed over the {len(cp)} schemas {', '.join(complete)} all pass "
                         f"(the engines with complete records)",
                         speed_table(sub, {e: cp for e in sub}, floor_us)))
    sections.append(("Speed over each engine's own passing schemas",
                     speed_table(recs, own, floor_us)))
    sections.append(("Memory", memory_table(recs, names) + "\n\n"
                     "RSS of the engine's worker process: after tokenizer setup (baseline), "
                     "peak over the run, and growth across one compile (noisy: allocator "
                     "reuse). Compiled KiB: `CompiledGrammar.memory_size_bytes` (formgate, "
                     "xgrammar); llguidance and outlines-core do not report it."))
    sections.append(("Floor: memset of the bitmask", (
        f"`ctypes.memset` of {floor['bytes']:,} bytes (4,008 int32 words), timed with one "
        f"`perf_counter_ns` pair per call like a mask fill: p50 {floor_us:.2f} µs, p99 "
        f"{floor['timed']['p99']:.2f} µs (the timer pair alone: p50 "
        f"{floor['timer']['p50']:.2f} µs; in a tight loop without timers "
        f"{floor['loop_us']:.2f} µs per memset). The `TBM p50 / memset` columns divide by the "
        f"timed p50.")))
    for e in recs:
        sections.append((f"Unsupported causes: {e} (top 15)", error_table(recs, names, e, 15)))
    for e in recs:
        n = 20 if e == "formgate" else 10
        t1, t2 = slowest(recs, names, e, n)
        sections.append((f"{n} slowest masks: {e}", t1))
        sections.append((f"{n} slowest compiles (TTFM): {e}", t2))
    bad = []
    for e, rs in recs.items():
        for n in names:
            r = rs.get(n, {})
            if r.get("status") == "ok" and (r["invalid_accepted"] or r["valid_rejected"]):
                bad.append(f"- {e}: `{n}`: {r['invalid_accepted']} invalid accepted, "
                           f"{r['valid_rejected']} valid rejected"
                           + (f"; e.g. `{r['invalid_accepted_list'][0]['text'][:100]}`"
                              if r["invalid_accepted_list"] else ""))
    sections.append(("Schemas with wrong verdicts", "\n".join(bad) or "(none)"))
    notes = [
        f"The full corpus ({args.total:,} schemas) takes several hours for four engines on a "
        "shared 2-core machine (XGrammar and Outlines spend up to the time limit on some "
        "schemas); this file is a seeded random sample. Rerun with `--sample 0` for all.",
        "Timings are comparable only within this file.",
    ] + list(args.note or [])
    for e in recs:
        crashes = [n for n in names if recs[e].get(n, {}).get("status") == "crash"]
        if crashes:
            notes.append(f"{e} crashed on: " + ", ".join(f"`{c}`" for c in crashes[:10]))
    sections.append(("Notes", "\n".join(f"- {x}" for x in notes)))
    out = Path(args.out)
    png = out.with_suffix(".png")
    err = plot(recs, own, png)
    if err:
        sections.append(("Plot", err))
    else:
        sections.insert(4, ("CDFs", f"![TBM and TTFM CDFs]({png.name})"))
    write_csv(recs, names, out.with_suffix(".csv"))
    p = common.write_results(out, "MaskBench: JSON Schema coverage, correctness and speed",
                             sections, packages=("formgate", "xgrammar", "llguidance",
                                                 "outlines-core", "transformers", "jsonschema",
                                                 "torch"), command=args.command)
    print(f"wrote {p}, {png.name}, {out.with_suffix('.csv').name}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=str(common.shared_dir() / "maskbench"))
    ap.add_argument("--tokenizer", default=str(common.shared_dir() / "tokenizers" / "llama3"))
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--sample", type=int, default=None,
                    help="random sample of N schemas (seeded by --seed); 0 = all")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="then keep the first N")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per schema")
    ap.add_argument("--records", default="/tmp/maskbench_records",
                    help="folder of per-engine JSONL records")
    ap.add_argument("--resume", action="store_true",
                    help="keep existing records and run only the schemas they lack")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--note", action="append", help="a line for the Notes section")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "maskbench.md"))
    args = ap.parse_args()
    args.command = common.command_line()

    files = sorted(glob.glob(os.path.join(args.dir, "*.json")))
    if not files:
        sys.exit(f"no *.json schemas in {args.dir}")
    args.total = len(files)
    sel = []
    if args.sample:
        files = sorted(random.Random(args.seed).sample(files, min(args.sample, len(files))))
        sel.append(f"random sample of {len(files):,}, seed {args.seed}")
    if args.limit:
        files = files[:args.limit]
        sel.append(f"first {len(files):,}")
    args.selection = ", then ".join(sel) or "all"
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:
        if e not in ENGINE_CLASSES:
            sys.exit(f"unknown engine {e!r}; choose from {', '.join(ENGINES)}")
    available = []
    for e in engines:
        # find_spec, not import: the engines load only inside the workers
        if importlib.util.find_spec({"outlines": "outlines_core"}.get(e, e)) is not None:
            available.append(e)
        else:
            print(f"{e}: not installed, skipped", file=sys.stderr)
    rdir = Path(args.records)
    rdir.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        for e in available:
            run_engine(e, files, args, rdir / f"{e}.jsonl")
    report(args, files, available)


if __name__ == "__main__":
    main()
