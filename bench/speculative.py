"""Grammar cost of speculative decoding: the per-token time of ``fill_draft_bitmasks`` (or
``validate_tokens``) plus accepting the verified tokens, against a plain decode loop's
``fill_next_token_bitmask`` + ``accept_token``.

    python bench/speculative.py                  # Llama-3 vocabulary from ../shared if present
    python bench/speculative.py --reps 3 --docs 4 --draft 1 4

Each round models one verify step of a speculative loop in which the target agrees with the
whole draft (the drafts are slices of token sequences the grammar accepts): masks for the k
draft positions and the one after them, the k draft tokens accepted (and rolled back) inside
``fill_draft_bitmasks``, then the k tokens and the target's extra token accepted by the
verifier: k + 1 tokens per round, with k + 1 masks (as in the plain loop) and 2k + 1 accepts
(k + 1 in the plain loop). Timings are the fastest of ``--reps`` passes over all documents
(the machine is shared: slower passes measure other work), after one warm-up pass (the
compiled grammar's mask cache is then filled). Writes
``bench/results/speculative.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, pin_single_thread, repo_root, shared_dir, write_results  # noqa: E402

pin_single_thread()

import formgate  # noqa: E402

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["name", "age", "tags"],
          "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
                         "tags": {"type": "array", "items": {"type": "string"}},
                         "address": {"type": "object", "properties": {
                             "city": {"type": "string"}, "zip": {"type": "string"}}}}}


def documents(count: int) -> list[dict]:
    words = ["alpha", "beta", "Gamma Ray", "delta-9", "epsilon", "zeta zeta", "eta", "theta"]
    return [{"name": f"{words[i % 8]} {words[(i * 3) % 8]}", "age": 17 + 13 * i,
             "tags": words[: 1 + i % 6],
             "address": {"city": words[(i + 5) % 8].title(), "zip": f"{10000 + 77 * i}"}}
            for i in range(count)]


def load_tokenizer():
    from transformers import AutoTokenizer

    real = shared_dir() / "tokenizers" / "llama3"
    path = real if real.exists() else repo_root() / "tests" / "fixtures" / "tokenizer_bpe_small"
    return path.name, AutoTokenizer.from_pretrained(str(path))


def accepted_sequences(compiled, tokenizer, docs: list[dict]) -> list[list[int]]:
    out = []
    for doc in docs:
        ids = tokenizer.encode(json.dumps(doc, separators=(",", ":")), add_special_tokens=False)
        m = formgate.GrammarMatcher(compiled)
        if all(m.accept_token(t) for t in ids) and m.is_completed():
            out.append(ids)
    return out


def run_plain(compiled, seqs, bitmask) -> None:
    for seq in seqs:
        m = formgate.GrammarMatcher(compiled)
        for t in seq:
            m.fill_next_token_bitmask(bitmask)
            m.accept_token(t)


def run_accept_only(compiled, seqs, bitmask) -> None:
    for seq in seqs:
        m = formgate.GrammarMatcher(compiled)
        for t in seq:
            m.accept_token(t)


def run_draft(compiled, seqs, bitmask, k: int, fill: bool) -> None:
    for seq in seqs:
        m = formgate.GrammarMatcher(compiled)
        for p in range(0, len(seq), k + 1):
            draft = seq[p:p + k]
            n = m.fill_draft_bitmasks(draft, bitmask) if fill else m.validate_tokens(draft)
            for t in seq[p:p + n + 1]:  # the verified draft and the target's next token
                m.accept_token(t)


def time_per_token(fn, seqs, reps: int) -> float:
    """Fastest of ``reps`` passes: the time per token, in microseconds."""
    tokens = sum(len(s) for s in seqs)
    fn()  # warm-up: fills the mask cache
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) / tokens * 1e6)
    return min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--draft", type=int, nargs="*", default=[1, 2, 4, 8])
    args = parser.parse_args()
    name, tokenizer = load_tokenizer()
    info = formgate.TokenizerInfo.from_huggingface(tokenizer)
    compiled = formgate.GrammarCompiler(info).compile_json_schema(SCHEMA, any_whitespace=False)
    seqs = accepted_sequences(compiled, tokenizer, documents(args.docs))
    if not seqs:
        sys.exit("no document tokenizes into a sequence the grammar accepts")
    tokens = sum(len(s) for s in seqs)
    bitmask = formgate.allocate_token_bitmask(max(args.draft) + 1, info.vocab_size)

    plain = time_per_token(lambda: run_plain(compiled, seqs, bitmask), seqs, args.reps)
    accept = time_per_token(lambda: run_accept_only(compiled, seqs, bitmask), seqs, args.reps)
    rows = [{"loop": "plain: fill + accept", "k": "—", "us": plain, "base": plain},
            {"loop": "accept only (no masks)", "k": "—", "us": accept, "base": accept}]
    for k in args.draft:
        for fill, label, base in ((False, "validate_tokens + accept", accept),
                                  (True, "fill_draft_bitmasks + accept", plain)):
            us = time_per_token(lambda: run_draft(compiled, seqs, bitmask, k, fill), seqs,
                                args.reps)
            rows.append({"loop": label, "k": k, "us": us, "base": base})
    for row in rows:
        row["over"] = row["us"] - row["base"]
        row["pct"] = 100 * row["over"] / row["base"]
    table = markdown_table(rows, [("loop", "loop"), ("draft k", "k"), ("µs per token", "us"),
                                  ("overhead µs per token", "over"), ("overhead %", "pct")])
    print(table)
    notes = (f"Vocabulary: `{name}` ({info.vocab_size:,} tokens). Grammar: a JSON Schema "
             f"(object with a string, an integer, a string array and a nested object; "
             f"compact JSON; no `format`: an email field made one mask cost 2 to 7 ms, "
             f"bimodal from run to run, which swamped the difference measured here). {len(seqs)} documents, {tokens:,} tokens. One round: "
             f"a draft of k tokens, all verified, plus the target's next token (k + 1 tokens; "
             f"k + 1 masks as in the plain loop, 2k + 1 accepts instead of k + 1, and a "
             f"rollback). Overhead of `fill_draft_bitmasks` is against the plain loop, that of "
             f"`validate_tokens` against accepting alone. Single-threaded; fastest of "
             f"{args.reps} passes after a warm-up; differences of a few µs per token are "
             f"within the run-to-run noise of a shared machine.")
    write_results(repo_root() / "bench" / "results" / "speculative.md",
                  "Speculative decoding: grammar cost per token",
                  [("Per-token time", table), ("Notes", notes)],
                  packages=("formgate", "transformers", "tokenizers"))


if __name__ == "__main__":
    main()
