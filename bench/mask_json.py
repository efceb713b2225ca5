#!/usr/bin/env python3
"""Micro-benchmark: token-mask time per step on the JSON grammar, Llama-3 vocabulary.

For every engine (formgate, xgrammar, llguidance) and every sampled MaskBench JSON document:
reset the matcher, then for each token of the compactly serialized document time only the
mask call (`fill_next_token_bitmask` or its equivalent) with perf_counter_ns, accept the token,
and at the end fill once more and check that the stop token (<|eot_id|>) is allowed and
accepted. Engines run one after another, single-threaded, on the same documents and tokens.
Every mask is hashed (outside the timed region) so the engines' masks can be compared step by
step; disagreements are counted and a few are replayed and shown.

Usage:
    python bench/mask_json.py                 # ~200 docs, all installed engines
    python bench/mask_json.py --quick         # smoke run (a few docs)
    python bench/mask_json.py --engines xgrammar,llguidance --docs 500

Writes bench/results/mask_json.md (use --out to change, --no-write to skip).
See bench/README.md for what is measured and how to read the table.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402  (must come first: pins thread counts before numpy/torch load)

common.pin_single_thread()

import argparse  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = common.repo_root()

# ---------------------------------------------------------------------------------------------
# Grammars

# FALLBACK ONLY: used when grammars/json.ebnf does not exist (yet). RFC 8259 JSON text with free
# whitespace (`ws ::= [ \t\n\r]*` wherever the RFC allows insignificant whitespace). The
# repository's grammars/json.ebnf is the grammar of record; the results file says which was used.
FALLBACK_JSON_EBNF = r"""
# RFC 8259 JSON text, free whitespace (bench/mask_json.py fallback copy)
root   ::= ws value ws
value  ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws ( member ( ws "," ws member )* ws )? "}"
member ::= string ws ":" ws value
array  ::= "[" ws ( value ( ws "," ws value )* ws )? "]"
string ::= "\"" char* "\""
char   ::= [^"\\\x00-\x1f] | "\\" escape
escape ::= ["\\/bfnrt] | "u" hex hex hex hex
hex    ::= [0-9a-fA-F]
number ::= "-"? int frac? exp?
int    ::= "0" | [1-9] [0-9]*
frac   ::= "." [0-9]+
exp    ::= [eE] [+-]? [0-9]+
ws     ::= [ \t\n\r]*
"""

# The same language in llguidance's Lark dialect, written for its lexer: strings and numbers are
# terminals (one lexeme each, compiled to a DFA) and whitespace is `%ignore`d between lexemes.
# Two llguidance details make it equal to the EBNF (checked step by step against xgrammar):
#  - `%ignore` is not allowed before the first lexeme unless `allow_initial_skip` is set;
#  - `%ignore` alone does not let a token run past the end of the value into trailing whitespace
#    (e.g. `}\n` as the last token), hence the explicit `WS?` after `value`.
# STRING's class excludes only `"`, `\` and U+0000..U+001F, like the EBNF's `char`.
LLG_JSON_LARK = r"""
%llguidance {"allow_initial_skip": true}
start: value WS?
value: object | array | STRING | NUMBER | "true" | "false" | "null"
object: "{" (member ("," member)*)? "}"
member: STRING ":" value
array: "[" (value ("," value)*)? "]"
STRING: /"(\\(["\\\/bfnrt]|u[0-9a-fA-F]{4})|[^"\\\x00-\x1F])*"/
NUMBER: /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/
WS: /[ \t\n\r]+/
%ignore WS
"""

# xgrammar's own JSON: the grammar it generates for the JSON Schema `{}` (any value) with
# any_whitespace=True. Not the same language at the edges (no whitespace before or after the
# value), so a few masks per document differ from the others; it is here as xgrammar's fast path.
XGR_SCHEMA = "{}"

ALL_ENGINES = ("formgate", "xgrammar", "llguidance", "xgrammar-schema", "llguidance-gbnf")
DEFAULT_ENGINES = ("formgate", "xgrammar", "llguidance", "xgrammar-schema")


def load_grammar(path: str | None) -> tuple[str, str]:
    """(ebnf text, description of its source)."""
    p = Path(path) if path else REPO / "grammars" / "json.ebnf"
    if p.is_file():
        try:
            shown = p.resolve().relative_to(REPO)
        except ValueError:
            shown = p
        return p.read_text(encoding="utf-8"), f"`{shown}`"
    if path:
        sys.exit(f"error: grammar file {path} not found")
    return FALLBACK_JSON_EBNF, ("FALLBACK_JSON_EBNF in bench/mask_json.py "
                                "(grammars/json.ebnf did not exist at run time)")


# ---------------------------------------------------------------------------------------------
# Tokenizer and documents


def load_tokenizer(path: str | None):
    from transformers import AutoTokenizer

    candidates = [path] if path else [str(common.shared_dir() / "tokenizers" / "llama3")]
    for c in candidates:
        if c and Path(c).exists():
            return AutoTokenizer.from_pretrained(c), c
    sys.exit(f"error: tokenizer not found at {candidates[0]}; pass --tokenizer PATH "
             "(a Hugging Face tokenizer folder with tokenizer.json)")


def stop_token_ids(tok) -> tuple[int, list[int]]:
    """(the stop token the documents end with, all stop tokens given to every engine)."""
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    unk = getattr(tok, "unk_token_id", None)
    ids = []
    if isinstance(eot, int) and eot >= 0 and eot != unk:
        ids.append(eot)
    if tok.eos_token_id is not None and tok.eos_token_id not in ids:
        ids.append(tok.eos_token_id)
    if not ids:
        sys.exit("error: tokenizer has neither <|eot_id|> nor an eos_token_id")
    return ids[0], ids


def special_token_ids(tok) -> list[int]:
    """Added tokens flagged special (control/reserved tokens): they never match grammar text."""
    dec = getattr(tok, "added_tokens_decoder", {}) or {}
    return sorted(i for i, t in dec.items() if getattr(t, "special", False))


def load_documents(maskbench: Path, n: int, seed: int, max_bytes: int, warmup: int):
    """Valid instances of every schema, serialized compactly, de-duplicated, sampled."""
    files = sorted(glob.glob(str(maskbench / "*.json")))
    if not files:
        sys.exit(f"error: no MaskBench files in {maskbench}")
    seen: set[str] = set()
    pool: list[tuple[str, str]] = []
    skipped = {"too_long": 0, "unserializable": 0}
    for f in files:
        with open(f, encoding="utf-8") as fh:
            data = json.load(fh)
        for test in data.get("tests", []):
            if test.get("valid") is not True or "data" not in test:
                continue
            try:
                s = json.dumps(test["data"], separators=(",", ":"), ensure_ascii=False,
                               allow_nan=False)
                size = len(s.encode("utf-8"))  # lone surrogates raise here
            except (ValueError, UnicodeEncodeError):
                skipped["unserializable"] += 1
                continue
            if s in seen:
                continue
            seen.add(s)
            if size > max_bytes:
                skipped["too_long"] += 1
                continue
            pool.append((os.path.basename(f)[: -len(".json")], s))
    rng = random.Random(seed)
    picked = rng.sample(pool, min(len(pool), n + warmup))
    return picked[warmup:], picked[:warmup], len(pool), len(files), skipped


# ---------------------------------------------------------------------------------------------
# Engines. Each exposes: setup() (timed parts recorded in self.times), reset(), fill (a
# zero-argument callable doing only the mask computation into self.row), accept(t) -> bool,
# stopped() -> bool, and self.row: numpy int32 view of the mask row (bit j%32 of word j//32).


class EngineUnavailable(Exception):
    pass


class Engine:
    name = "?"
    grammar_desc = ""

    def __init__(self, tok, ebnf: str, stop_ids: list[int], special_ids: list[int]):
        self.tok = tok
        self.ebnf = ebnf
        self.stop_ids = stop_ids
        self.special_ids = special_ids
        self.vocab_size = len(tok)
        self.times: dict[str, float] = {}  # ms
        self.notes: list[str] = []

    def _mk_row(self, bitmask) -> None:
        self.bitmask = bitmask
        self.row = bitmask[0].numpy() if hasattr(bitmask, "numpy") else bitmask[0]
        assert self.row.dtype == np.int32 and self.row.flags["C_CONTIGUOUS"]

    def matcher_init_us(self, reps: int = 10) -> float:
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter_ns()
            self.new_matcher()
            ts.append((time.perf_counter_ns() - t0) / 1e3)
        return float(np.median(ts))


class FormgateEngine(Engine):
    name = "formgate"

    def setup(self):
        try:
            import formgate
        except Exception as e:  # ImportError, or a broken build
            raise EngineUnavailable(f"`import formgate` failed: {type(e).__name__}: {e}")
        self.fg = formgate
        self.grammar_desc = "EBNF (same text)"
        t0 = time.perf_counter()
        self.info = formgate.TokenizerInfo.from_huggingface(
            self.tok, vocab_size=self.vocab_size, stop_token_ids=self.stop_ids)
        t1 = time.perf_counter()
        compiler = formgate.GrammarCompiler(self.info, max_threads=1)
        self.compiled = compiler.compile_grammar(self.ebnf)
        t2 = time.perf_counter()
        self.times.update(tokenizer_ms=(t1 - t0) * 1e3, compile_ms=(t2 - t1) * 1e3)
        self.matcher = formgate.GrammarMatcher(self.compiled)
        self._mk_row(formgate.allocate_token_bitmask(1, self.info.vocab_size))
        self.fill = functools.partial(self.matcher.fill_next_token_bitmask, self.bitmask)
        sp = set(getattr(self.info, "special_token_ids", []) or []) - set(self.stop_ids)
        if sp != set(self.special_ids) - set(self.stop_ids):
            self.notes.append(f"formgate: TokenizerInfo lists {len(sp)} special tokens besides "
                              f"the stop tokens; the tokenizer flags "
                              f"{len(set(self.special_ids) - set(self.stop_ids))} (the other "
                              f"engines mask exactly those)")

    def new_matcher(self):
        return self.fg.GrammarMatcher(self.compiled)

    def reset(self):
        self.matcher.reset()

    def accept(self, t: int) -> bool:
        return self.matcher.accept_token(t)

    def stopped(self) -> bool:
        return self.matcher.is_terminated()


class XGrammarEngine(Engine):
    name = "xgrammar"

    def setup(self):
        try:
            import xgrammar as xgr
        except Exception as e:
            raise EngineUnavailable(f"`import xgrammar` failed: {type(e).__name__}: {e}")
        self.xgr = xgr
        self.grammar_desc = self.describe()
        t0 = time.perf_counter()
        info = xgr.TokenizerInfo.from_huggingface(
            self.tok, vocab_size=self.vocab_size, stop_token_ids=self.stop_ids)
        if not info.special_token_ids and self.special_ids:
            # xgrammar finds special tokens only as empty strings in the vocabulary; this
            # tokenizer keeps "<|reserved_special_token_0|>" etc. as text, which xgrammar would
            # then allow inside JSON strings. Blank them so every engine sees the same vocab.
            vocab = list(info.decoded_vocab)
            for i in self.special_ids:
                if i < len(vocab):
                    vocab[i] = b""
            info = xgr.TokenizerInfo(vocab, xgr.VocabType.RAW, vocab_size=self.vocab_size,
                                     stop_token_ids=self.stop_ids, add_prefix_space=False)
            self.notes.append(
                f"xgrammar: TokenizerInfo.from_huggingface found 0 special tokens; the "
                f"{len(self.special_ids)} added tokens flagged special were blanked (RAW vocab of "
                f"decoded bytes) so they are masked as in the other engines")
        t1 = time.perf_counter()
        compiler = xgr.GrammarCompiler(info, max_threads=1, cache_enabled=False)
        self.compiled = compiler.compile_grammar(self.grammar())
        t2 = time.perf_counter()
        self.times.update(tokenizer_ms=(t1 - t0) * 1e3, compile_ms=(t2 - t1) * 1e3)
        self.info = info
        self.matcher = xgr.GrammarMatcher(self.compiled)
        self._mk_row(xgr.allocate_token_bitmask(1, info.vocab_size))
        self.fill = functools.partial(self.matcher.fill_next_token_bitmask, self.bitmask)

    def describe(self) -> str:
        return "EBNF (same text)"

    def grammar(self):
        return self.xgr.Grammar.from_ebnf(self.ebnf)

    def new_matcher(self):
        return self.xgr.GrammarMatcher(self.compiled)

    def reset(self):
        self.matcher.reset()

    def accept(self, t: int) -> bool:
        return self.matcher.accept_token(t)

    def stopped(self) -> bool:
        return self.matcher.is_terminated()


class XGrammarSchemaEngine(XGrammarEngine):
    name = "xgrammar-schema"

    def describe(self) -> str:
        return "xgrammar's own: JSON Schema `{}`, any_whitespace=True"

    def grammar(self):
        return self.xgr.Grammar.from_json_schema(XGR_SCHEMA, any_whitespace=True)


class LLGuidanceEngine(Engine):
    name = "llguidance"
    from_gbnf = False

    def setup(self):
        try:
            import llguidance
            import llguidance.hf
            import llguidance.torch
        except Exception as e:
            raise EngineUnavailable(f"`import llguidance` failed: {type(e).__name__}: {e}")
        self.llg = llguidance
        if self.from_gbnf:
            from llguidance.gbnf_to_lark import gbnf_to_lark

            self.lark = gbnf_to_lark(self.ebnf)
            self.grammar_desc = "Lark via llguidance.gbnf_to_lark(same EBNF)"
        else:
            self.lark = LLG_JSON_LARK
            self.grammar_desc = "Lark, hand-written (LLG_JSON_LARK)"
        t0 = time.perf_counter()
        self.lltok = llguidance.hf.from_tokenizer(self.tok, n_vocab=self.vocab_size,
                                                  eos_token=self.stop_ids)
        t1 = time.perf_counter()
        # llguidance has no separate compile object: LLMatcher() parses and compiles the grammar
        # (lexer DFAs are then built lazily while matching, so warm-up docs matter).
        self.grammar = llguidance.LLMatcher.grammar_from_lark(self.lark)
        self.matcher = llguidance.LLMatcher(self.lltok, self.grammar)
        t2 = time.perf_counter()
        if self.matcher.is_error():
            raise EngineUnavailable(f"llguidance rejected the grammar: {self.matcher.get_error()}")
        warns = self.matcher.get_grammar_warnings()
        if warns:
            self.notes.append(f"{self.name} grammar warnings: {warns}")
        self.times.update(tokenizer_ms=(t1 - t0) * 1e3, compile_ms=(t2 - t1) * 1e3)
        self._mk_row(llguidance.torch.allocate_token_bitmask(1, self.lltok.vocab_size))
        # What llguidance.torch.fill_next_token_bitmask does, minus its Python asserts.
        self.fill = functools.partial(self.matcher.unsafe_compute_mask_ptr,
                                      self.bitmask.data_ptr(), self.row.nbytes)

    def new_matcher(self):
        return self.llg.LLMatcher(self.lltok, self.grammar)

    def reset(self):
        self.matcher.reset()

    def accept(self, t: int) -> bool:
        return self.matcher.consume_token(t) and not self.matcher.is_error()

    def stopped(self) -> bool:
        return self.matcher.is_stopped()


class LLGuidanceGbnfEngine(LLGuidanceEngine):
    name = "llguidance-gbnf"
    from_gbnf = True


ENGINE_CLASSES = {
    "formgate": FormgateEngine,
    "xgrammar": XGrammarEngine,
    "llguidance": LLGuidanceEngine,
    "xgrammar-schema": XGrammarSchemaEngine,
    "llguidance-gbnf": LLGuidanceGbnfEngine,
}


# ---------------------------------------------------------------------------------------------
# Measurement


def bit(row: np.ndarray, t: int) -> bool:
    return bool((int(row[t >> 5]) >> (t & 31)) & 1)


def run_engine(eng: Engine, docs_tokens: list[list[int]], warm_tokens: list[list[int]],
               eot: int, budget_s: float) -> dict:
    """Time every mask of every doc. Returns times (ns), per-doc mask hashes, error counts.

    Documents run in order; once the timed loop has used `budget_s` seconds of wall time the
    engine stops, mid-document if need be (`docs` counts the documents run to the end; the
    masks of a cut-off document are kept)."""
    row = eng.row
    pc = time.perf_counter_ns
    crc = zlib.crc32
    fill = eng.fill
    accept = eng.accept

    # Untimed warm-up (lazy caches such as llguidance's lexer states fill here); capped at a
    # tenth of the budget so a slow engine does not spend it all warming up.
    now = time.perf_counter
    warm_deadline = now() + max(1.0, budget_s / 10)
    for ids in warm_tokens:
        eng.reset()
        for t in ids:
            fill()
            if not accept(t) or now() > warm_deadline:
                break
        fill()
        if now() > warm_deadline:
            break

    times: list[int] = []
    hashes: list[list[int]] = []
    errors = {"reject": 0, "eos_not_allowed": 0, "not_stopped": 0}
    first_errors: list[str] = []
    complete = 0
    out_of_time = False
    gc.collect()
    gc.disable()
    deadline = now() + budget_s
    try:
        for d, ids in enumerate(docs_tokens):
            if d and now() > deadline:
                out_of_time = True
                break
            eng.reset()
            h: list[int] = []
            hashes.append(h)
            status = "done"
            for k, t in enumerate(ids):
                t0 = pc()
                fill()
                t1 = pc()
                times.append(t1 - t0)
                h.append(crc(row))
                if not accept(t):
                    errors["reject"] += 1
                    if len(first_errors) < 3:
                        first_errors.append(f"doc {d} token {k} (id {t}) rejected")
                    status = "rejected"
                    break
                if k + 1 < len(ids) and now() > deadline:
                    status = "cut"
                    break
            if status == "cut":
                out_of_time = True
                break
            if status == "done":
                complete += 1
                t0 = pc()
                fill()
                t1 = pc()
                times.append(t1 - t0)
                h.append(crc(row))
                if not bit(row, eot):
                    errors["eos_not_allowed"] += 1
                    if len(first_errors) < 3:
                        first_errors.append(f"doc {d}: stop token not allowed at the end")
                elif not accept(eot) or not eng.stopped():
                    errors["not_stopped"] += 1
                    if len(first_errors) < 3:
                        first_errors.append(f"doc {d}: stop token not accepted/terminated")
            if d % 50 == 49:
                gc.enable()
                gc.collect()
                gc.disable()
    finally:
        gc.enable()
    return {"times": times, "hashes": hashes, "errors": errors, "first_errors": first_errors,
            "docs": complete, "truncated": out_of_time}


def time_floor(vocab_size: int, reps: int) -> dict[str, list[int]]:
    """The cheapest possible 'mask': overwrite a (1, ceil(V/32)) int32 bitmask, timed exactly
    like the engines' fill calls (one perf_counter_ns pair per call)."""
    import torch

    words = (vocab_size + 31) // 32
    t = torch.full((1, words), -1, dtype=torch.int32)
    a = np.full((1, words), -1, dtype=np.int32)
    pc = time.perf_counter_ns
    out: dict[str, list[int]] = {}
    cases = [
        (f"torch `bitmask.fill_(0)` ({words} int32)", functools.partial(t.fill_, 0)),
        (f"numpy `arr.fill(0)` ({words} int32)", functools.partial(a.fill, 0)),
        ("timer only (empty `perf_counter_ns` pair)", None),
    ]
    gc.collect()
    gc.disable()
    try:
        for label, f in cases:
            ts = []
            if f is None:
                for _ in range(reps):
                    t0 = pc()
                    t1 = pc()
                    ts.append(t1 - t0)
            else:
                for _ in range(reps // 10):  # warm-up
                    f()
                for _ in range(reps):
                    t0 = pc()
                    f()
                    t1 = pc()
                    ts.append(t1 - t0)
            out[label] = ts
    finally:
        gc.enable()
    return out


def decoded_mask_tokens(eng: Engine, tok, ids_prefix: list[int]) -> set[int]:
    """Replay `ids_prefix` on a reset matcher and return the allowed token ids."""
    eng.reset()
    for t in ids_prefix:
        if not eng.accept(t):
            raise RuntimeError("replay rejected a token")
    eng.fill()
    bits = np.unpackbits(eng.row.view(np.uint8), bitorder="little")
    return set(np.nonzero(bits[: len(tok)])[0].tolist())


def token_repr(tok, ids) -> str:
    return ", ".join(repr(tok.convert_ids_to_tokens(int(i))) for i in ids)


def compare_masks(engines: list[Engine], results: dict, docs_tokens, tok, max_examples: int):
    """Step-by-step comparison of mask hashes between every pair of engines."""
    rows, examples = [], []
    for i in range(len(engines)):
        for j in range(i + 1, len(engines)):
            a, b = engines[i], engines[j]
            ha, hb = results[a.name]["hashes"], results[b.name]["hashes"]
            compared = differ = 0
            docs_differ = 0
            by_kind: dict[str, list[tuple[int, int]]] = {"first": [], "middle": [], "last": []}
            for d, (xa, xb) in enumerate(zip(ha, hb)):
                n = min(len(xa), len(xb))
                bad = [k for k in range(n) if xa[k] != xb[k]]
                compared += n
                differ += len(bad)
                if bad:
                    docs_differ += 1
                for k in bad:
                    kind = ("first" if k == 0 else
                            "last" if k == len(docs_tokens[d]) else "middle")
                    if len(by_kind[kind]) < max_examples:
                        by_kind[kind].append((d, k))
            # show one of each kind first (start of document, inside, final mask), then more
            pair_examples = []
            for r in range(max_examples):
                for kind in ("first", "middle", "last"):
                    if r < len(by_kind[kind]) and len(pair_examples) < max_examples:
                        pair_examples.append(by_kind[kind][r])
            rows.append({"pair": f"{a.name} vs {b.name}", "steps": compared, "differ": differ,
                         "docs": docs_differ,
                         "pct": 100.0 * differ / compared if compared else float("nan")})
            for d, k in pair_examples:
                ids = docs_tokens[d]
                try:
                    sa = decoded_mask_tokens(a, tok, ids[:k])
                    sb = decoded_mask_tokens(b, tok, ids[:k])
                except RuntimeError as e:
                    examples.append(
                        f"- {a.name} vs {b.name}, doc {d} step {k}: replay failed ({e})")
                    continue
                only_a, only_b = sorted(sa - sb), sorted(sb - sa)
                prefix = tok.decode(ids[:k])
                examples.append(
                    f"- {a.name} vs {b.name}, doc {d} step {k}, after …{prefix[-40:]!r}: "
                    f"only {a.name} allows {len(only_a)} [{token_repr(tok, only_a[:6])}"
                    f"{', …' if len(only_a) > 6 else ''}]; only {b.name} allows {len(only_b)} "
                    f"[{token_repr(tok, only_b[:6])}{', …' if len(only_b) > 6 else ''}]")
    return rows, examples


# ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", help="HF tokenizer folder (default ../shared/tokenizers/llama3)")
    ap.add_argument("--grammar", help="EBNF file (default grammars/json.ebnf, else a built-in "
                                      "fallback copy)")
    ap.add_argument("--maskbench", default=str(common.shared_dir() / "maskbench"),
                    help="folder of MaskBench *.json files (default ../shared/maskbench)")
    ap.add_argument("--docs", type=int, default=200, help="documents to time (default 200)")
    ap.add_argument("--warmup", type=int, default=5,
                    help="extra documents run untimed first, per engine (default 5)")
    ap.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    ap.add_argument("--max-doc-bytes", type=int, default=10000,
                    help="skip documents longer than this when sampling (default 10000)")
    ap.add_argument("--engines", default=",".join(DEFAULT_ENGINES),
                    help=f"comma-separated subset of {','.join(ALL_ENGINES)} "
                         f"(default {','.join(DEFAULT_ENGINES)})")
    ap.add_argument("--budget-s", type=float, default=40.0,
                    help="per-engine wall-time budget of the timed loop; an engine over it stops, "
                         "mid-document if need be (default 40)")
    ap.add_argument("--floor-reps", type=int, default=20000,
                    help="calls timed for the bitmask-fill floor (default 20000)")
    ap.add_argument("--examples", type=int, default=3,
                    help="disagreeing steps shown per engine pair (default 3)")
    ap.add_argument("--cpu", type=int, default=None,
                    help="pin the process to this CPU (os.sched_setaffinity) for steadier tails")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 10 docs, 1 warm-up doc, 8 s budget per engine, no results "
                         "file unless --out")
    ap.add_argument("--out", default=None,
                    help="results file (default bench/results/mask_json.md; a --quick run writes "
                         "none unless --out is given)")
    ap.add_argument("--no-write", action="store_true", help="print only, write no results file")
    args = ap.parse_args(argv)
    if args.quick:
        args.docs = min(args.docs, 10)
        args.warmup = min(args.warmup, 1)
        args.floor_reps = min(args.floor_reps, 2000)
        args.budget_s = min(args.budget_s, 8.0)
    names = [e.strip() for e in args.engines.split(",") if e.strip()]
    for n in names:
        if n not in ENGINE_CLASSES:
            ap.error(f"unknown engine {n!r}; choose from {', '.join(ALL_ENGINES)}")

    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    import torch

    torch.set_num_threads(1)
    t_start = time.perf_counter()

    tok, tok_path = load_tokenizer(args.tokenizer)
    eot, stop_ids = stop_token_ids(tok)
    special_ids = special_token_ids(tok)
    ebnf, grammar_src = load_grammar(args.grammar)
    docs, warm, pool_size, n_files, skipped = load_documents(
        Path(args.maskbench), args.docs, args.seed, args.max_doc_bytes, args.warmup)
    docs_tokens = [tok.encode(s, add_special_tokens=False) for _, s in docs]
    warm_tokens = [tok.encode(s, add_special_tokens=False) for _, s in warm]
    for (_, s), ids in zip(docs, docs_tokens):
        assert tok.decode(ids) == s, "tokenizer does not round-trip a document"
    n_tokens = sum(len(x) for x in docs_tokens)
    print(f"tokenizer {tok_path}: {len(tok)} tokens, stop tokens {stop_ids} "
          f"(documents end with {eot} {tok.convert_ids_to_tokens(eot)!r}), "
          f"{len(special_ids)} special tokens")
    print(f"grammar: {grammar_src}")
    print(f"documents: {len(docs)} sampled (seed {args.seed}) of {pool_size} distinct valid "
          f"instances in {n_files} files; {n_tokens} tokens, "
          f"{n_tokens / max(1, len(docs)):.1f} per doc; warm-up {len(warm)} docs")

    engines: list[Engine] = []
    notes: list[str] = []
    results: dict[str, dict] = {}
    for n in names:
        eng = ENGINE_CLASSES[n](tok, ebnf, stop_ids, special_ids)
        try:
            eng.setup()
        except EngineUnavailable as e:
            print(f"[{n}] skipped: {e}")
            notes.append(f"**{n} skipped**: {e}")
            continue
        except Exception as e:  # compile failure etc.: report, keep going with the others
            print(f"[{n}] failed during setup: {type(e).__name__}: {e}")
            notes.append(f"**{n} failed during setup**: {type(e).__name__}: {e}")
            continue
        eng.times["matcher_init_us"] = eng.matcher_init_us()
        print(f"[{n}] tokenizer {eng.times['tokenizer_ms']:.0f} ms, compile "
              f"{eng.times['compile_ms']:.1f} ms; timing {len(docs)} docs ...", flush=True)
        t0 = time.perf_counter()
        results[n] = run_engine(eng, docs_tokens, warm_tokens, eot, args.budget_s)
        r = results[n]
        print(f"[{n}] done in {time.perf_counter() - t0:.1f} s: {r['docs']} docs, "
              f"{len(r['times'])} masks; errors {r['errors']}"
              + (f" e.g. {r['first_errors']}" if r["first_errors"] else ""), flush=True)
        notes.extend(eng.notes)
        engines.append(eng)

    notes = list(dict.fromkeys(notes))  # engines sharing a class repeat theirs
    if any(results[e.name]["truncated"] for e in engines):
        notes.append(f"`(budget)`: the engine used up its {args.budget_s:g} s budget "
                     f"(`--budget-s`) before all {len(docs)} documents; `docs` counts those run to "
                     f"the end, `masks` includes the cut-off one. Its percentiles cover only the "
                     f"first documents of the same sample.")
    floor = time_floor(len(tok), args.floor_reps)
    floor_stats = {k: common.percentiles([x / 1e3 for x in v]) for k, v in floor.items()}
    floor_p50 = next(iter(floor_stats.values()))["p50"]

    rows = []
    for eng in engines:
        r = results[eng.name]
        st = common.percentiles([x / 1e3 for x in r["times"]])
        rows.append({
            "engine": eng.name, "grammar": eng.grammar_desc,
            "docs": f"{r['docs']}" + (" (budget)" if r["truncated"] else ""),
            "tok_ms": eng.times["tokenizer_ms"], "compile_ms": eng.times["compile_ms"],
            "init_us": eng.times["matcher_init_us"],
            "masks": st["n"], "errors": sum(r["errors"].values()),
            "slow": sum(1 for x in r["times"] if x >= 1_000_000),
            "mean": st["mean"], "p50": st["p50"], "p90": st["p90"], "p99": st["p99"],
            "p999": st["p99.9"], "max": st["max"],
            "ratio": st["p50"] / floor_p50 if floor_p50 else float("nan"),
        })
    cols = [("engine", "engine"), ("compile ms", "compile_ms"), ("docs", "docs", "r"),
            ("masks", "masks"),
            ("errors", "errors"), ("mean µs", "mean"), ("p50 µs", "p50"), ("p90 µs", "p90"),
            ("p99 µs", "p99"), ("p99.9 µs", "p999"), ("max µs", "max"),
            ("≥ 1 ms", "slow"), ("p50 / floor", "ratio")]
    by_name = {r["engine"]: r for r in rows}
    if "xgrammar-schema" in by_name:
        notes.append("xgrammar-schema is not the same language at the edges (no whitespace before "
                     "or after the value), so it differs from the others at the first mask and "
                     "wherever a token could finish the document and go on into whitespace "
                     "(e.g. `}\\n`); it is not compared for correctness.")
        if "xgrammar" in by_name and by_name["xgrammar-schema"]["p50"] > 0:
            x = by_name["xgrammar"]["p50"] / by_name["xgrammar-schema"]["p50"]
            if x > 10:
                notes.append(f"xgrammar's p50 on the EBNF is {x:,.0f}× its p50 on its own JSON "
                             f"grammar: the grammar's formulation matters to it (see "
                             f"bench/README.md, mask_json pitfalls).")
    main_table = common.markdown_table(rows, cols)
    setup_table = common.markdown_table(
        rows, [("engine", "engine"), ("grammar given to it", "grammar"),
               ("tokenizer setup ms", "tok_ms"), ("compile ms", "compile_ms"),
               ("new matcher µs", "init_us")])
    floor_rows = [{"what": k, "p50": v["p50"], "mean": v["mean"], "p99": v["p99"], "n": v["n"]}
                  for k, v in floor_stats.items()]
    floor_table = common.markdown_table(
        floor_rows, [("floor", "what"), ("p50 µs", "p50"), ("mean µs", "mean"),
                     ("p99 µs", "p99"), ("calls", "n")])

    cmp_rows, examples = compare_masks(engines, results, docs_tokens, tok, args.examples)
    cmp_table = common.markdown_table(
        cmp_rows, [("pair", "pair"), ("steps compared", "steps"), ("steps differing", "differ"),
                   ("% differing", "pct"), ("docs with a difference", "docs")]) \
        if cmp_rows else "(fewer than two engines ran)"
    err_rows = [{"engine": e.name, **results[e.name]["errors"]} for e in engines]
    err_table = common.markdown_table(
        err_rows, [("engine", "engine"), ("token rejected", "reject"),
                   ("stop token not allowed at end", "eos_not_allowed"),
                   ("stop not accepted / not terminated", "not_stopped")])

    print()
    print(main_table)
    print()
    print(setup_table)
    print()
    print(floor_table)
    print()
    print(cmp_table)
    for ex in examples:
        print(ex)
    for n in notes:
        print("note:", n)

    splits: dict[str, int] = {}
    for name, _ in docs:
        key = name.split("---")[0] if "---" in name else name.rsplit("_", 1)[0]
        splits[key] = splits.get(key, 0) + 1
    split_text = ", ".join(f"{k} {v}" for k, v in sorted(splits.items(), key=lambda kv: -kv[1]))
    wall = time.perf_counter() - t_start
    print(f"\ntotal wall time {wall:.1f} s")

    if args.out is None and not args.quick:
        args.out = str(REPO / "bench" / "results" / "mask_json.md")
    if args.no_write or args.out is None:
        return 0
    setup_lines = [
        f"- Tokenizer: `{tok_path}` ({len(tok)} tokens; `AutoTokenizer`, "
        f"`add_special_tokens=False`). Stop tokens given to every engine: "
        + ", ".join(f"{i} `{tok.convert_ids_to_tokens(i)}`" for i in stop_ids)
        + f"; each document ends with {eot}. {len(special_ids)} added tokens flagged special.",
        f"- Grammar: {grammar_src}. xgrammar and formgate compile this EBNF text; llguidance "
        f"gets the Lark text shown below (same language).",
        f"- Documents: {len(docs)} distinct valid MaskBench instances (seed {args.seed}, "
        f"from {pool_size} distinct ones ≤ {args.max_doc_bytes} bytes in {n_files} files; "
        f"{skipped['too_long']} longer ones and {skipped['unserializable']} unserializable ones "
        f"left out), serialized with "
        f"`json.dumps(x, separators=(\",\", \":\"), ensure_ascii=False)`: {n_tokens} tokens, "
        f"{n_tokens / max(1, len(docs)):.1f} per document; {len(warm)} further documents run "
        f"untimed first per engine. Splits: {split_text}.",
        "- One mask = one `fill_next_token_bitmask` call (llguidance: "
        "`LLMatcher.unsafe_compute_mask_ptr`, what `llguidance.torch.fill_next_token_bitmask` "
        "calls) timed alone with `time.perf_counter_ns`; the matcher is `reset()` per document; "
        "masks per document = tokens + 1 (the final mask must allow the stop token). "
        "Single thread: `OMP_NUM_THREADS=1`, `RAYON_NUM_THREADS=1`, `torch.set_num_threads(1)`, "
        "`max_threads=1`; garbage collector off while timing.",
        "- Percentiles are nearest-rank over all masks of all documents. `p50 / floor` divides "
        "by the p50 of torch `bitmask.fill_(0)` on a bitmask of the same shape (table below).",
    ]
    sections = [
        ("Setup", "\n".join(setup_lines)),
        ("Mask time per token", main_table),
        ("Compile and matcher creation", setup_table + "\n\n`compile ms`: xgrammar/formgate "
         "`compile_grammar` (single thread, cache off); llguidance `grammar_from_lark` + "
         "`LLMatcher(...)` (llguidance compiles when a matcher is made and builds lexer states "
         "lazily). `new matcher µs`: median of 10 constructions from the compiled grammar. "
         "`tokenizer setup ms`: `TokenizerInfo.from_huggingface` / "
         "`llguidance.hf.from_tokenizer`."),
        ("Floor: filling a bitmask", floor_table),
        ("Errors", err_table),
        ("Mask agreement", cmp_table + ("\n\n" + "\n".join(examples) if examples else "")),
        ("llguidance grammar", "```lark\n" + (LLG_JSON_LARK.strip() if "llguidance" in names
                                              else "(not run)") + "\n```"),
        ("Notes", "\n".join(f"- {n}" for n in notes) if notes else "- none"),
    ]
    if grammar_src.startswith("FALLBACK"):
        sections.insert(-1, ("EBNF used", "```ebnf\n" + ebnf.strip() + "\n```"))
    path = common.write_results(args.out, "Mask time per token: JSON grammar, Llama-3 vocabulary",
                                sections)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
