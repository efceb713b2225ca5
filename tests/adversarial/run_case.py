"""Run one adversarial case in this process and print its outcome as one JSON line:
``python tests/adversarial/run_case.py CASE_NAME``.

Output: ``{"outcome": ..., "classes": [...], "message": ..., "seconds": ...,
"peak_rss_mb": ...}``. torch is blocked: the cases need none of it and it would dominate the
start-up time and the memory figure.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.modules["torch"] = None  # type: ignore[assignment]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import formgate  # noqa: E402
from corpus import BY_NAME, Case  # noqa: E402


def _compile(compiler: formgate.GrammarCompiler, kind: str, source):
    if kind == "ebnf":
        return compiler.compile_grammar(source)
    if kind == "regex":
        return compiler.compile_regex(source)
    return compiler.compile_json_schema(source)


def run(case: Case) -> dict:
    compiler = formgate.GrammarCompiler(formgate.TokenizerInfo([bytes([b]) for b in range(256)]))
    source = case.build()
    start = time.perf_counter()
    try:
        if case.kind == "match":
            kind, text = source
            matcher = formgate.GrammarMatcher(_compile(compiler, kind, text), 0)
            ok = matcher.accept_string(case.data())
            outcome = ("accepted" if matcher.is_completed() else "prefix") if ok else "rejected"
        else:
            _compile(compiler, case.kind, source)
            outcome = "compiles"
        classes, message = [], ""
    except Exception as e:  # the outcome under test: any exception is recorded, not raised
        outcome = type(e).__name__
        classes = [c.__name__ for c in type(e).__mro__]
        message = str(e)[:300]
    return {"outcome": outcome, "classes": classes, "message": message,
            "seconds": round(time.perf_counter() - start, 3),
            "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited from
    the parent across fork and exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


if __name__ == "__main__":
    print(json.dumps(run(BY_NAME[sys.argv[1]])))
