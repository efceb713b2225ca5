r"""Regular expressions translated to formgate EBNF, in two dialects.

* ``dialect="python"`` (``GrammarCompiler.compile_regex``, ``Grammar.from_regex``): exactly
  Python's ``re.fullmatch`` on str patterns and str subjects, Unicode-aware ``\d \w \s`` (the
  sets are read from ``re`` itself), see :func:`regex_to_ebnf`.
* ``dialect="ecma"`` (JSON Schema ``pattern``), described below.

Errors are :class:`RegexError` (a :class:`formgate.GrammarError`) with ``line`` 1 and ``column``
the 1-based position of the offending construct in the pattern.

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
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Optional

from formgate.json_schema.charsets import (ANY, ASCII_DIGIT, ASCII_WORD, DOT, MAX_UNICODE, PY_DOT,
                                           SURROGATES, Ranges, chars, class_escape, complement,
                                           intersect, norm, python_class, union)
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

MAX_REPEAT = 1_000_000  # the core's bound for {m,n}

# One character of a JSON string body, any spelling (raw or escaped).
JSON_CHAR = r'[^"\\\u0000-\u001f] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )'




# ---------------------------------------------------------------------------------------------
# AST


@dataclass(frozen=True)
class Node:
    """kind: 'set' (ranges), 'seq' (items), 'alt' (items), 'rep' (items[0], lo, hi), 'bol',
    'eol'. ``hi`` None is unbounded. ``at`` is an anchor's offset in the pattern (for errors)."""

    kind: str
    items: tuple = ()
    ranges: Ranges = ()
    lo: int = 0
    hi: Optional[int] = None
    at: int = field(default=-1, compare=False)


_SIMPLE_ESCAPES = {"t": 9, "n": 10, "v": 11, "f": 12, "r": 13}
_PY_SIMPLE_ESCAPES = {**_SIMPLE_ESCAPES, "a": 7}
_HEX = "0123456789abcdefABCDEF"
_OCT = "01234567"

# Inline flags of the Python dialect that do not change the language of the supported subset,
# or change it in a way the translation follows: s (DOTALL), a (ASCII), u (the default), m
# (MULTILINE: anchors are only allowed at the ends, where it changes nothing under fullmatch).
_PY_FLAGS = {"s": re.DOTALL, "a": re.ASCII, "u": re.UNICODE, "m": re.MULTILINE,
             "i": re.IGNORECASE}
_PY_REJECTED_FLAGS = {"x": "verbose mode", "L": "locale-dependent matching"}


@functools.lru_cache(maxsize=1)
def _cased_code_points() -> tuple[int, ...]:
    """Code points with a case mapping: the only ones IGNORECASE can add to a set."""
    out = []
    for cp in range(MAX_UNICODE + 1):
        if SURROGATES[0] <= cp <= SURROGATES[1]:
            continue
        ch = chr(cp)
        if ch.lower() != ch or ch.upper() != ch:
            out.append(cp)
    return tuple(out)


def _re_class_item(lo: int, hi: int) -> str:
    return f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}"


@functools.lru_cache(maxsize=4096)
def _ignorecase_closure(rs: Ranges, ascii_only: bool) -> Ranges:
    """The characters Python's ``re`` matches against the set ``rs`` under IGNORECASE, asked of
    ``re`` itself for every cased code point."""
    if not rs:
        return rs
    cls = re.compile("[" + "".join(_re_class_item(lo, hi) for lo, hi in rs) + "]",
                     re.IGNORECASE | (re.ASCII if ascii_only else 0))
    extra = [(c, c) for c in _cased_code_points() if cls.fullmatch(chr(c))]
    return union(rs, norm(extra))


def _python_escape_class(letter: str, ascii_only: bool) -> Ranges:
    """Python ``re``'s ``\\d\\w\\s`` (and complements) on str patterns, Unicode or ASCII."""
    if ascii_only:
        base = {"d": ASCII_DIGIT, "w": ASCII_WORD, "s": chars(" \t\n\r\f\v")}[letter.lower()]
    else:
        base = python_class(letter.lower())
    return complement(base) if letter.isupper() else base


class _Parser:
    """Recursive-descent parser for one dialect: ``"ecma"`` (the ECMA-262 / Python intersection
    JSON Schema needs) or ``"python"`` (exactly Python ``re`` on str patterns)."""

    def __init__(self, pattern: str, dialect: str = "ecma", flags: int = 0):
        self.p = pattern
        self.i = 0
        self.python = dialect == "python"
        self.flags = flags
        self.group_names: set[str] = set()
        if self.python:
            for flag, what in ((re.VERBOSE, "x"), (re.LOCALE, "L")):
                if flags & flag:
                    raise self.error(f"flag {_PY_REJECTED_FLAGS[what]} is not supported", 0)

    def error(self, msg: str, at: Optional[int] = None) -> RegexError:
        """A RegexError (a GrammarError) with ``line`` 1 and ``column`` = 1-based code point
        position of the problem in the pattern."""
        at = self.i if at is None else at
        col = at + 1
        err = RegexError(f"regex {self.p!r}, column {col}: {msg}\n  {self.p}\n  {' ' * at}^",
                         keyword="pattern")
        err.line, err.column, err.cause = 1, col, msg
        return err

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
            if atom is None:  # a comment or an inline flag group
                continue
            items.append(self.quantified(atom))
        return items[0] if len(items) == 1 else Node("seq", tuple(items))

    def quantified(self, atom: Node) -> Node:
        while True:
            c = self.peek()
            at = self.i
            if c in ("*", "+", "?"):
                self.i += 1
                lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
            elif c == "{" and self._quant_ahead():
                lo, hi = self._braces()
            else:
                return atom
            if atom.kind in ("bol", "eol"):
                raise self.error("quantified anchor", at)
            if self.peek() == "?":  # lazy: same language
                self.i += 1
            elif self.peek() == "+":
                raise self.error("possessive quantifier is not supported")
            if self.peek() in ("*", "+", "?") or (self.peek() == "{" and self._quant_ahead()):
                raise self.error("multiple repeat" if self.python else "nothing to repeat")
            atom = Node("rep", (atom,), lo=lo, hi=hi)

    def _quant_ahead(self) -> bool:
        j = self.i + 1
        k = j
        while k < len(self.p) and self.p[k].isdigit() and self.p[k].isascii():
            k += 1
        if k == j:
            if k < len(self.p) and self.p[k] == ",":
                if not self.python:
                    raise self.error("'{,n}' means different things in ECMA-262 and Python")
                m = re.compile(r",[0-9]*\}").match(self.p, k)
                return m is not None
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
        start = self.i
        end = self.p.index("}", self.i)
        body = self.p[self.i + 1:end]
        self.i = end + 1
        if "," in body:
            a, b = body.split(",", 1)
            lo, hi = int(a or "0"), (int(b) if b else None)
        else:
            lo = hi = int(body)
        if hi is not None and hi < lo:
            raise self.error("numbers out of order in {} quantifier", start)
        if lo > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT):
            err = LimitError(f"regex {self.p!r}, column {start + 1}: repetition bound above "
                             f"{MAX_REPEAT:,}", 1, start + 1)
            raise err
        return lo, hi

    def _group_open(self) -> Optional[Node]:
        """After '(': the group's node, or None for a comment / global flag group."""
        start = self.i
        self.i += 1
        saved_flags = self.flags
        if self.p.startswith("?:", self.i):
            self.i += 2
        elif self.p.startswith("?P<", self.i) and self.python:
            end = self.p.find(">", self.i)
            name = self.p[self.i + 3:end] if end >= 0 else ""
            if not name.isidentifier():
                raise self.error("bad group name", start)
            if name in self.group_names:
                raise self.error(f"redefinition of group name {name!r}", start)
            self.group_names.add(name)
            self.i = end + 1
        elif self.p.startswith("?<", self.i) and self.p[self.i + 2:self.i + 3] not in ("=", "!"):
            if self.python:
                raise self.error("unknown extension ?<; Python names groups with (?P<name>...)",
                                 start)
            end = self.p.find(">", self.i)
            if end < 0:
                raise self.error("bad group name", start)
            self.i = end + 1
        elif self.p.startswith("?P<", self.i):
            raise self.error("Python-only named group", start)
        elif self.p.startswith("?#", self.i) and self.python:
            end = self.p.find(")", self.i)
            if end < 0:
                raise self.error("missing ')', unterminated comment", start)
            self.i = end + 1
            return None
        elif self.peek() == "?":
            kind = self._unsupported_group_kind()
            if kind is not None:
                raise self.error(f"{kind} is not supported", start)
            m = re.compile(r"\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])").match(self.p, self.i)
            if not self.python or m is None:
                raise self.error("flags and other (? groups are not supported", start)
            on, off, close = m.group(1), m.group(2) or "", m.group(3)
            for letter in on + off:
                if letter in _PY_REJECTED_FLAGS:
                    raise self.error(f"flag ({letter}: {_PY_REJECTED_FLAGS[letter]}) is not "
                                     f"supported", start)
                if letter not in _PY_FLAGS:
                    raise self.error(f"unknown flag {letter!r}", start)
            if close == ")" and (off or start != 0 and not self._only_flags_before(start)):
                raise self.error("global flags not at the start of the expression", start)
            for letter in on:
                self.flags |= _PY_FLAGS[letter]
            for letter in off:
                self.flags &= ~_PY_FLAGS[letter]
            self.i = m.end()
            if close == ")":
                return None
        inner = self.alt()
        if self.peek() != ")":
            raise self.error("missing ')'", start)
        self.i += 1
        self.flags = saved_flags
        return inner

    def _only_flags_before(self, at: int) -> bool:
        return re.compile(r"(?:\(\?[a-zA-Z]+\))*").fullmatch(self.p, 0, at) is not None

    def _unsupported_group_kind(self) -> Optional[str]:
        rest = self.p[self.i:self.i + 4]
        for prefix, kind in (("?=", "lookahead"), ("?!", "negative lookahead"),
                             ("?<=", "lookbehind"), ("?<!", "negative lookbehind"),
                             ("?P=", "backreference"), ("?>", "atomic group"),
                             ("?(", "conditional group"), ("?P>", "subroutine call"),
                             ("?R", "recursion")):
            if rest.startswith(prefix):
                return kind
        return None

    def atom(self) -> Optional[Node]:
        c = self.peek()
        if c == "(":
            return self._group_open()
        if c in ("*", "+", "?"):
            raise self.error("nothing to repeat")
        if c == "{" and self._quant_ahead():
            raise self.error("nothing to repeat")
        if c == "[":
            return Node("set", ranges=self.char_class())
        if c == ".":
            self.i += 1
            if self.python:
                return Node("set", ranges=ANY if self.flags & re.DOTALL else PY_DOT)
            return Node("set", ranges=DOT)
        if c == "^":
            self.i += 1
            return Node("bol", at=self.i - 1)
        if c == "$":
            self.i += 1
            return Node("eol", at=self.i - 1)
        if c == "\\":
            if self.python and self.p[self.i + 1:self.i + 2] in ("A", "Z"):
                self.i += 2
                kind = "bol" if self.p[self.i - 1] == "A" else "eol"
                return Node(kind, at=self.i - 2)
            return Node("set", ranges=self._cased(norm(self.escape(in_class=False))))
        self.i += 1
        return Node("set", ranges=self._cased(chars(c)))

    def _cased(self, rs: Ranges) -> Ranges:
        if self.python and self.flags & re.IGNORECASE:
            return _ignorecase_closure(rs, bool(self.flags & re.ASCII))
        return rs

    def escape(self, in_class: bool) -> Ranges:
        """After a backslash; returns the set. Single characters are 1-element sets."""
        start = self.i
        self.i += 1
        if self.i >= len(self.p):
            raise self.error("trailing backslash", start)
        c = self.p[self.i]
        self.i += 1
        if self.python:
            return self._python_escape(c, in_class, start)
        if c in "dwsDWS":
            return class_escape(c)
        if c in _SIMPLE_ESCAPES:
            return chars(chr(_SIMPLE_ESCAPES[c]))
        if c == "b" and in_class:
            return chars("\b")
        if c == "0":
            if self.peek().isdigit():
                raise self.error("octal escape is not supported", start)
            return chars("\0")
        if c == "x":
            return chars(chr(self._hex(2, start)))
        if c == "u":
            cp = self._hex(4, start)
            if SURROGATES[0] <= cp <= SURROGATES[1]:
                raise self.error("surrogate escape", start)
            return chars(chr(cp))
        if c in "123456789":
            raise self.error("backreference is not supported", start)
        if c in "bB":
            raise self.error("word boundary assertion is not supported", start)
        if c.isascii() and c.isalnum():
            raise self.error(f"escape '\\{c}' is not supported", start)
        # identity escape of punctuation or a non-ASCII character: same in both dialects
        return chars(c)

    def _hex(self, width: int, start: int) -> int:
        h = self.p[self.i:self.i + width]
        if len(h) != width or not all(ch in _HEX for ch in h):
            raise self.error(f"bad \\{self.p[start + 1]} escape", start)
        self.i += width
        return int(h, 16)

    def _python_escape(self, c: str, in_class: bool, start: int) -> Ranges:
        if c in "dwsDWS":
            return _python_escape_class(c, bool(self.flags & re.ASCII))
        if c in _PY_SIMPLE_ESCAPES:
            return chars(chr(_PY_SIMPLE_ESCAPES[c]))
        if c == "b":
            if in_class:
                return chars("\b")
            raise self.error("word boundary assertion \\b is not supported", start)
        if c in "xuU":
            cp = self._hex({"x": 2, "u": 4, "U": 8}[c], start)
            if cp > MAX_UNICODE:
                raise self.error("bad escape: code point above U+10FFFF", start)
            # not normalised: a surrogate is a character in a range, and the empty set alone
            return ((cp, cp),)
        if c == "N":
            m = re.compile(r"\{([^}]*)\}").match(self.p, self.i)
            if m is None:
                raise self.error("missing '{' or '}' in \\N{...}", start)
            try:
                ch = unicodedata.lookup(m.group(1))
            except KeyError:
                raise self.error(f"undefined character name {m.group(1)!r}", start) from None
            self.i = m.end()
            return chars(ch)
        if c in _OCT:
            digits = c
            # \0 and in-class escapes take up to 3 octal digits; elsewhere \1..\9 starts a
            # backreference unless exactly three octal digits follow the backslash
            while len(digits) < 3 and self.peek() in _OCT and self.peek():
                digits += self.peek()
                self.i += 1
            if c == "0" or in_class or len(digits) == 3:
                cp = int(digits, 8)
                if cp > 0o377:
                    raise self.error("octal escape value outside of range 0-0o377", start)
                return chars(chr(cp))
            raise self.error("backreference is not supported", start)
        if c in "89":
            raise self.error("backreference is not supported" if not in_class
                             else f"bad escape \\{c}", start)
        if c in "AZ":
            raise self.error(f"anchor \\{c} inside a character class", start)
        if c == "B":
            raise self.error("word boundary assertion \\B is not supported", start)
        if c.isascii() and c.isalnum():
            raise self.error(f"bad escape \\{c}", start)
        return chars(c)

    def char_class(self) -> Ranges:
        open_at = self.i
        self.i += 1
        negate = False
        if self.peek() == "^":
            negate = True
            self.i += 1
        parts: list[Ranges] = []
        if self.peek() == "]":
            if not self.python:
                raise self.error("empty class '[]' means different things in ECMA-262 and "
                                 "Python")
            parts.append(chars("]"))  # Python: a ']' first in a class is literal
            self.i += 1
        while True:
            if self.i >= len(self.p):
                raise self.error("unterminated character set", open_at)
            if self.peek() == "]":
                self.i += 1
                break
            lo_at = self.i
            lo_set, lo_single = self._class_atom()
            if self.peek() == "-" and self.p[self.i + 1:self.i + 2] not in ("]", ""):
                self.i += 1
                hi_set, hi_single = self._class_atom()
                if not (lo_single and hi_single):
                    raise self.error("bad character range (a class escape as a range end)",
                                     lo_at)
                a, b = lo_set[0][0], hi_set[0][0]
                if a > b:
                    raise self.error("bad character range (out of order)", lo_at)
                parts.append(norm([(a, b)]))
            else:
                parts.append(lo_set)
        rs = self._cased(union(*parts))
        return complement(rs) if negate else rs

    def _class_atom(self) -> tuple[Ranges, bool]:
        """One class member: (its set, whether it is a single character usable in a range)."""
        c = self.peek()
        if c == "\\":
            nxt = self.p[self.i + 1:self.i + 2]
            r = self.escape(in_class=True)
            return r, nxt not in ("d", "w", "s", "D", "W", "S")
        if c == "[" and self.p[self.i + 1:self.i + 2] in (":", "=", ".") and not self.python:
            raise self.error("POSIX class syntax")
        self.i += 1
        return chars(c), True


@functools.lru_cache(maxsize=1024)
def parse_regex(pattern: str, dialect: str = "ecma", flags: int = 0) -> Node:
    """Parse a pattern of the supported subset into a :class:`Node` tree.

    ``dialect="ecma"`` (JSON Schema ``pattern``) or ``"python"`` (Python ``re`` on str, with
    ``flags`` from the ``re`` module: DOTALL, ASCII, MULTILINE; IGNORECASE, VERBOSE and
    LOCALE raise).

    Example:
        >>> parse_regex("a|b").kind
        'alt'
    """
    if dialect not in ("ecma", "python"):
        raise ValueError("dialect must be 'ecma' or 'python'")
    return _Parser(pattern, dialect, flags).parse()


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
        anchor = _first_anchor(body)
        if anchor is not None:
            raise _Parser(pattern).error("anchors are supported only at the start and end of "
                                         "a top-level alternative", max(anchor.at, 0))
        out.append((start, body, end))
    return out


def search_core(body: Node, open_start: bool, open_end: bool) -> Node:
    """A body with the same search semantics and fewer states: next to an open end, a counted
    repetition ``X{m,n}`` finds a match exactly when ``X{m}`` does (a longer run contains one),
    and ``X{0,n}`` always does. ``[A-Za-z0-9]{1,255}`` unanchored is just "one of them".

    Example:
        >>> core = search_core(parse_regex("[a-z]{1,255}x"), True, True)
        >>> [(i.kind, i.lo, i.hi) for i in core.items]
        [('rep', 1, 1), ('set', 0, None)]
    """
    items = list(body.items) if body.kind == "seq" else [body]
    if open_start:
        while items and items[0].kind == "rep" and items[0].lo == 0:
            items.pop(0)
        if items and items[0].kind == "rep" and items[0].hi != items[0].lo:
            items[0] = Node("rep", items[0].items, lo=items[0].lo, hi=items[0].lo)
    if open_end:
        while items and items[-1].kind == "rep" and items[-1].lo == 0:
            items.pop()
        if items and items[-1].kind == "rep" and items[-1].hi != items[-1].lo:
            items[-1] = Node("rep", items[-1].items, lo=items[-1].lo, hi=items[-1].lo)
    return Node("seq", tuple(items))


def _first_anchor(n: Node) -> Optional[Node]:
    if n.kind in ("bol", "eol"):
        return n
    for c in n.items:
        found = _first_anchor(c)
        if found is not None:
            return found
    return None


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


_JSON_CLASS_CACHE: dict = {}


def json_encode_class(rs: Ranges) -> Optional[str]:
    r"""EBNF for the JSON spellings (inside a string) of one character out of ``rs``: raw when
    JSON allows it raw, the mandatory escapes, and ``\\/`` for ``/``. None for the empty set.

    Example:
        >>> print(json_encode_class(((0x22, 0x22),)))
        ("\\\"" | "\\u0022")
    """
    if not rs:
        return None
    cached = _JSON_CLASS_CACHE.get(rs) if isinstance(rs, tuple) else None
    if cached is not None:
        return cached
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
    out = alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"
    # key tries, automata and patterns ask for the same (large, complemented) classes
    # thousands of times, across schemas too
    if isinstance(rs, tuple) and len(_JSON_CLASS_CACHE) < 65536:
        _JSON_CLASS_CACHE[rs] = out
    return out


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
    raise RegexError("anchor in an unsupported position", keyword="pattern")


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
    # The scans stop at the first character that decides (the converter asks this of every
    # piece it nests, some of them long).
    if e[0] == "(":
        for i, ch, d in _scan(e):
            if ch == ")" and d == 0:
                return i == len(e) - 1
        return False
    if e[0] in '"[':
        # one token: nothing outside it
        return all(i == 0 for i, _, _ in _scan(e))
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
    dialect: str = "ecma",
    flags: int = 0,
) -> Optional[str]:
    """Translate ``pattern`` to an EBNF expression, or None when it matches nothing.

    ``mode="search"`` gives JSON Schema semantics (``re.search``: unanchored ends match any
    prefix/suffix); ``mode="fullmatch"`` gives ``re.fullmatch`` semantics (anchors are then
    allowed and redundant). ``any_char`` is the EBNF for one arbitrary character used for the
    unanchored ends (default: every code point, or every JSON string character spelling).

    ``dialect="python"`` reads the pattern exactly as Python's ``re`` does on a str (Unicode
    ``\\d\\w\\s``, ``.`` excluding only ``\\n``, ``(?P<name>..)``, ``\\A \\Z``, octal
    and ``\\N{name}`` escapes, inline flags ``s a u m``, ``flags`` from the ``re`` module); it
    is for ``mode="fullmatch"`` only.

    Example:
        >>> regex_to_ebnf("ab?", mode="fullmatch")
        '"a" "b"?'
    """
    if mode not in ("search", "fullmatch"):
        raise ValueError("mode must be 'search' or 'fullmatch'")
    if dialect == "python" and mode != "fullmatch":
        raise ValueError("the python dialect supports mode='fullmatch' only")
    node = parse_regex(pattern, dialect, flags)
    enc = json_encode_class if json_string else ranges_to_class
    if any_char is None:
        any_char = f"({JSON_CHAR})" if json_string else ranges_to_class(ANY)
    alts = []
    for start, body, end in split_anchors(node, pattern):
        if mode == "search":
            body = search_core(body, not start, not end)
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
