"""Fuzz target: the regex frontend. The first line of the input is a pattern, the others are
candidate strings; formgate must compile the pattern or raise GrammarError, and where Python's
``re`` also compiles it, ``re.fullmatch`` is the oracle for every candidate.

    python tests/fuzz/fuzz_regex.py CORPUS_DIR -max_total_time=60
"""

from __future__ import annotations

import re
import warnings

from fuzz_common import WrongAnswer, byte_compiler, main


def one_input(data: bytes) -> None:
    import formgate

    text = data.decode("utf-8", errors="replace")
    pattern, _, rest = text.partition("\n")
    candidates = rest.split("\n")[:8]
    compiled = byte_compiler().compile_regex(pattern)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            oracle = re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return
    for s in candidates:
        m = formgate.GrammarMatcher(compiled, 0)
        ours = m.accept_string(s) and m.is_completed()
        theirs = oracle.fullmatch(s) is not None
        if ours != theirs:
            raise WrongAnswer(f"regex {pattern!r} on {s!r}: formgate {ours}, re {theirs}")


if __name__ == "__main__":
    main(one_input)
