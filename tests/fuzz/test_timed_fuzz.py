"""Coverage-guided fuzzing as part of the suite (issue #8): every atheris target runs through
``run_fuzz.py`` for a fixed budget and must write no crash, hang or out-of-memory artifact.

Budget: ``FORMGATE_FUZZ_SECONDS`` seconds per target (default 30, so about 2.5 minutes for the
four targets with start-up; ``0`` skips these tests). Seed: ``FORMGATE_FUZZ_SEED`` (default 1, so
a test run, CI included, replays one input sequence up to timing and stays reproducible; ``0``
asks libFuzzer for a fresh seed, which is what a fuzzing campaign wants). Skipped when atheris does not import (it
ships Linux wheels for CPython < 3.12 only; the ``test`` extra installs it there).

Each run fuzzes a scratch copy of the stored corpus in pytest's ``tmp_path`` (so concurrent
runs do not share it) and writes artifacts to ``build/fuzz/pytest-artifacts/<target>/``
(created as needed), so the checkout stays clean: a
reproducer worth keeping is copied to ``tests/fuzz/crashes/<target>/`` by hand, after which
``test_replay.py`` runs it on every test run. A failure names the artifact, the replay command,
libFuzzer's seed, and the input itself in base64 (CI logs outlive the build directory).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import formgate
from run_fuzz import ROOT, TARGETS

pytest.importorskip("atheris")

ARTIFACT_DIR = ROOT / "build" / "fuzz" / "pytest-artifacts"


def budget_seconds() -> int:
    raw = os.environ.get("FORMGATE_FUZZ_SECONDS", "30")
    try:
        seconds = int(raw)
    except ValueError:
        raise ValueError(
            f"FORMGATE_FUZZ_SECONDS must be a whole number of seconds, got {raw!r}") from None
    if seconds < 0:
        raise ValueError(f"FORMGATE_FUZZ_SECONDS must not be negative, got {seconds}")
    return seconds


def seed() -> int:
    raw = os.environ.get("FORMGATE_FUZZ_SEED", "1")
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"FORMGATE_FUZZ_SEED must be a whole number, got {raw!r}") from None


def describe_failure(result: dict) -> str:
    lines = [f"fuzz target {result['target']!r} failed: exit status {result['returncode']}, "
             f"{result['executions']} inputs in {result['seconds']} s, seed {result['seed']}"]
    for artifact in result["artifacts"]:
        path = Path(artifact) if Path(artifact).is_absolute() else ROOT / artifact
        lines += [f"reproducer: {path}",
                  f"  replay: python tests/fuzz/replay.py {result['target']} {path}",
                  f"  base64: {base64.b64encode(path.read_bytes()).decode()}"]
    if result["tail"]:
        lines += ["fuzzer output (traceback, libFuzzer report):", result["tail"]]
    return "\n".join(lines)


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_finds_nothing(target, tmp_path):
    seconds = budget_seconds()
    if seconds == 0:
        pytest.skip("FORMGATE_FUZZ_SECONDS=0")
    # The targets import formgate from wherever this test did (the checkout's python/ in
    # development, site-packages in CI).
    env = dict(os.environ, PYTHONPATH=str(Path(formgate.__file__).resolve().parents[1]))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "fuzz" / "run_fuzz.py"), "--seconds", str(seconds),
         "--seed", str(seed()),
         "--work-dir", str(tmp_path), "--artifacts", str(ARTIFACT_DIR), target],
        capture_output=True, text=True, env=env, timeout=seconds + 300, check=False)
    lines = proc.stdout.strip().splitlines()
    assert lines, f"run_fuzz.py printed no summary (exit {proc.returncode}):\n{proc.stderr}"
    result = json.loads(lines[-1])
    print(json.dumps({k: v for k, v in result.items() if k != "tail"}))
    assert not result["artifacts"] and result["returncode"] == 0, describe_failure(result)
    # A run that never reached the fuzz loop (broken import, bad flag) would also exit 0.
    assert result["executions"], describe_failure(result)
