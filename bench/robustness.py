"""Reliability of formgate on generated and adversarial input: crashes, hangs and wrong
answers against independent oracles. Writes bench/results/robustness.md.

    python bench/robustness.py                    # default counts (about 6 minutes on 2 cores)
    python bench/robustness.py --scale 0.2        # a quick look
    python bench/robustness.py --atheris 60       # also run tests/fuzz/run_fuzz.py, 60 s/target

Targets (each input is processed in a worker subprocess; a worker that dies is a crash, one
silent for --hang-seconds is a hang, and the run resumes after the offending input):

* ``grammars``: random grammars (tests/grammar_gen.py) compiled, and candidate strings judged
  by formgate and by lark's Earley parser; LimitError (exponential ambiguity) is counted apart.
* ``fuzz-generate``: formgate.fuzz.generate on random grammars; every sample must be accepted
  by lark.
* ``regexes``: random regexes over a small alphabet; formgate's full match against Python's
  ``re.fullmatch`` on random strings and on formgate-generated samples.
* ``schemas``: the JSON-Schema-Test-Suite (draft 2020-12, ../shared) where present: an invalid
  instance formgate accepts is a wrong answer, a valid one it rejects is counted as
  "over-strict" (documented subsets); plus generated instances validated by ``jsonschema``.
* ``matcher``: random call sequences (tests/fuzz/fuzz_matcher.py: accept, rollback, fork,
  reset, jump-forward; mask <=> accept and replay checks).
* the adversarial corpus (tests/adversarial): outcome, time and peak memory per case.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from common import markdown_table, shared_dir, write_results  # noqa: E402

DEFAULT_COUNTS = {"grammars": 2000, "fuzz-generate": 1000, "regexes": 5000, "schemas": 0,
                  "matcher": 10000}
SUITE = shared_dir() / "json-schema-test-suite" / "tests" / "draft2020-12"


# ------------------------------------------------------------------------------ workers


def _draw_one(strategy: Any, seed: int) -> Any:
    from hypothesis import HealthCheck, Phase, given, seed as hseed, settings

    box: list[Any] = []

    @hseed(seed)
    @settings(max_examples=1, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(x: Any) -> None:
        if not box:
            box.append(x)

    one()
    return box[0]


def _byte_matcher_accepts(compiled: Any, s: str) -> bool:
    import formgate

    m = formgate.GrammarMatcher(compiled, 0)
    return m.accept_string(s) and m.is_completed()


def _compiler() -> Any:
    import formgate

    return formgate.GrammarCompiler(formgate.TokenizerInfo([bytes([b]) for b in range(256)]),
                                    cache_enabled=False)


def work_grammars(i: int) -> dict:
    import formgate
    from hypothesis import strategies as st

    from grammar_gen import random_grammars, strings_for
    from oracle.lark_oracle import lark_accepts

    g = _draw_one(random_grammars(), i)
    strings = _draw_one(st.lists(strings_for(g), min_size=8, max_size=8), i)
    compiled = _compiler().compile_grammar(g.ebnf)
    wrong, limits = [], 0
    for s in strings:
        try:
            ours = _byte_matcher_accepts(compiled, s)
        except formgate.LimitError:
            limits += 1
            continue
        if ours != lark_accepts(g.lark, s):
            wrong.append(f"{g.ebnf!r} on {s!r}: formgate {ours}")
    return {"inputs": 1 + len(strings), "wrong": wrong, "limits": limits}


def work_fuzz_generate(i: int) -> dict:
    import formgate
    import formgate.fuzz as fz

    from grammar_gen import random_grammars
    from oracle.lark_oracle import lark_accepts

    g = _draw_one(random_grammars(), 10_000 + i)
    try:
        samples = fz.generate(g.ebnf, 5, max_bytes=32, seed=i)
    except (fz.NoStringError, formgate.LimitError):
        return {"inputs": 1, "wrong": [], "limits": 1}
    wrong = [f"{g.ebnf!r}: generated {s!r}, lark rejects" for s in samples
             if not lark_accepts(g.lark, s)]
    return {"inputs": len(samples), "wrong": wrong}


_ATOMS = ["a", "b", "c", ".", "[ab]", "[^a]", "é", r"\d", r"\w", r"\s", "[a-c]", r"\.", "[é-ü]",
          r"[\w-]", "1"]
_ALPHABET = "abcé1 _.\n-ü"


def random_regex(rng: random.Random, depth: int = 0) -> str:
    r = rng.random()
    if depth >= 3 or r < 0.35:
        return rng.choice(_ATOMS)
    if r < 0.55:
        return "".join(random_regex(rng, depth + 1) for _ in range(rng.randint(2, 3)))
    if r < 0.7:
        return "|".join(random_regex(rng, depth + 1) for _ in range(rng.randint(2, 3)))
    inner = random_regex(rng, depth + 1)
    q = rng.choice(["*", "+", "?", "{2}", "{0,3}", "{1,}", "{2,4}", "*?", "+?"])
    return f"({inner}){q}" if rng.random() < 0.5 else f"(?:{inner}){q}"


def work_regexes(i: int) -> dict:
    import re

    import formgate.fuzz as fz

    rng = random.Random(i)
    pattern = random_regex(rng)
    oracle = re.compile(pattern)
    compiled = _compiler().compile_regex(pattern)
    strings = ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 6)))
               for _ in range(12)]
    try:
        strings += fz.generate(compiled, 4, max_bytes=16, seed=i)
    except fz.NoStringError:
        pass
    wrong = []
    for s in strings:
        ours = _byte_matcher_accepts(compiled, s)
        if ours != (oracle.fullmatch(s) is not None):
            wrong.append(f"/{pattern}/ on {s!r}: formgate {ours}")
    return {"inputs": 1 + len(strings), "wrong": wrong}


def _suite_groups() -> list[tuple[str, Any]]:
    if not SUITE.is_dir():
        return []
    out = []
    for path in sorted(SUITE.glob("*.json")):
        for g in json.loads(path.read_text(encoding="utf-8")):
            out.append((f"{path.stem}: {g['description']}", g))
    return out


def work_schemas(i: int) -> dict:
    import jsonschema

    import formgate
    import formgate.fuzz as fz

    name, group = _suite_groups()[i]
    schema = group["schema"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = _compiler().compile_json_schema(schema)
    except formgate.GrammarError:
        return {"inputs": 1, "wrong": [], "unsupported": 1}
    wrong, strict = [], 0
    for t in group["tests"]:
        try:
            text = json.dumps(t["data"])
        except (TypeError, ValueError):
            continue
        ours = _byte_matcher_accepts(compiled, text)
        if ours and not t["valid"]:
            wrong.append(f"{name} / {t['description']}: accepted invalid {text[:60]}")
        strict += (not ours) and t["valid"]
    validator = jsonschema.validators.validator_for(schema)(schema)
    try:
        samples = fz.generate(compiled, 3, max_bytes=128, seed=i)
    except fz.NoStringError:
        samples = []
    for s in samples:
        if not validator.is_valid(json.loads(s)):
            wrong.append(f"{name}: generated invalid {s[:60]}")
    return {"inputs": 1 + len(group["tests"]) + len(samples), "wrong": wrong,
            "over_strict": strict}


def work_matcher(i: int) -> dict:
    sys.path.insert(0, str(ROOT / "tests" / "fuzz"))
    from fuzz_matcher import one_input

    rng = random.Random(i)
    data = bytes(rng.randrange(256) for _ in range(rng.randint(2, 200)))
    one_input(data)
    return {"inputs": 1, "wrong": []}


WORK = {"grammars": work_grammars, "fuzz-generate": work_fuzz_generate,
        "regexes": work_regexes, "schemas": work_schemas, "matcher": work_matcher}


def worker(target: str, start: int, stop: int) -> None:
    """Print one JSON line per input index: its result, or the exception it raised."""
    sys.path.insert(0, str(ROOT / "tests"))
    sys.modules["torch"] = None  # type: ignore[assignment]
    import formgate

    for i in range(start, stop):
        try:
            result = WORK[target](i)
        except formgate.LimitError:
            result = {"inputs": 1, "wrong": [], "limits": 1}
        except formgate.GrammarError as e:  # e.g. a regex feature formgate refuses
            result = {"inputs": 1, "wrong": [], "refused": 1, "refusal": str(e)[:80]}
        except Exception as e:  # an unexpected exception is a failure of formgate
            result = {"inputs": 1, "wrong": [f"#{i}: {type(e).__name__}: {str(e)[:120]}"],
                      "exception": 1}
        print(json.dumps({"i": i, **result}), flush=True)


# ------------------------------------------------------------------------------ driver


def _lines(proc: subprocess.Popen, hang_seconds: float) -> Iterator[str | None]:
    """The worker's output lines; None once it stays silent for ``hang_seconds``."""
    buffer = b""
    while True:
        ready, _, _ = select.select([proc.stdout], [], [], hang_seconds)
        if not ready:
            yield None
            return
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield line.decode()


def run_target(target: str, count: int, hang_seconds: float) -> dict:
    totals: dict[str, Any] = {"target": target, "cases": 0, "inputs": 0, "crashes": 0,
                              "hangs": 0, "wrong answers": 0, "limit errors": 0,
                              "refused": 0, "over-strict": 0, "unsupported": 0,
                              "examples": [], "seconds": 0.0}
    start = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    i = 0
    while i < count:
        proc = subprocess.Popen([sys.executable, __file__, "--worker", target, str(i),
                                 str(count)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env)
        last = i - 1
        hung = False
        for line in _lines(proc, hang_seconds):
            if line is None:
                hung = True
                break
            r = json.loads(line)
            last = r["i"]
            totals["cases"] += 1
            totals["inputs"] += r["inputs"]
            totals["wrong answers"] += len(r["wrong"])
            totals["limit errors"] += r.get("limits", 0)
            totals["refused"] += r.get("refused", 0)
            totals["over-strict"] += r.get("over_strict", 0)
            totals["unsupported"] += r.get("unsupported", 0)
            totals["examples"] += r["wrong"][:1]
        if hung:
            proc.kill()
            totals["hangs"] += 1
            totals["examples"].append(f"hang at input #{last + 1}")
        proc.wait()
        if not hung and proc.returncode != 0:
            totals["crashes"] += 1
            stderr = proc.stderr.read().decode(errors="replace")[-300:]
            totals["examples"].append(f"crash at input #{last + 1} (exit {proc.returncode}): "
                                      f"{stderr}")
        i = last + 2 if (hung or proc.returncode != 0) else count
    totals["seconds"] = time.perf_counter() - start
    return totals


def adversarial_rows() -> list[dict]:
    sys.path.insert(0, str(ROOT / "tests"))
    from adversarial.corpus import CASES
    from adversarial.test_adversarial import run_case, satisfied

    rows = []
    for case in CASES:
        r = run_case(case)
        rows.append({"case": case.name, "expected": case.expected, "outcome": r["outcome"],
                     "ok": "yes" if satisfied(case, r) else "NO",
                     "known issue": "xfail" if case.xfail else "",
                     "seconds": r.get("seconds"), "bound s": case.seconds,
                     "peak RSS MB": r.get("peak_rss_mb")})
    return rows


def atheris_rows(seconds: int) -> list[dict]:
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "fuzz" / "run_fuzz.py"),
                           "--seconds", str(seconds)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT / "python")), check=False)
    rows = []
    for line in proc.stdout.splitlines():
        r = json.loads(line)
        rows.append({"target": f"atheris {r['target']}", "inputs": r["executions"],
                     "seconds": r["seconds"], "corpus": r["corpus"],
                     "crashes/hangs (artifacts)": len(r["artifacts"]),
                     "artifacts": " ".join(r["artifacts"])})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs=3, metavar=("TARGET", "START", "STOP"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the input counts")
    parser.add_argument("--targets", nargs="*", default=list(WORK))
    parser.add_argument("--hang-seconds", type=float, default=60.0)
    parser.add_argument("--atheris", type=int, default=0, metavar="SECONDS",
                        help="also run the atheris targets for SECONDS each")
    parser.add_argument("--no-adversarial", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "robustness.md"))
    args = parser.parse_args()
    if args.worker:
        target, start, stop = args.worker
        worker(target, int(start), int(stop))
        return

    counts = {t: max(1, int(c * args.scale)) for t, c in DEFAULT_COUNTS.items()}
    counts["schemas"] = max(1, int(len(_suite_groups()) * min(args.scale, 1.0)))
    if not SUITE.is_dir():
        args.targets = [t for t in args.targets if t != "schemas"]
    results = []
    for target in args.targets:
        r = run_target(target, counts[target], args.hang_seconds)
        print(json.dumps({k: v for k, v in r.items() if k != "examples"}), flush=True)
        results.append(r)
    columns = ["target", "cases", "inputs", "crashes", "hangs", "wrong answers",
               "limit errors", "refused", "over-strict", "unsupported", "seconds"]
    sections = [("Differential runs", markdown_table(results, columns) + "\n\n" + (
        "cases: grammars / regexes / schema groups / call sequences tried; inputs: those plus "
        "every string or instance judged. limit errors: LimitError on exponentially ambiguous "
        "input (documented); refused: GrammarError for a feature formgate does not support "
        "(e.g. lazy quantifiers); over-strict: valid suite instances a compiled schema "
        "rejects (documented subsets, e.g. formats, 1.0 as an integer); unsupported: schema "
        "groups that raise SchemaError."))]
    examples = [f"- {r['target']}: {e}" for r in results for e in r["examples"][:8]]
    sections.append(("Failures (first few per target)", "\n".join(examples) or "none"))
    if args.atheris:
        rows = atheris_rows(args.atheris)
        sections.append(("Coverage-guided fuzzing (atheris)", markdown_table(
            rows, ["target", "inputs", "seconds", "corpus", "crashes/hangs (artifacts)",
                   "artifacts"])))
    if not args.no_adversarial:
        rows = adversarial_rows()
        peak = max((r["peak RSS MB"] or 0) for r in rows)
        sections.append((f"Adversarial corpus (peak RSS {peak:.0f} MB)", markdown_table(
            rows, ["case", "expected", "outcome", "ok", "known issue", "seconds", "bound s",
                   "peak RSS MB"])))
    path = write_results(args.out, "formgate robustness: crashes, hangs, wrong answers",
                         sections, packages=("formgate", "hypothesis", "lark", "jsonschema",
                                             "atheris"))
    print(path.read_text())


if __name__ == "__main__":
    main()
