"""Run fuzz targets on stored inputs, without atheris: the seed corpus and every crash
reproducer must now pass (return normally or raise an expected error).

    python tests/fuzz/replay.py [TARGET ...]      # default: all targets
    python tests/fuzz/replay.py ebnf path/to/crash-file

Prints one line per target: ``TARGET: N inputs ok`` or the first failure with its input file,
and exits 1 on any failure.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

from fuzz_common import HERE, expected_errors

TARGETS = ["ebnf", "regex", "json_schema", "matcher"]


def inputs_for(target: str) -> list[Path]:
    files = []
    for folder in (HERE / "corpus" / target, HERE / "crashes" / target):
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.is_file() and p.name != "README")
    return files


def replay(target: str, files: list[Path]) -> bool:
    one_input = importlib.import_module(f"fuzz_{target}").one_input
    expected = expected_errors()
    for path in files:
        try:
            one_input(path.read_bytes())
        except expected:
            pass
        except Exception:
            print(f"{target}: FAILED on {path}")
            traceback.print_exc()
            return False
    print(f"{target}: {len(files)} inputs ok")
    return True


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 2 and args[0] in TARGETS and Path(args[1]).is_file():
        ok = replay(args[0], [Path(args[1])])
    else:
        ok = all([replay(t, inputs_for(t)) for t in (args or TARGETS)])
    sys.exit(0 if ok else 1)
