"""Adversarial inputs for formgate, each with the outcome it must have and a time bound.

A case builds its input lazily (some are megabytes) and runs one operation in
``run_case.py``'s fresh process:

* ``ebnf`` / ``regex`` / ``json-schema``: compile for the 256-byte vocabulary; the outcome is
  ``compiles`` or the name of the exception class raised (its base classes count too, so
  ``GrammarError`` is satisfied by a ``LimitError``).
* ``match``: compile ``source`` (a (kind, text) pair) and feed ``data``; the outcome is
  ``accepted`` (a whole sentence), ``prefix`` (accepted so far, not complete) or ``rejected``.

``xfail`` names a known problem (reported, being fixed): the case may fail or time out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    build: Callable[[], Any]
    expected: str
    seconds: float = 10.0
    xfail: Optional[str] = None
    data: Optional[Callable[[], bytes]] = None


def _nested_array_schema(depth: int) -> dict:
    schema: dict = {"type": "integer"}
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


def _big_schema() -> str:
    """A 4.7 MB schema: 20,000 described string properties."""
    props = {f"property_name_number_{i:06d}": {"type": "string", "maxLength": 10,
                                               "description": "x" * 150}
             for i in range(20_000)}
    return json.dumps({"type": "object", "properties": props})


def _chain(rules: int) -> str:
    lines = [f'root ::= "a" r1'] + [f'r{i} ::= "a" r{i + 1}' for i in range(1, rules)]
    return "\n".join(lines + [f'r{rules} ::= "b"'])


def _flat_rules(rules: int) -> str:
    alts = " | ".join(f"r{i}" for i in range(rules))
    return "\n".join([f"root ::= {alts}"] + [f'r{i} ::= "w{i}"' for i in range(rules)])



CASES = [
    # nesting
    Case("ebnf_nested_parens_100000", "ebnf",
         lambda: "root ::= " + "(" * 100_000 + '"a"' + ")" * 100_000, "LimitError"),
    Case("schema_nested_arrays_100", "json-schema", lambda: _nested_array_schema(100),
         "compiles"),
    Case("schema_nested_arrays_10000", "json-schema", lambda: _nested_array_schema(10_000),
         "LimitError"),
    Case("json_input_nested_100000", "match", lambda: ("json-schema", True), "prefix",
         data=lambda: b"[" * 100_000),
    # size
    Case("schema_enum_100000", "json-schema",
         lambda: {"enum": [f"value_{i}" for i in range(100_000)]}, "LimitError", seconds=20),
    Case("ebnf_alternatives_50000", "ebnf",
         lambda: "root ::= " + " | ".join(f'"w{i}"' for i in range(50_000)), "compiles"),
    Case("schema_properties_1000", "json-schema",
         lambda: {"type": "object",
                  "properties": {f"p{i}": {"type": "string"} for i in range(1000)}},
         "compiles"),
    Case("schema_4mb", "json-schema", _big_schema, "GrammarError", seconds=5),
    Case("ebnf_literal_20000_bytes", "ebnf", lambda: 'root ::= "' + "ab" * 10_000 + '"',
         "compiles", seconds=5),
    Case("ebnf_rule_chain_14000", "ebnf", lambda: _chain(14_000), "compiles", seconds=10),
    Case("ebnf_rules_20000", "ebnf", lambda: _flat_rules(20_000), "compiles", seconds=5),
    Case("ebnf_rule_chain_2000", "ebnf", lambda: _chain(2000), "compiles"),
    # repetition bounds
    Case("ebnf_repetition_0_1000000", "ebnf", lambda: 'root ::= "a"{0,1000000}', "compiles"),
    Case("regex_repetition_0_1000000", "regex", lambda: "a{0,1000000}", "compiles"),
    Case("ebnf_repetition_past_limit", "ebnf", lambda: 'root ::= "a"{0,100000000}',
         "LimitError"),
    Case("ebnf_nested_repetition", "ebnf", lambda: 'root ::= ("a"{0,1000}){0,1000}',
         "compiles"),
    Case("match_repetition_1000000_filled", "match",
         lambda: ("ebnf", 'root ::= "a"{0,1000000}'), "accepted",
         data=lambda: b"a" * 200_000),
    Case("schema_maxlength_1e9", "json-schema",
         lambda: {"type": "string", "maxLength": 10**9}, "compiles"),
    Case("schema_integer_range_1e30", "json-schema",
         lambda: {"type": "integer", "minimum": -10**30, "maximum": 10**30}, "compiles"),
    # pathological regexes: linear-time matching, no backtracking blow-up
    *[Case(f"regex_match_{name}", "match", lambda p=pattern: ("regex", p), outcome,
           data=lambda: b"a" * 20_000)
      for name, pattern, outcome in [("star_star", "(a*)*b", "prefix"),
                                     ("alt_same", "(a|a)*c", "prefix"),
                                     ("alt_overlap", "(a|aa)+d", "prefix"),
                                     ("plus_plus_plus", "((a+)+)+e", "prefix"),
                                     ("dot_star_20", "(.*a){20}", "accepted")]],
    Case("schema_pattern_exponential", "json-schema",
         lambda: {"type": "string", "pattern": "^(a+)+$"}, "compiles"),
    Case("regex_unicode_class_50", "regex", lambda: "[\u0000-\U0010ffff]{50}", "compiles"),
    Case("regex_backreference", "regex", lambda: r"(a)\1", "GrammarError"),
    Case("regex_unbalanced", "regex", lambda: "(ab", "GrammarError"),
    # bytes and code points
    Case("ebnf_nul_literal", "match", lambda: ("ebnf", 'root ::= "a\x00b"'), "accepted",
         data=lambda: b"a\x00b"),
    Case("ebnf_lone_surrogate_literal", "ebnf", lambda: 'root ::= "\udcff"', "GrammarError"),
    Case("json_input_invalid_utf8", "match", lambda: ("json-schema", True), "rejected",
         data=lambda: b'"\xff"'),
    Case("json_input_overlong_utf8", "match", lambda: ("json-schema", True), "rejected",
         data=lambda: b'"\xc0\xaf"'),
    Case("json_input_lone_surrogate_escape", "match", lambda: ("json-schema", True),
         "accepted", data=lambda: b'"\\ud800"'),
    Case("json_input_raw_surrogate_bytes", "match", lambda: ("json-schema", True), "rejected",
         data=lambda: b'"\xed\xa0\x80"'),
    Case("schema_const_lone_surrogate", "json-schema", lambda: {"const": "\ud800"},
         "SchemaError"),
    # malformed
    Case("ebnf_left_recursion", "ebnf", lambda: 'root ::= root "a" | "b"', "GrammarError"),
    Case("ebnf_empty_language", "ebnf", lambda: 'root ::= "a" root', "GrammarError"),
    Case("schema_ref_cycle", "json-schema", lambda: {"$ref": "#"}, "GrammarError"),
    Case("schema_not_json", "json-schema", lambda: '{"type": ', "SchemaError"),
]

BY_NAME = {case.name: case for case in CASES}
