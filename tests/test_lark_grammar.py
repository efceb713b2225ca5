"""The Lark frontend against Lark's own Earley parser.

Oracles: ``lark.Lark(text, parser="earley", lexer="dynamic_complete")`` (every way to cut the
input into terminals, which is the language formgate compiles) and, for the shipped grammars,
``lexer="dynamic"`` too. Strings come from the grammar itself (random walks of formgate's
byte-level matcher), from the shipped example files, and from random mutations of both.
"""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import lark
import pytest

import formgate
from formgate.testing import allowed_tokens

ROOT = Path(__file__).resolve().parent.parent
BYTE_VOCAB = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
COMPILER = formgate.GrammarCompiler(BYTE_VOCAB, max_threads=1)
SHIPPED = ["json", "json_compact", "arithmetic", "sql_select"]
PRINTABLE = set(range(32, 127)) | {9, 10}


def _accepts(compiled, s: str) -> bool:
    m = formgate.GrammarMatcher(compiled)
    return m.accept_string(s) and m.is_completed()


def _lark_accepts(parser: lark.Lark, s: str) -> bool:
    try:
        parser.parse(s)
    except lark.exceptions.LarkError:
        return False
    return True


def random_walk(compiled, rng: random.Random, target_len: int) -> str | None:
    """A string of the grammar: random allowed bytes (printable ASCII when possible), stopping
    at a completed state once past ``target_len``; None if it gets stuck or runs too long."""
    m = formgate.GrammarMatcher(compiled)
    mask = formgate.allocate_token_bitmask(1, BYTE_VOCAB.vocab_size)
    out = bytearray()
    while len(out) < target_len * 4 + 40:
        if m.is_completed() and (len(out) >= target_len or rng.random() < 0.05):
            return out.decode("utf-8", errors="strict")
        m.fill_next_token_bitmask(mask)
        allowed = allowed_tokens(mask[0], BYTE_VOCAB.vocab_size)
        nice = [b for b in allowed if b in PRINTABLE]
        if not allowed:
            return out.decode() if m.is_completed() else None
        b = rng.choice(nice or allowed)
        assert m.accept_token(b)
        out.append(b)
    return None


def mutate(s: str, rng: random.Random, alphabet: str) -> str:
    i = rng.randrange(len(s) + 1)
    op = rng.randrange(3)
    if op == 0 and s:
        return s[:i] + s[i + 1:]
    if op == 1:
        return s[:i] + rng.choice(alphabet) + s[i:]
    return s[:i] + s[i:] * 2


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_lark_grammars_match_lark_and_ebnf(name: str) -> None:
    text = (ROOT / "grammars" / f"{name}.lark").read_text()
    compiled = COMPILER.compile_lark(text)
    ebnf = COMPILER.compile_grammar((ROOT / "grammars" / f"{name}.ebnf").read_text())
    dynamic = lark.Lark(text, parser="earley", lexer="dynamic")
    complete = lark.Lark(text, parser="earley", lexer="dynamic_complete")
    examples = json.loads((ROOT / "tests/data/grammar_examples" / f"{name}.json").read_text())
    rng = random.Random(name)
    strings = [(s, True) for s in examples["valid"]] + [(s, False) for s in examples["invalid"]]
    walks = [random_walk(compiled, rng, rng.randrange(1, 40)) for _ in range(40)]
    strings += [(s, True) for s in walks if s is not None]
    alphabet = "".join(sorted(set("".join(s for s, _ in strings)))) or "a"
    for s, _ in list(strings):
        strings.append((mutate(s, rng, alphabet), None))
    n_true = 0
    for s, expected in strings:
        verdict = _lark_accepts(complete, s)
        if expected is not None:
            assert verdict == expected, (name, s)
        assert _accepts(compiled, s) == verdict, (name, s)
        assert _accepts(ebnf, s) == verdict, (name, s)
        assert _lark_accepts(dynamic, s) == verdict, (name, s)
        n_true += verdict
    assert 0 < n_true < len(strings)


CONSTRUCTS = {
    "common_imports": ('start: (NUMBER | ESCAPED_STRING | CNAME)+\n'
                       '%import common (NUMBER, ESCAPED_STRING, CNAME, WS)\n%ignore WS'),
    "aliases_and_prefixes": ('?start: a "+" b -> plus | b\n!a: "x" | "y" -> why\nb: "z"+'),
    "templates": ('start: _list{item, ";"} | "[" _list{"q", ","} "]"\n'
                  '_list{x, sep}: x (sep x)*\nitem: /[a-c]+/'),
    "ignore_two_terminals": ('start: WORD+\n%import common.WORD\n%ignore " "\n'
                             '%ignore /#[^\\n]*\\n/'),
    "case_insensitive": 'start: "select"i /[a-z]+/i ("é"i)?\n%ignore " "',
    "left_recursion": 'start: start "," ITEM | ITEM\nITEM: /[0-9]/',
    "optional_and_maybe": 'start: "a" ["b"] "c"? ("d" | "e")*',
    "terminal_composition": ('start: KEY "=" VALUE\nKEY: LETTER (LETTER | "_")*\n'
                             'VALUE: DIGIT+ ("." DIGIT+)?\n%import common (LETTER, DIGIT)'),
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_constructs_match_lark_earley(name: str) -> None:
    text = CONSTRUCTS[name]
    compiled = COMPILER.compile_lark(text)
    oracle = lark.Lark(text, parser="earley", lexer="dynamic_complete")
    rng = random.Random(name)
    walks = [random_walk(compiled, rng, rng.randrange(1, 20)) for _ in range(60)]
    walks = [w for w in walks if w is not None]
    assert len(walks) > 15
    for s in walks:
        assert _lark_accepts(oracle, s), (name, s)
    alphabet = "".join(sorted(set("".join(walks)))) + '"\\# \n'
    for s in walks:
        for _ in range(3):
            t = mutate(s, rng, alphabet)
            assert _accepts(compiled, t) == _lark_accepts(oracle, t), (name, t)


def test_escaped_string_matches_lark() -> None:
    """common.ESCAPED_STRING uses a lookbehind; its hand translation is checked against Lark on
    every short string over the characters that matter."""
    text = 'start: ESCAPED_STRING\n%import common.ESCAPED_STRING'
    compiled = COMPILER.compile_lark(text)
    oracle = lark.Lark(text, parser="earley", lexer="dynamic")
    import itertools
    n = 0
    for k in range(6):
        for chars in itertools.product('"\\a\n', repeat=k):
            s = "".join(chars)
            assert _accepts(compiled, s) == _lark_accepts(oracle, s), s
            n += 1
    assert n > 1000


def test_ignore_positions() -> None:
    compiled = COMPILER.compile_lark('start: "a" "b"\n%ignore " "')
    for s in ["ab", " ab", "a b", "ab ", "  a  b  "]:
        assert _accepts(compiled, s), s
    # never inside a terminal
    assert not _accepts(COMPILER.compile_lark('start: "ab"\n%ignore " "'), "a b")


def test_priorities_warn() -> None:
    with pytest.warns(UserWarning, match="priorities are ignored.*A.*b"):
        formgate.Grammar.from_lark('start: b | A\nb.2: "x"\nA.3: "x"')


@pytest.mark.parametrize("text,match", [
    ('start: a', "Lark could not load"),  # undefined rule, reported by lark
    ('start: "a" (', "Lark could not load"),
    ('start: X\nX: /a(?=b)/', r"terminal X.*lookahead"),
    ('start: X\nX: /(a)\\1/', r"terminal X.*backreference"),
    ('start: X\n%declare X', "%declare"),
    ('start: a\na: b "x"\nb: a "y" | "z"', "left recursion"),
    ('start: X\nX: /a b/x', "flag 'x'"),
])
def test_unsupported_constructs_raise(text: str, match: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(formgate.GrammarError, match=match):
            COMPILER.compile_lark(text)


def test_start_rule_and_root_name_collision() -> None:
    text = 'root: "r"\nother: root "o"'
    assert _accepts(COMPILER.compile_lark(text, start="root"), "r")
    assert _accepts(COMPILER.compile_lark(text, start="other"), "ro")


# %json inside Lark rules, against Lark with the schema's language written as Lark terminals
# (schemas whose compact JSON a terminal states exactly).
EMBEDDED_JSON = {
    "integer": ('{"type": "integer"}', '/-?(0|[1-9][0-9]*)/'),
    "enum": ('{"enum": ["a", "b;c", 3]}', '/"a"|"b;c"|3(\\.0)?/'),
    "bool_array": ('{"type": "array", "items": {"type": "boolean"}}',
                   '/\\[((true|false)(,(true|false))*)?\\]/'),
    "named": ("point", '/\\{"x":-?(0|[1-9][0-9]*)\\}/'),
}
POINT = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"],
         "additionalProperties": False}


@pytest.mark.parametrize("name", sorted(EMBEDDED_JSON))
def test_embedded_json_matches_lark_earley(name: str) -> None:
    schema, terminal = EMBEDDED_JSON[name]
    rules = 'start: item (";" item)*\nitem: "x" | "v=" %json {}\n%ignore " "\n'
    text = rules.replace("%json {}", "%json " + schema)
    compiled = COMPILER.compile_grammar(formgate.Grammar.from_lark(
        text, schemas={"point": POINT}, any_whitespace=False))
    oracle = lark.Lark(rules.replace("%json {}", "JSON") + f"JSON: {terminal}\n",
                       parser="earley", lexer="dynamic_complete")
    rng = random.Random(name)
    walks = [w for w in (random_walk(compiled, rng, rng.randrange(1, 25)) for _ in range(60))
             if w is not None]
    assert len(walks) > 15 and any("v=" in w for w in walks)
    for s in walks:
        assert _lark_accepts(oracle, s), (name, s)
    alphabet = "".join(sorted(set("".join(walks)))) + '"\\{}[],.0 '
    for s in walks:
        for _ in range(4):
            t = mutate(s, rng, alphabet)
            assert _accepts(compiled, t) == _lark_accepts(oracle, t), (name, t)
