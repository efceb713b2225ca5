r"""Older JSON Schema drafts read as draft 2020-12.

The converter implements draft 2020-12. A schema whose root ``$schema`` names an older draft
(03, 04, 06, 07, 2019-09) is first rewritten into a draft 2020-12 schema that accepts exactly the
same instances as the ``jsonschema`` validator of the declared draft:

* before 2019-09, the keywords next to ``$ref`` are ignored (the reference replaces the whole
  schema object), identifiers included; non-keywords next to it (``definitions``, titles) stay;
* keywords the declared draft does not have are ignored: ``if``/``then``/``else`` before draft 7,
  ``const``/``contains``/``propertyNames`` before draft 6, ``allOf``/``anyOf``/``oneOf``/``not``/
  ``multipleOf``/``minProperties``/``maxProperties``/``required`` (array) in draft 3,
  ``dependentRequired``/``dependentSchemas``/``unevaluated*``/``min``-``maxContains``/``$anchor``
  before 2019-09, ``prefixItems``/``$dynamicRef`` before 2020-12;
* drafts 3 and 4: ``exclusiveMinimum``/``exclusiveMaximum`` are flags that make ``minimum``/
  ``maximum`` strict (any truthy value, as ``jsonschema`` reads them) and mean nothing alone;
  ``id`` is the identifier (``$id`` is not); ``1.0`` is not an integer (the converter then
  spells integer-valued ``enum``/``const`` numbers without a fraction);
* draft 3: ``divisibleBy`` is ``multipleOf``, ``extends`` is ``allOf``, ``disallow`` is ``not``
  of ``type``, ``type`` may list schemas and ``"any"``, ``"required": true`` inside a property's
  schema makes the property required, and a string ``dependencies`` value names one property;
* ``"$id": "#name"`` (draft 6/7) and ``"id": "#name"`` (draft 3/4) become ``"$anchor": "name"``.

``items`` as an array (with ``additionalItems``) and ``dependencies`` keep their names: the
converter translates both, and :func:`validator_class` checks them. Keys are never moved, so
every JSON pointer into the schema still finds the same sub-schema; a key that is dropped (or
replaced, in draft 3) stays reachable for ``$ref`` through the ``hidden`` map that
:func:`to_2020` returns, keyed by ``id()`` of the rewritten object.

A ``$schema`` inside a sub-schema makes ``jsonschema`` switch keyword sets wherever evaluation
reaches it (and a ``$ref`` target takes the draft of the place it is used from). formgate reads a
document that names several drafts conservatively instead: with the newest one's keywords (the
older ones ignore more, so this only rejects more), integers spelled without a fraction if one
of them is draft 3 or 4, and a truthy numeric ``exclusiveMinimum`` next to ``minimum`` read both
ways (``minimum`` strict as well). Draft 3 mixed with another draft raises SchemaError. Absent or
unknown, ``$schema`` means draft 2020-12, and such a schema is left as it is.

Example:
    >>> schema = {"$schema": "http://json-schema.org/draft-04/schema#",
    ...           "definitions": {"n": {"type": "integer"}},
    ...           "properties": {"a": {"$ref": "#/definitions/n", "minimum": 3},
    ...                          "b": {"minimum": 0, "exclusiveMinimum": True, "const": 5}}}
    >>> new, hidden = to_2020(schema, declared_drafts(schema))
    >>> new["properties"]
    {'a': {'$ref': '#/definitions/n'}, 'b': {'exclusiveMinimum': 0}}
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlsplit

from formgate.json_schema.errors import SchemaError

__all__ = ["LATEST", "declared_draft", "declared_drafts", "to_2020", "validator_class"]

LATEST = 2020
DRAFT_2020_URI = "https://json-schema.org/draft/2020-12/schema"
# as jsonschema.validators.validator_for spells them (after urlsplit(...).geturl())
_DRAFTS = {
    "http://json-schema.org/draft-03/schema": 3,
    "http://json-schema.org/draft-04/schema": 4,
    "http://json-schema.org/draft-06/schema": 6,
    "http://json-schema.org/draft-07/schema": 7,
    "https://json-schema.org/draft/2019-09/schema": 2019,
    DRAFT_2020_URI: 2020,
}
# keyword -> the first draft whose validator knows it (older ones ignore it)
_SINCE = {
    "allOf": 4, "anyOf": 4, "oneOf": 4, "not": 4, "multipleOf": 4, "minProperties": 4,
    "maxProperties": 4, "required": 4,
    "const": 6, "contains": 6, "propertyNames": 6, "$id": 6,
    "if": 7, "then": 7, "else": 7,
    "dependentRequired": 2019, "dependentSchemas": 2019, "unevaluatedProperties": 2019,
    "unevaluatedItems": 2019, "minContains": 2019, "maxContains": 2019, "$anchor": 2019,
    "$recursiveRef": 2019, "$recursiveAnchor": 2019,
    "prefixItems": 2020, "$dynamicRef": 2020, "$dynamicAnchor": 2020,
}
# keywords that mean something to some draft; the others (definitions, title, x-...) are kept
# next to a $ref, where they can still be the target of a JSON pointer
_KEYWORDS = set(_SINCE) | {
    "$ref", "id", "type", "enum", "properties", "patternProperties", "additionalProperties",
    "items", "additionalItems", "minItems", "maxItems", "uniqueItems", "minLength",
    "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "dependencies", "divisibleBy", "disallow", "extends",
}
_VALUES = {"enum", "const", "default", "examples"}  # JSON values, never schemas
_SCHEMA_MAPS = {"properties", "patternProperties", "definitions", "$defs", "dependencies",
                "dependentSchemas"}


def declared_draft(schema: Any) -> int:
    """The draft the root ``$schema`` names (3, 4, 6, 7, 2019 or 2020); 2020 when absent or
    unknown, like ``jsonschema.validators.validator_for(schema, default=Draft202012Validator)``.

    Example:
        >>> declared_draft({"$schema": "http://json-schema.org/draft-07/schema#"})
        7
        >>> declared_draft({"$schema": "https://example.com/my-meta"}), declared_draft(True)
        (2020, 2020)
    """
    d = _draft_of(schema.get("$schema")) if isinstance(schema, dict) else None
    return LATEST if d is None else d


def _draft_of(uri: Any) -> Optional[int]:
    if not isinstance(uri, str):
        return None
    try:
        return _DRAFTS.get(urlsplit(uri).geturl())
    except ValueError:  # malformed URI
        return None


def declared_drafts(schema: Any) -> tuple[int, ...]:
    """The drafts a document names, oldest first: the root's (:func:`declared_draft`) and those
    of known ``$schema`` URIs in its sub-schemas.

    Example:
        >>> declared_drafts({"properties": {"a": {"$schema": "http://json-schema.org/draft-04/"
        ...                                                  "schema#"}}})
        (4, 2020)
    """
    found = {declared_draft(schema)}
    todo = [(schema, True)]
    while todo:
        v, is_schema = todo.pop()
        if isinstance(v, list):
            todo += [(x, True) for x in v]
        elif isinstance(v, dict):
            d = _draft_of(v.get("$schema")) if is_schema else None
            if d is not None:
                found.add(d)
            for k, x in v.items():
                if is_schema and k in _VALUES:
                    continue
                # the values of a map keyword are schemas, the map itself is not
                todo.append((x, not (is_schema and k in _SCHEMA_MAPS)))
    return tuple(sorted(found))


def to_2020(schema: Any, drafts: tuple[int, ...]) -> tuple[Any, dict[int, dict[str, Any]]]:
    """``(schema as draft 2020-12, hidden)`` for a document naming ``drafts``
    (:func:`declared_drafts`): see the module docstring. ``hidden`` maps ``id(rewritten
    object)`` to ``{dropped or replaced key: its rewritten value}``. A draft 2020-12 document
    comes back unchanged (the same object).

    Example:
        >>> s = {"$schema": "http://json-schema.org/draft-06/schema#",
        ...      "$ref": "#/definitions/a", "required": ["x"], "definitions": {"a": {}}}
        >>> new, hidden = to_2020(s, (6,))
        >>> new, hidden[id(new)]
        ({'$ref': '#/definitions/a', 'definitions': {'a': {}}}, {'required': ['x']})
    """
    if min(drafts) >= LATEST:
        return schema, {}
    if min(drafts) == 3 and len(drafts) > 1:
        raise SchemaError("a draft-03 schema mixed with other drafts ($schema) is not supported",
                          "", "$schema")
    r = _Rewriter(max(drafts), min(drafts))
    return r.schema(schema), r.hidden


class _Rewriter:
    def __init__(self, draft: int, oldest: int):
        self.draft = draft
        self.oldest = oldest
        self.hidden: dict[int, dict[str, Any]] = {}

    def any(self, v: Any) -> Any:
        """A value outside the known keywords: a dict in it is read as a schema (a ``$ref`` may
        point there)."""
        if isinstance(v, dict):
            return self.schema(v)
        if isinstance(v, list):
            return [self.any(x) for x in v]
        return v

    def child(self, k: str, v: Any) -> Any:
        if k in _VALUES:
            return v
        if k in _SCHEMA_MAPS and isinstance(v, dict):
            return {name: self.any(x) for name, x in v.items()}
        return self.any(v)

    def schema(self, s: Any) -> Any:
        if not isinstance(s, dict):
            return s
        d = self.draft
        out = {k: self.child(k, v) for k, v in s.items()}
        # jsonschema would pick its validator from a $schema left here (evolve); the document's
        # draft was read before the rewrite
        drop = {k for k in out if _SINCE.get(k, 0) > d} | {"$schema"}
        if d == 3:
            drop.add("required")  # a flag of the property's schema in draft 3, read below
        if "$ref" in out and d <= 7:
            drop |= {k for k in out if k in _KEYWORDS and k != "$ref"}
        hidden = {k: out.pop(k) for k in list(out) if k in drop}
        if "$ref" not in out:
            if d <= 4:
                for flag, bound in (("exclusiveMinimum", "minimum"),
                                    ("exclusiveMaximum", "maximum")):
                    if flag in out:
                        hidden[flag] = out.pop(flag)
                        if hidden[flag] and bound in out:
                            out[flag] = out.pop(bound)
            elif self.oldest <= 4:
                # a mixed document: a draft-4 reader makes minimum strict, a later one adds a
                # bound; both at once
                for flag, bound in (("exclusiveMinimum", "minimum"),
                                    ("exclusiveMaximum", "maximum")):
                    f, b = out.get(flag), out.get(bound)
                    if _is_number(f) and _is_number(b) and f:
                        hidden[bound] = out.pop(bound)
                        out[flag] = max(f, b) if flag == "exclusiveMinimum" else min(f, b)
            if d == 3:
                self._draft3(s, out, hidden)
        if d <= 4 and isinstance(out.get("id"), str):
            out["$id"] = out.pop("id")
        sid = out.get("$id")
        if isinstance(sid, str) and sid.startswith("#") and len(sid) > 1 and \
                not sid.startswith("#/") and d <= 7:
            out["$anchor"] = sid[1:]  # a location-independent identifier
            del out["$id"]
        hidden.pop("$schema", None)
        if hidden:
            self.hidden[id(out)] = hidden
        return out

    def _draft3(self, raw: dict, out: dict, hidden: dict) -> None:
        """Draft-3 keywords as their draft-4+ forms (``out`` has lost the draft-4+ keywords
        already, so the names are free)."""
        conj: list = []
        if "divisibleBy" in out:
            hidden["divisibleBy"] = out["divisibleBy"]
            out["multipleOf"] = out.pop("divisibleBy")
        if "extends" in out:
            hidden["extends"] = ext = out.pop("extends")
            conj += ext if isinstance(ext, list) else [ext]
        if "type" in out:
            t = _types3(out["type"])
            if t is not None and not isinstance(t, dict):
                out["type"] = t
            else:
                hidden["type"] = out.pop("type")
                if t is not None:
                    conj.append(t)
        if "disallow" in out:
            hidden["disallow"] = out.pop("disallow")
            t = _types3(hidden["disallow"])
            conj.append(False if t is None else {"not": t if isinstance(t, dict)
                                                 else {"type": t}})
        props = raw.get("properties")
        if isinstance(props, dict):
            names = [n for n, p in props.items() if isinstance(p, dict) and p.get("required")]
            if names:
                out["required"] = names
        deps = out.get("dependencies")
        if isinstance(deps, dict):
            out["dependencies"] = {n: [v] if isinstance(v, str) else v for n, v in deps.items()}
        if conj:
            out["allOf"] = conj


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _types3(t: Any) -> Any:
    """A draft-3 ``type`` value (already rewritten): None for ``"any"``, the type names when it
    only lists names, else ``{"anyOf": [...]}`` of the names and the schemas."""
    items = t if isinstance(t, list) else [t]
    if "any" in items:
        return None
    names = [x for x in items if isinstance(x, str)]
    schemas = [x for x in items if not isinstance(x, str)]
    if not schemas:
        return t
    return {"anyOf": ([{"type": names}] if names else []) + schemas}


_VALIDATOR_CLASS = None


def validator_class():
    """``jsonschema``'s draft 2020-12 validator, plus what :func:`to_2020` keeps from the older
    drafts: ``items`` as an array (one schema per position) with ``additionalItems``, and
    ``dependencies``. It judges the rewritten schemas (enum values, ``oneOf`` branches).

    Example:
        >>> v = validator_class()({"items": [{"type": "integer"}], "additionalItems": False})
        >>> v.is_valid([1]), v.is_valid(["a"]), v.is_valid([1, 2])
        (True, False, False)
    """
    global _VALIDATOR_CLASS
    if _VALIDATOR_CLASS is None:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import ValidationError
        from jsonschema.validators import extend

        base_items = Draft202012Validator.VALIDATORS["items"]

        def items(validator, items, instance, schema):
            if not isinstance(items, list):
                yield from base_items(validator, items, instance, schema)
            elif validator.is_type(instance, "array"):
                for i, (x, sub) in enumerate(zip(instance, items)):
                    yield from validator.descend(x, sub, path=i, schema_path=i)

        def additional_items(validator, extra, instance, schema):
            n = schema.get("items")
            if isinstance(n, list) and validator.is_type(instance, "array"):
                for i in range(len(n), len(instance)):
                    yield from validator.descend(instance[i], extra, path=i)

        def dependencies(validator, deps, instance, schema):
            if not validator.is_type(instance, "object"):
                return
            for name, dep in deps.items():
                if name not in instance:
                    continue
                if validator.is_type(dep, "array"):
                    for other in dep:
                        if other not in instance:
                            yield ValidationError(f"{other!r} is a dependency of {name!r}")
                else:
                    yield from validator.descend(instance, dep, schema_path=name)

        _VALIDATOR_CLASS = extend(Draft202012Validator, {
            "items": items, "additionalItems": additional_items, "dependencies": dependencies})
    return _VALIDATOR_CLASS
