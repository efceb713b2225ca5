"""ThreadSanitizer smoke test for formgate's threaded paths (run it through .ci/tsan.sh).

What runs concurrently:
  1. compile: several Python threads call GrammarCompiler(info, max_threads=4).compile_grammar()
     on one shared compiler at once (each call releases the GIL and fans the mask cache out on 4
     C++ threads), for every shipped grammar; the results must agree across threads.
  2. fill: several Python threads each drive their own matchers over the *shared* CompiledGrammar
     objects, calling BatchGrammarMatcher(4).batch_fill_next_token_bitmask() (GIL released, 4 C++
     threads) and accepting a random allowed token per matcher, with forks, rollbacks and resets
     mixed in. Every token a mask allows must be accepted (a cheap correctness check).

Correct use only: a matcher is never shared between threads (the documented contract). Passing
`--probe-shared-matcher` deliberately breaks that (two Python threads filling masks from one
matcher), which TSan is expected to report; it shows what misuse looks like and that TSan is live.

Torch is blocked (bitmasks are numpy arrays) unless --with-torch: torch's own uninstrumented
thread pools only add noise here.

Exit status 0 and "tsan_smoke: OK" when nothing was reported; TSan itself aborts the process on a
report when TSAN_OPTIONS has halt_on_error=1 (as .ci/tsan.sh sets).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRAMMARS = ["json", "json_compact", "arithmetic", "sql_select", "c_like"]

PIECES = [
    # JSON
    "{", "}", "[", "]", ":", ",", '"', '":', '",', '{"', '"}', "true", "false", "null", "\\n",
    "\\u00", "\\\"", "1", "12", "0.5", "e+", "-", "  ", "\n", "\n  ",
    # arithmetic / C-like
    "(", ")", "+", "*", "/", "%", "==", "!=", "<=", ">=", "&&", "||", ";", "{\n", "}\n",
    "int ", "return ", "if (", "else", "while", "for (", "x", "foo", "_bar", "42", "0x1f",
    # SQL
    "SELECT", " SELECT", "FROM", " FROM ", "WHERE", " WHERE ", "AND", " OR ", "NOT", "IN",
    "LIKE", "IS", "NULL", "BETWEEN", "GROUP BY", "ORDER BY", "LIMIT", "OFFSET", "AS", "JOIN",
    "ON", "DESC", "ASC", "DISTINCT", "'", "''", "t.", "id", "name", "users", "a_b",
    # text
    " ", "a", "b", "the", " the", "é", "ü", "中", "😀",
]


def make_vocab(size: int, seed: int) -> list[bytes]:
    """A synthetic vocabulary: every single byte (so every grammar can always progress), then
    concatenations of grammar-ish pieces and random printable runs, then a stop token."""
    rng = random.Random(seed)
    vocab = [bytes([b]) for b in range(256)]
    seen = set(vocab)
    printable = [chr(c) for c in range(0x20, 0x7F)]
    while len(vocab) < size - 1:
        if rng.random() < 0.7:
            tok = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 3)))
        else:
            tok = "".join(rng.choice(printable) for _ in range(rng.randint(2, 8)))
        b = tok.encode()
        if b not in seen:
            seen.add(b)
            vocab.append(b)
    vocab.append(b"</s>")
    return vocab


def run_threads(n: int, target, *args) -> None:
    """Run target(i, barrier, *args) on n Python threads started together; re-raise the first
    exception."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def wrap(i: int) -> None:
        try:
            target(i, barrier, *args)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=4, help="Python threads (default 4)")
    ap.add_argument("--cxx-threads", type=int, default=4, help="max_threads for C++ (default 4)")
    ap.add_argument("--vocab-size", type=int, default=3000)
    ap.add_argument("--matchers", type=int, default=6, help="matchers per grammar per thread")
    ap.add_argument("--steps", type=int, default=25, help="tokens per matcher")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--with-torch", action="store_true", help="do not block torch")
    ap.add_argument("--probe-shared-matcher", action="store_true",
                    help="misuse on purpose: one matcher, two threads (TSan should report)")
    args = ap.parse_args()

    if not args.with_torch:
        sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` -> ImportError
    import formgate
    import numpy as np
    from formgate import _core
    from formgate.testing import allowed_tokens

    print("tsan_smoke: formgate._core =", _core.__file__, flush=True)
    expect = os.environ.get("FORMGATE_EXPECT_PKG")
    if expect and not os.path.realpath(_core.__file__).startswith(os.path.realpath(expect) + os.sep):
        raise SystemExit(f"tsan_smoke: expected formgate._core under {expect}")
    vocab = make_vocab(args.vocab_size, args.seed)
    stop = len(vocab) - 1
    info = formgate.TokenizerInfo(vocab, vocab_size=len(vocab) + 13, stop_token_ids=[stop])
    texts = {g: (ROOT / "grammars" / f"{g}.ebnf").read_text() for g in GRAMMARS}

    if args.probe_shared_matcher:
        # Two Python threads filling masks from ONE matcher: each call releases the GIL and
        # uses the matcher's scratch arena, so this races (BatchGrammarMatcher refuses the same
        # matcher twice in a batch; plain threads are not checked).
        compiled = formgate.GrammarCompiler(info, max_threads=1).compile_grammar(texts["json"])
        m = formgate.GrammarMatcher(compiled)
        assert m.accept_string('{"a": [1, "x')

        def probe_worker(i: int, barrier: threading.Barrier) -> None:
            mask = formgate.allocate_token_bitmask(1, info.vocab_size)
            barrier.wait()
            for _ in range(20):
                m.fill_next_token_bitmask(mask)

        run_threads(2, probe_worker)
        print("tsan_smoke: probe finished without a TSan report (unexpected)")
        return 1

    # 1. Concurrent compilation on one shared compiler.
    t0 = time.time()
    compiler = formgate.GrammarCompiler(info, max_threads=args.cxx_threads)
    results: list[dict[str, formgate.CompiledGrammar]] = [{} for _ in range(args.threads)]

    def compile_worker(i: int, barrier: threading.Barrier) -> None:
        order = GRAMMARS[i % len(GRAMMARS):] + GRAMMARS[: i % len(GRAMMARS)]
        barrier.wait()
        for g in order:
            results[i][g] = compiler.compile_grammar(texts[g])

    run_threads(args.threads, compile_worker)
    for g in GRAMMARS:
        sizes = {r[g].memory_size_bytes for r in results}
        if len(sizes) != 1:
            raise AssertionError(f"{g}: compiled sizes differ across threads: {sizes}")
    print(f"tsan_smoke: compiled {len(GRAMMARS)} grammars on {args.threads} threads "
          f"x {args.cxx_threads} C++ threads in {time.time() - t0:.1f}s", flush=True)

    # 2. Concurrent mask filling over shared CompiledGrammar objects.
    t0 = time.time()
    shared = results[0]
    batcher = formgate.BatchGrammarMatcher(args.cxx_threads)
    counts = [0] * args.threads
    # Per thread, a digest of every filled mask: the run is replayed on one thread afterwards
    # and must give the same masks (shared CompiledGrammar state must not leak between threads).
    digests: list[list[int]] = [[] for _ in range(args.threads)]

    def fill_worker(i: int, barrier: threading.Barrier, record: list[int] | None = None,
                    filler: formgate.BatchGrammarMatcher = batcher) -> None:
        record = digests[i] if record is None else record
        rng = random.Random(args.seed * 1000 + i)
        matchers = [formgate.GrammarMatcher(shared[g], max_rollback_tokens=rng.choice([-1, 4]))
                    for g in GRAMMARS for _ in range(args.matchers)]
        # Padded rows and a non-identity row order exercise the `indices` path too.
        rows = list(range(2 * len(matchers)))
        rng.shuffle(rows)
        rows = rows[: len(matchers)]
        mask = np.zeros((2 * len(matchers), (info.vocab_size + 31) // 32), dtype=np.int32)
        barrier.wait()
        for step in range(args.steps):
            filler.batch_fill_next_token_bitmask(matchers, mask, rows)
            record.append(hash(mask.tobytes()))
            for k, m in enumerate(matchers):
                allowed = allowed_tokens(mask[rows[k]], info.vocab_size)
                if not allowed:
                    raise AssertionError(f"thread {i}: empty mask at step {step}")
                tok = rng.choice(allowed)
                if not m.accept_token(tok):
                    raise AssertionError(f"thread {i}: mask allowed token {tok} {vocab[tok]!r} "
                                         f"but accept_token rejected it")
                counts[i] += 1
                if m.is_terminated():
                    m.reset()
                elif rng.random() < 0.1 and m.num_steps:
                    m.rollback(1)
                elif rng.random() < 0.1:
                    matchers[k] = m.fork()
                if rng.random() < 0.05:
                    m.find_jump_forward_string()

    run_threads(args.threads, fill_worker)
    print(f"tsan_smoke: {sum(counts)} tokens accepted on {args.threads} threads in "
          f"{time.time() - t0:.1f}s", flush=True)
    for i in range(args.threads):
        alone: list[int] = []
        fill_worker(i, threading.Barrier(1), alone, formgate.BatchGrammarMatcher(1))
        if alone != digests[i]:
            step = next(k for k, (a, b) in enumerate(zip(alone, digests[i])) if a != b)
            raise AssertionError(f"thread {i}: masks differ from a single-threaded replay from "
                                 f"step {step} on")
    print(f"tsan_smoke: masks identical to single-threaded replays on all {args.threads} "
          "threads", flush=True)
    print("tsan_smoke: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
