"""Grammar-driven generators compared: formgate.fuzz / formgate.strategies against
hypothesis-jsonschema (JSON Schema) and hypothesis's ``st.from_regex`` (regex), where they
overlap. Writes bench/results/fuzz.md.

    python bench/fuzz.py                 # built-in schemas and regexes, 100 samples each
    python bench/fuzz.py -n 200 --maskbench 40   # plus 40 schemas from ../shared/maskbench

Per input and generator: validity (the oracle: ``jsonschema`` / ``re.fullmatch``; formgate
must be at 100%), distinct/n (distinct outputs over samples), feature coverage (schemas: the
number of distinct (path, JSON type) pairs seen over all samples, indices dropped; regexes:
distinct lengths), and samples per second. A generator that cannot handle an input is
reported as such (formgate: SchemaError; hypothesis-jsonschema: its exception).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, shared_dir, write_results  # noqa: E402

SCHEMAS: dict[str, Any] = {
    "user": {"type": "object", "properties": {
        "id": {"type": "integer", "minimum": 1}, "name": {"type": "string", "minLength": 1,
                                                          "maxLength": 20},
        "email": {"type": "string", "pattern": "^[a-z]+@[a-z]+\\.(com|org)$"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 4},
        "admin": {"type": "boolean"}}, "required": ["id", "name"],
        "additionalProperties": False},
    "enum_and_const": {"type": "object", "properties": {
        "kind": {"enum": ["a", "b", "c", 1, None]}, "v": {"const": 3}},
        "required": ["kind"]},
    "numbers": {"type": "array", "items": {"anyOf": [
        {"type": "integer", "minimum": -5, "maximum": 5},
        {"type": "number", "exclusiveMinimum": 0, "maximum": 1}]}, "minItems": 1,
        "maxItems": 5},
    "nested": {"type": "object", "properties": {"a": {"type": "object", "properties": {
        "b": {"type": "array", "items": {"type": "object", "properties": {
            "c": {"type": ["string", "null"]}}, "required": ["c"]}}}}}},
    "recursive_tree": {"$defs": {"node": {"type": "object", "properties": {
        "v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"},
                                           "maxItems": 2}}, "required": ["v"],
        "additionalProperties": False}}, "$ref": "#/$defs/node"},
    "tool_call": {"type": "object", "properties": {
        "name": {"enum": ["get_weather", "search"]}, "arguments": {"type": "object",
                                                                    "properties": {
            "city": {"type": "string"}, "days": {"type": "integer", "minimum": 1,
                                                 "maximum": 7}}, "required": ["city"]}},
        "required": ["name", "arguments"], "additionalProperties": False},
    "string_formats": {"type": "object", "properties": {
        "date": {"type": "string", "format": "date"},
        "uuid": {"type": "string", "format": "uuid"}}, "required": ["date", "uuid"]},
}

REGEXES = [r"[a-z]{3,8}", r"\d{4}-\d{2}-\d{2}", r"(ab|cd)+e?", r"[A-Z][a-z]*( [A-Z][a-z]*){0,3}",
           r"0x[0-9a-fA-F]{1,8}", r"[^,\n]{0,10}(,[^,\n]{0,10}){0,3}",
           r"(GET|POST|PUT) /[a-z/]{0,12} HTTP/1\.[01]", r"[a-c]{0,3}"]


def draw(strategy: Any, n: int, seed: int) -> list[Any]:
    """``n`` examples of a hypothesis strategy, generation phase only."""
    from hypothesis import HealthCheck, Phase, given, seed as hseed, settings

    out: list[Any] = []

    @hseed(seed)
    @settings(max_examples=n, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(x: Any) -> None:
        out.append(x)

    collect()
    return out[:n]


def features(value: Any, path: str = "") -> set[tuple[str, str]]:
    kind = {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null"}.get(type(value), "integer" if isinstance(value, int)
                                    else "number")
    found = {(path, kind)}
    if isinstance(value, dict):
        for k, v in value.items():
            found |= features(v, f"{path}/{k}")
    elif isinstance(value, list):
        for v in value:
            found |= features(v, f"{path}/*")
    return found


def measure(make: Callable[[], list[Any]], valid: Callable[[Any], bool], key: Callable,
            cover: Callable[[list[Any]], int]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            samples = make()
    except Exception as e:  # a generator's own limit: reported, not fatal
        return {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:60]}"}
    seconds = time.perf_counter() - start
    n = len(samples)
    return {"valid %": 100.0 * sum(map(valid, samples)) / n if n else None,
            "distinct/n": len({key(s) for s in samples}) / n if n else None,
            "coverage": cover(samples), "samples/s": n / seconds if seconds else None, "n": n}


def schema_rows(schemas: dict[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
    import jsonschema
    from hypothesis_jsonschema import from_schema

    import formgate
    import formgate.fuzz as fz
    from formgate.strategies import from_json_schema

    rows = []
    for name, schema in schemas.items():
        # formgate implements draft 2020-12 semantics whatever "$schema" says (1.0 is an
        # integer, unlike draft 4), so that is the oracle's draft too.
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.FormatChecker())

        def valid(v: Any) -> bool:
            return validator.is_valid(v)

        def key(v: Any) -> str:
            return json.dumps(v, sort_keys=True)

        def cover(vs: list[Any]) -> int:
            return len(set().union(*map(features, vs))) if vs else 0

        generators = {
            "formgate.fuzz (random walk)": lambda: [json.loads(s) for s in fz.generate(
                formgate.Grammar.from_json_schema(schema, any_whitespace=False), n,
                max_bytes=256, seed=seed)],
            "formgate.strategies": lambda: draw(from_json_schema(schema, max_bytes=256), n,
                                                seed),
            "hypothesis-jsonschema": lambda: draw(from_schema(schema), n, seed),
        }
        for generator, make in generators.items():
            rows.append({"input": name, "generator": generator,
                         **measure(make, valid, key, cover)})
    return rows


def regex_rows(n: int, seed: int) -> list[dict[str, Any]]:
    from hypothesis import strategies as st

    import formgate
    import formgate.fuzz as fz
    from formgate.strategies import from_grammar

    rows = []
    for pattern in REGEXES:
        compiled = re.compile(pattern)

        def valid(s: str) -> bool:
            return compiled.fullmatch(s) is not None

        def cover(ss: list[str]) -> int:
            return len({len(s) for s in ss})

        grammar = formgate.Grammar.from_regex(pattern)
        generators = {
            "formgate.fuzz (random walk)": lambda: fz.generate(grammar, n, max_bytes=64,
                                                               seed=seed),
            "formgate.fuzz (uniform)": lambda: fz.generate(grammar, n, max_bytes=64, seed=seed,
                                                           mode="uniform"),
            "formgate.strategies": lambda: draw(from_grammar(grammar, max_bytes=64), n, seed),
            "hypothesis from_regex": lambda: draw(st.from_regex(pattern, fullmatch=True), n,
                                                  seed),
        }
        for generator, make in generators.items():
            rows.append({"input": f"`{pattern}`", "generator": generator,
                         **measure(make, valid, str, cover)})
    return rows


def maskbench_schemas(count: int, seed: int) -> dict[str, Any]:
    folder = shared_dir() / "maskbench"
    if count <= 0 or not folder.is_dir():
        return {}
    files = sorted(folder.glob("*.json"))
    picked = random.Random(seed).sample(files, min(count, len(files)))
    return {p.stem: json.loads(p.read_text())["schema"] for p in picked}


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for generator in dict.fromkeys(r["generator"] for r in rows):
        mine = [r for r in rows if r["generator"] == generator]
        ok = [r for r in mine if not r.get("error")]
        out.append({"generator": generator, "inputs": len(mine), "handled": len(ok),
                    "all valid": sum(1 for r in ok if r["valid %"] == 100.0),
                    "mean valid %": sum(r["valid %"] for r in ok) / len(ok) if ok else None,
                    "mean distinct/n": sum(r["distinct/n"] for r in ok) / len(ok) if ok else None,
                    "median samples/s": sorted(r["samples/s"] for r in ok)[len(ok) // 2]
                    if ok else None})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100, help="samples per input and generator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--maskbench", type=int, default=0,
                        help="also this many random schemas from ../shared/maskbench")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fuzz.md"))
    args = parser.parse_args()

    schemas = dict(SCHEMAS)
    extra = maskbench_schemas(args.maskbench, args.seed)
    schema_table = schema_rows(schemas, args.n, args.seed)
    regex_table = regex_rows(args.n, args.seed)
    extra_table = schema_rows(extra, args.n, args.seed) if extra else []
    columns = ["input", "generator", ("valid %", "valid %"), "distinct/n", "coverage",
               "samples/s", "error"]
    for r in schema_table + regex_table + extra_table:
        r.setdefault("error", "")
    sections = [
        ("Summary", markdown_table(summary(schema_table + extra_table), [
            "generator", "inputs", "handled", "all valid", "mean valid %", "mean distinct/n",
            "median samples/s"]) + "\n\nRegexes:\n\n" + markdown_table(summary(regex_table), [
                "generator", "inputs", "handled", "all valid", "mean valid %",
                "mean distinct/n", "median samples/s"])),
        ("JSON Schema (built-in)", markdown_table(schema_table, columns)),
        ("Regex", markdown_table(regex_table, columns)),
    ]
    if extra_table:
        sections.append((f"JSON Schema ({len(extra)} maskbench schemas)",
                         markdown_table(extra_table, columns)))
    sections.append(("Notes", (
        f"{args.n} samples per input and generator, seed {args.seed}. coverage: distinct "
        "(path, JSON type) pairs over all samples for schemas, distinct lengths for regexes. "
        "formgate samples are at most 256 (schemas) / 64 (regexes) bytes; formgate.fuzz's "
        "uniform mode falls back to the random walk when the language has more than 50,000 "
        "prefixes within the bound. hypothesis generators pick sizes from their own "
        "distributions, so distinct/n and speed are comparable, lengths are not. Formats "
        "(`date`, `uuid`) are checked with jsonschema's FormatChecker; validity is judged under draft 2020-12 (formgate's "
        "semantics) whatever a schema's `$schema` says.")))
    path = write_results(args.out, "Grammar fuzzing: formgate vs hypothesis generators",
                         sections, packages=("formgate", "hypothesis", "hypothesis-jsonschema",
                                             "jsonschema"))
    print(path.read_text())


if __name__ == "__main__":
    main()
