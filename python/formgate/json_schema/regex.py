r"""A subset of ECMA-262 regular expressions, translated to formgate EBNF.

JSON Schema ``pattern`` is ECMA-262, but the reference validator (Python ``jsonschema``) runs
patterns with Python's ``re``. To never accept a string either of them rejects, every construct
is translated to the *intersection* of its two meanings:

* ``\d`` is ``[0-9]`` and ``\w`` is ``[A-Za-z0-9_]`` (Python's Unicode classes are wider);
  ``\s`` is the characters both call whitespace; ``\D \W \S`` are the complements of the *union*
  (so they exclude e.g. Arabic-Indic digits, which Python counts as ``\d``).
* ``.`` excludes ``\n`` (Python) and ``\r``, U+2028, U+2029 (ECMA).
* ``$`` matches only at the very end (Python also matches before a final ``\n``).

Rejected with :class:`RegexError` (never approximated): lookaround, backreferences, ``\b``/``\B``,
``\p{..}``, ``\cX``, octal escapes, flags/inline modifiers, possessive quantifiers, ``{,n}``
(a quantifier in Python, a literal in ECMA), empty classes ``[]``/``[^]``, class escapes as range
ends, anchors anywhere but the start/end of a top-level alternative, letter escapes that are not
defined in both dialects.

Two output modes:

* ``json_string=False``: EBNF over the raw characters (used by the tests against ``re``).
* ``json_string=True``: EBNF over the *JSON-encoded* characters of a string body (between the
  quotes). Each decoded character the regex allows may be written raw when JSON allows it raw,
  or by its mandatory escape (``\"``, ``\\``, ``\n``, ``\u001f``...), and ``/`` also as ``\/``.
  Optional ``\uXXXX`` spellings of ordinary characters are not produced: that keeps the
  encoding a per-character map, so the translation is exact on the decoded string.

Example:
    >>> from formgate.json_schema.regex import regex_to_ebnf
    >>> regex_to_ebnf("^a[0-9]{2}$", mode="search")
    '"a" [0-9]{2}'
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from typing import Optional, Sequence, Union

from formgate.json_schema.errors import LimitError, RegexError

__all__ = [
    "Node",
    "parse_regex",
    "regex_to_ebnf",
    "emit",
    "length_bounds",
    "ranges_to_class",
    "json_encode_class",
    "ebnf_literal",
    "JSON_CHAR",
    "MAX_UNICODE",
]

MAX_UNICODE = 0x10FFFF
SURROGATES = (0xD800, 0xDFFF)
MAX_REPEAT = 1_000_000  # the core's bound for {m,n}

Ranges = tuple  # tuple[tuple[int, int], ...], sorted, disjoint, non-adjacent

# One character of a JSON string body, any spelling (raw or escaped).
JSON_CHAR = r'[^"\\\u0000-\u001f] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )'


# ---------------------------------------------------------------------------------------------
# character sets as sorted range tuples


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


def complement(rs: Ranges) -> Ranges:
    out, prev = [], 0
    for lo, hi in rs:
        if lo > prev:
            out.append((prev, lo - 1))
        prev = hi + 1
    if prev <= MAX_UNICODE:
        out.append((prev, MAX_UNICODE))
    return norm(out)


def union(*sets: Ranges) -> Ranges:
    return norm([r for s in sets for r in s])


def intersect(a: Ranges, b: Ranges) -> Ranges:
    return complement(union(complement(a), complement(b)))


def chars(s: str) -> Ranges:
    return norm((ord(c), ord(c)) for c in s)


@functools.lru_cache(maxsize=None)
def _python_class(kind: str) -> Ranges:
    """Code points Python's ``re`` puts in ``\\d``/``\\w``/``\\s`` for str patterns."""
    test = {"d": str.isdecimal, "w": lambda c: c.isalnum() or c == "_", "s": str.isspace}[kind]
    out, start = [], None
    for cp in range(MAX_UNICODE + 1):
        if SURROGATES[0] <= cp <= SURROGATES[1]:
            ok = False
        else:
            ok = test(chr(cp))
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, MAX_UNICODE))
    return norm(out)


_ECMA_SPACE = norm([(9, 13), (32, 32), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
                    (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
                    (0xFEFF, 0xFEFF)])
_ASCII_DIGIT = norm([(48, 57)])
_ASCII_WORD = norm([(48, 57), (65, 90), (95, 95), (97, 122)])
_ECMA_LINE_TERMINATORS = chars("\n\r\u2028\u2029")


@functools.lru_cache(maxsize=None)
def class_escape(letter: str) -> Ranges:
    """The intersection (for ``\\d\\w\\s``) or complement of the union (``\\D\\W\\S``)."""
    if letter == "d":
        return _ASCII_DIGIT
    if letter == "w":
        return _ASCII_WORD
    if letter == "s":
        return intersect(_ECMA_SPACE, _python_class("s"))
    if letter == "D":
        return complement(union(_ASCII_DIGIT, _python_class("d")))
    if letter == "W":
        return complement(union(_ASCII_WORD, _python_class("w")))
    if letter == "S":
        return complement(union(_ECMA_SPACE, _python_class("s")))
    raise KeyError(letter)


DOT = complement(_ECMA_LINE_TERMINATORS)
ANY = complement(())


# ---------------------------------------------------------------------------------------------
# AST


@dataclass(frozen=True)
class Node:
    """kind: 'set' (ranges), 'seq' (items), 'alt' (items), 'rep' (items[0], lo, hi), 'bol',
    'eol'. ``hi`` None is unbounded."""

    kind: str
    items: tuple = ()
    ranges: Ranges = ()
    lo: int = 0
    hi: Optional[int] = None


_SIMPLE_ESCAPES = {"t": 9, "n": 10, "v": 11, "f": 12, "r": 13}


class _Parser:
    def __init__(self, pattern: str):
        self.p = pattern
        self.i = 0

    def error(self, msg: str) -> RegexError:
        return RegexError(f"regex {self.p!r}: {msg} at offset {self.i}", keyword="pattern")

    def peek(self) -> str:
        return self.p[self.i] if self.i < len(self.p) else ""

    def parse(self) -> Node:
        node = self.alt()
        if self.i < len(self.p):
            raise self.error("unbalanced ')'")
        return node

    def alt(self) -> Node:
        branches = [self.seq()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.seq())
        return branches[0] if len(branches) == 1 else Node("alt", tuple(branches))

    def seq(self) -> Node:
        items: list[Node] = []
        while self.i < len(self.p) and self.peek() not in "|)":
            atom = self.atom()
            items.append(self.quantified(atom))
        return items[0] if len(items) == 1 else Node("seq", tuple(items))

    def quantified(self, atom: Node) -> Node:
        while True:
            c = self.peek()
            if c in ("*", "+", "?"):
                self.i += 1
                lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
            elif c == "{" and self._quant_ahead():
                lo, hi = self._braces()
            else:
                return atom
            if atom.kind in ("bol", "eol"):
                raise self.error("quantified anchor")
            if self.peek() == "?":  # lazy: same language
                self.i += 1
            elif self.peek() == "+":
                raise self.error("possessive quantifier")
            if self.peek() in ("*", "+", "?") or (self.peek() == "{" and self._quant_ahead()):
                raise self.error("nothing to repeat")
            atom = Node("rep", (atom,), lo=lo, hi=hi)

    def _quant_ahead(self) -> bool:
        j = self.i + 1
        k = j
        while k < len(self.p) and self.p[k].isdigit() and self.p[k].isascii():
            k += 1
        if k == j:
            if k < len(self.p) and self.p[k] == ",":
                raise self.error("'{,n}' means different things in ECMA-262 and Python")
            return False
        if k < len(self.p) and self.p[k] == "}":
            return True
        if k < len(self.p) and self.p[k] == ",":
            k += 1
            while k < len(self.p) and self.p[k].isdigit() and self.p[k].isascii():
                k += 1
            return k < len(self.p) and self.p[k] == "}"
        return False

    def _braces(self) -> tuple[int, Optional[int]]:
        end = self.p.index("}", self.i)
        body = self.p[self.i + 1:end]
        self.i = end + 1
        if "," in body:
            a, b = body.split(",", 1)
            lo, hi = int(a), (int(b) if b else None)
        else:
            lo = hi = int(body)
        if hi is not None and hi < lo:
            raise self.error("numbers out of order in {} quantifier")
        if lo > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT):
            raise LimitError(f"regex {self.p!r}: repetition bound above {MAX_REPEAT:,}")
        return lo, hi

    def atom(self) -> Node:
        c = self.peek()
        if c == "(":
            self.i += 1
            if self.p.startswith("?:", self.i):
                self.i += 2
            elif self.p.startswith("?<", self.i) and self.p[self.i + 2:self.i + 3] not in ("=", "!"):
                end = self.p.find(">", self.i)
                if end < 0:
                    raise self.error("bad group name")
                self.i = end + 1
            elif self.p.startswith("?P<", self.i):
                raise self.error("Python-only named group")
            elif self.peek() == "?":
                raise self.error("lookaround, flags and other (? groups are not supported")
            inner = self.alt()
            if self.peek() != ")":
                raise self.error("missing ')'")
            self.i += 1
            return inner
        if c in ("*", "+", "?"):
            raise self.error("nothing to repeat")
        if c == "{" and self._quant_ahead():
            raise self.error("nothing to repeat")
        if c == "[":
            return Node("set", ranges=self.char_class())
        if c == ".":
            self.i += 1
            return Node("set", ranges=DOT)
        if c == "^":
            self.i += 1
            return Node("bol")
        if c == "$":
            self.i += 1
            return Node("eol")
        if c == "\\":
            r = self.escape(in_class=False)
            return Node("set", ranges=r)
        self.i += 1
        return Node("set", ranges=chars(c))

    def escape(self, in_class: bool) -> Ranges:
        """After a backslash; returns the set. Single characters are 1-element sets."""
        self.i += 1
        if self.i >= len(self.p):
            raise self.error("trailing backslash")
        c = self.p[self.i]
        self.i += 1
        if c in "dwsDWS":
            return class_escape(c)
        if c in _SIMPLE_ESCAPES:
            return chars(chr(_SIMPLE_ESCAPES[c]))
        if c == "b" and in_class:
            return chars("\b")
        if c == "0":
            if self.peek().isdigit():
                raise self.error("octal escape")
            return chars("\0")
        if c == "x":
            h = self.p[self.i:self.i + 2]
            if len(h) != 2 or not all(ch in "0123456789abcdefABCDEF" for ch in h):
                raise self.error("bad \\x escape")
            self.i += 2
            return chars(chr(int(h, 16)))
        if c == "u":
            h = self.p[self.i:self.i + 4]
            if len(h) != 4 or not all(ch in "0123456789abcdefABCDEF" for ch in h):
                raise self.error("bad \\u escape")
            self.i += 4
            cp = int(h, 16)
            if SURROGATES[0] <= cp <= SURROGATES[1]:
                raise self.error("surrogate escape")
            return chars(chr(cp))
        if c.isascii() and c.isalnum():
            raise self.error(f"escape '\\{c}' is not supported")
        # identity escape of punctuation or a non-ASCII character: same in both dialects
        return chars(c)

    def char_class(self) -> Ranges:
        self.i += 1
        negate = False
        if self.peek() == "^":
            negate = True
            self.i += 1
        if self.peek() == "]":
            raise self.error("empty class '[]' means different things in ECMA-262 and Python")
        parts: list[Ranges] = []
        while True:
            if self.i >= len(self.p):
                raise self.error("unterminated character class")
            if self.peek() == "]":
                self.i += 1
                break
            lo_set, lo_single = self._class_atom()
            if self.peek() == "-" and self.p[self.i + 1:self.i + 2] not in ("]", ""):
                self.i += 1
                hi_set, hi_single = self._class_atom()
                if not (lo_single and hi_single):
                    raise self.error("class escape as a range end")
                a, b = lo_set[0][0], hi_set[0][0]
                if a > b:
                    raise self.error("range out of order in character class")
                parts.append(norm([(a, b)]))
            else:
                parts.append(lo_set)
        rs = union(*parts)
        return complement(rs) if negate else rs

    def _class_atom(self) -> tuple[Ranges, bool]:
        c = self.peek()
        if c == "\\":
            nxt = self.p[self.i + 1:self.i + 2]
            r = self.escape(in_class=True)
            return r, nxt not in ("d", "w", "s", "D", "W", "S")
        if c == "[" and self.p[self.i + 1:self.i + 2] in (":", "=", "."):
            raise self.error("POSIX class syntax")
        self.i += 1
        return chars(c), True


@functools.lru_cache(maxsize=1024)
def parse_regex(pattern: str) -> Node:
    """Parse an ECMA-262 pattern of the supported subset into a :class:`Node` tree.

    Example:
        >>> parse_regex("a|b").kind
        'alt'
    """
    return _Parser(pattern).parse()


# ---------------------------------------------------------------------------------------------
# anchors


def split_anchors(node: Node, pattern: str = "") -> list[tuple[bool, Node, bool]]:
    """Top-level alternatives as (anchored_start, body, anchored_end); anchors anywhere else
    raise. A group that is the whole alternative is looked into once (``^(a|b)$`` is common)."""
    branches = node.items if node.kind == "alt" else (node,)
    out = []
    for br in branches:
        items = list(br.items) if br.kind == "seq" else [br]
        start = end = False
        if items and items[0].kind == "bol":
            start = True
            items.pop(0)
        if items and items[-1].kind == "eol":
            end = True
            items.pop()
        body = Node("seq", tuple(items))
        if _has_anchor(body):
            raise RegexError(f"regex {pattern!r}: anchors are supported only at the start and "
                             f"end of a top-level alternative", keyword="pattern")
        out.append((start, body, end))
    return out


def _has_anchor(n: Node) -> bool:
    if n.kind in ("bol", "eol"):
        return True
    return any(_has_anchor(c) for c in n.items)


# ---------------------------------------------------------------------------------------------
# length bounds


def length_bounds(n: Node) -> tuple[int, Optional[int]]:
    """(min, max) number of characters of the strings the node matches (max None = unbounded)."""
    k = n.kind
    if k == "set":
        return (1, 1)
    if k in ("bol", "eol"):
        return (0, 0)
    if k == "seq":
        lo, hi = 0, 0
        for c in n.items:
            a, b = length_bounds(c)
            lo += a
            hi = None if hi is None or b is None else hi + b
        return lo, hi
    if k == "alt":
        bs = [length_bounds(c) for c in n.items]
        lo = min(b[0] for b in bs)
        hi = None if any(b[1] is None for b in bs) else max(b[1] for b in bs)
        return lo, hi
    if k == "rep":
        a, b = length_bounds(n.items[0])
        hi = None if (n.hi is None and b != 0) or b is None else b * (n.hi or 0)
        return a * n.lo, hi
    raise AssertionError(k)


# ---------------------------------------------------------------------------------------------
# output


def _cp(c: int) -> str:
    """A code point inside an EBNF character class."""
    ch = chr(c)
    if ch.isascii() and ch.isalnum():
        return ch
    return f"\\u{c:04x}" if c <= 0xFFFF else f"\\U{c:08x}"


def ranges_to_class(rs: Ranges, negated_hint: bool = True) -> Optional[str]:
    """EBNF for one character out of ``rs``; None for the empty set.

    Example:
        >>> ranges_to_class(((48, 57),))
        '[0-9]'
    """
    if not rs:
        return None
    if len(rs) == 1 and rs[0][0] == rs[0][1]:
        return ebnf_literal(chr(rs[0][0]))
    comp = complement(rs)
    if negated_hint and len(comp) < len(rs) and comp:
        return "[^" + "".join(_fmt_range(lo, hi) for lo, hi in comp) + "]"
    return "[" + "".join(_fmt_range(lo, hi) for lo, hi in rs) + "]"


def _fmt_range(lo: int, hi: int) -> str:
    if lo == hi:
        return _cp(lo)
    if hi == lo + 1:
        return _cp(lo) + _cp(hi)
    return f"{_cp(lo)}-{_cp(hi)}"


def ebnf_literal(s: str) -> str:
    """An EBNF string literal for ``s`` (exact code points).

    Example:
        >>> ebnf_literal('a"b')
        '"a\\\\"b"'
    """
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif c < 0x20 or c == 0x7F or (0x80 <= c < 0xA0) or ch in "\u2028\u2029":
            out.append(f"\\u{c:04x}")
        elif SURROGATES[0] <= c <= SURROGATES[1]:
            raise RegexError(f"lone surrogate U+{c:04X} cannot be encoded")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_SHORT = {0x22: '\\"', 0x5C: "\\\\", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r",
          0x09: "\\t"}
_MUST_ESCAPE = norm([(0, 0x1F), (0x22, 0x22), (0x5C, 0x5C)])


def _hexcase(h: str) -> str:
    out = []
    for ch in h:
        if ch.isalpha():
            out.append(f"[{ch.lower()}{ch.upper()}]")
        else:
            out.append(f'"{ch}"')
    return " ".join(out)


def json_encode_class(rs: Ranges) -> Optional[str]:
    r"""EBNF for the JSON spellings (inside a string) of one character out of ``rs``: raw when
    JSON allows it raw, the mandatory escapes, and ``\\/`` for ``/``. None for the empty set.

    Example:
        >>> print(json_encode_class(((0x22, 0x22),)))
        ("\\\"" | "\\u0022")
    """
    if not rs:
        return None
    alts = []
    raw = intersect(rs, complement(_MUST_ESCAPE))
    if raw:
        alts.append(ranges_to_class(raw))
    esc = intersect(rs, _MUST_ESCAPE)
    for lo, hi in esc:
        for c in range(lo, hi + 1):
            if c in _SHORT:
                alts.append(ebnf_literal(_SHORT[c]))
    controls = intersect(esc, norm([(0, 0x1F)]))
    if controls == ((0, 0x1F),):
        alts.append('"\\\\u00" [01] [0-9a-fA-F]')
    else:
        for lo, hi in controls:
            for c in range(lo, hi + 1):
                alts.append('"\\\\u00' + f'{c >> 4:x}" ' + _hexcase(f"{c & 15:x}"))
    if intersect(esc, chars('"')):
        alts.append('"\\\\u0022"')
    if intersect(esc, chars("\\")):
        alts.append('"\\\\u005" [cC]')
    if any(lo <= 0x2F <= hi for lo, hi in rs):
        alts.append(ebnf_literal("\\/"))
    return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"


def _quant(lo: int, hi: Optional[int]) -> str:
    if (lo, hi) == (0, None):
        return "*"
    if (lo, hi) == (1, None):
        return "+"
    if (lo, hi) == (0, 1):
        return "?"
    if hi is None:
        return f"{{{lo},}}"
    if lo == hi:
        return f"{{{lo}}}"
    return f"{{{lo},{hi}}}"


def emit(n: Node, enc) -> Optional[str]:
    """EBNF for node ``n`` (no anchors); ``enc(ranges) -> str|None`` spells one character.
    None when the node matches nothing."""
    k = n.kind
    if k == "set":
        return enc(n.ranges)
    if k == "seq":
        parts: list[str] = []
        for c in n.items:
            e = emit(c, enc)
            if e is None:
                return None
            if e == '""':
                continue
            if parts and _is_plain_literal(parts[-1]) and _is_plain_literal(e):
                parts[-1] = parts[-1][:-1] + e[1:]
            else:
                parts.append(e)
        if not parts:
            return '""'
        return parts[0] if len(parts) == 1 else " ".join(_group(p) for p in parts)
    if k == "alt":
        parts = []
        for c in n.items:
            e = emit(c, enc)
            if e is not None and e not in parts:
                parts.append(e)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"
    if k == "rep":
        e = emit(n.items[0], enc)
        if e is None:
            return '""' if n.lo == 0 else None
        if e == '""' or n.hi == 0:
            return '""'
        if (n.lo, n.hi) == (1, 1):
            return e
        return _atom(e) + _quant(n.lo, n.hi)
    raise RegexError(f"anchor in an unsupported position", keyword="pattern")


def _scan(e: str):
    """Yield (index, char, depth) for characters outside literals and classes."""
    depth, i, in_str, in_cls = 0, 0, False, False
    while i < len(e):
        ch = e[i]
        if in_str or in_cls:
            if ch == "\\":
                i += 2
                continue
            if (in_str and ch == '"') or (in_cls and ch == "]"):
                in_str = in_cls = False
            i += 1
            continue
        if ch == '"':
            in_str = True
        elif ch == "[":
            in_cls = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        yield i, ch, depth
        i += 1


def _is_atomic(e: str) -> bool:
    """True when ``e`` is one literal, class, rule name or parenthesised group."""
    if not e:
        return False
    ends = [(i, ch, d) for i, ch, d in _scan(e)]
    if e[0] == "(":
        closes = [i for i, ch, d in ends if ch == ")" and d == 0]
        return bool(closes) and closes[0] == len(e) - 1
    if e[0] in '"[':
        # one token: nothing outside it
        return not ends or (len(ends) == 1 and ends[0][0] == 0)
    return all(ch.isalnum() or ch in "_.-" for ch in e)


def _is_plain_literal(e: str) -> bool:
    return len(e) >= 2 and e[0] == '"' and _is_atomic(e)


def _atom(e: str) -> str:
    return e if _is_atomic(e) else f"({e})"


def _group(e: str) -> str:
    return f"({e})" if _top_level_bar(e) else e


def _top_level_bar(e: str) -> bool:
    return any(ch == "|" and d == 0 for _, ch, d in _scan(e))


def regex_to_ebnf(
    pattern: str,
    *,
    mode: str = "search",
    json_string: bool = False,
    any_char: Optional[str] = None,
) -> Optional[str]:
    """Translate ``pattern`` to an EBNF expression, or None when it matches nothing.

    ``mode="search"`` gives JSON Schema semantics (``re.search``: unanchored ends match any
    prefix/suffix); ``mode="fullmatch"`` gives ``re.fullmatch`` semantics (anchors are then
    allowed and redundant). ``any_char`` is the EBNF for one arbitrary character used for the
    unanchored ends (default: every code point, or every JSON string character spelling).

    Example:
        >>> regex_to_ebnf("ab?", mode="fullmatch")
        '"a" "b"?'
    """
    if mode not in ("search", "fullmatch"):
        raise ValueError("mode must be 'search' or 'fullmatch'")
    node = parse_regex(pattern)
    enc = json_encode_class if json_string else ranges_to_class
    if any_char is None:
        any_char = f"({JSON_CHAR})" if json_string else ranges_to_class(ANY)
    alts = []
    for start, body, end in split_anchors(node, pattern):
        e = emit(body, enc)
        if e is None:
            continue
        parts = []
        if mode == "search" and not start:
            parts.append(_atom(any_char) + "*")
        if e != '""':
            parts.append(_group(e))
        if mode == "search" and not end:
            parts.append(_atom(any_char) + "*")
        alt = " ".join(parts) if parts else '""'
        if alt not in alts:
            alts.append(alt)
    if not alts:
        return None
    return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"


if __name__ == "__main__":  # pragma: no cover
    print(regex_to_ebnf(sys.argv[1], json_string="--json" in sys.argv))
