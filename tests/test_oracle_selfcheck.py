"""Self-checks for the test oracle and test data; none of this needs formgate.

If these fail, the oracle or the data is wrong, not the engine:
* each Lark twin in tests/oracle accepts every valid and rejects every invalid
  example in tests/data/grammar_examples;
* the shipped .ebnf files, read by the independent dialect reader in
  tests/oracle/lark_oracle.py, agree with their twins on those examples;
* tests/data/malformed_grammars.json is well formed and every entry is
  rejected by the reference reader with the documented cause and position;
* random grammars from tests/grammar_gen.py compile with Lark, accept their
  own derivations, and their .ebnf spelling means the same as their .lark.

Conventions of malformed_grammars.json (line/column are 1-based, columns in
code points, a tab is one column, line 0 / column 0 means "any position";
the "mentions" key, when present, lists rule names the message must contain):
* undefined rule: at the first character of the reference; references in
  unreachable rules are errors too.
* duplicate rule: at the name of the second definition.
* unbalanced: an unclosed "(" or "[" is reported at the opening bracket, a
  stray ")" or "]" at itself. A group is closed before the next "name ::=",
  so "( ... \\nb ::= ..." reports the "(", not the "::=".
* unterminated string: at the opening quote.
* invalid escape: at the backslash (also for \\x, \\u, \\U with too few or non-hex
  digits, surrogates and code points above U+10FFFF).
* character class (empty "[]" and "[^]"): at the "[".
* invalid range: at the first character (or backslash) of the range.
* repetition: at the "{" (malformed braces, upper < lower, bound > 1000000).
* expected: where a rule name or "::=" was expected, or an operator has no
  operand; the token found there is the position.
* unexpected character: at the character.
* empty rule body: at the name of the rule whose body is empty.
* left recursion / empty language / no rule named: any position. Left
  recursion is checked before emptiness, so 'root ::= root "x"' is left
  recursion.
"""
from __future__ import annotations

import json
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import grammar_gen  # noqa: E402
from oracle.lark_oracle import (  # noqa: E402
    EbnfSyntaxError,
    ebnf_to_lark,
    lark_accepts,
    lark_parser,
    lark_regex_char,
    parse_ebnf,
)

ROOT = os.path.dirname(HERE)
GRAMMARS = ["json", "json_compact", "arithmetic", "sql_select", "c_like"]
CAUSES = {
    "undefined rule", "no rule named", "duplicate rule", "unbalanced",
    "unterminated string", "invalid escape", "character class", "invalid range",
    "repetition", "expected", "left recursion", "empty language",
    "empty rule body", "unexpected character",
}


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def _examples(name):
    return json.loads(_read("tests", "data", "grammar_examples", name + ".json"))


def _cases():
    return [(name, label, s)
            for name in GRAMMARS
            for label in ("valid", "invalid")
            for s in _examples(name)[label]]


# --------------------------------------------------------------------------
# Shipped grammars and their twins


@pytest.mark.parametrize("name", GRAMMARS)
def test_example_files_are_substantial(name):
    ex = _examples(name)
    assert set(ex) == {"valid", "invalid"}
    assert len(ex["valid"]) >= 15 and len(ex["invalid"]) >= 15
    assert not set(ex["valid"]) & set(ex["invalid"])
    assert all(isinstance(s, str) for s in ex["valid"] + ex["invalid"])


@pytest.mark.parametrize("name", GRAMMARS)
def test_shipped_grammar_has_header_comment(name):
    assert _read("grammars", name + ".ebnf").startswith("#")


@pytest.mark.parametrize("name,label,s", _cases())
def test_twin_agrees_with_examples(name, label, s):
    twin = _read("tests", "oracle", name + ".lark")
    assert lark_accepts(twin, s) == (label == "valid")


@pytest.mark.parametrize("name,label,s", _cases())
def test_shipped_ebnf_agrees_with_examples(name, label, s):
    # Checks the .ebnf text itself (through the independent dialect reader),
    # not only its hand-written twin.
    lark_text = ebnf_to_lark(_read("grammars", name + ".ebnf"))
    assert lark_accepts(lark_text, s) == (label == "valid")


def test_lark_escaping_is_exact():
    chars = [chr(c) for c in range(0x00, 0x80)] + ["é", "\u00a0", "\u2028", "日", "🙂"]
    s = "".join(chars)
    plain = "root: " + " ".join("/%s/" % lark_regex_char(c) for c in chars) + "\n"
    classes = "root: " + " ".join("/[%s]/" % lark_regex_char(c) for c in chars) + "\n"
    assert lark_accepts(plain, s)
    assert lark_accepts(classes, s)
    assert not lark_accepts(plain, s[1:] + s[0])


# --------------------------------------------------------------------------
# Malformed grammar corpus


MALFORMED = json.loads(_read("tests", "data", "malformed_grammars.json"))


def test_malformed_corpus_shape():
    assert len(MALFORMED) >= 60
    assert len({c["grammar"] for c in MALFORMED}) == len(MALFORMED)
    seen = set()
    for c in MALFORMED:
        assert set(c) <= {"grammar", "cause", "line", "column", "mentions"}, c
        assert c["cause"] in CAUSES, c
        seen.add(c["cause"])
        line, col = c["line"], c["column"]
        assert (line == 0) == (col == 0), c
        if line:
            lines = c["grammar"].split("\n")
            assert 1 <= line <= len(lines), c
            assert 1 <= col <= len(lines[line - 1]) + 1, c
    assert seen == CAUSES


@pytest.mark.parametrize("case", MALFORMED, ids=lambda c: repr(c["grammar"])[:40])
def test_reference_reader_rejects_malformed(case):
    with pytest.raises(EbnfSyntaxError) as info:
        parse_ebnf(case["grammar"])
    err = info.value
    assert case["cause"] in err.cause.lower()
    if case["line"]:
        assert (err.line, err.column) == (case["line"], case["column"])
    for name in case.get("mentions", []):
        assert name in err.cause


# --------------------------------------------------------------------------
# Random grammars


_SETTINGS = settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.data_too_large])


@_SETTINGS
@given(st.data())
def test_random_grammar_twin_accepts_derivations(data):
    g = data.draw(grammar_gen.random_grammars())
    lark_parser(g.lark)  # compiles
    for _ in range(4):
        s = data.draw(grammar_gen.derivations(g))
        assert lark_accepts(g.lark, s), s


@_SETTINGS
@given(st.data())
def test_random_grammar_ebnf_means_the_same_as_lark(data):
    g = data.draw(grammar_gen.random_grammars())
    from_ebnf = ebnf_to_lark(g.ebnf)
    for _ in range(6):
        s = data.draw(grammar_gen.strings_for(g))
        assert lark_accepts(from_ebnf, s) == lark_accepts(g.lark, s), s
