"""The converter's schema algebra: ``not``/``if``/dependency keywords rewritten into
positive ones, ``allOf``/``$ref`` merged into one schema, ``oneOf`` branches proven disjoint."""

from __future__ import annotations

import math
import warnings
from typing import Any
from urllib.parse import urljoin

from formgate.json_schema.errors import LimitError, SchemaError
from formgate.json_schema.shared import (
    _DEFAULT_BASE,
    _MAX_DISTRIBUTE,
    _NEGATED_BOUND,
    ANNOTATIONS,
    ARRAY_KW,
    HANDLED,
    NOT_IN,
    NOT_PATTERN,
    NUMBER_KW,
    OBJECT_KW,
    STRING_KW,
    TYPES,
    _allof,
    _canon,
    _contains_ref,
    _items,
    _json_type_of,
    _prefix,
    _type_set,
)


class SchemaLogic:
    """Mixin of :class:`formgate.json_schema.converter.Converter`: rewriting and merging."""

    # ------------------------------------------------------------------ not / if / dependencies

    def _rewrite_logic(self, s: dict, pointer: str) -> dict:
        """``not``, ``if``/``then``/``else``, ``dependentRequired``, ``dependentSchemas`` and
        ``dependencies`` as ``allOf``/``anyOf`` conjuncts of positive schemas, where the negated
        schema has an exact positive form (see :meth:`_negate`); otherwise left in place (and
        then rejected as unsupported)."""
        extra = []
        if "not" in s:
            neg = self._negate(s["not"], 0)
            if neg is not None:
                extra.append(neg)
                s.pop("not")
        if "if" in s:
            cond = s["if"]
            neg = self._negate(cond, 0)
            if neg is not None:
                extra.append({"anyOf": [{"allOf": [cond, s.get("then", True)]},
                                        {"allOf": [neg, s.get("else", True)]}]})
                for k in ("if", "then", "else"):
                    s.pop(k, None)
        deps = {}
        for k in ("dependencies", "dependentRequired", "dependentSchemas"):
            if isinstance(s.get(k), dict):
                for name, d in s[k].items():
                    deps.setdefault(name, []).append(d)
        if deps:
            for name, ds in deps.items():
                then: list = []
                for d in ds:
                    if isinstance(d, list):
                        then.append({"required": [name] + [x for x in d if x != name]})
                    else:
                        then.append({"allOf": [{"required": [name]}, d]})
                # absent name, or a non-object (the keyword only applies to objects), or present
                # with its dependencies satisfied
                extra.append({"anyOf": [
                    {"type": [t for t in TYPES if t != "object"]},
                    {"type": "object", "properties": {name: False}},
                    {"type": "object", "required": [name], "allOf": then},
                ]})
            for k in ("dependencies", "dependentRequired", "dependentSchemas"):
                s.pop(k, None)
        if extra:
            s["allOf"] = list(s.get("allOf", [])) + extra
        return s

    def _negate(self, n: Any, depth: int) -> Any:
        """A schema accepting exactly the values ``n`` rejects, or None when formgate has no
        exact form for it (then ``not``/``if`` stay unsupported)."""
        if depth > 8:
            return None
        if n is True or n == {}:
            return False
        if n is False:
            return True
        if not isinstance(n, dict):
            return None
        keys = [k for k in n if k not in ANNOTATIONS and k in HANDLED]
        if "$ref" in keys:
            if keys != ["$ref"]:
                return None
            try:
                tgt, _, tbase = self._resolve(n["$ref"], self.root_base or _DEFAULT_BASE, "")
            except SchemaError:
                return None
            if tbase != (self.root_base or _DEFAULT_BASE) and _contains_ref(tgt):
                return None
            return self._negate(tgt, depth + 1)
        if any(k in keys for k in ("additionalProperties", "patternProperties", "prefixItems",
                                   "additionalItems", "contains", "minContains",
                                   "maxContains", "if", "then", "else", "unevaluatedItems",
                                   "unevaluatedProperties", "dependentSchemas",
                                   "dependentRequired", "dependencies", "propertyNames",
                                   "uniqueItems", "oneOf", "multipleOf", "format",
                                   "$dynamicRef", "$recursiveRef", "items")):
            return None
        if any(isinstance(n.get(k), bool) for k in ("exclusiveMinimum", "exclusiveMaximum")):
            return None  # draft-4 flags modify minimum/maximum: not independent
        # not (k1 and k2 ...) = (not k1) or (not k2) ...: the remaining keywords are independent
        alts: list = []
        non = lambda t: [x for x in TYPES if x not in t]  # noqa: E731
        for k in keys:
            v = n[k]
            if k == "type":
                t = _type_set(v)
                if "number" in t:
                    t = t | {"integer"}
                elif "integer" in t:
                    return None  # non-integer numbers have no type name
                if non(t):
                    alts.append({"type": non(t)})
            elif k in ("enum", "const"):
                vals = [v] if k == "const" else v
                if not isinstance(vals, list) or not all(
                        x is None or isinstance(x, (str, bool)) for x in vals):
                    return None
                strs_ = [x for x in vals if isinstance(x, str)]
                rest = ["object", "array", "number", "integer"]
                if None not in vals:
                    rest.append("null")
                alts.append({"type": rest})
                bools = [b for b in (True, False) if not any(x is b for x in vals)]
                if bools:
                    alts.append({"enum": bools})
                alts.append({"type": "string", NOT_IN: strs_} if strs_ else {"type": "string"})
            elif k in _NEGATED_BOUND:
                t, other, shift = _NEGATED_BOUND[k]
                if shift:
                    if isinstance(v, bool) or not isinstance(v, int):
                        return None
                    w = v + shift
                    if w >= 0:
                        alts.append({"type": t, other: w})
                else:
                    alts.append({"type": t, other: v})
            elif k == "pattern":
                alts.append({"type": "string", NOT_PATTERN: [v]})
            elif k == NOT_PATTERN:
                alts.extend({"type": "string", "pattern": p} for p in v)
            elif k == NOT_IN:
                alts.append({"type": "string", "enum": list(v)})
            elif k == "required":
                if v:
                    alts.append({"type": "object",
                                 "anyOf": [{"properties": {r: False}} for r in v]})
            elif k == "properties":
                for name, ps in v.items():
                    nps = self._negate(ps, depth + 1)
                    if nps is None:
                        return None
                    if nps is not False:
                        alts.append({"type": "object", "required": [name],
                                     "properties": {name: nps}})
            elif k == "anyOf":
                negs = [self._negate(b, depth + 1) for b in v]
                if any(x is None for x in negs):
                    return None
                alts.append({"allOf": negs})
            elif k == "allOf":
                negs = [self._negate(b, depth + 1) for b in v]
                if any(x is None for x in negs):
                    return None
                alts.extend(negs)
            elif k == "not":
                alts.append(v)
            else:
                return None
        alts = [a for a in alts if a is not False]
        if not alts:
            return False
        return alts[0] if len(alts) == 1 else {"anyOf": alts}

    # ------------------------------------------------------------------ allOf / $ref merging

    def _flatten(self, s: dict, pointer: str, base: str, depth: int) -> Any:
        """Merge ``$ref`` targets and ``allOf`` branches into one schema (recursively)."""
        parts: list[Any] = []
        todo: list[tuple[Any, str, str, int]] = [(s, pointer, base, 0)]
        while todo:
            cur, ptr, b, d = todo.pop()
            if d > 32:
                raise SchemaError(f"$ref/allOf chain too deep (recursive?) at {ptr or '/'}", ptr,
                                  "$ref")
            self._tick(ptr)
            if cur is True:
                continue
            if cur is False:
                parts.append(False)
                continue
            if not isinstance(cur, dict):
                raise SchemaError(f"a schema must be an object or a boolean at {ptr or '/'}", ptr)
            cur = self._check_keywords(cur, ptr)
            # $id: the base URI is known here, and the merged schema is converted under ``base``
            rest = {k: v for k, v in cur.items() if k not in ("$ref", "allOf", "$id")}
            if b != base and _contains_ref(rest):
                # merged, it is converted with the outer base URI
                raise SchemaError(f"$ref inside another schema resource combined with other "
                                  f"keywords at {ptr or '/'}", ptr, "$ref")
            # depth first, in document order (a stack: pushed in reverse): the schema's own
            # keywords, then its $ref target, then its allOf branches -- merged properties keep
            # that order, which is the output's property order
            parts.append(rest)
            if "allOf" in cur:
                branches = cur["allOf"]
                if not isinstance(branches, list) or not branches:
                    raise SchemaError(f"'allOf' must be a non-empty array at {ptr or '/'}", ptr,
                                      "allOf")
                for i in range(len(branches) - 1, -1, -1):
                    br = branches[i]
                    sid = br.get("$id") if isinstance(br, dict) else None
                    # a branch's own $id sets the base its $ref is resolved against
                    bb = urljoin(b, sid) if isinstance(sid, str) and not sid.startswith("#") \
                        else b
                    todo.append((br, f"{ptr}/allOf/{i}", bb, d + 1))
            if "$ref" in cur:
                tgt, tptr, tbase = self._resolve(cur["$ref"], b, ptr)
                todo.append((tgt, tptr, tbase, d + 1))
        merged: Any = True
        for p in parts:
            merged = self._merge(merged, p, pointer)
        if merged is True:
            return {}
        return merged

    def _merge(self, a: Any, b: Any, pointer: str) -> Any:
        """Schema equivalent to allOf [a, b] (both without $ref/allOf at the top)."""
        if a is True:
            return b
        if b is True:
            return a
        if a is False or b is False:
            return False
        obj_keys = ("properties", "additionalProperties", "patternProperties")
        if any("patternProperties" in x and any(k in y for k in obj_keys)
               for x, y in ((a, b), (b, a))) and _canon(a.get("patternProperties")) != \
                _canon(b.get("patternProperties")):
            # a key's schema would depend on both sides' patterns: not merged per key
            self._unsupported("patternProperties", pointer, "in allOf next to other properties")
        out = dict(a)
        for k, v in b.items():
            annotation = k in ANNOTATIONS or k not in HANDLED  # x-*, vendor keywords
            if k not in out or annotation:
                if not annotation:
                    out[k] = v
                continue
            av = out[k]
            if _canon(av) == _canon(v):
                continue
            out[k] = self._merge_kw(k, av, v, a, b, pointer)
        # per-key interplay of properties/additionalProperties
        if ("properties" in a or "additionalProperties" in a or "properties" in b
                or "additionalProperties" in b) and (a.get("properties") or b.get("properties")
                                                     or "additionalProperties" in a
                                                     or "additionalProperties" in b):
            pa, pb = a.get("properties", {}), b.get("properties", {})
            aa, ab = a.get("additionalProperties", True), b.get("additionalProperties", True)
            props = {}
            for key in list(pa) + [k for k in pb if k not in pa]:
                sa = pa.get(key, aa)
                sb = pb.get(key, ab)
                props[key] = _allof(sa, sb)
            if props:
                out["properties"] = props
            addl = _allof(aa, ab)
            if addl is not True:
                out["additionalProperties"] = addl
            else:
                out.pop("additionalProperties", None)
        if any(k in x for x in (a, b) for k in ("items", "prefixItems")):
            if (("items" in a or "prefixItems" in a) and ("items" in b or "prefixItems" in b)):
                pa = _prefix(a)
                pb = _prefix(b)
                ia, ib = _items(a), _items(b)
                n = max(len(pa), len(pb))
                pre = [_allof(pa[i] if i < len(pa) else ia, pb[i] if i < len(pb) else ib)
                       for i in range(n)]
                out.pop("additionalItems", None)
                if pre:
                    out["prefixItems"] = pre
                else:
                    out.pop("prefixItems", None)
                it = _allof(ia, ib)
                if it is True:
                    out.pop("items", None)
                else:
                    out["items"] = it
        return out

    def _merge_kw(self, k: str, av: Any, bv: Any, a: dict, b: dict, pointer: str) -> Any:
        if k == "type":
            ta, tb = _type_set(av), _type_set(bv)
            t = set()
            for x in ta:
                for y in tb:
                    if x == y:
                        t.add(x)
                    elif {x, y} == {"integer", "number"}:
                        t.add("integer")
            return sorted(t)
        if k in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"):
            return max(av, bv)
        if k in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"):
            return min(av, bv)
        if k == "required":
            return list(dict.fromkeys(list(av) + list(bv)))
        if k == "enum":
            cb = {_canon(x) for x in bv}
            return [x for x in av if _canon(x) in cb]
        if k == "const":
            return {"__unsat_const__": True}
        if k in ("properties", "additionalProperties", "items", "prefixItems", "additionalItems"):
            return av  # recomputed by _merge
        if k == "multipleOf":
            if all(isinstance(x, int) and not isinstance(x, bool) for x in (av, bv)):
                return av * bv // math.gcd(av, bv)
        if k in ("anyOf", "oneOf"):
            prod = [{"allOf": [x, y]} for x in av for y in bv]
            if len(prod) > _MAX_DISTRIBUTE:
                raise LimitError(f"allOf of '{k}' lists needs more than {_MAX_DISTRIBUTE} "
                                 f"branches at {pointer or '/'}")
            return prod
        if k == "propertyNames":
            return {"allOf": [av, bv]}
        if k in (NOT_PATTERN, NOT_IN):
            return list(dict.fromkeys(list(av) + list(bv)))
        raise SchemaError(f"cannot merge two different '{k}' values in allOf at "
                          f"{pointer or '/'}", pointer, k)

    # ------------------------------------------------------------------ oneOf disjointness

    def _deref(self, s: Any, base: str, depth: int = 0) -> tuple[Any, str]:
        """Follow pure ``$ref`` schemas (annotations aside) to their target."""
        while isinstance(s, dict) and set(s) - ANNOTATIONS == {"$ref"} and depth < 16:
            try:
                s, _, base = self._resolve(s["$ref"], base, "")
            except SchemaError:
                break
            depth += 1
        return s, base

    def _summary(self, s: Any, base: str, depth: int = 0) -> dict:
        """What a oneOf branch allows, coarsely: ``types`` (possible JSON types), ``free``
        (types whose every value passes: no keyword constrains them), ``values`` (a finite set
        of allowed values or None), ``discr`` ({required property: allowed canonical const
        values}), ``required`` (property names), ``closed`` (None, or the only property names
        allowed)."""
        s, base = self._deref(s, base, depth)
        out = {"types": set(TYPES), "free": set(), "values": None, "discr": {},
               "required": set(), "closed": None}
        if s is True:
            out["free"] = set(TYPES)
            return out
        if s is False:
            out["types"] = set()
            return out
        if not isinstance(s, dict) or depth > 16:
            return out
        types = set(TYPES)
        if "type" in s:
            types = _type_set(s["type"])
            if "number" in types:
                types.add("integer")
        vals = None
        if "const" in s:
            vals = [s["const"]]
        elif "enum" in s and isinstance(s["enum"], list):
            vals = s["enum"]
        if vals is not None:
            types &= {_json_type_of(v) for v in vals} | (
                {"number"} if any(_json_type_of(v) == "integer" for v in vals) else set())
            out["values"] = vals
        for comb in ("anyOf", "oneOf"):
            if isinstance(s.get(comb), list):
                sub = set()
                for br in s[comb]:
                    sub |= self._summary(br, base, depth + 1)["types"]
                types &= sub
        if isinstance(s.get("allOf"), list):
            for br in s["allOf"]:
                sb = self._summary(br, base, depth + 1)
                types &= sb["types"]
                for k, v in sb["discr"].items():
                    out["discr"][k] = out["discr"][k] & v if k in out["discr"] else v
                out["required"] |= sb["required"]
                if sb["closed"] is not None:
                    out["closed"] = sb["closed"] if out["closed"] is None else \
                        out["closed"] & sb["closed"]
                if sb["values"] is not None and out["values"] is None:
                    out["values"] = sb["values"]
        out["types"] = types
        # a type is free when only other types' keywords are present
        generic = set(s) - ANNOTATIONS - {"type"} - set(STRING_KW) - set(NUMBER_KW) \
            - set(OBJECT_KW) - set(ARRAY_KW)
        if not generic:
            own = {"string": STRING_KW, "number": NUMBER_KW, "integer": NUMBER_KW,
                   "object": OBJECT_KW, "array": ARRAY_KW}
            out["free"] = {t for t in types if not any(k in s for k in own.get(t, ()))}
        props = s.get("properties", {}) if isinstance(s.get("properties"), dict) else {}
        req = s.get("required", []) if isinstance(s.get("required"), list) else []
        out["required"] |= set(req)
        if s.get("additionalProperties") is False and not s.get("patternProperties"):
            closed = {k for k, v in props.items() if v is not False}
            out["closed"] = closed if out["closed"] is None else out["closed"] & closed
        for k in req:
            ps, _ = self._deref(props.get(k), base, depth + 1)
            if isinstance(ps, dict):
                if "const" in ps:
                    out["discr"][k] = {_canon(ps["const"])}
                elif isinstance(ps.get("enum"), list):
                    out["discr"][k] = {_canon(v) for v in ps["enum"]}
        return out

    def _none_valid(self, values: list, schema: Any) -> bool:
        try:
            v = self._validator_for()
            return not any(v.evolve(schema=schema).is_valid(x) for x in values)
        except Exception:  # unresolvable refs etc.: cannot prove anything
            return False

    def _disjoint(self, a: dict, b: dict, sa: Any, sb: Any, types: set) -> bool:
        """Branches a and b (summaries; sa/sb the schemas) share no value of ``types``."""
        if not types:
            return True
        if a["values"] is not None and self._none_valid(a["values"], sb):
            return True
        if b["values"] is not None and self._none_valid(b["values"], sa):
            return True
        if types <= {"object"}:
            if any(k in b["discr"] and not (a["discr"][k] & b["discr"][k]) for k in a["discr"]):
                return True
            for x, y in ((a, b), (b, a)):
                if y["closed"] is not None and x["required"] - y["closed"]:
                    return True
        return False

    def _oneof_branches(self, branches: list, pointer: str, base: str) -> list:
        """The branches, each restricted to the types where it can be the only match; raises
        SchemaError unless they are provably disjoint there."""
        sums = [self._summary(b, base) for b in branches]
        # a type that two branches accept entirely can never match exactly one branch
        dead = {t for t in TYPES if t != "integer" and sum(t in x["free"] for x in sums) >= 2}
        if "number" in dead:
            dead.add("integer")
        live = [x["types"] - dead for x in sums]
        for i in range(len(sums)):
            for j in range(i + 1, len(sums)):
                common = live[i] & live[j]
                if self._disjoint(sums[i], sums[j], branches[i], branches[j], common):
                    continue
                msg = (f"'oneOf' branches {i} and {j} may overlap at {pointer or '/'}; only "
                       f"provably disjoint branches are supported")
                if self.lenient:
                    warnings.warn(msg + "; treated as anyOf because lenient=True", stacklevel=4)
                    return branches
                raise SchemaError(msg, pointer, "oneOf")
        if not dead:
            return branches
        keep = sorted(set(TYPES) - dead)
        return [{"allOf": [b, {"type": keep}]} for b in branches]
