"""The converter's object and array grammars: member chains in schema order, keys that
exclude declared names, pattern properties, prefix items and counted items."""

from __future__ import annotations

import functools
import json
from typing import Any, Optional

from formgate.json_schema import regex as rx
from formgate.json_schema.automaton import Dfa
from formgate.json_schema.errors import LimitError, SchemaError
from formgate.json_schema.shared import (
    ANNOTATIONS,
    ARRAY_KW,
    OBJECT_KW,
    STRING_KW,
    _allof,
    _esc_ptr,
    _q,
    _type_set,
    check_counts,
)

# Key characters JSON writes raw (printable ASCII and DEL but quote and backslash), and the rest.
_KEY_PLAIN = rx.intersect(rx.norm([(0x20, 0x7F)]), rx.complement(rx.chars('"\\')))
_KEY_REST = rx.complement(_KEY_PLAIN)
_PLAIN_CHARS = frozenset(chr(c) for lo, hi in _KEY_PLAIN for c in range(lo, hi + 1))


@functools.lru_cache(maxsize=4096)
def _plain_except(kids: frozenset) -> Optional[str]:
    """EBNF for one character of ``_KEY_PLAIN`` but ``kids`` (all in it), as ``json_encode_class``
    would spell it (``/`` also as ``\\/``): the general range arithmetic was most of the
    converter's time on schemas with many property names."""
    ranges: list = []
    for lo, hi in _KEY_PLAIN:
        for c in range(lo, hi + 1):
            if c in kids:
                continue
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1] = (ranges[-1][0], c)
            else:
                ranges.append((c, c))
    if not ranges:
        return None
    alts = [rx.ranges_to_class(tuple(ranges))]
    if 0x2F not in kids:
        alts.append(rx.ebnf_literal("\\/"))
    return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"


class ContainerRules:
    """Mixin of :class:`formgate.json_schema.converter.Converter`: objects and arrays."""

    # ------------------------------------------------------------------ objects

    def _object(self, s: dict, pointer: str, base: str, depth: int) -> Optional[str]:
        if not any(k in s for k in OBJECT_KW) and not self.strict:
            return self._basic("json_object")
        props = s.get("properties", {})
        if not isinstance(props, dict):
            raise SchemaError(f"'properties' must be an object at {pointer or '/'}", pointer,
                              "properties")
        required = s.get("required", [])
        if not isinstance(required, list):
            raise SchemaError(f"'required' must be an array at {pointer or '/'}", pointer,
                              "required")
        required = list(dict.fromkeys(required))
        addl = s.get("additionalProperties", False if self.strict else True)
        pnames = s.get("propertyNames", True)
        min_p = int(s.get("minProperties", 0))
        max_p = s.get("maxProperties")
        max_p = None if max_p is None else int(max_p)
        if max_p is not None and max_p < min_p:
            return None
        names_ok = (lambda name: True) if pnames is True else (
            (lambda name: False) if pnames is False else
            (lambda name: self._is_valid(pnames, name, pointer + "/propertyNames")))
        pats = self._pattern_dfas(s.get("patternProperties", {}), pointer)

        def with_patterns(name: str, ps: Any) -> Any:
            for _, dfa, sch in pats:
                if dfa.matches(name):
                    ps = _allof(ps, sch)
            return ps

        # The member chain's own limit (_member_chain), checked before any member is converted
        # so that a huge object is refused in bounded time.
        k_states = (max_p if max_p is not None else max(min_p, 1)) + 1
        if len(set(props) | set(required)) * k_states > 20_000:
            raise LimitError(f"object at {pointer or '/'} needs too many counting states "
                             f"({len(props):,} properties)")
        # (name, schema, required?, pointer)
        entries: list[tuple[str, Any, bool, str]] = []
        for name, ps in props.items():
            req = name in required
            if not names_ok(name):
                if req:
                    return None
                continue
            entries.append((name, with_patterns(name, ps), req,
                            f"{pointer}/properties/{_esc_ptr(name)}"))
        for name in required:
            if name in props:
                continue
            matching = [sch for _, dfa, sch in pats if dfa.matches(name)]
            ps = addl
            if matching:
                ps = True
                for sch in matching:
                    ps = _allof(ps, sch)
            if ps is False or not names_ok(name):
                return None
            entries.append((name, ps, True, f"{pointer}/additionalProperties"))
        # member expressions
        members: list[tuple[Optional[str], bool]] = []
        for name, ps, req, ptr in entries:
            v = self.gen(ps, ptr, base, depth + 1)
            if v is None:
                if req:
                    return None
                members.append((None, False))
                continue
            key = rx.ebnf_literal(json.dumps(name, ensure_ascii=False))
            members.append((f"{key} {self.key_sep} {v}", req))
        # additional members
        extra = None
        declared_names = set(props) | {e[0] for e in entries}
        if pats or (pnames not in (True, {}) and declared_names and not (
                isinstance(pnames, dict) and ("enum" in pnames or "const" in pnames))):
            extra = self._pattern_extra(pats, addl, pnames, declared_names, pointer, base, depth)
        elif addl is not False and pnames is not False:
            v = self.gen(addl, f"{pointer}/additionalProperties", base, depth + 1)
            if v is not None:
                key = self._extra_key(pnames, set(props), pointer, base, depth)
                if key is not None:
                    extra = self.rule("extra_member", f"{key} {self.key_sep} {v}")
        return self._member_chain(members, extra, min_p, max_p, pointer)

    def _pattern_dfas(self, pp: Any, pointer: str) -> list:
        """[(pattern, Dfa, schema)] for ``patternProperties``."""
        if not isinstance(pp, dict):
            raise SchemaError(f"'patternProperties' must be an object at {pointer or '/'}",
                              pointer, "patternProperties")
        out = []
        for pat, sch in pp.items():
            ptr = f"{pointer}/patternProperties/{_esc_ptr(pat)}"
            try:
                out.append((pat, Dfa.from_pattern(pat), sch))
            except SchemaError as e:  # RegexError, LimitError
                raise type(e)(f"{e} (patternProperties at {ptr})", ptr,
                              "patternProperties") from None
        if len(out) > 4:
            self._unsupported("patternProperties", pointer, "more than 4 patterns")
        return out

    def _names_dfa(self, pnames: Any, pointer: str) -> Optional[Dfa]:
        """The property names ``propertyNames`` allows, as a DFA (None: all strings)."""
        if pnames is True or pnames == {}:
            return None
        ptr = pointer + "/propertyNames"
        if pnames is False:
            return Dfa.from_strings([])
        ps = self._check_keywords(pnames, ptr)
        rest = set(ps) - ANNOTATIONS - {"type", "pattern", "minLength", "maxLength", "enum",
                                        "const"}
        if rest or "$ref" in ps:
            self._unsupported("propertyNames", ptr, "only type, pattern, minLength, "
                                                    "maxLength, enum and const are supported")
            return None
        if "type" in ps and "string" not in _type_set(ps["type"]):
            return Dfa.from_strings([])
        if "enum" in ps or "const" in ps:
            vals = [ps["const"]] if "const" in ps else ps["enum"]
            return Dfa.from_strings(v for v in vals if isinstance(v, str)
                                    and self._is_valid(pnames, v, ptr))
        d = None
        if "pattern" in ps:
            try:
                d = Dfa.from_pattern(ps["pattern"])
            except SchemaError as e:
                raise type(e)(f"{e} (propertyNames at {ptr})", ptr, "propertyNames") from None
        check_counts(ps, ptr)
        lo, hi = int(ps.get("minLength", 0)), ps.get("maxLength")
        if lo or hi is not None:
            ln = Dfa.lengths(lo, None if hi is None else int(hi))
            d = ln if d is None else d.intersect(ln)
        return d

    def _pattern_extra(self, pats: list, addl: Any, pnames: Any, declared: set, pointer: str,
                       base: str, depth: int) -> Optional[str]:
        """Members whose key is not declared: split by which patterns the key matches (each
        class of keys is a DFA: matches these patterns, not those, is no declared name)."""
        allowed = self._names_dfa(pnames, pointer)
        excl = Dfa.from_strings(declared)
        members = []
        for mask in range(1 << len(pats)):
            chosen = [pats[i] for i in range(len(pats)) if mask >> i & 1]
            if chosen:
                sch: Any = True
                for _, _, x in chosen:
                    sch = _allof(sch, x)
                vptr = f"{pointer}/patternProperties/{_esc_ptr(chosen[0][0])}"
            else:
                sch, vptr = addl, f"{pointer}/additionalProperties"
            if sch is False:
                continue
            keys = excl.complement()
            for i, (_, dfa, _) in enumerate(pats):
                keys = keys.intersect(dfa if mask >> i & 1 else dfa.complement())
            if allowed is not None:
                keys = keys.intersect(allowed)
            if keys.is_empty():
                continue
            v = self.gen(sch, vptr, base, depth + 1)
            if v is None:
                continue
            key = keys.to_ebnf(self._name, self._define, rx.json_encode_class, '"\\""')
            members.append(f'"\\"" {key} {self.key_sep} {v}')
        if not members:
            return None
        return self.rule("extra_member", self._alt(members))

    def _extra_key(self, pnames: Any, declared: set, pointer: str, base: str,
                   depth: int) -> Optional[str]:
        """EBNF for a key that is not a declared property name and satisfies propertyNames."""
        if pnames is True or pnames == {}:
            if not declared:
                return self._basic("json_string")
            return self._exclusion_key(declared)
        if isinstance(pnames, dict):
            ps = self._check_keywords(pnames, pointer + "/propertyNames")
            vals = None
            if "const" in ps:
                vals = [ps["const"]]
            elif "enum" in ps:
                vals = ps["enum"]
            if vals is not None:
                names = [v for v in vals if isinstance(v, str) and v not in declared
                         and self._is_valid(pnames, v, pointer)]
                if not names:
                    return None
                return self._alt([rx.ebnf_literal(json.dumps(n, ensure_ascii=False))
                                  for n in names])
            if not declared:
                t = _type_set(ps.get("type", "string"))
                if "string" not in t:
                    return None
                if set(ps) - ANNOTATIONS - set(STRING_KW) - {"type"}:
                    self._unsupported("propertyNames", pointer + "/propertyNames",
                                      "only string keywords, enum and const are supported")
                    return self._basic("json_string")
                return self._string(ps, pointer + "/propertyNames")
        self._unsupported("propertyNames", pointer + "/propertyNames",
                          "a pattern/length on additional keys next to declared properties")
        return self._exclusion_key(declared)

    def _exclusion_key(self, declared: set) -> str:
        """A JSON string whose decoded value is none of ``declared`` (trie over characters)."""
        memo_key = "\x00".join(sorted(declared))
        cache = getattr(self, "_excl_cache", None)
        if cache is None:
            cache = self._excl_cache = {}
        if memo_key in cache:
            return cache[memo_key]
        any_c = self.rule("key_char", rx.json_encode_class(rx.ANY))
        # A trie node's "any other character" alternative is split into its plain-ASCII part and
        # the rest (non-ASCII, controls, quote, backslash). The rest is the same at every node
        # whose children are plain ASCII, so it is one shared rule in tail position, which the
        # core builds once per rule: its UTF-8 states are not repeated per trie node.
        tail = self.rule("xkey_tail", f'{any_c}* "\\""')
        rest = None
        trie: dict = {}
        for name in declared:
            node = trie
            for ch in name:
                node = node.setdefault(ch, {})
            node[""] = {}

        def build(node: dict) -> str:
            alts = []
            if "" not in node:
                alts.append('"\\""')
            kids = [c for c in node if c]
            if kids:
                nonlocal rest
                if all(c in _PLAIN_CHARS for c in kids):
                    if rest is None:
                        rest = self.rule("xkey_rest", f"{rx.json_encode_class(_KEY_REST)} {tail}")
                    alts.append(rest)
                    other = _plain_except(frozenset(ord(c) for c in kids))
                else:
                    other = rx.json_encode_class(rx.complement(rx.chars("".join(kids))))
                if other:
                    alts.append(f"{other} {tail}")
                for c in sorted(kids):
                    sub = build(node[c])
                    alts.append(f"{rx.json_encode_class(rx.chars(c))} {sub}")
            else:
                alts.append(f'{any_c}+ "\\""')
            return self.rule("xkey", " | ".join(alts))

        name = self.rule("extra_key", f'"\\"" {build(trie)}')
        cache[memo_key] = name
        return name

    def _member_chain(self, members: list[tuple[Optional[str], bool]], extra: Optional[str],
                      min_p: int, max_p: Optional[int], pointer: str) -> Optional[str]:
        """Members in order, optional ones skippable, then extras; counts in [min_p, max_p].

        State (i, c): members i.. remain, c emitted so far (saturated at K). The closing brace
        is part of the chain so that an empty object is ``{`` ws ``}`` without doubled ws."""
        n = len(members)
        K = max_p if max_p is not None else max(min_p, 1)
        if n * (K + 1) > 20_000:
            raise LimitError(f"object at {pointer or '/'} needs too many counting states")
        wc = f"{self.ws} " if self.ws else ""
        memo: dict[tuple[int, int], Optional[str]] = {}

        def close(c: int) -> str:
            return '"}"' if c == 0 else f'{wc}"}}"'

        def state(i: int, c: int) -> Optional[str]:
            c = min(c, K)
            if (i, c) in memo:
                return memo[(i, c)]
            memo[(i, c)] = None  # no cycles: i only grows
            if i == n:
                lo = max(0, min_p - c)
                hi = None if max_p is None else max_p - c
                if hi is not None and hi < 0:
                    res = None
                elif extra is None:
                    res = close(c) if lo == 0 else None
                elif hi == 0:
                    res = close(c) if lo == 0 else None
                else:
                    sep = f"{self.item_sep} "
                    if c == 0:
                        rlo, rhi = max(lo - 1, 0), None if hi is None else hi - 1
                        more = f"( {sep}{extra} ){_q(rlo, rhi)}" if rhi != 0 else ""
                        first = f"{extra} {more} {close(1)}".replace("  ", " ")
                        res = first if lo > 0 else f"( {close(0)} | {first} )"
                    else:
                        more = f"( {sep}{extra} ){_q(lo, hi)}"
                        res = f"{more} {close(c)}"
            else:
                m, req = members[i]
                alts = []
                if m is not None and (max_p is None or c + 1 <= max_p):
                    nxt = state(i + 1, c + 1)
                    if nxt is not None:
                        sep = "" if c == 0 else f"{self.item_sep} "
                        alts.append(f"{sep}{m} {nxt}")
                if not req:
                    nxt = state(i + 1, c)
                    if nxt is not None:
                        alts.append(nxt)
                res = None if not alts else (alts[0] if len(alts) == 1 else
                                             "( " + " | ".join(alts) + " )")
            if res is not None and i < n:
                res = self.rule(f"obj_{i}", res)
            memo[(i, c)] = res
            return res

        if n > 200:
            # state(i, c) recurses into state(i + 1, .): fill the memo from the end so a long
            # property list never nests Python calls more than two deep.
            for i in range(n, 0, -1):
                for c in range(min(i, K) + 1):
                    state(i, c)
        body = state(0, 0)
        if body is None:
            return None
        w = f"{self.ws} " if self.ws else ""
        return self.rule("object", f'"{{" {w}{body}')

    # ------------------------------------------------------------------ arrays

    def _array(self, s: dict, pointer: str, base: str, depth: int) -> Optional[str]:
        if not any(k in s for k in ARRAY_KW):
            return self._basic("json_array")
        items = s.get("items", True)
        if isinstance(items, list):  # draft-7 tuple form
            prefix = items
            items = s.get("additionalItems", True)
            pkey, ikey = "items", "additionalItems"
        else:
            prefix = s.get("prefixItems", [])
            pkey, ikey = "prefixItems", "items"
        if not isinstance(prefix, list):
            raise SchemaError(f"'{pkey}' must be an array at {pointer or '/'}", pointer, pkey)
        lo = int(s.get("minItems", 0))
        hi = s.get("maxItems")
        hi = None if hi is None else int(hi)
        if hi is not None and hi < lo:
            return None
        if hi is not None and hi > rx.MAX_REPEAT:
            hi = rx.MAX_REPEAT
        if lo > rx.MAX_REPEAT:
            raise LimitError(f"minItems above {rx.MAX_REPEAT:,} at {pointer or '/'}")
        pre = []
        for i, ps in enumerate(prefix):
            e = self.gen(ps, f"{pointer}/{pkey}/{i}", base, depth + 1)
            if e is None:
                hi = i if hi is None else min(hi, i)
                break
            pre.append(e)
        it = self.gen(items, f"{pointer}/{ikey}", base, depth + 1)
        if it is None:
            hi = len(pre) if hi is None else min(hi, len(pre))
        if hi is not None and lo > hi:
            return None
        wc = f"{self.ws} " if self.ws else ""
        sep = f"{self.item_sep} "

        def close(j: int) -> str:
            return '"]"' if j == 0 else f'{wc}"]"'

        def tail(j: int) -> Optional[str]:
            """After j prefix items, the items part (j == len(pre))."""
            tlo = max(0, lo - j)
            thi = None if hi is None else hi - j
            if thi is not None and thi < tlo:
                return None
            if it is None or thi == 0:
                return close(j) if tlo == 0 else None
            if j == 0:
                rlo, rhi = max(tlo - 1, 0), None if thi is None else thi - 1
                more = f" ( {sep}{it} ){_q(rlo, rhi)}" if rhi != 0 else ""
                first = f"{it}{more} {close(1)}"
                return first if tlo > 0 else f"( {close(0)} | {first} )"
            return f"( {sep}{it} ){_q(tlo, thi)} {close(j)}"

        nxt = tail(len(pre))
        for j in range(len(pre) - 1, -1, -1):
            alts = []
            if nxt is not None and (hi is None or j + 1 <= hi):
                alts.append(f"{'' if j == 0 else sep}{pre[j]} {nxt}")
            if j >= lo:
                alts.append(close(j))
            nxt = None if not alts else self.rule(f"arr_{j}", " | ".join(alts))
        if nxt is None:
            return None
        w = f"{self.ws} " if self.ws else ""
        return self.rule("array", f'"[" {w}{nxt}')
