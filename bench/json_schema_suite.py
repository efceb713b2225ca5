#!/usr/bin/env python3
"""Coverage of the official JSON Schema Test Suite: per file (keyword), how many schema groups
formgate compiles, how many valid instances it accepts and how many invalid ones it accepts
(must be 0), for draft 2020-12 and draft 7.

Each instance is fed compactly and pretty-printed (json.dumps indent=2) through a byte-level
matcher; a valid instance counts as accepted only if every spelling is. Groups whose schema
raises SchemaError/GrammarError are "unsupported". Optional format tests are included for the
formats formgate implements.

Usage:
    python bench/json_schema_suite.py [--suite ../shared/json-schema-test-suite/tests]
Writes bench/results/json_schema_suite.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

import formgate  # noqa: E402

FORMATS = ("date", "date-time", "time", "ipv4", "ipv6", "uuid", "email", "hostname",
           "duration", "uri", "uri-reference", "json-pointer")
SKIP = {"refRemote.json", "vocabulary.json", "dynamicRef.json"}  # need remote documents


def spellings(value) -> list[str]:
    out = [json.dumps(value, separators=(",", ":"), ensure_ascii=False)]
    if isinstance(value, (dict, list)) and value:
        out.append(json.dumps(value, indent=2, ensure_ascii=False))
    return out


def accepts(compiled, text: str) -> bool:
    m = formgate.GrammarMatcher(compiled)
    return m.accept_string(text) and m.is_completed()


def run_file(compiler, path: Path) -> Counter:
    stats: Counter = Counter()
    for group in json.loads(path.read_text(encoding="utf-8")):
        stats["groups"] += 1
        schema = group["schema"]
        # The suite's files leave $schema out; the draft is the folder (formgate reads a schema
        # with the draft it declares, 2020-12 when none).
        if "draft7" in path.parts and isinstance(schema, dict) and "$schema" not in schema:
            schema = {"$schema": "http://json-schema.org/draft-07/schema#", **schema}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compiled = compiler.compile_json_schema(schema)
        except formgate.GrammarError:
            stats["unsupported"] += 1
            continue
        stats["compiled"] += 1
        for test in group["tests"]:
            try:
                texts = spellings(test["data"])
                for s in texts:
                    s.encode("utf-8")
            except (ValueError, UnicodeEncodeError):
                continue  # lone surrogates: not representable as output text
            ok = [accepts(compiled, s) for s in texts]
            kind = "valid" if test["valid"] else "invalid"
            stats[kind] += 1
            stats[f"{kind}_accepted"] += all(ok) if test["valid"] else any(ok)
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default=str(REPO.parent / "shared" / "json-schema-test-suite"
                                           / "tests"))
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "json_schema_suite.md"))
    args = ap.parse_args()
    suite = Path(args.suite)
    compiler = formgate.GrammarCompiler(formgate.TokenizerInfo([bytes([b]) for b in range(256)]),
                                        max_threads=1)
    sections = []
    for draft in ("draft2020-12", "draft7"):
        files = sorted(p for p in (suite / draft).glob("*.json") if p.name not in SKIP)
        files += [suite / draft / "optional" / "format" / f"{n}.json" for n in FORMATS]
        files = [p for p in files if p.is_file()]
        total: Counter = Counter()
        rows = []
        for path in files:
            s = run_file(compiler, path)
            total.update(s)
            name = ("format/" if path.parent.name == "format" else "") + path.stem
            rows.append(f"| {name} | {s['groups']} | {s['compiled']} | {s['unsupported']} | "
                        f"{s['valid_accepted']} / {s['valid']} | {s['invalid_accepted']} / "
                        f"{s['invalid']} |")
        sections.append((draft, "\n".join([
                  f"Groups compiled: **{total['compiled']} / {total['groups']}**; valid "
                  f"instances accepted {total['valid_accepted']} / {total['valid']}; **invalid "
                  f"instances accepted {total['invalid_accepted']} / {total['invalid']}**.", "",
                  "| file | groups | compiled | unsupported | valid accepted | invalid accepted |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |", *rows])))
        print(draft, dict(total))
    sections.append(("Notes", "Valid instances rejected are deliberate policies: formats are "
                     "RFC subsets and properties must appear in the schema's order (docs/"
                     "json_schema.md). Groups needing remote documents (refRemote, vocabulary, "
                     "dynamicRef) are skipped."))
    common.write_results(args.out, "JSON Schema Test Suite coverage", sections,
                         packages=("formgate", "jsonschema"))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
