"""formgate.strategies: every example is a sentence (lark / re / jsonschema oracles), examples
fit max_bytes, and failing examples shrink to short sentences and earlier alternatives."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import formgate
from conftest import grammar_text
from formgate.fuzz import NoStringError
from formgate.strategies import from_grammar, from_json_schema
from oracle.lark_oracle import lark_accepts

ORACLE = Path(__file__).resolve().parent / "oracle"
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(from_grammar(grammar_text("arithmetic"), max_bytes=40))
def test_arithmetic_examples_are_sentences(s):
    assert len(s.encode()) <= 40
    assert lark_accepts((ORACLE / "arithmetic.lark").read_text(), s), s


@FAST
@given(from_grammar(grammar_text("json"), max_bytes=60))
def test_json_examples_parse(s):
    json.loads(s)
    assert lark_accepts((ORACLE / "json.lark").read_text(), s), s


@FAST
@given(from_grammar(formgate.Grammar.from_regex(r"[a-f0-9]{8}(-[a-f0-9]{4}){0,2}é?"),
                    max_bytes=20))
def test_regex_examples_fullmatch(s):
    assert re.fullmatch(r"[a-f0-9]{8}(-[a-f0-9]{4}){0,2}é?", s)


SCHEMA = {"type": "object",
          "properties": {"id": {"type": "integer", "minimum": 1},
                         "tags": {"type": "array", "items": {"enum": ["a", "b"]},
                                  "maxItems": 3},
                         "ok": {"type": "boolean"}},
          "required": ["id", "ok"], "additionalProperties": False}


@FAST
@given(from_json_schema(SCHEMA, max_bytes=80))
def test_schema_examples_validate(value):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(value, SCHEMA)


@FAST
@given(from_json_schema(SCHEMA, as_text=True, max_bytes=80))
def test_schema_text_is_compact(text):
    assert len(text.encode()) <= 80 and " " not in text


def test_shrinks_to_the_shortest_sentence_and_earliest_alternative():
    assert find(from_grammar('root ::= "zz" | "y" | "xxx"'), lambda s: True) == "y"
    assert find(from_grammar(grammar_text("arithmetic")), lambda s: True) == "0"
    assert find(from_grammar('root ::= [b-d] [b-d]'), lambda s: True) == "bb"
    assert find(from_grammar('root ::= [a-z]+'), lambda s: len(s) >= 5) == "aaaaa"
    assert find(from_json_schema({"type": "array", "items": {"type": "integer"}}),
                lambda v: len(v) >= 2) == [0, 0]
    assert find(from_json_schema({"enum": ["bbb", "a", "cc"]}), lambda v: True) == "a"
    assert find(from_json_schema({"type": "boolean"}), lambda v: True) is True  # shorter


def test_strategy_is_usable_inside_other_strategies():
    pairs = st.tuples(from_grammar("root ::= [0-9]{2}"), from_grammar('root ::= "a"+',
                                                                       max_bytes=3))
    found = find(pairs, lambda p: int(p[0]) > 50 and len(p[1]) == 3)
    assert found[1] == "aaa" and 50 < int(found[0]) <= 60  # digits shrink one at a time


def test_impossible_bound_fails_at_construction():
    with pytest.raises(NoStringError):
        from_grammar('root ::= "abcdef"', max_bytes=3)
