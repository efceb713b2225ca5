"""Run the atheris fuzz targets for a fixed time each and summarise (needs ``pip install
atheris``; Linux, CPython <= 3.11).

    python tests/fuzz/run_fuzz.py --seconds 60              # all targets, 60 s each
    python tests/fuzz/run_fuzz.py --seconds 30 regex ebnf

Each target starts from a scratch copy of ``tests/fuzz/corpus/<target>`` (under
``build/fuzz/``, so the stored corpus only changes when you copy inputs back on purpose).
libFuzzer writes any crashing, hanging (``-timeout``, default 10 s per input) or memory-hungry
(``-rss_limit_mb``) input to ``tests/fuzz/crashes/<target>/``; ``replay.py`` reruns them. The
summary is one JSON line per target: executions, seconds, new corpus size and artifacts.
Native code is only coverage-guided when the extension is built with clang and
``-fsanitize=fuzzer-no-link``; with the normal build, atheris follows the Python frontends'
coverage and drives the C++ core with the inputs that reach it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TARGETS = ["ebnf", "regex", "json_schema", "matcher"]


def run_target(target: str, seconds: int, python: str) -> dict:
    scratch = ROOT / "build" / "fuzz" / target
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(HERE / "corpus" / target, scratch)
    crashes = HERE / "crashes" / target
    crashes.mkdir(parents=True, exist_ok=True)
    before = set(crashes.iterdir())
    start = time.perf_counter()
    proc = subprocess.run(
        [python, str(HERE / f"fuzz_{target}.py"), str(scratch), f"-max_total_time={seconds}",
         "-timeout=10", "-rss_limit_mb=4096", "-print_final_stats=1", "-max_len=4096",
         f"-artifact_prefix={crashes}/"],
        capture_output=True, text=True, timeout=seconds + 120, check=False)
    execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", proc.stderr)
    artifacts = sorted(str(p.relative_to(ROOT)) for p in set(crashes.iterdir()) - before)
    return {"target": target, "executions": int(execs[-1]) if execs else None,
            "seconds": round(time.perf_counter() - start, 1),
            "corpus": sum(1 for _ in scratch.iterdir()), "returncode": proc.returncode,
            "artifacts": artifacts,
            "tail": proc.stderr[-1500:] if proc.returncode not in (0,) else ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help=f"some of {', '.join(TARGETS)} (default all)")
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {TARGETS}")
    failed = False
    for target in args.targets or TARGETS:
        result = run_target(target, args.seconds, sys.executable)
        failed |= bool(result["artifacts"]) or result["returncode"] != 0
        print(json.dumps(result), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
