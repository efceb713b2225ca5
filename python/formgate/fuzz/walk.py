"""Random-walk sampling: one byte at a time through the byte-level acceptor.

The walker always holds a *witness*: bytes known to finish the current input within the
remaining budget. A random step is taken only if a new witness fits after it; otherwise the
walker follows the witness. So it never dead-ends, and as the budget runs out the witnesses
leave no slack and the walk terminates by construction.
"""

from __future__ import annotations

import random
from typing import Optional

import numpy as np

from formgate import _core
from formgate.fuzz.acceptor import allowed_bytes, new_matcher, step
from formgate.fuzz.errors import NoStringError
from formgate.fuzz.search import (DEFAULT_SEARCH_BUDGET, completion_within, greedy_completion,
                                  shortest_completion)
from formgate.matcher import GrammarMatcher

# A random step's re-planning search is kept small: on failure the walker simply follows its
# witness, so a larger budget only buys a little more diversity near the length limit.
_STEP_SEARCH_BUDGET = 400
# ASCII bytes are drawn this many times more often than bytes that start a multi-byte
# character, so classes like [^"] give mostly readable text with some Unicode in it.
_ASCII_WEIGHT = 8.0


def first_witness(compiled: _core.CompiledGrammar, max_bytes: int,
                  budget: int = DEFAULT_SEARCH_BUDGET) -> bytes:
    """A short sentence of at most ``max_bytes`` bytes; NoStringError when none is found."""
    found = completion_within(new_matcher(compiled), max_bytes, budget=budget)
    if found.completion is None:
        raise NoStringError(max_bytes, proven=found.exhaustive)
    return found.completion


def _pick_byte(allowed: np.ndarray, rng: random.Random) -> int:
    weights = np.where(allowed < 0x80, _ASCII_WEIGHT, 1.0)
    return int(rng.choices(allowed.tolist(), weights=weights.tolist())[0])


def _stop_probability(length: int, max_bytes: int) -> float:
    # Stop sometimes at every accepting point (short strings appear), and more often as the
    # budget runs out (long strings are not all cut at the limit).
    return 0.15 + 0.85 * (length / max(max_bytes, 1)) ** 2


def replan(child: GrammarMatcher, witness: bytes, limit: int,
           prefer_short: bool = False) -> Optional[bytes]:
    """A completion for ``child`` of at most ``limit`` bytes: the old witness (or its tail)
    often still works after a step inside a string or a number, and a greedy dive after
    opening a structure; else a small search. ``prefer_short`` searches before diving."""
    for candidate in (witness, witness[1:]):
        if len(candidate) <= limit:
            probe = child.fork()
            if probe.accept_string(candidate) and probe.is_completed():
                return candidate
    def search() -> Optional[bytes]:
        return shortest_completion(child, limit, budget=_STEP_SEARCH_BUDGET).completion

    if prefer_short:
        return search() or greedy_completion(child, limit)
    return greedy_completion(child, limit) or search()


def random_walk(compiled: _core.CompiledGrammar, max_bytes: int, rng: random.Random,
                witness: bytes) -> bytes:
    """One sentence of at most ``max_bytes`` bytes; ``witness`` is any sentence that fits."""
    matcher = new_matcher(compiled)
    out = bytearray()
    while True:
        remaining = max_bytes - len(out)
        if matcher.is_completed() and rng.random() < _stop_probability(len(out), max_bytes):
            break
        allowed = allowed_bytes(matcher)
        # The closer the witness is to filling the budget, the more often it is followed.
        slack = remaining - len(witness)
        follow = witness and (slack <= 0 or rng.random() < 1.0 / (1 + slack))
        if not follow and allowed.size and remaining > 0:
            byte = _pick_byte(allowed, rng)
            child = step(matcher, byte)
            new_witness = replan(child, witness, remaining - 1)
            if new_witness is not None:
                matcher, witness = child, new_witness
                out.append(byte)
                continue
        if not witness:  # completed, and no random step fits
            break
        matcher = step(matcher, witness[0])
        out.append(witness[0])
        witness = witness[1:]
    return bytes(out)
