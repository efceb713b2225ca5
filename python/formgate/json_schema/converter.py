r"""JSON Schema (draft 2020-12, draft-7 compatible) -> formgate EBNF.

The promise: every string the grammar accepts is JSON that ``jsonschema`` (with
``format_checker=FormatChecker()``) validates against the schema. Keywords that cannot be
translated exactly raise :class:`SchemaError` naming the keyword and its JSON pointer;
``lenient=True`` turns that into a warning and ignores the keyword (then the promise is off for
that keyword).

Policies (all conservative: they shrink the set of accepted spellings, never widen it):

* Whitespace. ``any_whitespace=True`` allows a run of at most ``max_whitespace`` (default 64)
  characters of ``[ \t\n\r]`` wherever JSON allows whitespace *inside* the value (never before or
  after the root value). 64 covers ``json.dumps(indent=2)`` output nested 30 deep and
  ``indent=4`` nested 15 deep, and stops a model from spending its budget on blanks.
  ``any_whitespace=False`` uses ``separators`` (default ``(",", ":")``) with no other whitespace.
* Property order: the schema's ``properties`` order (required and optional interleaved, any
  subset of the optional ones), then required names that ``properties`` does not declare, then
  additional properties. Declared keys are written exactly as ``json.dumps`` writes them.
  Additional keys may not spell a declared name (checked on the decoded key, so ``"\u0061"``
  cannot sneak in as ``"a"``); they use raw characters and mandatory escapes only.
* Numbers: canonical spellings only (see ``numbers.py``); ``integer`` never has a fraction; a
  bounded number has no exponent.
* ``enum``/``const`` values are emitted in canonical compact form (object keys in the given order,
  whitespace allowed between tokens per the whitespace option) and only if ``jsonschema``
  validates them against the rest of the schema. Integer-valued numbers also get their other
  spelling (``1`` and ``1.0``).
* ``oneOf`` is translated only when its branches are provably disjoint (different JSON types, or
  a required property whose ``const``/``enum`` values differ); ``anyOf`` always.
* ``allOf`` (and ``$ref`` with sibling keywords, and ``anyOf``/``oneOf`` with siblings) is merged
  into one schema: types intersected, bounds tightened, properties/items merged per position,
  ``anyOf``/``oneOf`` distributed over the other conjuncts.

Example:
    >>> from formgate.json_schema import json_schema_to_ebnf
    >>> print(json_schema_to_ebnf({"type": "boolean"}))
    root ::= ("true" | "false")
    ws ::= [ \t\n\r]{0,64}
    <BLANKLINE>
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import warnings
from decimal import Decimal
from typing import Any, Optional
from urllib.parse import unquote, urldefrag, urljoin

from formgate.json_schema import numbers as num
from formgate.json_schema import regex as rx
from formgate.json_schema import strings as strs
from formgate.json_schema.automaton import Dfa
from formgate.json_schema.errors import LimitError, RegexError, SchemaError

__all__ = ["Converter", "json_schema_to_ebnf", "DEFAULT_MAX_WHITESPACE"]

DEFAULT_MAX_WHITESPACE = 64

TYPES = ("null", "boolean", "object", "array", "number", "integer", "string")

# Internal string keywords made by negation (``not``, ``if``): patterns the string must not
# match (search semantics) and values it must not equal. Handled with automata.
NOT_PATTERN = "__formgate_not_pattern__"
NOT_IN = "__formgate_not_in__"

ANNOTATIONS = {
    "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated",
    "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "contentSchema", "$anchor",
    "$defs", "definitions", "$vocabulary", "$dynamicAnchor", "$recursiveAnchor",
}
APPLICATORS = ("allOf", "anyOf", "oneOf", "$ref")
HANDLED = {
    "type", "enum", "const", "properties", "required", "additionalProperties", "propertyNames",
    "minProperties", "maxProperties", "items", "prefixItems", "additionalItems", "minItems",
    "maxItems", "contains", "minContains", "maxContains", "minLength", "maxLength", "pattern",
    "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "anyOf", "oneOf", "allOf", "$ref", "uniqueItems", "patternProperties", "not", "if", "then",
    "else", "dependentSchemas", "dependentRequired", "dependencies", "unevaluatedProperties",
    "unevaluatedItems", "$dynamicRef", "$recursiveRef", NOT_PATTERN, NOT_IN,
}
# Keywords that restrict a single type; used to decide which types a type-less schema allows.
STRING_KW = ("minLength", "maxLength", "pattern", "format", NOT_PATTERN, NOT_IN)
NUMBER_KW = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
OBJECT_KW = ("properties", "required", "additionalProperties", "propertyNames", "minProperties",
             "maxProperties", "patternProperties", "dependentRequired", "dependentSchemas",
             "dependencies", "unevaluatedProperties")
ARRAY_KW = ("items", "prefixItems", "additionalItems", "minItems", "maxItems", "contains",
            "minContains", "maxContains", "uniqueItems", "unevaluatedItems")

_MAX_DISTRIBUTE = 64
_DEFAULT_BASE = "https://formgate.invalid/root.json"
# not {k: v} for a one-type bound k: (that type, the opposite keyword, integer shift or 0)
_NEGATED_BOUND = {
    "minimum": ("number", "exclusiveMaximum", 0), "maximum": ("number", "exclusiveMinimum", 0),
    "exclusiveMinimum": ("number", "maximum", 0), "exclusiveMaximum": ("number", "minimum", 0),
    "minLength": ("string", "maxLength", -1), "maxLength": ("string", "minLength", 1),
    "minItems": ("array", "maxItems", -1), "maxItems": ("array", "minItems", 1),
    "minProperties": ("object", "maxProperties", -1),
    "maxProperties": ("object", "minProperties", 1),
}


def _esc_ptr(token: str) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _json_type_of(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "integer" if v.is_integer() else "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    raise SchemaError(f"not a JSON value: {v!r}")


class Converter:
    """One conversion. Use :func:`json_schema_to_ebnf` unless you need the pieces.

    Example:
        >>> c = Converter({"type": "integer", "minimum": 1, "maximum": 12})
        >>> c.convert().splitlines()[:2]
        ['root ::= integer', 'integer ::= ([1-9] | "1" [0-2])']
    """

    def __init__(
        self,
        schema: Any,
        *,
        any_whitespace: bool = True,
        max_whitespace: Optional[int] = DEFAULT_MAX_WHITESPACE,
        indent: Optional[int] = None,
        separators: Optional[tuple[str, str]] = None,
        strict: bool = False,
        lenient: bool = False,
        max_depth: int = 128,
        max_rules: int = 100_000,
        max_ebnf_bytes: int = 8_000_000,
        max_work: int = 500_000,
    ):
        self.root = _load_schema(schema)
        self.any_whitespace = any_whitespace
        self.strict = strict
        self.lenient = lenient
        self.max_depth = max_depth
        self.max_rules = max_rules
        self.max_ebnf_bytes = max_ebnf_bytes
        self.max_work = max_work
        self.work = 0
        self.size = 0
        if indent is not None:
            raise SchemaError("indent= is not supported; use any_whitespace=True (it accepts "
                              "json.dumps(indent=...) output)")
        if any_whitespace:
            if separators is not None:
                raise ValueError("separators= needs any_whitespace=False")
            n = max_whitespace
            self.ws = "ws"
            self._ws_body = "[ \\t\\n\\r]*" if n is None else f"[ \\t\\n\\r]{{0,{int(n)}}}"
            item, key = ",", ":"
        else:
            self.ws = ""
            self._ws_body = None
            item, key = separators if separators is not None else (",", ":")
            for s in (item, key):
                if s.strip() not in (",", ":") or any(ch not in " \t\n\r,:" for ch in s):
                    raise ValueError(f"bad separator {s!r}")
        self.item_sep = self._sep(item)
        self.key_sep = self._sep(key)
        self.rules: dict[str, str] = {}
        self.body_names: dict[str, str] = {}
        self.ref_rules: dict[str, str] = {}
        self.names_used: set[str] = {"ws", "root"}
        self._name_next: dict[str, int] = {}
        self.ids: dict[str, str] = {}  # absolute URI (no fragment) -> pointer
        self.anchors: dict[str, str] = {}  # absolute URI with fragment -> pointer
        root_id = self.root.get("$id", "") if isinstance(self.root, dict) else ""
        self.root_base = root_id if isinstance(root_id, str) else ""
        self._index(self.root, "", self.root_base or "https://formgate.invalid/root.json")
        self._validator = None

    # ------------------------------------------------------------------ rules and text

    def _sep(self, s: str) -> str:
        if self.any_whitespace:
            return f'ws "{s}" ws'
        return rx.ebnf_literal(s)

    def _name(self, hint: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", hint)[:40].strip("_") or "r"
        if base[0].isdigit():
            base = "r_" + base
        if base == "root":
            base = "root_"
        # per-base counter: probing from 1 each time is quadratic with thousands of rules
        i = self._name_next.get(base, 1)
        name = base if i == 1 else f"{base}_{i}"
        while name in self.names_used:
            i += 1
            name = f"{base}_{i}"
        self._name_next[base] = i + 1
        self.names_used.add(name)
        return name

    def rule(self, hint: str, body: str) -> str:
        """A rule for ``body`` (shared with an existing identical one)."""
        if body in self.body_names:
            return self.body_names[body]
        name = self._name(hint)
        self._define(name, body)
        self.body_names[body] = name
        return name

    def _define(self, name: str, body: str) -> None:
        self.rules[name] = body
        self.size += len(name) + len(body) + 6
        if len(self.rules) > self.max_rules:
            raise LimitError(f"JSON schema needs more than {self.max_rules:,} grammar rules")
        if self.size > self.max_ebnf_bytes:
            raise LimitError(f"JSON schema grammar exceeds {self.max_ebnf_bytes:,} bytes")

    def _tick(self, pointer: str) -> None:
        self.work += 1
        if self.work > self.max_work:
            raise LimitError(f"JSON schema too large to convert (work limit {self.max_work:,} "
                             f"reached at {pointer or '/'})")

    def convert(self) -> str:
        """The EBNF text, root rule first."""
        body = self.gen(self.root, "", self.root_base or "https://formgate.invalid/root.json", 0)
        if body is None:
            raise SchemaError("the schema is unsatisfiable: no JSON value validates against it")
        lines = [f"root ::= {body}"] + [f"{k} ::= {v}" for k, v in self.rules.items()]
        if self._ws_body is not None:
            lines.append(f"ws ::= {self._ws_body}")
        text = "\n".join(lines) + "\n"
        if len(text) > self.max_ebnf_bytes:
            raise LimitError(f"JSON schema grammar exceeds {self.max_ebnf_bytes:,} bytes")
        return text

    # ------------------------------------------------------------------ basic rules

    def _basic(self, name: str) -> str:
        if name in self.rules:
            return name
        self.names_used.add(name)
        ws = self.ws
        w = f"{ws} " if ws else ""
        wc = f" {ws}" if ws else ""
        if name == "json_char":
            self._define(name, rx.JSON_CHAR)
        elif name == "json_char_counted":
            # no surrogate escapes: each spelling is exactly one code point
            self._define(name, r'[^"\\\u0000-\u001f] | "\\" ( ["\\/bfnrt] | "u" '
                               r'( [0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} ) )')
        elif name == "json_string":
            self._basic("json_char")
            self._define(name, '"\\"" json_char* "\\""')
        elif name == "json_number":
            self._define(name, num.NUMBER)
        elif name == "json_integer":
            self._define(name, num.INTEGER)
        elif name == "json_value":
            self._define(name, 'json_object | json_array | json_string | json_number | "true" '
                               '| "false" | "null"')
            self._basic("json_string")
            self._basic("json_number")
            member = f"json_string {self.key_sep} json_value"
            self._define("json_object",
                         f'"{{" {w}( "}}" | {member} ( {self.item_sep} {member} )*{wc} "}}" )')
            self.names_used.add("json_object")
            self._define("json_array",
                         f'"[" {w}( "]" | json_value ( {self.item_sep} json_value )*{wc} "]" )')
            self.names_used.add("json_array")
        elif name == "json_object":
            self._basic("json_value")
        elif name == "json_array":
            self._basic("json_value")
        else:
            raise AssertionError(name)
        return name

    # ------------------------------------------------------------------ refs

    def _index(self, s: Any, ptr: str, base: str) -> None:
        if isinstance(s, dict):
            sid = s.get("$id")
            if isinstance(sid, str) and not sid.startswith("#"):
                base = urljoin(base, sid)
                self.ids.setdefault(urldefrag(base)[0], ptr)
            if isinstance(sid, str) and sid.startswith("#") and len(sid) > 1 \
                    and not sid.startswith("#/"):
                # draft 6/7 location-independent identifier: "$id": "#name"
                self.anchors.setdefault(urldefrag(base)[0] + sid, ptr)
            anchor = s.get("$anchor")
            if isinstance(anchor, str):
                self.anchors[urldefrag(base)[0] + "#" + anchor] = ptr
            dyn = s.get("$dynamicAnchor")
            if isinstance(dyn, str):
                self.anchors.setdefault(urldefrag(base)[0] + "#" + dyn, ptr)
            for k, v in s.items():
                if k in ("enum", "const", "default", "examples"):
                    continue
                self._index(v, f"{ptr}/{_esc_ptr(k)}", base)
        elif isinstance(s, list):
            for i, v in enumerate(s):
                self._index(v, f"{ptr}/{i}", base)

    def _resolve(self, ref: str, base: str, pointer: str) -> tuple[Any, str, str]:
        """(schema, absolute pointer, base URI) for a ``$ref``."""
        full = urljoin(base, ref)
        doc, frag = urldefrag(full)
        if doc not in self.ids and doc != urldefrag(base)[0] and not ref.startswith("#"):
            raise SchemaError(f"unsupported remote $ref {ref!r} at {pointer or '/'}", pointer,
                              "$ref")
        doc_ptr = self.ids.get(doc, "" if ref.startswith("#") and doc not in self.ids else None)
        if doc_ptr is None:
            raise SchemaError(f"unsupported remote $ref {ref!r} at {pointer or '/'}", pointer,
                              "$ref")
        if frag and not frag.startswith("/"):
            target = self.anchors.get(doc + "#" + frag)
            if target is None:
                raise SchemaError(f"$ref {ref!r}: no such anchor at {pointer or '/'}", pointer,
                                  "$ref")
        else:
            target = doc_ptr + unquote(frag)
        node: Any = self.root
        for tok in [t for t in target.split("/")[1:]]:
            tok = tok.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and tok in node:
                node = node[tok]
            elif isinstance(node, list) and tok.isdigit() and int(tok) < len(node):
                node = node[int(tok)]
            else:
                raise SchemaError(f"$ref {ref!r} does not resolve at {pointer or '/'}", pointer,
                                  "$ref")
        # the base URI in force at the target: the nearest enclosing $id
        tbase = self._base_at(target)
        return node, target, tbase

    def _base_at(self, target: str) -> str:
        base = self.root_base or "https://formgate.invalid/root.json"
        node: Any = self.root
        for tok in target.split("/")[1:]:
            tok = tok.replace("~1", "/").replace("~0", "~")
            node = node[tok] if isinstance(node, dict) else node[int(tok)]
            if isinstance(node, dict) and isinstance(node.get("$id"), str) and \
                    not node["$id"].startswith("#"):
                base = urljoin(base, node["$id"])
        return base

    def _ref_rule(self, ref: str, base: str, pointer: str, depth: int) -> Optional[str]:
        target_schema, target, tbase = self._resolve(ref, base, pointer)
        key = target
        if key in self.ref_rules:
            return self.ref_rules[key]
        name = self._name("ref_" + (target.rsplit("/", 1)[-1] or "root"))
        self.ref_rules[key] = name
        body = self.gen(target_schema, target, tbase, depth + 1)
        if body is None:
            # referenced before we knew it was empty: give it an unusable body; the core drops
            # alternatives that cannot finish
            self._define(name, f"{name}_never")
            self._define(f"{name}_never", f'"x" {name}_never')
            self.names_used.add(f"{name}_never")
            return name
        self._define(name, body)
        return name

    # ------------------------------------------------------------------ unsupported keywords

    def _unsupported(self, kw: str, pointer: str, why: str = "") -> None:
        msg = f"unsupported keyword '{kw}' at {pointer or '/'}" + (f" ({why})" if why else "")
        if self.lenient:
            warnings.warn(msg + "; ignored because lenient=True", stacklevel=3)
            return
        raise SchemaError(msg, pointer, kw)

    def _check_keywords(self, s: dict, pointer: str) -> dict:
        """Drop no-op forms of unsupported keywords, reject the rest (or warn if lenient)."""
        s = dict(s)
        if s.get("uniqueItems") is False:
            del s["uniqueItems"]
        if "if" in s and "then" not in s and "else" not in s:
            del s["if"]
        for k in ("then", "else"):
            if k in s and "if" not in s:
                del s[k]
        for k in ("patternProperties", "dependentSchemas", "dependentRequired", "dependencies"):
            if k in s and s[k] == {}:
                del s[k]
        if s.get("unevaluatedProperties") is True:
            del s["unevaluatedProperties"]
        if s.get("unevaluatedItems") is True:
            del s["unevaluatedItems"]
        if "unevaluatedProperties" in s and not any(
                k in s for k in APPLICATORS + ("if", "dependentSchemas", "patternProperties",
                                               "$dynamicRef")):
            up = s.pop("unevaluatedProperties")
            if "additionalProperties" not in s:
                s["additionalProperties"] = up
        if "unevaluatedItems" in s and not any(
                k in s for k in APPLICATORS + ("if", "contains", "$dynamicRef")) \
                and not isinstance(s.get("items"), list):
            ui = s.pop("unevaluatedItems")
            if "items" not in s:
                s["items"] = ui
        if "minContains" in s and "contains" not in s:
            del s["minContains"]
        if "maxContains" in s and "contains" not in s:
            del s["maxContains"]
        if "contains" in s:
            c = s["contains"]
            mc = s.get("minContains", 1)
            if (c is True or c == {}) and "maxContains" not in s and isinstance(mc, int):
                s["minItems"] = max(s.get("minItems", 0), mc)
                del s["contains"]
                s.pop("minContains", None)
            elif mc == 0 and "maxContains" not in s:
                del s["contains"]
                del s["minContains"]
        s = self._rewrite_logic(s, pointer)
        for k in ("uniqueItems", "not", "if", "then", "else", "dependentSchemas",
                  "dependentRequired", "dependencies", "unevaluatedProperties",
                  "unevaluatedItems", "$dynamicRef", "$recursiveRef",
                  "contains", "minContains", "maxContains"):
            if k in s:
                self._unsupported(k, pointer)
                s.pop(k)
        if "$ref" in s and not isinstance(s["$ref"], str):
            raise SchemaError(f"'$ref' must be a string at {pointer or '/'}", pointer, "$ref")
        return s

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

    # ------------------------------------------------------------------ main recursion

    def gen(self, s: Any, pointer: str, base: str, depth: int) -> Optional[str]:
        """EBNF expression for the values valid under schema ``s``, or None if there are none."""
        try:
            return self._gen(s, pointer, base, depth)
        except SchemaError as e:
            if not e.pointer and pointer:  # raised by a helper that did not know where it was
                e.pointer = pointer
                e.args = (f"{e.args[0]} at {pointer}",) + e.args[1:]
            raise

    def _gen(self, s: Any, pointer: str, base: str, depth: int) -> Optional[str]:
        self._tick(pointer)
        if depth > self.max_depth:
            raise LimitError(f"JSON schema nesting deeper than {self.max_depth} at "
                             f"{pointer or '/'}")
        if s is True:
            return self._basic("json_value")
        if s is False:
            return None
        if not isinstance(s, dict):
            raise SchemaError(f"a schema must be an object or a boolean at {pointer or '/'}",
                              pointer)
        if isinstance(s.get("$id"), str) and not s["$id"].startswith("#"):
            base = urljoin(base, s["$id"])
        s = self._check_keywords(s, pointer)
        keys = set(s) - ANNOTATIONS
        if keys == {"$ref"}:
            return self._ref_rule(s["$ref"], base, pointer, depth)
        if "$ref" in s or "allOf" in s:
            merged = self._flatten(s, pointer, base, depth)
            if merged is False:
                return None
            return self.gen(merged, pointer, base, depth + 1)
        for comb in ("anyOf", "oneOf"):
            if comb in s and keys - {comb}:
                others = {k: v for k, v in s.items() if k != comb}
                branches = s[comb]
                if not isinstance(branches, list) or not branches:
                    raise SchemaError(f"'{comb}' must be a non-empty array at {pointer or '/'}",
                                      pointer, comb)
                new = [{"allOf": [others, b]} for b in branches]
                return self.gen({comb: new}, pointer, base, depth + 1)
        if "anyOf" in s or "oneOf" in s:
            comb = "anyOf" if "anyOf" in s else "oneOf"
            branches = s[comb]
            if not isinstance(branches, list) or not branches:
                raise SchemaError(f"'{comb}' must be a non-empty array at {pointer or '/'}",
                                  pointer, comb)
            if comb == "oneOf" and len(branches) > 1:
                branches = self._oneof_branches(branches, f"{pointer}/oneOf", base)
            alts = []
            for i, b in enumerate(branches):
                e = self.gen(b, f"{pointer}/{comb}/{i}", base, depth + 1)
                if e is not None and e not in alts:
                    alts.append(e)
            if not alts:
                return None
            return alts[0] if len(alts) == 1 else self._alt(alts)
        if "enum" in s or "const" in s:
            return self._enum(s, pointer, base)
        return self._typed(s, pointer, base, depth)

    def _alt(self, alts: list[str]) -> str:
        return "(" + " | ".join(alts) + ")" if len(alts) > 1 else alts[0]

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
            rest = {k: v for k, v in cur.items() if k not in ("$ref", "allOf")}
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
                    todo.append((branches[i], f"{ptr}/allOf/{i}", b, d + 1))
            if "$ref" in cur:
                tgt, tptr, tbase = self._resolve(cur["$ref"], b, ptr)
                if tbase != b and _contains_ref(tgt):
                    raise SchemaError(f"$ref {cur['$ref']!r} into another schema resource "
                                      f"combined with other keywords at {ptr or '/'}", ptr, "$ref")
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

    # ------------------------------------------------------------------ enum / const

    def _validator_for(self):
        if self._validator is None:
            import jsonschema
            from jsonschema.validators import validator_for

            cls = validator_for(self.root if isinstance(self.root, dict) else {},
                                default=jsonschema.Draft202012Validator)
            self._validator = cls(self.root, format_checker=jsonschema.FormatChecker())
        return self._validator

    def _is_valid(self, schema: Any, value: Any, pointer: str) -> bool:
        if NOT_PATTERN in _canon(schema) or NOT_IN in _canon(schema):
            if not isinstance(schema, dict) or any(
                    NOT_PATTERN in _canon(v) or NOT_IN in _canon(v) for k, v in schema.items()
                    if k not in (NOT_PATTERN, NOT_IN)):
                raise SchemaError(f"cannot check enum/const values against a nested 'not' at "
                                  f"{pointer or '/'}", pointer, "not")
            if isinstance(value, str):
                if value in schema.get(NOT_IN, ()):
                    return False
                if any(Dfa.from_pattern(p).matches(value) for p in schema.get(NOT_PATTERN, ())):
                    return False
            schema = {k: v for k, v in schema.items() if k not in (NOT_PATTERN, NOT_IN)}
        try:
            return bool(self._validator_for().evolve(schema=schema).is_valid(value))
        except Exception as e:  # unresolvable refs, bad regexes...
            raise SchemaError(f"cannot check enum/const values at {pointer or '/'}: {e}",
                              pointer, "enum") from None

    def _enum(self, s: dict, pointer: str, base: str) -> Optional[str]:
        if "const" in s:
            if s.get("const") == {"__unsat_const__": True}:
                return None
            values = [s["const"]]
            if "enum" in s:
                values = [v for v in values if _canon(v) in {_canon(x) for x in s["enum"]}]
        else:
            values = s["enum"]
            if not isinstance(values, list):
                raise SchemaError(f"'enum' must be an array at {pointer or '/'}", pointer, "enum")
        rest = {k: v for k, v in s.items() if k not in ("enum", "const")}
        check = bool(set(rest) - ANNOTATIONS)
        alts = []
        seen = set()
        for v in values:
            c = _canon(v)
            if c in seen:
                continue
            seen.add(c)
            if check and not self._is_valid(rest, v, pointer):
                continue
            alts.append(self._literal(v))
        if not alts:
            return None
        return self._alt(list(dict.fromkeys(alts)))

    def _literal(self, v: Any) -> str:
        w = f" {self.ws} " if self.ws else " "
        if isinstance(v, dict):
            if not v:
                return f'"{{"{w}"}}"' if self.ws else '"{}"'
            members = [rx.ebnf_literal(json.dumps(k, ensure_ascii=False)) + f" {self.key_sep} "
                       + self._literal(x) for k, x in v.items()]
            return f'"{{"{w}' + f" {self.item_sep} ".join(members) + f'{w}"}}"'
        if isinstance(v, list):
            if not v:
                return f'"["{w}"]"' if self.ws else '"[]"'
            return f'"["{w}' + f" {self.item_sep} ".join(self._literal(x) for x in v) + f'{w}"]"'
        if isinstance(v, bool) or v is None:
            return rx.ebnf_literal(json.dumps(v))
        if isinstance(v, int):
            return f'("{v}" | "{v}.0")' if abs(v) < 2 ** 53 else f'"{v}"'
        if isinstance(v, float):
            if math.isnan(v) or math.isinf(v):
                raise SchemaError(f"non-finite number {v!r} in enum/const")
            r = json.dumps(v)
            if v.is_integer() and abs(v) < 2 ** 53:
                return f'("{int(v)}" | "{r}")' if str(int(v)) != r else f'"{r}"'
            return rx.ebnf_literal(r)
        if isinstance(v, str):
            return rx.ebnf_literal(json.dumps(v, ensure_ascii=False))
        raise SchemaError(f"not a JSON value: {v!r}")

    # ------------------------------------------------------------------ types

    def _typed(self, s: dict, pointer: str, base: str, depth: int) -> Optional[str]:
        if "type" in s:
            types = _type_set(s["type"])
            bad = types - set(TYPES)
            if bad:
                raise SchemaError(f"unknown type {sorted(bad)} at {pointer or '/'}", pointer,
                                  "type")
        else:
            types = set(TYPES)
        if "number" in types:
            types.discard("integer")
        alts = []
        for t in ("object", "array", "string", "integer", "number", "boolean", "null"):
            if t not in types:
                continue
            if t == "null":
                e = '"null"'
            elif t == "boolean":
                e = '("true" | "false")'
            elif t == "string":
                e = self._string(s, pointer)
            elif t == "integer":
                e = self._integer(s, pointer)
            elif t == "number":
                e = self._number(s, pointer)
            elif t == "object":
                e = self._object(s, pointer, base, depth)
            else:
                e = self._array(s, pointer, base, depth)
            if e is not None:
                alts.append(e)
        if not alts:
            return None
        if len(alts) == 1:
            return alts[0]
        return "(" + " | ".join(alts) + ")"

    def _string(self, s: dict, pointer: str) -> Optional[str]:
        if not any(k in s for k in STRING_KW):
            return self._basic("json_string")
        self._basic("json_char")
        self._basic("json_char_counted")
        for k in ("minLength", "maxLength"):
            v = s.get(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v > rx.MAX_REPEAT:
                if k == "maxLength":
                    s = dict(s, maxLength=rx.MAX_REPEAT)  # tighter: still exact-safe
                else:
                    raise LimitError(f"minLength above {rx.MAX_REPEAT:,} at {pointer or '/'}")
        if NOT_PATTERN in s or NOT_IN in s:
            return self._string_dfa(s, pointer)
        try:
            body = strs.string_body(s, pointer, "json_char", "json_char_counted")
        except RegexError:
            raise
        except SchemaError as e:
            if e.keyword not in ("pattern", "format"):
                raise
            try:  # pattern with lengths, pattern with format: intersect automata
                return self._string_dfa(s, pointer)
            except (SchemaError, LimitError):
                raise e from None
        if body is None:
            return None
        return self.rule("string", f'"\\"" {body} "\\""' if body != '""' else '"\\"\\""')

    def _string_dfa(self, s: dict, pointer: str) -> Optional[str]:
        """A string schema as one automaton: pattern AND format AND lengths AND NOT the
        negated patterns/values. Exact, but sized by the product of the automata."""
        d = Dfa.from_strings([]).complement()
        pattern, fmt = s.get("pattern"), s.get("format")
        if isinstance(pattern, str):
            d = d.intersect(Dfa.from_pattern(pattern))
        if isinstance(fmt, str) and fmt in strs.FORMATS:
            d = d.intersect(Dfa.from_pattern(strs.FORMATS[fmt], search=False))
        elif isinstance(fmt, str) and fmt in strs.SPEC_FORMATS:
            raise SchemaError(f"unsupported format {fmt!r} at {pointer or '/'}", pointer, "format")
        for p in s.get(NOT_PATTERN, ()):
            d = d.minus(Dfa.from_pattern(p))
        if s.get(NOT_IN):
            d = d.minus(Dfa.from_strings(s[NOT_IN]))
        lo, hi = s.get("minLength", 0), s.get("maxLength")
        if lo or hi is not None:
            d = d.intersect(Dfa.lengths(int(lo), None if hi is None else int(hi)))
        start = d.to_ebnf(self._name, self._define, _encode_class, '"\\""')
        if start is None:
            return None
        return self.rule("string", f'"\\"" {start}')

    def _bounds(self, s: dict, pointer: str):
        lo = hi = None
        los = his = False
        for k in NUMBER_KW:
            v = s.get(k)
            if v is None or k == "multipleOf":
                continue
            if isinstance(v, bool) and k.startswith("exclusive"):
                continue  # draft-4 style flags are read with minimum/maximum below
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise SchemaError(f"'{k}' must be a number at {pointer or '/'}", pointer, k)
        for k, upper in (("minimum", False), ("exclusiveMinimum", False), ("maximum", True),
                         ("exclusiveMaximum", True)):
            v = s.get(k)
            if v is None or isinstance(v, bool):
                continue
            excl = k.startswith("exclusive") or s.get(
                "exclusiveMaximum" if upper else "exclusiveMinimum") is True
            d, strict = num.to_decimal_bound(v, excl, upper)
            if upper:
                if hi is None or d < hi or (d == hi and strict):
                    hi, his = d, strict
            else:
                if lo is None or d > lo or (d == lo and strict):
                    lo, los = d, strict
        return lo, los, hi, his

    def _integer(self, s: dict, pointer: str) -> Optional[str]:
        lo, los, hi, his = self._bounds(s, pointer)
        ilo = None if lo is None else (math.floor(lo) + 1 if los else math.ceil(lo))
        ihi = None if hi is None else (math.ceil(hi) - 1 if his else math.floor(hi))
        if ilo is not None and ihi is not None and ilo > ihi:
            return None
        k = s.get("multipleOf")
        if k is not None:
            if isinstance(k, bool) or not isinstance(k, (int, float)) or k <= 0:
                raise SchemaError(f"'multipleOf' must be a positive number at {pointer or '/'}",
                                  pointer, "multipleOf")
            if isinstance(k, float) and not k.is_integer():
                inv = 1 / k
                if inv.is_integer() and (int(inv) & (int(inv) - 1)) == 0:
                    k = 1  # 1/2^n: every integer is a multiple, exactly in binary
                else:
                    self._unsupported("multipleOf", pointer, "non-integer multipleOf")
                    k = 1
            k = int(k)
            if k > 1:
                return self._multiple(k, ilo, ihi, pointer)
        e = num.integer_range(ilo, ihi)
        if e is None:
            return None
        return self.rule("integer", e)

    def _multiple(self, k: int, lo: Optional[int], hi: Optional[int], pointer: str) -> Optional[str]:
        if lo is not None and hi is not None:
            first = -(-lo // k) * k
            if first > hi:
                return None
            if (hi - first) // k < 2000:
                vals = list(range(first, hi + 1, k))
                return self.rule("multiple", "(" + " | ".join(f'"{v}"' for v in vals) + ")")
        if k > 1000:
            self._unsupported("multipleOf", pointer, "modulus above 1000 with an open range")
            return num.integer_range(lo, hi)
        nf = None if lo is None else -(-lo // k) * k
        pt = None if hi is None else (hi // k) * k
        if nf is not None and nf not in (0, k):
            if nf < 0 and (pt is None or pt >= 0):
                self._unsupported("multipleOf", pointer, "with a negative lower bound")
                return num.integer_range(lo, hi)
            if nf > k:
                self._unsupported("multipleOf", pointer, "with a lower bound above the modulus")
                return num.integer_range(lo, hi)
        if pt is not None and pt not in (0, -k):
            self._unsupported("multipleOf", pointer, "with an upper bound")
            return num.integer_range(lo, hi)
        if nf is not None and nf < 0:
            nf = None
        prefix = self._name(f"mod{k}") + "_"
        expr, rules = num.integer_multiple_of(k, nf, pt, prefix)
        for name, body in rules.items():
            self.names_used.add(name)
            self._define(name, body)
        return expr

    def _number(self, s: dict, pointer: str) -> Optional[str]:
        k = s.get("multipleOf")
        if k is not None:
            if isinstance(k, (int, float)) and not isinstance(k, bool) and float(k).is_integer():
                return self._integer(s, pointer)
            self._unsupported("multipleOf", pointer, "non-integer multipleOf on numbers")
        lo, los, hi, his = self._bounds(s, pointer)
        if lo is None and hi is None:
            return self._basic("json_number")
        e = num.number_range(lo, los, hi, his)
        if e is None:
            return None
        return self.rule("number", e)

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
        declared = [e[0] for e in entries] + [n for n in props if n not in
                                              {e[0] for e in entries}]
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
            key = keys.to_ebnf(self._name, self._define, _encode_class, '"\\""')
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
        any_c = self.rule("key_char", _encode_class(rx.ANY))
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
                other = _encode_class(rx.complement(rx.chars("".join(kids))))
                if other:
                    alts.append(f'{other} {any_c}* "\\""')
                for c in sorted(kids):
                    sub = build(node[c])
                    alts.append(f"{_encode_class(rx.chars(c))} {sub}")
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
        order: list[tuple[int, int]] = []

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


@functools.lru_cache(maxsize=4096)
def _encode_class(rs: tuple) -> Optional[str]:
    """``regex.json_encode_class``, memoised: key tries and automata ask for the same
    (large, complemented) classes thousands of times."""
    return rx.json_encode_class(rs)


def _q(lo: int, hi: Optional[int]) -> str:
    if hi is None:
        return "*" if lo == 0 else ("+" if lo == 1 else f"{{{lo},}}")
    if lo == hi:
        return f"{{{lo}}}"
    if (lo, hi) == (0, 1):
        return "?"
    return f"{{{lo},{hi}}}"


def _type_set(t: Any) -> set:
    if isinstance(t, str):
        return {t}
    if isinstance(t, list) and all(isinstance(x, str) for x in t):
        return set(t)
    raise SchemaError(f"'type' must be a string or an array of strings, not {t!r}",
                      keyword="type")


def _allof(a: Any, b: Any) -> Any:
    if a is True or a == {}:
        return b
    if b is True or b == {}:
        return a
    if a is False or b is False:
        return False
    if _canon(a) == _canon(b):
        return a
    return {"allOf": [a, b]}


def _prefix(s: dict) -> list:
    if isinstance(s.get("items"), list):
        return s["items"]
    return s.get("prefixItems", [])


def _items(s: dict) -> Any:
    if isinstance(s.get("items"), list):
        return s.get("additionalItems", True)
    return s.get("items", True)


def _contains_ref(s: Any) -> bool:
    if isinstance(s, dict):
        return "$ref" in s or any(_contains_ref(v) for v in s.values())
    if isinstance(s, list):
        return any(_contains_ref(v) for v in s)
    return False


def _load_schema(schema: Any) -> Any:
    if isinstance(schema, (bytes, bytearray)):
        schema = schema.decode("utf-8")
    if isinstance(schema, str):
        try:
            return json.loads(schema)
        except json.JSONDecodeError as e:
            raise SchemaError(f"schema is not valid JSON: {e}") from None
    if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
        return schema.model_json_schema()
    if isinstance(schema, (dict, bool)):
        return schema
    raise TypeError("schema must be a dict, a bool, a JSON string or a pydantic model class")


def json_schema_to_ebnf(schema: Any, **opts: Any) -> str:
    """EBNF text (formgate dialect, start rule ``root``) for the JSON values valid under
    ``schema`` (dict, bool, JSON text, or a pydantic model class). Options: ``any_whitespace``,
    ``max_whitespace``, ``separators``, ``strict``, ``lenient``, ``max_depth``, ``max_rules``,
    ``max_ebnf_bytes``, ``max_work``; see :class:`Converter` and the module docstring.

    Example:
        >>> print(json_schema_to_ebnf({"enum": ["a", 1]}, any_whitespace=False))
        root ::= ("\\"a\\"" | ("1" | "1.0"))
        <BLANKLINE>
    """
    try:
        return Converter(schema, **opts).convert()
    except RecursionError:
        # The walk recurses per nesting level (and per property in object grammars); Python's
        # stack runs out before the documented limits are checked in some shapes.
        raise LimitError("schema too deeply nested (or with too many properties in one "
                         "object) for the converter: Python recursion limit reached") from None
