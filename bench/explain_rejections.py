#!/usr/bin/env python3
"""Why does formgate reject a valid MaskBench instance? One row per rejection, classified.

Input: a MaskBench records file (``bench/maskbench.py --records DIR`` writes
``DIR/formgate.jsonl``; each schema's ``valid_rejected_list`` names the rejected tests), or
``--rerun FILE_OR_DIR...``: compile those schema files with the current code and test every
instance (valid and invalid) here.

Acceptance is decided byte by byte (a 256-token byte vocabulary) on the harness' serialization
(``json.dumps(x, separators=(",", ":"), ensure_ascii=False)``): the grammar is over bytes, so a
token sequence is accepted iff its bytes are; mask/accept disagreements, which only the
harness sees, are not re-checked here. Each rejected valid instance is re-checked with the
current code, then classified:

* ``fixed``: the current code accepts it as written.
* ``property order``: some re-ordering of the instance's object keys (same keys, same values,
  recursively) is accepted. The search is depth-first on forked matchers, keys tried in the
  order of the ``properties`` that apply (formgate's order), then in instance order, a key
  only where the matcher takes its bytes; the accepted text is re-checked from
  scratch (so this verdict is exact). The row names the objects whose order changed. Two
  limits make the search finite. First a branch ends as soon as a remaining key that the
  matcher took as the next key at an earlier position of the object is refused (in one object
  grammar, declared names in schema order then the others, such a key has been passed for
  good; not so across anyOf branches); if that finds no order, the search is redone without
  this cut. In both, at most 4 accepted orders of one object value are tried before
  backtracking past it (extra keys usually go in any order; the row says "limited" when that
  cap cut), and 200,000 matcher forks per instance (the row says when that ran out).
* ``draft: ...``: no accepted order, and ``jsonschema`` finds the instance valid under the draft
  its ``$schema`` names (04, 06, 07) but invalid under draft 2020-12, whose semantics formgate
  implements: a ``$ref``'s siblings (ignored before 2019-09) or a keyword the older draft does
  not have (``if``/``then``/``else`` before draft 7, ``const`` before 6...) decide it.
* otherwise (no accepted order, no draft difference) the row gives where the instance fails
  with its keys in formgate's order (the first order the search tries): byte offset, context,
  the JSON pointer of the value (or key) being written, the schema keywords that apply there,
  and whether a sub-schema at that pointer, compiled on its own, rejects the value (a local
  cause: format, pattern, bound) or each accepts it (a cause in the surrounding schema: allOf
  merging, anyOf). The category is ``<where>: <keyword>`` from that, a guide for the human
  note, not a verdict.

Writes ``--out`` (bench/results/validation_errors.md): counts per category, the share of valid
instances, a table per instance, and the human notes from ``--notes`` (JSON: ``{"_intro":
[paragraphs], "file#test": "note"}``), if given.

Usage:
    python bench/explain_rejections.py --records /tmp/mb_hosts/formgate.jsonl \
        --notes bench/results/validation_errors_notes.json
    python bench/explain_rejections.py --rerun ../shared/maskbench/Github_hard---o81117.json
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

common.pin_single_thread()

import argparse  # noqa: E402
import collections  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, Iterator, Optional  # noqa: E402

REPO = common.repo_root()
sys.path.insert(0, str(REPO / "python"))

import formgate  # noqa: E402
import jsonschema  # noqa: E402
from jsonschema import Draft201909Validator, Draft202012Validator, FormatChecker  # noqa: E402

BYTES = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
COMPILER = formgate.GrammarCompiler(BYTES, cache_enabled=False)
SEARCH_BUDGET = 200_000  # forks per instance
ORDERS_PER_OBJECT = 4  # accepted orders of one object value tried before moving on
# keywords worth naming as the constraint at play, by what was being written
VALUE_KEYWORDS = ("format", "pattern", "minLength", "maxLength", "enum", "const", "minimum",
                  "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "type",
                  "not", "oneOf", "anyOf", "allOf", "if", "minItems", "maxItems",
                  "uniqueItems", "contains", "prefixItems", "items", "additionalItems")
KEY_KEYWORDS = ("additionalProperties", "propertyNames", "patternProperties",
                "maxProperties", "unevaluatedProperties", "dependencies",
                "dependentSchemas", "dependentRequired", "oneOf", "anyOf", "allOf", "not")
END_KEYWORDS = ("required", "minProperties", "dependencies", "dependentRequired",
                "dependentSchemas", "minItems", "contains", "oneOf", "anyOf", "allOf", "if")


def dumps(x: Any) -> str:
    return json.dumps(x, separators=(",", ":"), ensure_ascii=False)


def pointer(path: tuple) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "/"


def accepts(compiled, text: str) -> bool:
    m = formgate.GrammarMatcher(compiled)
    return m.accept_string(text.encode()) and m.is_completed()


# ---------------------------------------------------------------------------------------------
# key-order search


class BudgetExceeded(Exception):
    pass


class SchemaOrder:
    """Keys of the object at an instance path in the order of the ``properties`` that apply
    there (formgate writes declared names in that order), then in instance order."""

    def __init__(self, schema: Any, instance: Any):
        self.schema, self.instance = schema, instance
        self.ranks: dict[tuple, dict] = {}

    def keys(self, keys: list, path: tuple) -> list:
        if path not in self.ranks:
            rank: dict = {}
            for sub in applicable(self.schema, self.schema, self.instance, path):
                props = sub.get("properties")
                for k in props if isinstance(props, dict) else ():
                    rank.setdefault(k, len(rank))
            self.ranks[path] = rank
        rank = self.ranks[path]
        return sorted(keys, key=lambda k: rank.get(k, len(rank)))


def pieces(x: Any, order: SchemaOrder, path: tuple = ()) -> Iterator[tuple[str, tuple, str]]:
    """The compact JSON of ``x`` with keys in ``order``, as (text, JSON path, what): what is
    "value" (a scalar, or the opening bracket), "key" (with its separator) or "end"."""
    if isinstance(x, dict) and x:
        yield "{", path, "value"
        for i, k in enumerate(order.keys(list(x), path)):
            yield ("," if i else "") + dumps(k) + ":", path + (k,), "key"
            yield from pieces(x[k], order, path + (k,))
        yield "}", path, "end"
    elif isinstance(x, list) and x:
        yield "[", path, "value"
        for i, v in enumerate(x):
            if i:
                yield ",", path, "end"
            yield from pieces(v, order, path + (i,))
        yield "]", path, "end"
    else:
        yield dumps(x), path, "value"


@dataclass
class Failure:
    """A rejection: the byte at ``offset`` of ``text`` (the text up to and including the
    rejected piece) while writing ``what`` at ``path``."""

    offset: int
    text: str
    path: tuple
    what: str  # value, key, end (a "}" "]" or "," was refused) or incomplete


def first_failure(compiled, parts: list[tuple[str, tuple, str]]) -> Optional[Failure]:
    """Where a matcher refuses ``parts`` (None if it accepts them all and can end)."""
    m = formgate.GrammarMatcher(compiled)
    text = ""
    for piece, path, what in parts:
        probe = m.fork()
        if not m.accept_string(piece.encode()):
            k = 0
            for b in piece.encode():
                if not probe.accept_string(bytes([b])):
                    break
                k += 1
            return Failure(len(text.encode()) + k, text + piece, path, what)
        text += piece
    return None if m.is_completed() else Failure(len(text.encode()), text, (), "incomplete")


@dataclass
class Search:
    """Depth-first search for a key order the matcher accepts (see the module docstring)."""

    order: SchemaOrder
    prune: bool = True  # end a branch when a key taken earlier is refused
    forks: int = 0
    limited: bool = False  # some object had more accepted orders than ORDERS_PER_OBJECT

    def feed(self, m, piece: str):
        """A fork of ``m`` after ``piece``, or None."""
        self.forks += 1
        if self.forks > SEARCH_BUDGET:
            raise BudgetExceeded
        m2 = m.fork()
        return m2 if m2.accept_string(piece.encode()) else None

    def value(self, m, prefix: str, x: Any, path: tuple) -> Iterator[tuple[Any, str]]:
        """Every (matcher, text) after writing ``x`` in some key order."""
        if isinstance(x, dict) and x:
            m2 = self.feed(m, "{")
            if m2 is None:
                return
            # extra keys usually go in any order: without a cap, a failure after an object
            # of n such keys would retry all n! orders of it
            for n, found in enumerate(self.members(m2, prefix + "{", x, list(x), path)):
                if n == ORDERS_PER_OBJECT:
                    self.limited = True
                    return
                yield found
        elif isinstance(x, list) and x:
            m2 = self.feed(m, "[")
            if m2 is not None:
                yield from self.items(m2, prefix + "[", x, 0, path)
        else:
            m2 = self.feed(m, dumps(x))
            if m2 is not None:
                yield m2, prefix + dumps(x)

    def members(self, m, prefix: str, obj: dict, left: list, path: tuple,
                seen: frozenset = frozenset()):
        """Members ``left`` of ``obj`` in every order the matcher takes; ``seen``: the keys
        it took as the next key at some earlier position of this object."""
        if not left:
            m2 = self.feed(m, "}")
            if m2 is not None:
                yield m2, prefix + "}"
            return
        sep = "" if len(left) == len(obj) else ","
        heads = {k: self.feed(m, sep + dumps(k) + ":") for k in left}
        if self.prune and any(heads[k] is None for k in left if k in seen):
            # a key the grammar took next earlier but refuses now has been passed for good
            # (declared names come in schema order, then the others): it fits nowhere
            return
        seen = seen | {k for k in left if heads[k] is not None}
        for k in self.order.keys(left, path):
            if heads[k] is None:
                continue
            rest = [j for j in left if j != k]
            head = sep + dumps(k) + ":"
            for m3, text in self.value(heads[k], prefix + head, obj[k], path + (k,)):
                yield from self.members(m3, text, obj, rest, path, seen)

    def items(self, m, prefix: str, arr: list, i: int, path: tuple):
        if i == len(arr):
            m2 = self.feed(m, "]")
            if m2 is not None:
                yield m2, prefix + "]"
            return
        if i:
            m = self.feed(m, ",")
            if m is None:
                return
            prefix += ","
        for m2, text in self.value(m, prefix, arr[i], path + (i,)):
            yield from self.items(m2, text, arr, i + 1, path)


def find_order(compiled, order: SchemaOrder, instance: Any,
               prune: bool) -> tuple[Optional[str], Search, bool]:
    """(accepted text or None, the search, whether the budget ran out)."""
    s = Search(order, prune=prune)
    try:
        for m, text in s.value(formgate.GrammarMatcher(compiled), "", instance, ()):
            if m.is_completed():
                return text, s, False
    except BudgetExceeded:
        return None, s, True
    return None, s, False


def reordered_objects(a: Any, b: Any, path: tuple = ()) -> list[str]:
    """Pointers of the objects whose key order differs between a and b (equal values)."""
    out = []
    if isinstance(a, dict):
        if list(a) != list(b):
            out.append(f"{pointer(path)} ({','.join(a)} -> {','.join(b)})")
        for k in a:
            out += reordered_objects(a[k], b[k], path + (k,))
    elif isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            out += reordered_objects(x, y, path + (i,))
    return out


# ---------------------------------------------------------------------------------------------
# which sub-schemas apply at a pointer


def _resolve(root: dict, ref: str) -> Optional[Any]:
    if not ref.startswith("#"):
        return None
    node: Any = root
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def applicable(root: dict, schema: Any, instance: Any, path: tuple, seen=None) -> list[dict]:
    """Schemas that apply to the instance location ``path`` (every branch of every
    combinator, local $refs followed), as found by walking ``schema`` along ``instance``."""
    seen = set() if seen is None else seen
    if not isinstance(schema, dict) or id(schema) in seen:
        return []
    seen = seen | {id(schema)}
    out: list[dict] = []
    for kw in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(kw, []) if isinstance(schema.get(kw), list) else []:
            out += applicable(root, sub, instance, path, seen)
    for kw in ("then", "else", "if"):
        out += applicable(root, schema.get(kw), instance, path, seen)
    if isinstance(schema.get("$ref"), str):
        target = _resolve(root, schema["$ref"])
        if target is not None and id(target) not in seen:
            out += applicable(root, target, instance, path, seen)
    if not path:
        return [schema] + out
    head, rest = path[0], path[1:]
    if isinstance(instance, dict) and head in instance:
        subs = []
        props = schema.get("properties") or {}
        if isinstance(props, dict) and head in props:
            subs.append(props[head])
        for pat, sub in (schema.get("patternProperties") or {}).items():
            try:
                if re.search(pat, head):
                    subs.append(sub)
            except re.error:
                pass
        if not subs and isinstance(schema.get("additionalProperties"), dict):
            subs.append(schema["additionalProperties"])
        for sub in subs:
            out += applicable(root, sub, instance[head], rest)
    elif isinstance(instance, list) and isinstance(head, int) and head < len(instance):
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        if isinstance(prefix, list) and head < len(prefix):
            sub = prefix[head]
        elif isinstance(items, list):
            sub = items[head] if head < len(items) else schema.get("additionalItems")
        else:
            sub = items
        out += applicable(root, sub, instance[head], rest)
        if isinstance(schema.get("contains"), dict):
            out += applicable(root, schema["contains"], instance[head], rest)
    return out


def at(instance: Any, path: tuple) -> Any:
    for p in path:
        instance = instance[p]
    return instance


def keywords_at(schemas: list[dict], what: str, value: Any) -> list[str]:
    pick = {"value": VALUE_KEYWORDS, "key": KEY_KEYWORDS}.get(what, END_KEYWORDS)
    seen = []
    for s in schemas:
        for kw in pick:
            if kw in s:
                name = f"format:{s[kw]}" if kw == "format" else kw
                if kw == "additionalProperties" and s[kw] is not False:
                    continue
                if name not in seen:
                    seen.append(name)
    return seen


def standalone(root: dict, schemas: list[dict], value: Any) -> str:
    """Whether a sub-schema applying at the location, compiled alone (with the root's
    definitions), rejects the value: 'rejects: {...}' for the first that does."""
    defs = {k: root[k] for k in ("definitions", "$defs") if isinstance(root.get(k), dict)}
    verdicts = []
    for s in schemas:
        if s is root:
            continue
        try:
            compiled = COMPILER.compile_json_schema({**defs, **s})
        except Exception as e:  # noqa: BLE001 - a sub-schema may not stand alone
            verdicts.append(f"uncompilable ({type(e).__name__})")
            continue
        if not accepts(compiled, dumps(value)):
            return "rejects: " + dumps({k: v for k, v in s.items()
                                        if k not in ("description", "title", "examples")})[:160]
        verdicts.append("accepts")
    return "each accepts" if verdicts and all(v == "accepts" for v in verdicts) else \
        (", ".join(sorted(set(verdicts))) or "no sub-schema")


# ---------------------------------------------------------------------------------------------
# draft semantics

# keywords a draft before the given one does not know (its validator ignores them)
LATER_KEYWORDS = {"if": 7, "then": 7, "else": 7, "const": 6, "contains": 6,
                  "propertyNames": 6, "dependentRequired": 2019, "dependentSchemas": 2019,
                  "prefixItems": 2020, "unevaluatedProperties": 2019, "unevaluatedItems": 2019}
DRAFT_NUMBER = {"Draft3Validator": 3, "Draft4Validator": 4, "Draft6Validator": 6,
                "Draft7Validator": 7}


def _all_errors(errors) -> Iterator:
    for e in errors:
        yield e
        yield from _all_errors(e.context or [])


def draft_cause(schema: Any, instance: Any) -> Optional[tuple[str, str]]:
    """(category, detail) when the instance is valid under the draft its ``$schema`` names but
    not under draft 2020-12, whose semantics formgate implements; else None."""
    if not isinstance(schema, dict):
        return None
    cls = jsonschema.validators.validator_for(schema, default=Draft202012Validator)
    if cls in (Draft202012Validator, Draft201909Validator):
        return None
    if next(cls(schema, format_checker=FormatChecker()).iter_errors(instance), None):
        return None
    modern = {k: v for k, v in schema.items() if k != "$schema"}
    errors = list(Draft202012Validator(modern, format_checker=FormatChecker())
                  .iter_errors(instance))
    if not errors:
        return None
    draft = DRAFT_NUMBER.get(cls.__name__, 7)
    for e in _all_errors(errors):
        if isinstance(e.schema, dict) and "$ref" in e.schema and e.validator != "$ref":
            return ("draft: $ref siblings", f"'{e.validator}' next to $ref at {e.json_path}: "
                    f"{cls.__name__} ignores it, 2020-12 applies it")
    for e in _all_errors(errors):
        later = [k for k in e.absolute_schema_path if LATER_KEYWORDS.get(k, 0) > draft]
        if later:
            return (f"draft: '{later[0]}' unknown to draft {draft}",
                    f"{e.validator} under '{later[0]}' at {e.json_path}: {cls.__name__} "
                    f"ignores '{later[0]}'")
    e = jsonschema.exceptions.best_match(errors)
    return "draft: other", f"{e.validator} at {e.json_path} fails under 2020-12 only"


# ---------------------------------------------------------------------------------------------
# per rejection


def category(what: str, value: Any, kws: list[str]) -> str:
    if what == "key":
        return "key: " + (kws[0] if kws else "declared names/order")
    if what in ("end", "incomplete"):
        return f"{what}: " + (kws[0] if kws else "structure")
    for k in kws:
        if k.startswith("format:") and isinstance(value, str):
            return f"value: {k}"
    kind = type(value).__name__
    for k in ("pattern", "minLength", "maxLength", "enum", "const", "multipleOf", "minimum",
              "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if k in kws:
            return f"value ({kind}): {k}"
    return f"value ({kind}): " + (kws[0] if kws else "?")


def explain(path: str, test: int, compiled=None) -> dict:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    schema, instance = data["schema"], data["tests"][test]["data"]
    row = {"file": os.path.basename(path), "test": test, "bytes": len(dumps(instance).encode())}
    if compiled is None:
        try:
            compiled = COMPILER.compile_json_schema(schema)
        except Exception as e:  # noqa: BLE001 - now unsupported: say so
            return {**row, "category": "now unsupported", "detail": str(e)[:160]}
    if accepts(compiled, dumps(instance)):
        return {**row, "category": "fixed", "detail": "accepted by the current code"}
    order = SchemaOrder(schema, instance)
    d = first_failure(compiled, list(pieces(instance, order)))
    text, search, gave_up = None, None, False
    if d is None:
        text = "".join(p for p, _, _ in pieces(instance, order))
    else:
        text, search, gave_up = find_order(compiled, order, instance, prune=True)
        if text is None:  # the pruning may be wrong (anyOf of objects): confirm without it
            text, search, gave_up = find_order(compiled, order, instance, prune=False)
        row["forks"] = search.forks
    if text is not None:
        # the verdict's proof: the same value, and a fresh matcher takes its text
        assert json.loads(text) == instance and accepts(compiled, text)
        moved = reordered_objects(instance, json.loads(text))
        return {**row, "category": "property order", "detail": "; ".join(moved)[:300]}
    value = at(instance, d.path)
    where = d.path[:-1] if d.what == "key" else d.path
    schemas = applicable(schema, schema, instance, where)
    kws = keywords_at(schemas, d.what, value)
    raw = d.text.encode()
    context = raw[max(0, d.offset - 60):d.offset].decode(errors="replace") + "⟨" + \
        raw[d.offset:d.offset + 20].decode(errors="replace") + "⟩"
    detail = {"offset": d.offset, "pointer": pointer(d.path), "writing": d.what,
              "context": context.replace("`", "'"), "keywords": kws,
              "search": "budget ran out" if gave_up else
              "limited" if search.limited else "exhaustive"}
    if d.what == "value":
        detail["standalone"] = standalone(schema, schemas, value)
    cat = category(d.what, value, kws)
    draft = draft_cause(schema, instance)
    if draft is not None:
        cat, detail["draft"] = draft
    return {**row, "category": cat, "detail": detail}


# ---------------------------------------------------------------------------------------------
# inputs and report


def from_records(records: str, folder: str) -> tuple[list[tuple[str, int]], dict]:
    cases, totals = [], collections.Counter()
    with open(records, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            totals["schemas"] += 1
            if r.get("status") != "ok":
                continue
            totals["valid"] += r.get("valid", 0)
            totals["invalid"] += r.get("invalid", 0)
            totals["invalid_accepted"] += r.get("invalid_accepted", 0)
            totals["valid_rejected_in_run"] += r.get("valid_rejected", 0)
            cases += [(os.path.join(folder, r["file"]), v["test"])
                      for v in r.get("valid_rejected_list") or []]
    return cases, totals


def rerun(paths: list[str]) -> tuple[list[tuple[str, int, Any]], dict]:
    files = []
    for p in paths:
        files += sorted(glob.glob(os.path.join(p, "*.json"))) if os.path.isdir(p) else [p]
    cases, totals = [], collections.Counter()
    for p in files:
        with open(p, encoding="utf-8") as f:
            data = json.load(f)
        totals["schemas"] += 1
        try:
            compiled = COMPILER.compile_json_schema(data["schema"])
        except Exception:  # noqa: BLE001 - unsupported schemas have no validation errors
            totals["unsupported"] += 1
            continue
        for i, t in enumerate(data.get("tests", [])):
            try:
                text = dumps(t["data"])
                text.encode()
            except (ValueError, UnicodeEncodeError):
                continue
            ok = accepts(compiled, text)
            totals["valid" if t["valid"] else "invalid"] += 1
            if t["valid"] and not ok:
                cases.append((p, i, compiled))
            elif not t["valid"] and ok:
                totals["invalid_accepted"] += 1
                print(f"INVALID ACCEPTED: {p} test {i}", file=sys.stderr)
    return cases, totals


def render(rows: list[dict], totals: dict, source: str, notes: dict) -> list[tuple[str, str]]:
    valid = totals["valid"] or 1
    counts = collections.Counter(r["category"] for r in rows)
    still = sum(v for k, v in counts.items() if k != "fixed")
    order = counts.get("property order", 0)
    summary = [
        f"- Source: {source}. Valid instances: {totals['valid']:,}; invalid: "
        f"{totals['invalid']:,}, of which accepted: {totals['invalid_accepted']}.",
        f"- Rejected valid instances examined: {len(rows)}; still rejected by the current code: "
        f"**{still} ({100 * still / valid:.2f}% of valid instances)**; of these, property "
        f"order (the documented policy): {order} ({100 * order / valid:.2f}%), other: "
        f"{still - order} ({100 * (still - order) / valid:.2f}%).",
    ]
    cat_rows = [{"category": k, "instances": v, "% of valid": 100 * v / valid}
                for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    inst_rows = []
    for r in sorted(rows, key=lambda r: (r["category"], r["file"], r["test"])):
        d = r.get("detail")
        if isinstance(d, dict):
            text = (f"{d['writing']} at `{d['pointer'].replace('`', chr(39))}`, byte "
                    f"{d['offset']}: `{d['context']}`; keywords: "
                    f"{', '.join(d['keywords']) or '-'}"
                    + (f"; standalone sub-schema: {d['standalone']}" if "standalone" in d
                       else "") + f"; key orders: {d['search']}"
                    + (f"; **{d['draft']}**" if "draft" in d else ""))
        else:
            text = str(d)
        inst_rows.append({"file": r["file"], "test": r["test"], "category": r["category"],
                          "detail": text, "note": notes.get(f"{r['file']}#{r['test']}", "")})
    return [
        ("Summary", "\n".join(summary)),
        ("Per category", common.markdown_table(cat_rows, list(cat_rows[0])) if cat_rows
         else "none"),
        ("Per instance", common.markdown_table(inst_rows, list(inst_rows[0])) if inst_rows
         else "none"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", default="/tmp/mbfull2/formgate.jsonl")
    ap.add_argument("--dir", default=str(common.shared_dir() / "maskbench"),
                    help="where the records' schema files are")
    ap.add_argument("--rerun", nargs="+", metavar="FILE_OR_DIR",
                    help="test these schema files with the current code instead of records")
    ap.add_argument("--notes", help='JSON file {"_intro": [paragraphs], "file#test": "note"}')
    ap.add_argument("--json", help="also write the rows as JSON lines here")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "validation_errors.md"))
    args = ap.parse_args()
    if args.rerun:
        cases, totals = rerun(args.rerun)
        source = f"rerun of {', '.join(args.rerun)} with the current code"
    else:
        found, totals = from_records(args.records, args.dir)
        cases = [(p, t, None) for p, t in found]
        source = f"records `{args.records}` ({totals['valid_rejected_in_run']} rejected in the run)"
    rows = []
    for n, (p, t, compiled) in enumerate(cases, 1):
        row = explain(p, t, compiled)
        rows.append(row)
        print(f"[{n}/{len(cases)}] {row['file']} #{t}: {row['category']}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    notes = {}
    if args.notes:
        with open(args.notes, encoding="utf-8") as f:
            notes = json.load(f)
    about = __doc__.split("\n\nUsage:")[0].split("\n\n")[1:]
    sections = [("About", "\n\n".join(about + notes.pop("_intro", [])))]
    sections += render(rows, totals, source, notes)
    common.write_results(args.out, "Validation errors: valid MaskBench instances formgate rejects",
                         sections, packages=("formgate", "jsonschema"))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
