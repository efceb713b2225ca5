"""Run the atheris fuzz targets for a fixed time each and summarise (needs ``pip install
atheris``; Linux, CPython <= 3.11).

    python tests/fuzz/run_fuzz.py --seconds 60              # all targets, 60 s each
    python tests/fuzz/run_fuzz.py --seconds 30 regex ebnf

Each target starts from a scratch copy of ``tests/fuzz/corpus/<target>`` (under
``--work-dir``, default ``build/fuzz/``, created when missing, so the stored corpus only changes
when you copy inputs back on purpose). libFuzzer writes any crashing, hanging (``-timeout``,
10 s per input) or memory-hungry (``-rss_limit_mb``) input to ``<--artifacts>/<target>/``
(default ``tests/fuzz/crashes/``, where reproducers are kept; ``test_timed_fuzz.py`` points it
under ``build/`` so a CI run never dirties the checkout); ``replay.py`` reruns them. The summary
is one JSON line per target: executions, seconds, new corpus size, artifacts, exit status and
libFuzzer's random seed (``-seed=N`` repeats a run's input sequence, timing aside).
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


def run_target(target: str, seconds: int, python: str, work_dir: Path = ROOT / "build" / "fuzz",
               artifact_dir: Path = HERE / "crashes", seed: int = 0) -> dict:
    scratch = work_dir / target
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(HERE / "corpus" / target, scratch)
    crashes = artifact_dir / target
    crashes.mkdir(parents=True, exist_ok=True)
    before = set(crashes.iterdir())
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [python, str(HERE / f"fuzz_{target}.py"), str(scratch), f"-max_total_time={seconds}",
             "-timeout=10", "-rss_limit_mb=4096", "-print_final_stats=1", "-max_len=4096",
             f"-seed={seed}",
             f"-artifact_prefix={crashes}/"],
            capture_output=True, text=True, timeout=seconds + 120, check=False)
        returncode, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        # libFuzzer stops itself after max_total_time; still running means a hang that its
        # per-input timeout did not catch (e.g. in native code holding the GIL).
        returncode, stdout = "timeout", ""
        stderr = exc.stderr or b""  # POSIX: the bytes read before the kill, not decoded
        stderr = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", stderr)
    seed = re.search(r"INFO: Seed: (\d+)", stderr)
    artifacts = sorted(display_path(p) for p in set(crashes.iterdir()) - before)
    return {"target": target, "executions": int(execs[-1]) if execs else None,
            "seconds": round(time.perf_counter() - start, 1),
            "corpus": sum(1 for _ in scratch.iterdir()), "returncode": returncode,
            "seed": int(seed.group(1)) if seed else None, "artifacts": artifacts,
            "tail": failure_excerpt(stdout, stderr) if returncode != 0 else ""}


def failure_excerpt(stdout: str, stderr: str) -> str:
    """The Python traceback (atheris prints it on stdout) and libFuzzer's error report: a plain
    tail of stderr would be mostly the hex dump of the input, up to 4 KB of it."""
    parts = []
    exception = stdout.rfind("=== Uncaught Python exception")
    if exception >= 0:
        parts.append(stdout[exception:exception + 3000])
    error = stderr.rfind("ERROR: libFuzzer")
    parts.append(stderr[error:error + 1500] if error >= 0 else stderr[-1500:])
    return "\n".join(parts)


def display_path(path: Path) -> str:
    """Relative to the repository when inside it (stable in reports), else absolute."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path.resolve())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help=f"some of {', '.join(TARGETS)} (default all)")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0, help="libFuzzer seed (0: a fresh one)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "build" / "fuzz",
                        help="where each target's scratch corpus is copied (default build/fuzz)")
    parser.add_argument("--artifacts", type=Path, default=HERE / "crashes",
                        help="crash/hang reproducers go to ARTIFACTS/<target>/ "
                             "(default tests/fuzz/crashes)")
    args = parser.parse_args()
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {TARGETS}")
    failed = False
    for target in args.targets or TARGETS:
        result = run_target(target, args.seconds, sys.executable, args.work_dir.resolve(),
                            args.artifacts.resolve(), args.seed)
        failed |= bool(result["artifacts"]) or result["returncode"] != 0
        print(json.dumps(result), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
