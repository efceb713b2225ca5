"""The fuzz targets' seed corpus and every stored crash reproducer pass (in a subprocess, so a
crash of the core fails this test instead of killing pytest); the targets need no atheris."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import formgate

HERE = Path(__file__).resolve().parent
TARGETS = ["ebnf", "regex", "json_schema", "matcher"]


@pytest.mark.parametrize("target", TARGETS)
def test_stored_inputs_pass(target):
    package_parent = str(Path(formgate.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=package_parent)
    proc = subprocess.run([sys.executable, str(HERE / "replay.py"), target], cwd=HERE,
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " inputs ok" in proc.stdout
