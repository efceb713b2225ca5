"""Shortest completions: how a matcher's input can be finished within a byte budget.

The search is breadth-first over forks of the byte-level matcher. Matchers are not hashable, so
states at one depth that allow the same next bytes and have the same forced continuation are
treated as probably alike: one per parent and at most ``_REPRESENTATIVES`` per depth are
expanded, only a few bytes that start multi-byte characters are tried, and each depth keeps
the ``_BEAM`` most constrained states. That is a
heuristic (``[[1`` and ``[1,1`` look alike but need different closings, hence several
representatives), which is why every completion returned is a real path that was stepped
through, never an estimate. When the merged search finds
nothing, an exact search without merging decides whether no completion exists at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import string

import numpy as np

from formgate.fuzz.acceptor import allowed_bytes, step
from formgate.matcher import GrammarMatcher

DEFAULT_SEARCH_BUDGET = 20_000
_REPRESENTATIVES = 4
_WIDE_BYTES = 3
_BEAM = 48


@dataclass
class SearchResult:
    """``completion``: bytes that finish the input (None when none was found); ``exhaustive``:
    the search saw every path within the limit, so None means there is none."""

    completion: Optional[bytes]
    exhaustive: bool


def shortest_completion(matcher: GrammarMatcher, limit: int, *, merge: bool = True,
                        budget: int = DEFAULT_SEARCH_BUDGET) -> SearchResult:
    """A shortest (with ``merge``: short) byte string of at most ``limit`` bytes that takes
    ``matcher`` to a completed state; ``matcher`` itself is not changed.

    ``budget`` bounds the number of matcher steps.

    Example:
        >>> from formgate.fuzz.acceptor import compile_bytes, new_matcher
        >>> m = new_matcher(compile_bytes('root ::= "(" root ")" | "x"'))
        >>> m.accept_string(b"((")
        True
        >>> shortest_completion(m, 10).completion
        b'x))'
        >>> shortest_completion(m, 2)
        SearchResult(completion=None, exhaustive=True)
    """
    if matcher.is_completed():
        return SearchResult(b"", True)
    frontier: list[tuple[GrammarMatcher, bytes]] = [(matcher, b"")]
    steps = 0
    pruned = False
    for _ in range(limit):
        by_key: dict[tuple[bytes, bytes], list[tuple[GrammarMatcher, bytes]]] = {}
        next_frontier: list[tuple[GrammarMatcher, bytes]] = []
        for node, path in frontier:
            allowed = allowed_bytes(node)
            if merge:
                allowed, thinned = _thin(allowed)
                pruned = pruned or thinned
            seen_here: set[tuple[bytes, bytes]] = set()
            for byte in allowed:
                if steps >= budget:
                    return SearchResult(None, False)
                steps += 1
                child = step(node, byte)
                child_path = path + bytes([byte])
                if child.is_completed():
                    return SearchResult(child_path, True)
                if not merge:
                    next_frontier.append((child, child_path))
                    continue
                key = (allowed_bytes(child).tobytes(), child.find_jump_forward_bytes())
                # Siblings that look alike are almost always alike (the digits of a number);
                # cousins less so (different nesting depths), see _keep.
                if key in seen_here:
                    pruned = True
                    continue
                seen_here.add(key)
                by_key.setdefault(key, []).append((child, child_path))
        for group in by_key.values():
            if len(group) > _REPRESENTATIVES:
                pruned = True
            next_frontier.extend(_keep(group))
        if len(next_frontier) > _BEAM:
            # Beam: the most constrained states first (a keyword being spelled, a closing
            # bracket due), as they tend to be the ones nearest to the end.
            next_frontier.sort(key=lambda item: (allowed_bytes(item[0]).size,
                                                 -_closing_score(item[1])))
            next_frontier = next_frontier[:_BEAM]
            pruned = True
        if not next_frontier:
            return SearchResult(None, not pruned)
        frontier = next_frontier
    return SearchResult(None, not pruned)


def _keep(group: list[tuple[GrammarMatcher, bytes]]) -> list[tuple[GrammarMatcher, bytes]]:
    """The representatives of alike-looking states: those whose path closed the most brackets
    and quotes, as in bracketed languages the state that closed more has less left to close
    (after "[[[1", "]]" and ",1]" look alike but the first is one "]" closer to the end)."""
    if len(group) <= _REPRESENTATIVES:
        return group
    return sorted(group, key=lambda item: -_closing_score(item[1]))[:_REPRESENTATIVES]


def _closing_score(path: bytes) -> int:
    return sum(_CLOSERS.get(b, 0) for b in path)


_CLOSERS = {ord(c): 1 for c in ")]}>\"'"} | {ord(c): -1 for c in "([{<"}


# Order in which siblings are tried, so that of two alike-looking siblings the one kept is
# the likelier to finish: closing brackets and quotes, other punctuation, letters and digits,
# opening brackets, then whitespace and control bytes (after "[1" both " " and "]" allow ",]"
# and whitespace, but only "]" closes).
_RANK = np.array([0 if chr(b) in ")]}>\"'" else 3 if chr(b) in "([{<"
                  else 1 if chr(b) in string.punctuation else 2 if chr(b).isalnum() else 4
                  for b in range(128)])


def _thin(allowed: np.ndarray) -> tuple[np.ndarray, bool]:
    """The allowed ASCII bytes by :data:`_RANK`, then a few evenly spaced others: a byte that
    starts a multi-byte character is rarely on a shortest path, and each one costs a step."""
    ascii_bytes = allowed[allowed < 0x80]
    ascii_bytes = ascii_bytes[np.argsort(_RANK[ascii_bytes], kind="stable")]
    wide = allowed[allowed >= 0x80]
    thinned = wide.size > _WIDE_BYTES
    if thinned:
        wide = wide[np.linspace(0, wide.size - 1, _WIDE_BYTES).astype(int)]
    return np.concatenate([ascii_bytes, wide]), thinned


def greedy_completion(matcher: GrammarMatcher, limit: int) -> Optional[bytes]:
    """A completion found by always taking the first byte in :data:`_RANK` order (closers
    first), or None if that does not finish within ``limit`` bytes: at most ``limit`` steps,
    and it often succeeds where a breadth-first search would need thousands (a JSON object
    that has just been opened).

    Example:
        >>> from formgate.fuzz.acceptor import compile_bytes, new_matcher
        >>> m = new_matcher(compile_bytes('root ::= "[" root? "]"'))
        >>> m.accept_string(b"[[[")
        True
        >>> greedy_completion(m, 10)
        b']]]'
    """
    path = bytearray()
    node = matcher
    while not node.is_completed():
        allowed = allowed_bytes(node)
        if not allowed.size or len(path) >= limit:
            return None
        byte = int(_thin(allowed)[0][0])
        node = step(node, byte)
        path.append(byte)
    return bytes(path)


def completion_within(matcher: GrammarMatcher, limit: int,
                      budget: int = DEFAULT_SEARCH_BUDGET) -> SearchResult:
    """A completion of at most ``limit`` bytes: the merged search first, then the greedy dive,
    then, if neither finds one, the exact search (whose ``exhaustive`` flag then tells whether
    none exists)."""
    found = shortest_completion(matcher, limit, merge=True, budget=budget)
    if found.completion is not None or found.exhaustive:
        return found
    greedy = greedy_completion(matcher, limit)
    if greedy is not None:
        return SearchResult(greedy, True)
    return shortest_completion(matcher, limit, merge=False, budget=budget)
