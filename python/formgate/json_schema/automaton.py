r"""Small deterministic automata over code points, for the set operations EBNF lacks.

JSON Schema needs the *complement* and *intersection* of regex languages in a few places:
``patternProperties`` (a key that matches no pattern goes to ``additionalProperties``), keys that
must not spell a declared property name, ``pattern`` next to ``format``. A :class:`Dfa` is built
from the regex AST of :mod:`formgate.json_schema.regex` (subset construction over code-point
ranges), combined, and printed as right-linear EBNF rules. Sizes are capped (``max_states``):
going over raises :class:`LimitError`, never a silently wrong grammar.

Example:
    >>> d = Dfa.from_pattern("^a+$").minus(Dfa.from_strings(["aa"]))
    >>> [d.matches(s) for s in ("a", "aa", "aaa", "b")]
    [True, False, True, False]
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional

from formgate.json_schema import regex as rx
from formgate.json_schema.errors import LimitError

__all__ = ["Dfa"]

MAX_STATES = 2000
_ANY = rx.complement(())  # every code point a string can hold (no surrogates)


class _Nfa:
    def __init__(self, max_states: int):
        self.eps: list[list[int]] = []
        self.moves: list[list[tuple[tuple, int]]] = []
        self.max_states = max_states

    def state(self) -> int:
        if len(self.eps) > self.max_states * 8:
            raise LimitError(f"regex automaton over {self.max_states * 8:,} NFA states")
        self.eps.append([])
        self.moves.append([])
        return len(self.eps) - 1

    def build(self, n: rx.Node, a: int, b: int) -> None:
        """Connect a -> b through node n."""
        k = n.kind
        if k == "set":
            if n.ranges:
                self.moves[a].append((n.ranges, b))
        elif k == "seq":
            cur = a
            for i, c in enumerate(n.items):
                nxt = b if i == len(n.items) - 1 else self.state()
                self.build(c, cur, nxt)
                cur = nxt
            if not n.items:
                self.eps[a].append(b)
        elif k == "alt":
            for c in n.items:
                self.build(c, a, b)
        elif k == "rep":
            sub, lo, hi = n.items[0], n.lo, n.hi
            cur = a
            for _ in range(lo):
                nxt = self.state()
                self.build(sub, cur, nxt)
                cur = nxt
            if hi is None:
                loop = self.state()
                self.eps[cur].append(loop)
                self.build(sub, loop, loop)
                self.eps[loop].append(b)
            else:
                self.eps[cur].append(b)
                for _ in range(hi - lo):
                    nxt = self.state()
                    self.build(sub, cur, nxt)
                    self.eps[nxt].append(b)
                    cur = nxt
        else:  # anchors were split off by the caller
            raise AssertionError(k)

    def closure(self, states: Iterable[int]) -> frozenset:
        seen = set(states)
        todo = list(seen)
        while todo:
            s = todo.pop()
            for t in self.eps[s]:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return frozenset(seen)


def _partition(edges: list[tuple[tuple, object]]) -> list[tuple[int, int, frozenset]]:
    """Split the union of the edges' ranges into maximal intervals with the same target set."""
    points = set()
    for rs, _ in edges:
        for lo, hi in rs:
            points.add(lo)
            points.add(hi + 1)
    bounds = sorted(points)
    out = []
    for lo, nxt in zip(bounds, bounds[1:]):
        hi = nxt - 1
        targets = frozenset(t for rs, t in edges if any(a <= lo and hi <= b for a, b in rs))
        if targets:
            if out and out[-1][2] == targets and out[-1][1] == lo - 1:
                out[-1] = (out[-1][0], hi, targets)
            else:
                out.append((lo, hi, targets))
    return out


class Dfa:
    """A complete DFA: ``trans[q]`` is a list of (ranges, target) covering every code point
    (state 0 is the start; missing characters go to an explicit dead state)."""

    def __init__(self, trans: list[list[tuple[tuple, int]]], accept: set[int]):
        self.trans = trans
        self.accept = accept

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_node(cls, node: rx.Node, search: bool, pattern: str = "",
                  max_states: int = MAX_STATES) -> "Dfa":
        """The strings the regex AST matches: fully (``search=False``) or anywhere, with
        ``^``/``$`` anchoring a top-level alternative (``search=True``, JSON Schema)."""
        nfa = _Nfa(max_states)
        start, end = nfa.state(), nfa.state()
        for anchored_start, body, anchored_end in rx.split_anchors(node, pattern):
            a, b = nfa.state(), nfa.state()
            nfa.eps[start].append(a)
            nfa.eps[b].append(end)
            inner_a, inner_b = a, b
            if search and not anchored_start:
                inner_a = nfa.state()
                nfa.moves[a].append((_ANY, a))
                nfa.eps[a].append(inner_a)
            if search and not anchored_end:
                inner_b = nfa.state()
                nfa.moves[inner_b].append((_ANY, inner_b))
                nfa.eps[inner_b].append(b)
            if search:
                body = rx.search_core(body, not anchored_start, not anchored_end)
            nfa.build(body, inner_a, inner_b)
        return cls._determinize(nfa, start, end, max_states)

    @classmethod
    def from_pattern(cls, pattern: str, search: bool = True,
                     max_states: int = MAX_STATES) -> "Dfa":
        """From an ECMA-262 pattern (JSON Schema semantics when ``search``)."""
        return cls.from_node(rx.parse_regex(pattern), search, pattern, max_states)

    @classmethod
    def from_strings(cls, strings: Iterable[str]) -> "Dfa":
        """Exactly the given strings (a trie)."""
        trans: list[list] = [[]]
        accept: set[int] = set()
        kids: list[dict] = [{}]
        for s in strings:
            q = 0
            for ch in s:
                c = ord(ch)
                if c not in kids[q]:
                    kids.append({})
                    trans.append([])
                    kids[q][c] = len(kids) - 1
                q = kids[q][c]
            accept.add(q)
        dead = len(kids)
        out = []
        for q, ks in enumerate(kids):
            row = [(((c, c),), t) for c, t in sorted(ks.items())]
            rest = rx.complement(rx.norm([(c, c) for c in ks]))
            if rest:
                row.append((rest, dead))
            out.append(row)
        out.append([(_ANY, dead)])
        return cls(out, accept)

    @classmethod
    def lengths(cls, lo: int, hi: Optional[int]) -> "Dfa":
        """Strings of ``lo`` to ``hi`` code points (``hi`` None: no upper bound)."""
        top = lo if hi is None else hi
        if top > MAX_STATES:
            raise LimitError(f"length bound {top:,} too large for a key automaton")
        trans = [[(_ANY, q + 1)] for q in range(top)]
        trans.append([(_ANY, top)] if hi is None else [])
        return cls._complete(trans, set(range(lo, top + 1)))

    @classmethod
    def _determinize(cls, nfa: _Nfa, start: int, end: int, max_states: int) -> "Dfa":
        first = nfa.closure([start])
        index = {first: 0}
        order = [first]
        trans: list[list] = []
        accept: set[int] = set()
        i = 0
        while i < len(order):
            cur = order[i]
            if end in cur:
                accept.add(i)
            edges = [(rs, t) for s in cur for rs, t in nfa.moves[s]]
            row = []
            for lo, hi, targets in _partition(edges):
                nxt = nfa.closure(targets)
                if nxt not in index:
                    if len(order) >= max_states:
                        raise LimitError(f"regex automaton over {max_states:,} states")
                    index[nxt] = len(order)
                    order.append(nxt)
                row.append((((lo, hi),), index[nxt]))
            trans.append(row)
            i += 1
        return cls._complete(trans, accept)

    @classmethod
    def _complete(cls, trans: list[list], accept: set[int]) -> "Dfa":
        """Add a dead state for the characters no transition covers; merge equal targets."""
        dead = len(trans)
        out = []
        for row in trans:
            by_target: dict[int, list] = {}
            for rs, t in row:
                by_target.setdefault(t, []).extend(rs)
            covered = rx.norm([r for rs, _ in row for r in rs])
            rest = rx.complement(covered)
            if rest:
                by_target.setdefault(dead, []).extend(rest)
            out.append([(rx.norm(v), t) for t, v in by_target.items()])
        out.append([(_ANY, dead)])
        return cls(out, set(accept))

    # ------------------------------------------------------------------ operations

    def complement(self) -> "Dfa":
        return Dfa(self.trans, set(range(len(self.trans))) - self.accept)

    def _product(self, other: "Dfa", keep: Callable[[bool, bool], bool],
                 max_states: int = MAX_STATES) -> "Dfa":
        index = {(0, 0): 0}
        order = [(0, 0)]
        trans: list[list] = []
        accept: set[int] = set()
        i = 0
        while i < len(order):
            p, q = order[i]
            if keep(p in self.accept, q in other.accept):
                accept.add(i)
            row = []
            for rs1, t1 in self.trans[p]:
                for rs2, t2 in other.trans[q]:
                    rs = rx.intersect(rs1, rs2)
                    if not rs:
                        continue
                    key = (t1, t2)
                    if key not in index:
                        if len(order) >= max_states:
                            raise LimitError(f"regex automaton over {max_states:,} states")
                        index[key] = len(order)
                        order.append(key)
                    row.append((rs, index[key]))
            trans.append(row)
            i += 1
        return Dfa._complete(trans, accept)

    def intersect(self, other: "Dfa") -> "Dfa":
        return self._product(other, lambda a, b: a and b)

    def minus(self, other: "Dfa") -> "Dfa":
        return self._product(other, lambda a, b: a and not b)

    def live(self) -> set[int]:
        """States from which an accepting state is reachable."""
        rev: dict[int, set] = {}
        for q, row in enumerate(self.trans):
            for _, t in row:
                rev.setdefault(t, set()).add(q)
        seen = set(self.accept)
        todo = list(seen)
        while todo:
            t = todo.pop()
            for q in rev.get(t, ()):
                if q not in seen:
                    seen.add(q)
                    todo.append(q)
        return seen

    def is_empty(self) -> bool:
        return 0 not in self.live()

    def matches(self, s: str) -> bool:
        q = 0
        for ch in s:
            c = ord(ch)
            for rs, t in self.trans[q]:
                if any(lo <= c <= hi for lo, hi in rs):
                    q = t
                    break
        return q in self.accept

    # ------------------------------------------------------------------ output

    def to_ebnf(self, reserve: Callable[[str], str], define: Callable[[str, str], None],
                encode: Callable[[tuple], Optional[str]], end: str) -> Optional[str]:
        """Right-linear EBNF: one rule per live reachable state, ``encode(ranges)`` spelling one
        character, ``end`` where the string may stop. ``reserve(hint)`` returns a fresh rule
        name, ``define(name, body)`` defines it. Returns the start rule's name, or None for the
        empty language.

        Example:
            >>> rules = {}
            >>> start = Dfa.from_strings(["ab"]).to_ebnf(
            ...     lambda h: f"s{len(rules)}" if rules.setdefault(f"s{len(rules)}", "") == ""
            ...     else "", rules.__setitem__, lambda rs: repr(chr(rs[0][0])), "END")
            >>> start, rules
            ('s0', {'s0': "'a' s1", 's1': "'b' s2", 's2': 'END'})
        """
        live = self.live()
        if 0 not in live:
            return None
        order = [0]
        seen = {0}
        for q in order:
            for _, t in self.trans[q]:
                if t in live and t not in seen:
                    seen.add(t)
                    order.append(t)
        names = {q: reserve(f"dfa_{q}") for q in order}
        for q in order:
            alts = [end] if q in self.accept else []
            for rs, t in self.trans[q]:
                e = encode(rs) if t in live else None
                if e is not None:
                    alts.append(f"{e} {names[t]}")
            define(names[q], " | ".join(alts))
        return names[0]
