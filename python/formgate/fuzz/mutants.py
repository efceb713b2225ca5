"""Near misses: one-edit variants of a sentence that the grammar rejects, for negative tests."""

from __future__ import annotations

import random
import string

from formgate import _core
from formgate.fuzz.acceptor import accepts, allowed_bytes, new_matcher

# Characters tried for insertions and substitutions besides those of the sentence itself:
# structural punctuation, whitespace, a digit, a letter, NUL and two non-ASCII characters.
_EXTRA_CHARS = string.punctuation + " \t\n0aZ\x00é🙂"


def _edits(text: str, rng: random.Random, pool: list[str]) -> str:
    """One random edit: delete, insert, substitute, or swap two neighbours (code points)."""
    pos = rng.randrange(len(text) + 1)
    kinds = ["insert"] + (["delete", "substitute"] if pos < len(text) else [])
    if pos + 1 < len(text) and text[pos] != text[pos + 1]:
        kinds.append("swap")
    kind = rng.choice(kinds)
    if kind == "insert":
        return text[:pos] + rng.choice(pool) + text[pos:]
    if kind == "delete":
        return text[:pos] + text[pos + 1:]
    if kind == "substitute":
        return text[:pos] + rng.choice(pool) + text[pos + 1:]
    return text[:pos] + text[pos + 1] + text[pos] + text[pos + 2:]


def _pool(compiled: _core.CompiledGrammar, text: str) -> list[str]:
    """Candidate characters: the sentence's own, the ASCII bytes the grammar could take at the
    start (so edits look plausible), and a fixed set of troublemakers."""
    first = [chr(b) for b in allowed_bytes(new_matcher(compiled)) if b < 0x80]
    return sorted(set(text) | set(first) | set(_EXTRA_CHARS))


def near_misses(compiled: _core.CompiledGrammar, text: str, n: int, rng: random.Random,
                max_tries: int) -> list[str]:
    """Up to ``n`` distinct one-edit variants of ``text`` rejected by ``compiled``."""
    pool = _pool(compiled, text)
    found: dict[str, None] = {}
    for _ in range(max_tries):
        if len(found) >= n:
            break
        candidate = _edits(text, rng, pool)
        if candidate not in found and not accepts(compiled, candidate.encode("utf-8")):
            found[candidate] = None
    return list(found)
