"""Fuzz target: random call sequences on a matcher (accept, rollback, fork, reset, fill,
jump-forward) over the shipped grammars, against a model that replays the accepted bytes on a
fresh matcher. Every fill must agree with accept_token (mask <=> accept), and the matcher's
completion state must match the replay after every operation.

    python tests/fuzz/fuzz_matcher.py CORPUS_DIR -max_total_time=60
"""

from __future__ import annotations

import functools

import numpy as np

from fuzz_common import HERE, WrongAnswer, byte_compiler, main

GRAMMARS = ["json", "arithmetic", "sql_select", "c_like", "json_compact"]


@functools.lru_cache(maxsize=None)
def _compiled(name: str):
    return byte_compiler().compile_grammar((HERE.parents[1] / "grammars" / f"{name}.ebnf")
                                           .read_text())


def _allowed(matcher) -> set[int]:
    mask = np.zeros((1, 8), dtype=np.int32)
    matcher.fill_next_token_bitmask(mask)
    return set(np.flatnonzero(np.unpackbits(mask.view(np.uint8), bitorder="little")).tolist())


def one_input(data: bytes) -> None:
    import formgate

    if not data:
        return
    compiled = _compiled(GRAMMARS[data[0] % len(GRAMMARS)])
    matcher = formgate.GrammarMatcher(compiled)
    history: list[int] = []
    ops = iter(data[1:])
    for op in ops:
        arg = next(ops, 0)
        kind = op % 6
        if kind in (0, 1):  # accept a byte: allowed ones more often than not
            allowed = sorted(_allowed(matcher))
            byte = allowed[arg % len(allowed)] if allowed and kind == 0 else arg
            ok = matcher.accept_token(byte)
            if ok != (byte in allowed):
                raise WrongAnswer(f"accept_token({byte}) = {ok} disagrees with the mask after "
                                  f"{bytes(history)!r}")
            if ok:
                history.append(byte)
        elif kind == 2:
            k = arg % (len(history) + 1)
            matcher.rollback(k)
            del history[len(history) - k:]
        elif kind == 3:
            matcher = matcher.fork()
        elif kind == 4 and arg % 8 == 0:
            matcher.reset()
            history.clear()
        else:
            jump = matcher.find_jump_forward_bytes()
            probe = matcher.fork()
            if jump and not probe.accept_string(jump):
                raise WrongAnswer(f"jump-forward {jump!r} rejected after {bytes(history)!r}")
        replay = formgate.GrammarMatcher(compiled)
        if not replay.accept_string(bytes(history)):
            raise WrongAnswer(f"accepted bytes {bytes(history)!r} do not replay")
        if replay.is_completed() != matcher.is_completed():
            raise WrongAnswer(f"is_completed differs from the replay after {bytes(history)!r}")


if __name__ == "__main__":
    main(one_input)
