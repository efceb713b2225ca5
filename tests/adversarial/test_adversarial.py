"""Every adversarial case (tests/adversarial/corpus.py) ends with its expected outcome, in a
fresh process, within its time bound: no crash, no hang, no wrong exception type."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import formgate
from adversarial.corpus import CASES, Case

RUNNER = Path(__file__).resolve().parent / "run_case.py"


def run_case(case: Case) -> dict:
    """The case's result in a subprocess; ``outcome`` is ``timeout`` past its bound and
    ``crash`` when the process dies without a result (a signal, an abort)."""
    package_parent = str(Path(formgate.__file__).resolve().parents[1])
    env = {"PYTHONPATH": package_parent, "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"}
    try:
        proc = subprocess.run([sys.executable, str(RUNNER), case.name], capture_output=True,
                              text=True, env=env, timeout=case.seconds + 5, check=False)
    except subprocess.TimeoutExpired:
        return {"outcome": "timeout", "classes": [], "seconds": case.seconds + 5}
    if proc.returncode != 0 or not proc.stdout.strip():
        return {"outcome": "crash", "classes": [], "returncode": proc.returncode,
                "stderr": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def satisfied(case: Case, result: dict) -> bool:
    return ((result["outcome"] == case.expected or case.expected in result["classes"])
            and result.get("seconds", 0) <= case.seconds)


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.name,
                 marks=[pytest.mark.xfail(reason=c.xfail, strict=False)] if c.xfail else [])
    for c in CASES])
def test_adversarial_case(case):
    result = run_case(case)
    assert satisfied(case, result), (case.expected, case.seconds, result)
