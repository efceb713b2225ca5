"""Reference acceptor for formgate grammars, built on Lark's Earley parser.

The oracle is deliberately independent of formgate's C++ core: Earley with the
dynamic lexer decides membership for any context-free grammar (ambiguous or
not), so it can judge what the engine's token masks should allow.

Twins must be character-level: every terminal is a single-character regex or a
fixed literal. The dynamic lexer only tries the greedy match of a regex
terminal, so a terminal like /[0-9]+/ would silently reject strings the
byte-level engine accepts.

Besides ``lark_accepts`` this module has a small, independent reader for the
formgate EBNF dialect (``ebnf_to_lark``) so tests can check shipped ``.ebnf``
files and generated grammars without the C++ core. It reports malformed input
with ``EbnfSyntaxError`` but makes no attempt to match the core's error
positions or wording.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Optional, Union

import lark

__all__ = [
    "lark_accepts",
    "lark_parser",
    "ebnf_to_lark",
    "parse_ebnf",
    "emit_lark",
    "lark_regex_char",
    "EbnfSyntaxError",
    "Lit",
    "Cls",
    "AnyChar",
    "Ref",
    "Seq",
    "Alt",
    "Rep",
]


# --------------------------------------------------------------------------
# Lark front end


@functools.lru_cache(maxsize=512)
def lark_parser(lark_text: str, start: str = "root") -> lark.Lark:
    return lark.Lark(lark_text, start=start, parser="earley", lexer="dynamic")


def lark_accepts(lark_text: str, s: str, start: str = "root") -> bool:
    """True iff ``s`` is a sentence of the Lark grammar ``lark_text``."""
    parser = lark_parser(lark_text, start)
    try:
        parser.parse(s)
    except lark.exceptions.UnexpectedInput:
        return False
    return True


# --------------------------------------------------------------------------
# Grammar AST shared by the EBNF reader and tests/grammar_gen.py


@dataclass(frozen=True)
class Lit:
    text: str  # may be "" (the empty string)


@dataclass(frozen=True)
class Cls:
    # Each item is (lo, hi) with lo <= hi, single characters as (c, c).
    items: tuple
    negated: bool = False


@dataclass(frozen=True)
class AnyChar:
    pass


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Seq:
    items: tuple  # empty tuple is the empty string


@dataclass(frozen=True)
class Alt:
    items: tuple


@dataclass(frozen=True)
class Rep:
    item: object
    lo: int
    hi: Optional[int]  # None means unbounded


Node = Union[Lit, Cls, AnyChar, Ref, Seq, Alt, Rep]


# --------------------------------------------------------------------------
# Lark emission

_ALNUM = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_CTRL_NAMES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\f": "\\f"}


def lark_regex_char(c: str) -> str:
    """Text to put inside a Lark /regex/ (in or out of a class) matching c.

    Lark first runs the regex body through its own escape evaluation
    (\\x, \\u, \\n ... become raw characters, other backslash pairs are kept),
    then hands it to Python's re. So ASCII punctuation is regex-escaped with a
    backslash (which survives Lark unchanged), controls are written as escapes
    Lark turns into raw characters, which re treats literally, and non-ASCII is
    written raw.
    """
    assert len(c) == 1
    if c in _ALNUM or ord(c) >= 0x80:
        return c
    if c in _CTRL_NAMES:
        return _CTRL_NAMES[c]
    if ord(c) < 0x20 or ord(c) == 0x7F:
        return "\\x%02x" % ord(c)
    return "\\" + c


def _lark_regex_literal(text: str) -> str:
    return "/" + "".join(lark_regex_char(c) for c in text) + "/"


def _lark_class(node: Cls) -> str:
    body = []
    for lo, hi in node.items:
        if lo == hi:
            body.append(lark_regex_char(lo))
        else:
            body.append(lark_regex_char(lo) + "-" + lark_regex_char(hi))
    return "/[" + ("^" if node.negated else "") + "".join(body) + "]/"


class _Emitter:
    """Renders nodes, moving every alternation and repetition into a helper
    rule. Lark expands "?", "~" and inline "|" by duplicating the enclosing
    expansion, which is exponential in their nesting; one construct per
    helper rule keeps grammar construction linear."""

    def __init__(self, names: dict):
        self.names = names
        self.helpers = []

    def helper(self, body: str) -> str:
        name = "h%d" % len(self.helpers)
        self.helpers.append("%s: %s" % (name, body))
        return name

    def symbol(self, node: Node) -> str:
        """A single Lark symbol (terminal, rule name or "()") for node."""
        if isinstance(node, Lit):
            return "()" if node.text == "" else _lark_regex_literal(node.text)
        if isinstance(node, Cls):
            return _lark_class(node)
        if isinstance(node, AnyChar):
            return "/(?s:.)/"
        if isinstance(node, Ref):
            return self.names[node.name]
        if isinstance(node, Seq):
            if not node.items:
                return "()"
            if len(node.items) == 1:
                return self.symbol(node.items[0])
            return self.helper(self.expansion(node))
        if isinstance(node, Alt):
            return self.helper(self.alternatives(node))
        if isinstance(node, Rep):
            return self.repetition(node)
        raise TypeError(node)

    def expansion(self, node: Node) -> str:
        """One Lark expansion (no top-level "|") for node."""
        if isinstance(node, Seq) and node.items:
            return " ".join(self.symbol(x) for x in node.items)
        return self.symbol(node)

    def alternatives(self, node: Node) -> str:
        if isinstance(node, Alt):
            return " | ".join(self.expansion(x) for x in node.items)
        return self.expansion(node)

    def repetition(self, node: Rep) -> str:
        item = self.symbol(node.item)
        lo, hi = node.lo, node.hi
        if hi == 0:
            return "()"
        if hi is None:
            star = "h%d" % len(self.helpers)
            # Right recursion: "star: item star | <empty>".
            self.helpers.append("%s: %s %s | ()" % (star, item, star))
            if lo == 0:
                return star
            return self.helper(" ".join([item] * lo + [star]))
        if lo == hi:
            return self.helper(" ".join([item] * lo))
        return self.helper(" | ".join(" ".join([item] * k) if k else "()"
                                      for k in range(lo, hi + 1)))


def emit_lark(rules: dict, root: str = "root") -> str:
    """Lark text for ``rules`` ({name: Node}); the Lark start rule is "root".

    Rule names are renamed (``r0``, ``r1``...) because the dialect allows "."
    and "-" in names and Lark does not.
    """
    names = {name: "r%d" % i for i, name in enumerate(rules)}
    if root not in names:
        raise EbnfSyntaxError("no rule named %r" % root)
    em = _Emitter(names)
    lines = ["root: " + names[root]]
    for name, body in rules.items():
        lines.append("%s: %s" % (names[name], em.alternatives(body)))
    return "\n".join(lines + em.helpers) + "\n"


# --------------------------------------------------------------------------
# Reader for the formgate EBNF dialect
#
# A second, independent implementation of the dialect, used to check shipped
# grammars and generated ones without the C++ core, and to keep
# tests/data/malformed_grammars.json self-consistent: it reports each error
# with the cause wording and the position convention that corpus documents
# (see the module docstring of tests/test_oracle_selfcheck.py).


class EbnfSyntaxError(ValueError):
    def __init__(self, cause: str, line: int = 0, column: int = 0):
        super().__init__("line %d, column %d: %s" % (line, column, cause))
        self.cause = cause
        self.line = line
        self.column = column


_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_RULE_START_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*[ \t\r\n]*::=")
_REPEAT_RE = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
_CLASS_ONLY_ESCAPES = {"]": "]", "[": "[", "-": "-", "^": "^", "/": "/"}
_MAX_REPEAT = 1_000_000


class _Reader:
    def __init__(self, text: str):
        self.t = text
        self.i = 0
        self.refs = []  # (name, offset) of every rule reference

    def fail(self, cause: str, at: Optional[int] = None):
        at = self.i if at is None else at
        line = self.t.count("\n", 0, at) + 1
        column = at - (self.t.rfind("\n", 0, at) + 1) + 1
        raise EbnfSyntaxError(cause, line, column)

    def skip_ws(self):
        t = self.t
        while self.i < len(t):
            c = t[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif c == "#":
                while self.i < len(t) and t[self.i] != "\n":
                    self.i += 1
            else:
                break

    def at_rule_start(self) -> bool:
        return _RULE_START_RE.match(self.t, self.i) is not None

    def grammar(self) -> dict:
        rules = {}
        t = self.t
        self.skip_ws()
        while self.i < len(t):
            if t[self.i] in ")]":
                self.fail("unbalanced '%s'" % t[self.i])
            m = _NAME_RE.match(t, self.i)
            if not m:
                self.fail("expected a rule name")
            name, name_at = m.group(), self.i
            self.i = m.end()
            self.skip_ws()
            if not t.startswith("::=", self.i):
                self.fail("expected '::=' after rule name")
            self.i += 3
            if name in rules:
                self.fail("duplicate rule %r" % name, name_at)
            self.skip_ws()
            if self.i >= len(t) or self.at_rule_start():
                self.fail("empty rule body in rule %r" % name, name_at)
            rules[name] = self.alternatives()
            self.skip_ws()
        return rules

    def alternatives(self) -> Node:
        alts = [self.sequence()]
        while self.i < len(self.t) and self.t[self.i] == "|":
            self.i += 1
            alts.append(self.sequence())
        return alts[0] if len(alts) == 1 else Alt(tuple(alts))

    def sequence(self) -> Node:
        items = []
        while True:
            self.skip_ws()
            if self.i >= len(self.t) or self.t[self.i] in "|)":
                break
            if self.at_rule_start():
                break
            items.append(self.postfix(self.primary()))
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def primary(self) -> Node:
        t, c = self.t, self.t[self.i]
        if c == '"':
            return self.string()
        if c == "[":
            return self.char_class()
        if c == ".":
            self.i += 1
            return AnyChar()
        if c == "(":
            open_at = self.i
            self.i += 1
            inner = self.alternatives()
            self.skip_ws()
            if self.i >= len(t) or t[self.i] != ")":
                self.fail("unbalanced '('", open_at)
            self.i += 1
            return inner
        if c == "]":
            self.fail("unbalanced ']'")
        if c in "*+?":
            self.fail("expected an expression before %r" % c)
        m = _NAME_RE.match(t, self.i)
        if m:
            self.refs.append((m.group(), self.i))
            self.i = m.end()
            return Ref(m.group())
        self.fail("unexpected character %r" % c)

    def postfix(self, node: Node) -> Node:
        t = self.t
        while self.i < len(t):
            c = t[self.i]
            if c == "*":
                node = Rep(node, 0, None)
            elif c == "+":
                node = Rep(node, 1, None)
            elif c == "?":
                node = Rep(node, 0, 1)
            elif c == "{":
                m = _REPEAT_RE.match(t, self.i)
                if not m:
                    self.fail("malformed repetition")
                lo = int(m.group(1))
                hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
                if hi is not None and hi < lo:
                    self.fail("repetition upper bound below lower bound")
                if max(lo, hi or 0) > _MAX_REPEAT:
                    self.fail("repetition bound exceeds %d" % _MAX_REPEAT)
                self.i = m.end() - 1
                node = Rep(node, lo, hi)
            else:
                break
            self.i += 1
        return node

    def escape(self, in_class: bool) -> str:
        t = self.t
        start = self.i
        self.i += 1  # the backslash
        if self.i >= len(t):
            self.fail("invalid escape", start)
        c = t[self.i]
        self.i += 1
        if c in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[c]
        if in_class and c in _CLASS_ONLY_ESCAPES:
            return _CLASS_ONLY_ESCAPES[c]
        width = {"x": 2, "u": 4, "U": 8}.get(c)
        if width is None:
            self.fail("invalid escape", start)
        digits = t[self.i:self.i + width]
        if len(digits) != width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
            self.fail("invalid escape", start)
        cp = int(digits, 16)
        if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
            self.fail("invalid escape (not a Unicode scalar value)", start)
        self.i += width
        return chr(cp)

    def string(self) -> Node:
        t = self.t
        open_at = self.i
        self.i += 1
        out = []
        while True:
            if self.i >= len(t):
                self.fail("unterminated string", open_at)
            c = t[self.i]
            if c == '"':
                self.i += 1
                return Lit("".join(out))
            if c == "\\":
                out.append(self.escape(in_class=False))
            else:
                out.append(c)
                self.i += 1

    def char_class(self) -> Node:
        t = self.t
        open_at = self.i
        self.i += 1
        negated = False
        if self.i < len(t) and t[self.i] == "^":
            negated = True
            self.i += 1
        items = []

        def one() -> str:
            if self.i >= len(t):
                self.fail("unbalanced '['", open_at)
            if t[self.i] == "\\":
                return self.escape(in_class=True)
            self.i += 1
            return t[self.i - 1]

        while True:
            if self.i >= len(t):
                self.fail("unbalanced '['", open_at)
            if t[self.i] == "]":
                self.i += 1
                break
            lo_at = self.i
            lo = one()
            hi = lo
            if self.i + 1 < len(t) and t[self.i] == "-" and t[self.i + 1] != "]":
                self.i += 1
                hi = one()
                if hi < lo:
                    self.fail("invalid range in character class", lo_at)
            items.append((lo, hi))
        if not items:
            self.fail("empty character class", open_at)
        return Cls(tuple(items), negated)


def _nullable(node: Node, nullable: dict) -> bool:
    if isinstance(node, Lit):
        return node.text == ""
    if isinstance(node, (Cls, AnyChar)):
        return False
    if isinstance(node, Ref):
        return nullable[node.name]
    if isinstance(node, Seq):
        return all(_nullable(x, nullable) for x in node.items)
    if isinstance(node, Alt):
        return any(_nullable(x, nullable) for x in node.items)
    if isinstance(node, Rep):
        return node.lo == 0 or node.hi == 0 or _nullable(node.item, nullable)
    raise TypeError(node)


def _productive(node: Node, prod: dict) -> bool:
    if isinstance(node, (Lit, Cls, AnyChar)):
        return True
    if isinstance(node, Ref):
        return prod[node.name]
    if isinstance(node, Seq):
        return all(_productive(x, prod) for x in node.items)
    if isinstance(node, Alt):
        return any(_productive(x, prod) for x in node.items)
    if isinstance(node, Rep):
        return node.lo == 0 or node.hi == 0 or _productive(node.item, prod)
    raise TypeError(node)


def _left_refs(node: Node, nullable: dict, out: list):
    """Rules that can be entered before any character of ``node`` is read."""
    if isinstance(node, Ref):
        out.append(node.name)
    elif isinstance(node, Seq):
        for x in node.items:
            _left_refs(x, nullable, out)
            if not _nullable(x, nullable):
                break
    elif isinstance(node, Alt):
        for x in node.items:
            _left_refs(x, nullable, out)
    elif isinstance(node, Rep):
        if node.hi != 0:
            _left_refs(node.item, nullable, out)


def _fixpoint(rules: dict, fn) -> dict:
    val = {name: False for name in rules}
    changed = True
    while changed:
        changed = False
        for name, body in rules.items():
            if not val[name] and fn(body, val):
                val[name] = changed = True
    return val


def _left_recursion_cycle(rules: dict) -> Optional[list]:
    nullable = _fixpoint(rules, _nullable)
    graph = {}
    for name, body in rules.items():
        out = []
        _left_refs(body, nullable, out)
        graph[name] = list(dict.fromkeys(out))
    state = {}  # 1 = on the DFS stack, 2 = done
    stack = []

    def dfs(n):
        state[n] = 1
        stack.append(n)
        for m in graph[n]:
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                cyc = dfs(m)
                if cyc:
                    return cyc
        stack.pop()
        state[n] = 2
        return None

    for name in rules:
        if name not in state:
            cyc = dfs(name)
            if cyc:
                return cyc
    return None


def parse_ebnf(text: str, root: str = "root") -> dict:
    """{rule name: Node} for formgate EBNF text, definition order kept.

    Checks, in this order: syntax, undefined references (in every rule,
    reachable or not), presence of the start rule, left recursion (in every
    rule), emptiness of the start rule's language.
    """
    reader = _Reader(text)
    rules = reader.grammar()
    for name, at in reader.refs:
        if name not in rules:
            reader.fail("undefined rule %r" % name, at)
    if root not in rules:
        raise EbnfSyntaxError("no rule named %r" % root)
    cyc = _left_recursion_cycle(rules)
    if cyc:
        raise EbnfSyntaxError("left recursion: " + " -> ".join(cyc))
    if not _fixpoint(rules, _productive)[root]:
        raise EbnfSyntaxError("empty language: rule %r derives no finite string" % root)
    return rules


def ebnf_to_lark(text: str, root: str = "root") -> str:
    return emit_lark(parse_ebnf(text, root), root)
