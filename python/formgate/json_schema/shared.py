"""Keyword tables and small helpers shared by the JSON Schema converter's parts."""

from __future__ import annotations

import json
from typing import Any, Optional

from formgate.json_schema.errors import SchemaError

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


COUNT_KW = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties",
            "minContains", "maxContains")


def check_counts(s: dict, pointer: str) -> None:
    """Every count keyword of ``s`` is a non-negative integer (``2.0`` included, as the spec
    allows); anything else is a SchemaError naming the keyword and where it is.

    Example:
        >>> check_counts({"minItems": {"enum": [1]}}, "/items")
        Traceback (most recent call last):
        ...
        formgate.json_schema.errors.SchemaError: 'minItems' must be a non-negative integer at /items
    """
    for k in COUNT_KW:
        v = s.get(k)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 0 or v != int(v):
            raise SchemaError(f"'{k}' must be a non-negative integer at {pointer or '/'}",
                              pointer, k)
