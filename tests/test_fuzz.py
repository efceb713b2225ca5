"""formgate.fuzz: generated strings are sentences (judged by independent oracles: lark's Earley
parser, Python's re), uniform mode is uniform, errors are clear, mutants are rejected near
misses, LM-guided sampling stays in the language."""

from __future__ import annotations

import collections
import itertools
import re
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formgate
import formgate.fuzz as fz
from conftest import FIXTURES, GRAMMARS, SHIPPED_GRAMMARS, grammar_text
from grammar_gen import random_grammars
from oracle.lark_oracle import lark_accepts
from formgate.fuzz.acceptor import compile_bytes
from formgate.fuzz.uniform import count_tree

ORACLE = Path(__file__).resolve().parent / "oracle"


@pytest.mark.parametrize("name", SHIPPED_GRAMMARS)
@pytest.mark.parametrize("mode", ["random-walk", "uniform"])
def test_samples_of_shipped_grammars_are_sentences_for_lark(name, mode):
    lark_text = (ORACLE / f"{name}.lark").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fz.UniformFallbackWarning)
        samples = fz.generate(grammar_text(name), 12, max_bytes=48, seed=7, mode=mode)
    assert len(samples) == 12
    for s in samples:
        assert len(s.encode("utf-8")) <= 48
        assert lark_accepts(lark_text, s), s
    assert len(set(samples)) > 3  # not one string over and over


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(g=random_grammars(), seed=st.integers(0, 2**16))
def test_samples_of_random_grammars_are_sentences_for_lark(g, seed):
    try:
        samples = fz.generate(g.ebnf, 4, max_bytes=24, seed=seed)
    except fz.NoStringError:
        return  # the shortest sentence may be longer than 24 bytes
    except formgate.LimitError:
        return  # exponentially ambiguous input: see tests/grammar_gen.py
    for s in samples:
        assert len(s.encode("utf-8")) <= 24
        assert lark_accepts(g.lark, s), s


@pytest.mark.parametrize("pattern", [r"[0-9]{2,4}-[a-z]+", r"(ab|c)*d?", r"é[^a]{1,3}🙂?",
                                     r"\(\d+(,\d+)*\)", r"[a-c]{0,5}"])
def test_regex_samples_fullmatch_python_re(pattern):
    grammar = formgate.Grammar.from_regex(pattern)
    for mode in ("random-walk", "uniform"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fz.UniformFallbackWarning)
            for s in fz.generate(grammar, 20, max_bytes=12, seed=1, mode=mode):
                assert re.fullmatch(pattern, s), (pattern, s)


def _brute_force_count(pattern: str, alphabet: str, max_len: int) -> int:
    return sum(1 for k in range(max_len + 1) for chars in itertools.product(alphabet, repeat=k)
               if re.fullmatch(pattern, "".join(chars)))


@pytest.mark.parametrize("pattern,alphabet,max_len", [
    (r"[ab]{0,3}c?", "abc", 4), (r"(a|bc)*", "abc", 5), (r"a+b*|c", "abc", 4),
    (r"é?x{1,2}", "éx", 4),  # max_len in bytes; "é" is 2 bytes: brute force over characters
])
def test_uniform_count_equals_brute_force(pattern, alphabet, max_len):
    tree = count_tree(compile_bytes(formgate.Grammar.from_regex(pattern)), max_len)
    expected = sum(1 for k in range(max_len + 1) for chars in itertools.product(alphabet, repeat=k)
                   if re.fullmatch(pattern, "".join(chars))
                   and len("".join(chars).encode()) <= max_len)
    assert tree.count == expected


def test_uniform_frequencies_are_uniform_where_random_walk_is_not():
    # 1 + 26 sentences: a byte-by-byte walk picks "a" about half the time, uniform 1/27.
    grammar = 'root ::= "a" | "b" [a-z]'
    n = 2700
    uniform = collections.Counter(fz.generate(grammar, n, max_bytes=2, seed=5, mode="uniform"))
    assert set(uniform) == {"a"} | {"b" + c for c in "abcdefghijklmnopqrstuvwxyz"}
    # each count is Binomial(2700, 1/27): mean 100, sd 9.8; 5 sd either side
    assert all(50 <= c <= 150 for c in uniform.values()), uniform
    walk = collections.Counter(fz.generate(grammar, n, max_bytes=2, seed=5))
    assert walk["a"] > 600


def test_uniform_falls_back_with_a_warning():
    with pytest.warns(fz.UniformFallbackWarning):
        samples = fz.generate("root ::= [a-z]+", 5, max_bytes=12, seed=0, mode="uniform",
                              node_budget=1000)
    assert all(re.fullmatch("[a-z]+", s) and len(s) <= 12 for s in samples)


def test_length_bound_is_respected_near_the_minimum():
    # The only sentences within 7 bytes are "(" * k + "x" + ")" * k with k <= 3.
    grammar = 'root ::= "(" root ")" | "x"'
    samples = fz.generate(grammar, 50, max_bytes=7, seed=2)
    assert set(samples) <= {"x", "(x)", "((x))", "(((x)))"}
    assert "(((x)))" in samples and "x" in samples


def test_no_string_within_max_bytes_is_a_clear_error():
    with pytest.raises(fz.NoStringError, match="no string of at most 5 bytes") as e:
        fz.generate('root ::= "a"{10}', 3, max_bytes=5)
    assert e.value.proven
    with pytest.raises(fz.NoStringError):
        fz.generate('root ::= "ab"', 1, max_bytes=1, mode="uniform")
    assert fz.generate('root ::= ""', 3, max_bytes=0) == ["", "", ""]


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        fz.generate('root ::= "a"', 1, mode="fast")
    with pytest.raises(formgate.GrammarError):
        fz.generate('root ::= undefined_rule', 1)
    with pytest.raises(ValueError, match="both model and tokenizer"):
        fz.generate('root ::= "a"', 1, model=object())


def test_seed_makes_runs_repeatable_and_compiled_grammars_of_any_vocabulary_work():
    text = grammar_text("arithmetic")
    assert fz.generate(text, 8, seed=11) == fz.generate(text, 8, seed=11)
    other_vocab = formgate.TokenizerInfo([b"1", b"+", b"12", b"</s>"], stop_token_ids=[3])
    compiled = formgate.GrammarCompiler(other_vocab).compile_grammar(text)
    assert fz.generate(compiled, 8, seed=11) == fz.generate(text, 8, seed=11)


def test_json_schema_samples_validate():
    jsonschema = pytest.importorskip("jsonschema")
    import json

    schema = {"type": "object", "properties": {
        "id": {"type": "integer", "minimum": 0}, "tags": {"type": "array",
                                                          "items": {"enum": ["x", "y"]}},
        "name": {"type": "string", "maxLength": 5}}, "required": ["id"]}
    for s in fz.generate(formgate.Grammar.from_json_schema(schema), 30, max_bytes=80, seed=3):
        jsonschema.validate(json.loads(s), schema)


@pytest.mark.parametrize("grammar,valid", [
    ("root ::= [0-9]+", "123"),
    (grammar_text("json"), '{"a": [1, 2.5e3, "x"], "b": null}'),
    (grammar_text("sql_select"), "SELECT a, b FROM t WHERE a > 1"),
])
def test_mutants_are_one_edit_near_misses_that_the_oracle_rejects(grammar, valid):
    name = {"root ::= [0-9]+": None}.get(grammar, "json" if "json" in valid[:2] else "sql")
    ms = fz.mutants(grammar, valid, 20, seed=4)
    assert len(ms) == 20 and len(set(ms)) == 20
    for m in ms:
        assert abs(len(m) - len(valid)) <= 1 and m != valid
        if grammar == "root ::= [0-9]+":
            assert not re.fullmatch("[0-9]+", m)
        else:
            lark_name = "json" if valid.startswith("{") else "sql_select"
            assert not lark_accepts((ORACLE / f"{lark_name}.lark").read_text(), m), m


def test_mutants_refuse_an_invalid_seed_string():
    with pytest.raises(ValueError, match="not a sentence"):
        fz.mutants("root ::= [0-9]+", "12a", 3)


def test_lm_guided_samples_are_sentences():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(FIXTURES / "tokenizer_bpe_small"))
    torch.manual_seed(0)
    # A tiny randomly initialised model: the grammar, not the model, must keep outputs valid.
    config = transformers.GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=32,
                                     n_layer=1, n_head=2)
    model = transformers.GPT2LMHeadModel(config).eval()
    grammar = 'root ::= "{" ("\\"k\\": " [0-9]{1,3}) "}"'
    samples = fz.generate(grammar, 3, max_bytes=24, seed=0, model=model, tokenizer=tokenizer)
    assert samples
    for s in samples:
        assert re.fullmatch(r'\{"k": [0-9]{1,3}\}', s), s
