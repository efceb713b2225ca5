"""Shared by the fuzz targets: the byte vocabulary, the exceptions a target may legitimately
raise, and the atheris entry point.

A target module defines ``one_input(data: bytes) -> None``: it returns normally or raises an
*expected* error (see ``EXPECTED``) for any input, and raises ``WrongAnswer`` (or anything
else) when formgate disagrees with an oracle or fails in an unexpected way. ``main`` runs it
under atheris (libFuzzer); ``replay.py`` runs it on stored inputs without atheris.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: the oracles


class WrongAnswer(AssertionError):
    """formgate disagreed with an oracle."""


@functools.lru_cache(maxsize=1)
def byte_compiler():
    import formgate

    return formgate.GrammarCompiler(formgate.TokenizerInfo([bytes([b]) for b in range(256)]),
                                    cache_enabled=False)


def expected_errors() -> tuple[type[BaseException], ...]:
    import formgate

    # GrammarError covers LimitError, SchemaError and RegexError.
    return (formgate.GrammarError,)


def main(one_input: Callable[[bytes], None]) -> None:
    """Fuzz ``one_input`` with atheris; libFuzzer flags come from the command line."""
    import atheris

    with atheris.instrument_imports(include=["formgate"]):
        import formgate  # noqa: F401  (instrumented: the Python frontends get coverage)
        import formgate.json_schema  # noqa: F401
        import formgate.fuzz  # noqa: F401
    expected = expected_errors()

    def test_one_input(data: bytes) -> None:
        try:
            one_input(data)
        except expected:
            pass

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
