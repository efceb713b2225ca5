"""Character sets as sorted, disjoint, non-adjacent code-point range tuples, and the classes
regex dialects give names to (``\\d \\w \\s``, ``.``). Surrogates are never members: no UTF-8
string can hold them.

Example:
    >>> from formgate.json_schema.charsets import chars, complement, intersect
    >>> intersect(chars("abc"), complement(chars("b")))
    ((97, 97), (99, 99))
"""

from __future__ import annotations

import functools
import re

MAX_UNICODE = 0x10FFFF
SURROGATES = (0xD800, 0xDFFF)

Ranges = tuple  # tuple[tuple[int, int], ...], sorted, disjoint, non-adjacent


def norm(ranges) -> Ranges:
    """Sort, merge, and drop surrogates (no UTF-8 string can hold them)."""
    rs = sorted((lo, hi) for lo, hi in ranges if lo <= hi)
    out: list[list[int]] = []
    for lo, hi in rs:
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    res = []
    for lo, hi in out:
        # cut [D800, DFFF] out
        if hi < SURROGATES[0] or lo > SURROGATES[1]:
            res.append((lo, hi))
        else:
            if lo < SURROGATES[0]:
                res.append((lo, SURROGATES[0] - 1))
            if hi > SURROGATES[1]:
                res.append((SURROGATES[1] + 1, hi))
    return tuple(res)


def _cut_surrogates(rs: list) -> Ranges:
    """``rs`` sorted and disjoint; only the surrogate block is left to remove."""
    for lo, hi in rs:
        if hi >= SURROGATES[0]:
            if lo <= SURROGATES[1]:
                return norm(rs)
            break
    return tuple(rs)


def complement(rs: Ranges) -> Ranges:
    out, prev = [], 0
    for lo, hi in rs:
        if lo > prev:
            out.append((prev, lo - 1))
        prev = hi + 1
    if prev <= MAX_UNICODE:
        out.append((prev, MAX_UNICODE))
    return _cut_surrogates(out)


def union(*sets: Ranges) -> Ranges:
    return norm([r for s in sets for r in s])


def intersect(a: Ranges, b: Ranges) -> Ranges:
    """Of two normalised sets, by one merge pass (the product of two regex automata intersects
    every pair of transitions: large patternProperties schemas spent most of their conversion
    here when this was three complements and a union)."""
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return _cut_surrogates(out)


def chars(s: str) -> Ranges:
    return norm((ord(c), ord(c)) for c in s)


@functools.lru_cache(maxsize=None)
def python_class(kind: str) -> Ranges:
    """Code points Python's ``re`` puts in ``\\d``/``\\w``/``\\s`` for str patterns, asked of
    ``re`` itself (so they follow the running Python's Unicode database)."""
    run = re.compile(f"\\{kind}+")
    out = []
    for lo, hi in ((0, SURROGATES[0] - 1), (SURROGATES[1] + 1, MAX_UNICODE)):
        text = "".join(map(chr, range(lo, hi + 1)))
        out.extend((lo + m.start(), lo + m.end() - 1) for m in run.finditer(text))
    return norm(out)


_ECMA_SPACE = norm([(9, 13), (32, 32), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
                    (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
                    (0xFEFF, 0xFEFF)])
ASCII_DIGIT = norm([(48, 57)])
ASCII_WORD = norm([(48, 57), (65, 90), (95, 95), (97, 122)])
_ECMA_LINE_TERMINATORS = chars("\n\r\u2028\u2029")


@functools.lru_cache(maxsize=None)
def class_escape(letter: str) -> Ranges:
    """The intersection (for ``\\d\\w\\s``) or complement of the union (``\\D\\W\\S``)."""
    if letter == "d":
        return ASCII_DIGIT
    if letter == "w":
        return ASCII_WORD
    if letter == "s":
        return intersect(_ECMA_SPACE, python_class("s"))
    if letter == "D":
        return complement(union(ASCII_DIGIT, python_class("d")))
    if letter == "W":
        return complement(union(ASCII_WORD, python_class("w")))
    if letter == "S":
        return complement(union(_ECMA_SPACE, python_class("s")))
    raise KeyError(letter)


DOT = complement(_ECMA_LINE_TERMINATORS)
PY_DOT = complement(chars("\n"))
ANY = complement(())
