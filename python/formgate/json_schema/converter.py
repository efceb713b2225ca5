r"""JSON Schema (draft 2020-12; drafts 3 to 2019-09 by their ``$schema``) -> formgate EBNF.

The promise: every string the grammar accepts is JSON that ``jsonschema``'s validator for the
draft the schema declares (``validator_for(schema)``, with ``format_checker=FormatChecker()``)
validates against the schema. Keywords that cannot be
translated exactly raise :class:`SchemaError` naming the keyword and its JSON pointer;
``lenient=True`` turns that into a warning and ignores the keyword (then the promise is off for
that keyword).

Policies (all conservative: they shrink the set of accepted spellings, never widen it):

* Drafts. The root ``$schema`` picks the draft (absent or unknown: 2020-12); an older draft is
  first rewritten into 2020-12 with the same meaning (``drafts.py``): before 2019-09 the
  siblings of ``$ref`` are ignored, keywords a draft does not have (``if`` before 7, ``const``/
  ``contains``/``propertyNames`` before 6...) are ignored, draft-3/4 boolean
  ``exclusiveMinimum``/``exclusiveMaximum`` make ``minimum``/``maximum`` strict and ``1.0`` is
  not an integer there. A boolean exclusive bound under draft 6 or later (or with no
  ``$schema``) raises SchemaError: ``jsonschema`` compares with it as the number 1 or 0. A
  document whose sub-schemas name other drafts gets the newest draft's keywords (stricter).
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

import json
import math
import re
import warnings
from typing import Any, Optional
from urllib.parse import unquote, urldefrag, urljoin

from formgate.json_schema import numbers as num
from formgate.json_schema import regex as rx
from formgate.json_schema import strings as strs
from formgate.json_schema.automaton import Dfa
from formgate.json_schema.containers import ContainerRules
from formgate.json_schema.drafts import LATEST, declared_drafts, to_2020, validator_class
from formgate.json_schema.errors import LimitError, RegexError, SchemaError
from formgate.json_schema.logic import SchemaLogic
from formgate.json_schema.shared import (
    ANNOTATIONS,
    APPLICATORS,
    NOT_IN,
    NOT_PATTERN,
    NUMBER_KW,
    STRING_KW,
    TYPES,
    _allof,
    _canon,
    _esc_ptr,
    _type_set,
    check_counts,
)

__all__ = ["Converter", "json_schema_to_ebnf", "DEFAULT_MAX_WHITESPACE"]

DEFAULT_MAX_WHITESPACE = 64
_MISSING = object()

class Converter(SchemaLogic, ContainerRules):
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
        root = _load_schema(schema)
        # the drafts its $schema keywords name (drafts.py): read with the newest one's keywords
        self.drafts = declared_drafts(root)
        # keys the draft rewrite dropped, by id() of their object: still targets for $ref
        self.root, self._hidden = to_2020(root, self.drafts)
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
            # each spelling is exactly one code point: a surrogate escape only as a high-low
            # pair (what json.dumps writes outside the BMP), never alone, so that no spelling
            # can be counted two ways
            self._define(name, r'[^"\\\u0000-\u001f] | "\\" ( ["\\/bfnrt] | "u" '
                               r'( [0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} '
                               r'| [dD] [89abAB] [0-9a-fA-F]{2} "\\u" [dD] [c-fC-F] [0-9a-fA-F]{2} ) )')
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
        for tok in target.split("/")[1:]:
            node = self._step(node, tok.replace("~1", "/").replace("~0", "~"))
            if node is _MISSING:
                raise SchemaError(f"$ref {ref!r} does not resolve at {pointer or '/'}", pointer,
                                  "$ref")
        # the base URI in force at the target: the nearest enclosing $id
        tbase = self._base_at(target)
        return node, target, tbase

    def _base_at(self, target: str) -> str:
        base = self.root_base or "https://formgate.invalid/root.json"
        node: Any = self.root
        for tok in target.split("/")[1:]:
            node = self._step(node, tok.replace("~1", "/").replace("~0", "~"))
            if isinstance(node, dict) and isinstance(node.get("$id"), str) and \
                    not node["$id"].startswith("#"):
                base = urljoin(base, node["$id"])
        return base

    def _step(self, node: Any, tok: str) -> Any:
        """``node``'s member ``tok`` (a JSON pointer step) or ``_MISSING``. Pointers are written
        against the schema as given: a key the draft rewrite dropped is looked up first."""
        if isinstance(node, dict):
            hidden = self._hidden.get(id(node))
            if hidden is not None and tok in hidden:
                return hidden[tok]
            return node.get(tok, _MISSING)
        if isinstance(node, list) and tok.isdigit() and int(tok) < len(node):
            return node[int(tok)]
        return _MISSING

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
            elif 2019 in self.drafts and isinstance(s["additionalProperties"], dict):
                # jsonschema's 2019-09 validator does not count the keys an additionalProperties
                # schema evaluates as evaluated: they must pass unevaluatedProperties too
                s["additionalProperties"] = _allof(s["additionalProperties"], up)
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
        check_counts(s, pointer)
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

    # ------------------------------------------------------------------ enum / const

    def _validator_for(self):
        if self._validator is None:
            import jsonschema
            from jsonschema.validators import validator_for

            # an older draft was rewritten into 2020-12 (array items and dependencies kept)
            cls = validator_class() if min(self.drafts) < LATEST else validator_for(
                self.root if isinstance(self.root, dict) else {},
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
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            raise SchemaError(f"non-finite number {v!r} in enum/const")
        if min(self.drafts) <= 4 and (isinstance(v, int) or (isinstance(v, float)
                                                             and v.is_integer())):
            # 1.0 is not an integer before draft 6, 1 is wherever 1.0 is valid
            return f'"{int(v)}"'
        if isinstance(v, int):
            return f'("{v}" | "{v}.0")' if abs(v) < 2 ** 53 else f'"{v}"'
        if isinstance(v, float):
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
        start = d.to_ebnf(self._name, self._define, rx.json_encode_class, '"\\""')
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
                # a draft-3/4 flag; from draft 6 on, jsonschema compares with it as 1 or 0
                raise SchemaError(f"'{k}' must be a number at {pointer or '/'} (a boolean "
                                  f"'{k}' is draft-04 syntax: declare \"$schema\": "
                                  f"\"http://json-schema.org/draft-04/schema#\")", pointer, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise SchemaError(f"'{k}' must be a number at {pointer or '/'}", pointer, k)
        for k, upper in (("minimum", False), ("exclusiveMinimum", False), ("maximum", True),
                         ("exclusiveMaximum", True)):
            v = s.get(k)
            if v is None:
                continue
            d, strict = num.to_decimal_bound(v, k.startswith("exclusive"), upper)
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
