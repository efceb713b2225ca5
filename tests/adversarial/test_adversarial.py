"""Every adversarial case (tests/adversarial/corpus.py) ends with its expected outcome, in a
fresh process, within its time bound: no crash, no hang, no wrong exception type."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import formgate
from adversarial.corpus import CASES, Case

RUNNER = Path(__file__).resolve().parent / "run_case.py"
# Sanitizer runs (.ci/sanitize.sh) are several times slower: they scale every bound, and the
# sanitizer runtime and options must reach the subprocess.
TIME_SCALE = float(os.environ.get("FORMGATE_TIME_SCALE", "1"))
PASS_THROUGH = ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS")


def run_case(case: Case) -> dict:
    """The case's result in a subprocess; ``outcome`` is ``timeout`` past its bound and
    ``crash`` when the process dies without a result (a signal, an abort)."""
    package_parent = str(Path(formgate.__file__).resolve().parents[1])
    env = {"PYTHONPATH": package_parent, "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"}
    env.update({k: os.environ[k] for k in PASS_THROUGH if k in os.environ})
    limit = case.seconds * TIME_SCALE + 5  # + start-up
    try:
        proc = subprocess.run([sys.executable, str(RUNNER), case.name], capture_output=True,
                              text=True, env=env, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        return {"outcome": "timeout", "classes": [], "seconds": limit}
    if proc.returncode != 0 or not proc.stdout.strip():
        return {"outcome": "crash", "classes": [], "returncode": proc.returncode,
                "stderr": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def satisfied(case: Case, result: dict) -> bool:
    return ((result["outcome"] == case.expected or case.expected in result["classes"])
            and result.get("seconds", 0) <= case.seconds * TIME_SCALE)


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.name,
                 marks=[pytest.mark.xfail(reason=c.xfail, strict=False)] if c.xfail else [])
    for c in CASES])
def test_adversarial_case(case):
    result = run_case(case)
    assert satisfied(case, result), (case.expected, case.seconds, result)
