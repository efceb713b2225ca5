"""Every malformed grammar raises GrammarError naming the cause and its position; hostile input
(deep nesting, huge bounds, garbage bytes) fails fast with a typed error, never a crash."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

import formgate

CORPUS = json.loads((ROOT / "tests" / "data" / "malformed_grammars.json").read_text())


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 50


@pytest.mark.parametrize("case", CORPUS, ids=[str(i) for i in range(len(CORPUS))])
def test_malformed_grammar(case: dict) -> None:
    with pytest.raises(formgate.GrammarError) as info:
        formgate.Grammar.from_ebnf(case["grammar"])
    err = info.value
    assert case["cause"] in err.cause.lower(), (case, err.cause)
    for name in case.get("mentions", []):
        assert name in err.cause, (case, err.cause)
    if case["line"]:
        assert (err.line, err.column) == (case["line"], case["column"]), (case, str(err))
        assert f"line {err.line}, column {err.column}" in str(err)
        assert "^" in str(err)  # caret excerpt


def test_error_message_shape() -> None:
    with pytest.raises(formgate.GrammarError) as info:
        formgate.Grammar.from_ebnf('root ::= "a"\nb ::= "x" | zz "y"')
    assert str(info.value) == (
        "line 2, column 13: undefined rule 'zz'\n  b ::= \"x\" | zz \"y\"\n              ^"
    )


def test_left_recursion_names_cycle() -> None:
    with pytest.raises(formgate.GrammarError, match=r"left recursion: (a -> b -> a|b -> a -> b)"):
        formgate.Grammar.from_ebnf('root ::= a\na ::= b "x" | "y"\nb ::= a "z" | "w"')


def test_deep_nesting_is_a_limit_error() -> None:
    depth = formgate._core.MAX_NESTING_DEPTH + 10
    with pytest.raises(formgate.LimitError):
        formgate.Grammar.from_ebnf("root ::= " + "(" * depth + '"a"' + ")" * depth)
    with pytest.raises(formgate.LimitError):
        formgate.Grammar.from_ebnf('root ::= "a"' + "?" * depth)


def test_repetition_bound_limit() -> None:
    with pytest.raises(formgate.LimitError, match="repetition bound"):
        formgate.Grammar.from_ebnf('root ::= "a"{0,1000001}')
    formgate.Grammar.from_ebnf('root ::= "a"{0,1000000}')


def test_root_can_be_chosen() -> None:
    g = formgate.Grammar.from_ebnf('start ::= "x" other\nother ::= "y"', root="start")
    assert g.root_name == "start"
    with pytest.raises(formgate.GrammarError, match="no rule named 'root'"):
        formgate.Grammar.from_ebnf('start ::= "x"')


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('root::=|()[]{}*+?."\\^-ab1,#\n\t \x00é')), max_size=40))
def test_garbage_never_crashes(text: str) -> None:
    try:
        formgate.Grammar.from_ebnf(text)
    except formgate.GrammarError as err:
        assert err.cause
