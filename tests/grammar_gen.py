"""Hypothesis strategies for random formgate grammars and candidate strings.

``random_grammars()`` draws small grammars (2-5 rules) as an AST and renders
each twice: ``.ebnf`` in the formgate dialect (with randomised spelling:
escapes, spacing, comments, empty alternatives) and ``.lark``, an exactly
equivalent grammar for the Earley/dynamic oracle in tests/oracle. Every drawn
grammar is free of left recursion and has a non-empty language, so the core
must accept it.

``strings_for(g)`` draws candidate strings: derivations of the grammar (always
sentences), mutations of derivations and random strings over the grammar's
alphabet (mostly non-sentences). Ask the oracle which is which:
``lark_accepts(g.lark, s)``.

How the two guarantees are kept:
* Rules are ordered root, r1, r2, ...; a rule may refer to a later rule
  anywhere, but to itself or an earlier rule only after a non-nullable item in
  the same sequence. So every left-position reference points forward and no
  cycle of them (left recursion) can exist.
* Each rule's last alternative (its "base") refers only to later rules, so
  by induction from the last rule every rule derives some finite string. The
  derivation sampler falls back to the base once its budget is spent, which
  also makes it terminate.
* Ambiguity is kept moderate (few wildcards, no nullable recursive rules, no
  stacked repetition of rule references, derivations of about 24 characters)
  because a stack-based matcher may legitimately give up with LimitError on
  exponentially ambiguous input. About 1 string in 10,000 still reaches
  formgate's limit; callers should treat LimitError as "skip this example".
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from oracle.lark_oracle import (  # noqa: E402
    Alt,
    AnyChar,
    Cls,
    Lit,
    Ref,
    Rep,
    Seq,
    _fixpoint,
    _nullable,
    emit_lark,
)

__all__ = ["GeneratedGrammar", "random_grammars", "strings_for", "derivations",
           "ALPHABET", "EXTRA_CHARS"]

# Characters grammars are built from. "é" (2 UTF-8 bytes) and "🙂" (4 bytes)
# make byte-level matching differ from character-level matching; '"', "\\",
# "]" and "-" exercise escaping in strings and classes.
ALPHABET = ["a", "b", "c", "é", "🙂", "\n", '"', "\\", "-", "]"]
# Characters that appear only in candidate strings, so negated classes and "."
# are tested against characters the grammar never names.
EXTRA_CHARS = ["d", "x", " ", "ü", "\x00"]
LITERALS = ["a", "b", "c", "ab", "ba", "é", "aé", "🙂", "\n", '"', "\\", "a-b", "]", ""]
# "." and negated classes overlap every other atom; too many of them make
# grammars so ambiguous that a stack-based matcher hits its ambiguity limit.
_ATOM_KINDS = ["lit"] * 4 + ["cls"] * 2 + ["ref"] * 3 + ["any"]
RULE_NAMES = ["item", "x.y", "r-1", "_z", "B2", "list", "e"]


@dataclass
class GeneratedGrammar:
    # rules[name] is a list of alternatives (each a Node); the last is the base.
    rules: dict
    ebnf: str
    lark: str
    alphabet: list = field(default_factory=lambda: ALPHABET + EXTRA_CHARS)

    def __repr__(self):
        return "GeneratedGrammar(\n%s)" % self.ebnf


# --------------------------------------------------------------------------
# AST generation


def _maybe_nullable(node) -> bool:
    """Conservative: True unless the node surely consumes a character."""
    if isinstance(node, Lit):
        return node.text == ""
    if isinstance(node, (Cls, AnyChar)):
        return False
    if isinstance(node, Ref):
        return True
    if isinstance(node, Seq):
        return all(_maybe_nullable(x) for x in node.items)
    if isinstance(node, Alt):
        return any(_maybe_nullable(x) for x in node.items)
    if isinstance(node, Rep):
        return node.lo == 0 or node.hi == 0 or _maybe_nullable(node.item)
    raise TypeError(node)


@st.composite
def _char_class(draw):
    n = draw(st.integers(1, 3))
    items = []
    for _ in range(n):
        if draw(st.booleans()):
            lo, hi = draw(st.sampled_from([("a", "c"), ("a", "b"), ("b", "é"), ("\n", '"'),
                                           ("-", "]"), ("é", "🙂"), ("c", "c")]))
        else:
            lo = hi = draw(st.sampled_from(ALPHABET))
        items.append((lo, hi))
    return Cls(tuple(items), negated=draw(st.integers(0, 4)) == 0)


def _atom(draw, n_rules, index, guarded):
    """A leaf. Refs to rule ``index`` or earlier need ``guarded``."""
    kind = draw(st.sampled_from(_ATOM_KINDS))
    if kind == "lit":
        return Lit(draw(st.sampled_from(LITERALS)))
    if kind == "cls":
        return draw(_char_class())
    if kind == "any":
        return AnyChar()
    lo = 0 if guarded else index + 1
    if lo >= n_rules:
        return Lit(draw(st.sampled_from(LITERALS[:-1])))
    return Ref(draw(st.integers(lo, n_rules - 1)))


def _expr(draw, depth, n_rules, index, guarded):
    if depth <= 0:
        return _atom(draw, n_rules, index, guarded)
    kind = draw(st.sampled_from(["atom", "atom", "seq", "seq", "alt", "rep"]))
    if kind == "atom":
        return _atom(draw, n_rules, index, guarded)
    if kind == "seq":
        items = []
        g = guarded
        for _ in range(draw(st.integers(2, 3))):
            item = _expr(draw, depth - 1, n_rules, index, g)
            items.append(item)
            g = g or not _maybe_nullable(item)
        return Seq(tuple(items))
    if kind == "alt":
        alts = [_expr(draw, depth - 1, n_rules, index, guarded)
                for _ in range(draw(st.integers(2, 3)))]
        if draw(st.integers(0, 5)) == 0:
            alts.insert(draw(st.integers(0, len(alts))), Seq(()))
        return Alt(tuple(alts))
    item = _expr(draw, depth - 1, n_rules, index, guarded)
    # Repeating a repetition of rule references, e.g. (r+){0,2}, splits the
    # input in exponentially many ways; keep stacked repetition for leaves.
    while isinstance(item, Rep) and _refs(item, set()):
        item = item.item
    lo, hi = draw(st.sampled_from([(0, None), (1, None), (0, 1), (2, 2), (0, 2), (1, 3),
                                   (2, None), (0, 0), (3, 3)]))
    return Rep(item, lo, hi)


def _rename(node, names):
    if isinstance(node, Ref):
        return Ref(names[node.name])
    if isinstance(node, Seq):
        return Seq(tuple(_rename(x, names) for x in node.items))
    if isinstance(node, Alt):
        return Alt(tuple(_rename(x, names) for x in node.items))
    if isinstance(node, Rep):
        return Rep(_rename(node.item, names), node.lo, node.hi)
    return node


# --------------------------------------------------------------------------
# EBNF rendering (randomised spelling of the same AST)


def _ebnf_char(c, draw, in_class):
    special = '"\\' if not in_class else "]\\[-^"
    if c in special:
        return "\\" + c
    choice = draw(st.integers(0, 5))
    if c == "\n":
        return "\\n" if choice else "\\x0a"
    if choice == 0 and ord(c) <= 0xFF:
        return "\\x%02x" % ord(c)
    if choice == 1 and ord(c) <= 0xFFFF:
        return "\\u%04X" % ord(c)
    if choice == 2:
        return "\\U%08x" % ord(c)
    return c


def _ws(draw):
    return draw(st.sampled_from([" ", " ", " ", "  ", "\n  ", "\t", " # note\n  "]))


def _ebnf(node, draw, names):
    """EBNF text for node, safe to juxtapose or postfix (atoms or groups)."""
    if isinstance(node, Lit):
        return '"' + "".join(_ebnf_char(c, draw, False) for c in node.text) + '"'
    if isinstance(node, Cls):
        body = []
        for lo, hi in node.items:
            s = _ebnf_char(lo, draw, True)
            if hi != lo:
                s += "-" + _ebnf_char(hi, draw, True)
            body.append(s)
        return "[" + ("^" if node.negated else "") + "".join(body) + "]"
    if isinstance(node, AnyChar):
        return "."
    if isinstance(node, Ref):
        return names[node.name]
    if isinstance(node, Seq):
        if not node.items:
            return draw(st.sampled_from(['""', "( )", "()"]))
        return "(" + _ws(draw).join(_ebnf(x, draw, names) for x in node.items) + ")"
    if isinstance(node, Alt):
        parts = []
        for x in node.items:
            # An empty alternative is written as nothing at all: "( "a" | )".
            parts.append("" if x == Seq(()) else _ebnf(x, draw, names))
        return "(" + " | ".join(parts) + ")"
    if isinstance(node, Rep):
        inner = _ebnf(node.item, draw, names)
        if isinstance(node.item, Rep):
            inner = "(" + inner + ")"  # stacked postfix operators are not in the dialect
        lo, hi = node.lo, node.hi
        if (lo, hi) == (0, None):
            return inner + draw(st.sampled_from(["*", "{0,}"]))
        if (lo, hi) == (1, None):
            return inner + draw(st.sampled_from(["+", "{1,}"]))
        if (lo, hi) == (0, 1):
            return inner + draw(st.sampled_from(["?", "{0,1}"]))
        if hi is None:
            return inner + "{%d,}" % lo
        if lo == hi:
            return inner + draw(st.sampled_from(["{%d}" % lo, "{%d,%d}" % (lo, hi)]))
        return inner + "{%d,%d}" % (lo, hi)
    raise TypeError(node)


def _ebnf_alternative(node, draw, names):
    # Top-level sequences are written without parentheses.
    if isinstance(node, Seq) and node.items:
        return _ws(draw).join(_ebnf(x, draw, names) for x in node.items)
    return _ebnf(node, draw, names)


@st.composite
def random_grammars(draw, min_rules=2, max_rules=5, max_depth=3):
    n = draw(st.integers(min_rules, max_rules))
    others = draw(st.lists(st.sampled_from(RULE_NAMES), min_size=n - 1, max_size=n - 1,
                           unique=True))
    names = ["root"] + others
    rules_by_index = []
    for i in range(n):
        alts = [_expr(draw, max_depth, n, i, guarded=False)
                for _ in range(draw(st.integers(0, 2)))]
        # A guarded recursive alternative, so recursion is actually exercised.
        if draw(st.booleans()):
            head = Lit(draw(st.sampled_from(LITERALS[:-1])))
            alts.append(Seq((head, Ref(draw(st.integers(0, n - 1))))))
        base = _expr(draw, max_depth - 1, n, i, guarded=False)
        base = _strip_backrefs(base, i, draw)
        alts.append(base)
        if draw(st.integers(0, 9)) == 0:
            alts.insert(0, Seq(()))  # the rule also derives the empty string
        rules_by_index.append(alts)

    _denullify_cycles(rules_by_index, draw)
    index_names = dict(enumerate(names))
    rules = {names[i]: [_rename(a, index_names) for a in alts]
             for i, alts in enumerate(rules_by_index)}

    name_text = {nm: nm for nm in names}
    order = list(names)
    if draw(st.booleans()):
        order = draw(st.permutations(names))  # definition order is irrelevant
    chunks = []
    if draw(st.booleans()):
        chunks.append("# generated grammar\n")
    for nm in order:
        alts = rules[nm]
        if alts[0] == Seq(()):
            # A leading empty alternative, written as nothing: "r ::= | ...".
            body = "| " + (" |" + _ws(draw)).join(
                _ebnf_alternative(a, draw, name_text) for a in alts[1:])
        else:
            body = (" |" + _ws(draw)).join(
                _ebnf_alternative(a, draw, name_text) for a in alts)
        sep = draw(st.sampled_from(["\n", "\n\n", "   ", "\n# --\n"]))
        chunks.append("%s ::=%s%s%s" % (nm, _ws(draw), body, sep))
    ebnf = "".join(chunks)
    lark_text = emit_lark({name: (alts[0] if len(alts) == 1 else Alt(tuple(alts)))
                           for name, alts in rules.items()}, "root")
    return GeneratedGrammar(rules=rules, ebnf=ebnf, lark=lark_text)


def _refs(node, out):
    if isinstance(node, Ref):
        out.add(node.name)
    elif isinstance(node, (Seq, Alt)):
        for x in node.items:
            _refs(x, out)
    elif isinstance(node, Rep):
        _refs(node.item, out)
    return out


def _denullify_cycles(rules_by_index, draw):
    """Make every recursive rule non-nullable.

    A nullable recursive rule used twice in a row (r r, r{2}) can split the
    input in Catalan-many ways, which makes stack-based matchers give up with
    a LimitError. Prefixing a literal to the nullable alternatives keeps the
    grammar valid (the prefix is non-nullable, so no left recursion appears).
    """
    n = len(rules_by_index)
    while True:
        as_dict = {i: Alt(tuple(alts)) for i, alts in enumerate(rules_by_index)}
        nullable = _fixpoint(as_dict, _nullable)
        graph = {i: _refs(as_dict[i], set()) for i in range(n)}

        def on_cycle(start):
            seen, todo = set(), [start]
            while todo:
                for y in graph[todo.pop()]:
                    if y == start:
                        return True
                    if y not in seen:
                        seen.add(y)
                        todo.append(y)
            return False

        bad = [i for i in range(n) if nullable[i] and on_cycle(i)]
        if not bad:
            return
        i = bad[0]
        rules_by_index[i] = [Seq((Lit(draw(st.sampled_from(LITERALS[:-1]))), a))
                             if _nullable(a, nullable) else a
                             for a in rules_by_index[i]]


def _strip_backrefs(node, index, draw):
    """Replace refs to rules <= index (bases must only point forward)."""
    if isinstance(node, Ref):
        if node.name <= index:
            return Lit(draw(st.sampled_from(LITERALS[:-1])))
        return node
    if isinstance(node, Seq):
        return Seq(tuple(_strip_backrefs(x, index, draw) for x in node.items))
    if isinstance(node, Alt):
        return Alt(tuple(_strip_backrefs(x, index, draw) for x in node.items))
    if isinstance(node, Rep):
        return Rep(_strip_backrefs(node.item, index, draw), node.lo, node.hi)
    return node


# --------------------------------------------------------------------------
# Candidate strings


def _class_matches(node, c):
    inside = any(lo <= c <= hi for lo, hi in node.items)
    return inside != node.negated


def _derive(g, node, draw, budget, out):
    # budget = [rule expansions left, soft length cap]; past either, take
    # base alternatives and minimum repetition counts so the string stays short.
    if isinstance(node, Lit):
        out.append(node.text)
    elif isinstance(node, (Cls, AnyChar)):
        pool = [c for c in g.alphabet
                if isinstance(node, AnyChar) or _class_matches(node, c)]
        if not pool:  # the class excludes the whole alphabet
            pool = [next(chr(cp) for cp in range(0x41, 0x3000)
                         if _class_matches(node, chr(cp)))]
        out.append(draw(st.sampled_from(pool)))
    elif isinstance(node, Ref):
        alts = g.rules[node.name]
        if budget[0] <= 0 or len(out) > budget[1]:
            alt = alts[-1]
        else:
            budget[0] -= 1
            alt = draw(st.sampled_from(alts))
        _derive(g, alt, draw, budget, out)
    elif isinstance(node, Seq):
        for x in node.items:
            _derive(g, x, draw, budget, out)
    elif isinstance(node, Alt):
        _derive(g, draw(st.sampled_from(node.items)), draw, budget, out)
    elif isinstance(node, Rep):
        hi = node.hi if node.hi is not None else node.lo + 2
        spent = budget[0] <= 0 or len(out) > budget[1]
        k = node.lo if spent else draw(st.integers(node.lo, hi))
        for _ in range(k):
            _derive(g, node.item, draw, budget, out)
    else:
        raise TypeError(node)


def derivations(g: GeneratedGrammar, budget: int = 6, max_len: int = 24):
    """Strategy for sentences of ``g`` (random derivations from root)."""

    @st.composite
    def strat(draw):
        out = []
        _derive(g, Ref("root"), draw, [budget, max_len], out)
        return "".join(out)

    return strat()


@st.composite
def _mutated(draw, g):
    s = draw(derivations(g))
    chars = list(s)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "swap", "truncate"]))
        pos = draw(st.integers(0, len(chars)))
        c = draw(st.sampled_from(g.alphabet))
        if op == "insert":
            chars.insert(pos, c)
        elif chars and op == "delete":
            del chars[min(pos, len(chars) - 1)]
        elif chars and op == "replace":
            chars[min(pos, len(chars) - 1)] = c
        elif len(chars) > 1 and op == "swap":
            p = min(pos, len(chars) - 2)
            chars[p], chars[p + 1] = chars[p + 1], chars[p]
        elif op == "truncate":
            chars = chars[:pos]
    return "".join(chars)


def strings_for(g: GeneratedGrammar):
    """Candidate strings for ``g``: derivations, mutations, random strings."""
    return st.one_of(
        derivations(g),
        _mutated(g),
        st.lists(st.sampled_from(g.alphabet), max_size=8).map("".join),
    )
