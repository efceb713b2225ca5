"""Fuzz target: the EBNF parser and compiler. Any text must compile or raise GrammarError
(positions within the text); a grammar that compiles must have sentences that lark's Earley
parser (through the independent EBNF reader in tests/oracle) accepts.

    python tests/fuzz/fuzz_ebnf.py CORPUS_DIR -max_total_time=60
"""

from __future__ import annotations

import sys

from fuzz_common import WrongAnswer, byte_compiler, main


def one_input(data: bytes) -> None:
    import formgate
    import formgate.fuzz as fz

    text = data.decode("utf-8", errors="replace")
    try:
        compiled = byte_compiler().compile_grammar(text)
    except formgate.GrammarError as e:
        lines = text.split("\n")
        if e.line < 0 or e.line > len(lines) or e.column < 0:
            raise WrongAnswer(f"error position {e.line}:{e.column} outside the text: {e}")
        raise
    try:
        samples = fz.generate(compiled, 2, max_bytes=24, seed=0)
    except fz.NoStringError:
        return
    oracle = _lark_twin(text)
    if oracle is None:
        return
    from oracle.lark_oracle import lark_accepts

    for s in samples:
        if not lark_accepts(oracle, s):
            raise WrongAnswer(f"formgate generated {s!r}, which lark rejects")


def _lark_twin(text: str):
    """The grammar as Lark text, or None where the reader does not cover it."""
    from oracle.lark_oracle import ebnf_to_lark

    try:
        return ebnf_to_lark(text)
    except Exception:  # the reader is a test tool: its limits are not formgate's bugs
        return None


if __name__ == "__main__":
    main(one_input)
