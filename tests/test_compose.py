"""Grammar composition (``Grammar.union``/``Grammar.concat``) and JSON schemas embedded in EBNF
and Lark (``%json``).

Oracles: Python's ``re.fullmatch`` for the parts (random regexes over {a, b}), every split of a
string for ``concat``, and the ``jsonschema`` validator for embedded schemas. Strings are checked
exhaustively (all strings over {a, b} up to length 5) and on sentences sampled from the parts; a
byte-level vocabulary makes the matcher a plain string acceptor.
"""

from __future__ import annotations

import itertools
import json
import re

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formgate
from formgate.strategies import from_grammar, from_json_schema

BYTES = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
COMPILER = formgate.GrammarCompiler(BYTES, max_threads=1)
SMALL = settings(max_examples=30, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ALL_SHORT = ["".join(p) for n in range(6) for p in itertools.product("ab", repeat=n)]


def accepts(grammar, s: str) -> bool:
    m = formgate.GrammarMatcher(COMPILER.compile_grammar(grammar))
    return m.accept_string(s) and m.is_completed()


# ---------------------------------------------------------------------- union and concat

# Small regexes over {a, b}: each part is compiled by formgate and checked by `re`.
regexes = st.recursive(
    st.sampled_from(["a", "b", "[ab]", "a?", "(ab)*"]),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"(?:{p[0]}{p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"(?:{p[0]}|{p[1]})"),
        inner.map(lambda r: f"(?:{r})*"),
        inner.map(lambda r: f"(?:{r}){{1,2}}"),
    ),
    max_leaves=5,
)


def part(pattern: str, clash: bool) -> "formgate.Grammar | str":
    """The regex as a Grammar, or (``clash``) as EBNF text whose rules are named ``root`` and
    ``x`` in every part, so composing two of them would clash without renaming."""
    body = str(formgate.Grammar.from_regex(pattern)).split("::=", 1)[1].strip()
    return f"root ::= x\nx ::= {body}\n" if clash else formgate.Grammar.from_regex(pattern)


def in_concat(patterns: list[str], s: str) -> bool:
    if not patterns:
        return s == ""
    return any(re.fullmatch(patterns[0], s[:i]) and in_concat(patterns[1:], s[i:])
               for i in range(len(s) + 1))


@SMALL
@given(st.lists(regexes, min_size=1, max_size=3), st.booleans(), st.data())
def test_union_accepts_exactly_what_some_part_accepts(patterns, clash, data) -> None:
    g = formgate.Grammar.union(*[part(p, clash) for p in patterns])
    samples = [data.draw(from_grammar(formgate.Grammar.from_regex(p), max_bytes=8))
               for p in patterns]
    for s in ALL_SHORT + samples:
        assert accepts(g, s) == any(re.fullmatch(p, s) for p in patterns), (patterns, s)


@SMALL
@given(st.lists(regexes, min_size=1, max_size=3), st.booleans(), st.data())
def test_concat_accepts_exactly_the_splits(patterns, clash, data) -> None:
    g = formgate.Grammar.concat(*[part(p, clash) for p in patterns])
    sample = "".join(data.draw(from_grammar(formgate.Grammar.from_regex(p), max_bytes=6))
                     for p in patterns)
    assert accepts(g, sample)
    for s in ALL_SHORT:
        assert accepts(g, s) == in_concat(patterns, s), (patterns, s)


@SMALL
@given(regexes, regexes, regexes)
def test_nested_composition(a, b, c) -> None:
    g = formgate.Grammar.union(formgate.Grammar.concat(part(a, True), part(b, True)),
                               part(c, True))
    assert formgate.Grammar.from_ebnf(str(g)).__str__() == str(g)  # prints parseable EBNF
    for s in ALL_SHORT:
        assert accepts(g, s) == (in_concat([a, b], s) or bool(re.fullmatch(c, s))), s


def balanced(s: str) -> bool:
    depth = 0
    for c in s:
        depth += {"(": 1, ")": -1}.get(c, 99)
        if depth < 0 or depth >= 99:
            return False
    return depth == 0


def test_recursive_parts() -> None:
    """Recursive rules (beyond what the regex parts exercise) survive the renaming: the
    balanced-parenthesis language, with the same rule names in every part."""
    dyck = 'root ::= x\nx ::= "" | "(" x ")" x'
    a_plus = 'root ::= x\nx ::= "a" | "a" x'
    u = formgate.Grammar.union(dyck, a_plus)
    c = formgate.Grammar.concat(dyck, a_plus, dyck)
    for n in range(7):
        for t in itertools.product("()a", repeat=n):
            s = "".join(t)
            assert accepts(u, s) == (balanced(s) or (s != "" and set(s) == {"a"})), s
            head, tail = s[:s.find("a")], s[s.rfind("a") + 1:]
            expected = ("a" in s and balanced(head) and balanced(tail)
                        and set(s[len(head):len(s) - len(tail)]) == {"a"})
            assert accepts(c, s) == expected, s


def test_parts_from_every_frontend_and_other_root_names() -> None:
    g = formgate.Grammar.concat(
        formgate.Grammar.from_ebnf('main ::= "<" x\nx ::= "a"+', root="main"),
        formgate.Grammar.from_lark('start: "b" C\nC: "c"'),
        formgate.Grammar.from_json_schema({"enum": [1, "x"]}, any_whitespace=False),
        'root ::= ">"')
    assert g.root_name == "root"
    assert accepts(g, '<aabc"x">') and accepts(g, "<abc1>")
    assert not accepts(g, "<bc1>") and not accepts(g, "<abc2>")


def test_composition_errors() -> None:
    with pytest.raises(ValueError, match="at least one"):
        formgate.Grammar.union()
    with pytest.raises(ValueError, match="at least one"):
        formgate.Grammar.concat()
    with pytest.raises(TypeError, match="part 1 is a int"):
        formgate.Grammar.union('root ::= "a"', 3)
    with pytest.raises(formgate.GrammarError) as e:
        formgate.Grammar.concat('root ::= "a"', 'root ::= "b" y')
    assert (e.value.line, e.value.column) == (1, 14)


# ---------------------------------------------------------------------- %json in EBNF/Lark

SCHEMAS = [
    {"type": "integer", "minimum": -5, "maximum": 300},
    {"type": "array", "items": {"enum": ["x", 2, None]}, "maxItems": 3},
    {"type": "object", "properties": {"id": {"type": "integer"}, "tag": {"type": "string",
     "maxLength": 3}}, "required": ["id"], "additionalProperties": False},
    {"anyOf": [{"type": "boolean"}, {"type": "string", "pattern": "^[a-c]+$"}]},
    {"type": "object", "properties": {"p": {"type": "array", "items": {"type": "number"}}},
     "additionalProperties": {"type": "null"}},
]


def embedded(schema: dict, syntax: str):
    """``<<`` + an instance + ``>>``, the schema named in EBNF and inline in Lark."""
    if syntax == "ebnf":
        return formgate.Grammar.from_ebnf_with_schemas('root ::= "<<" %json s ">>"',
                                                       {"s": schema})
    return formgate.Grammar.from_lark(f'start: "<<" %json {json.dumps(schema)} ">>"')


def mutants(text: str, rng) -> list[str]:
    alphabet = '{}[]",:0123456789-.abcxyz \\e'
    out = []
    for _ in range(12):
        i = rng.randrange(len(text) + 1)
        c = rng.choice(alphabet)
        out += [text[:i] + c + text[i:], text[:i] + c + text[i + 1:], text[:i] + text[i + 1:]]
    return out


@pytest.mark.parametrize("syntax", ["ebnf", "lark"])
@pytest.mark.parametrize("index", range(len(SCHEMAS)))
def test_embedded_schema_accepts_valid_and_rejects_invalid(index: int, syntax: str) -> None:
    schema = SCHEMAS[index]
    validator = jsonschema.Draft202012Validator(schema)
    compiled = COMPILER.compile_grammar(embedded(schema, syntax))

    def ok(s: str) -> bool:
        m = formgate.GrammarMatcher(compiled)
        return m.accept_string(s) and m.is_completed()

    def valid(text: str) -> bool:
        try:
            return validator.is_valid(json.loads(text))
        except ValueError:
            return False

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(from_json_schema(schema, max_bytes=40, as_text=True), st.randoms())
    def check(text, rng):
        assert valid(text)
        # json.dumps spacing (free whitespace allows it); raw non-ASCII, see docs/json_schema.md
        pretty = json.dumps(json.loads(text), ensure_ascii=False)
        assert ok(f"<<{text}>>") and ok(f"<<{pretty}>>")
        assert not ok(text) and not ok(f"<<{text}>") and not ok(f"<{text}>>")
        for bad in mutants(text, rng):
            if ok(f"<<{bad}>>"):
                assert valid(bad), bad  # sound: nothing invalid gets through
            if not valid(bad.strip()):
                assert not ok(f"<<{bad}>>"), bad

    check()


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_embedded_schema_accepts_independent_instances(data) -> None:
    """Instances from hypothesis-jsonschema (not formgate's own sampler); schemas whose objects
    have at most one property, so key order does not matter."""
    from hypothesis_jsonschema import from_schema

    schema = data.draw(st.sampled_from([s for s in SCHEMAS if len(s.get("properties", {})) < 2
                                        and "additionalProperties" not in s]))
    value = data.draw(from_schema(schema))
    assert accepts(embedded(schema, "ebnf"), f"<<{json.dumps(value)}>>")
    assert accepts(embedded(schema, "lark"), f"<<{json.dumps(value)}>>")


def test_embedded_schemas_are_shared_and_their_rules_never_clash() -> None:
    text = ('root ::= %json {"const": 1} "," %json p "," %json {"const": 1} "," json0_root\n'
            'json0_root ::= "own rule"\n'
            'ws ::= "?"')
    ebnf = formgate.compose.ebnf_with_schemas(text, {"p": {"type": "boolean"}},
                                              any_whitespace=False)
    assert ebnf.count("_root ::= (\"1\"") == 1  # one set of rules for the repeated schema
    g = formgate.Grammar.from_ebnf(ebnf)
    assert accepts(g, "1,true,1.0,own rule") and not accepts(g, "1,true,1,1")


def test_json_inside_strings_classes_and_comments_is_text() -> None:
    g = formgate.Grammar.from_ebnf_with_schemas(
        'root ::= "%json {}" [%json] # %json {"x"\n')
    assert accepts(g, "%json {}j") and not accepts(g, "%json {}{}")
    lark = formgate.Grammar.from_lark('start: "%json" /%json/ // %json [\n')
    assert accepts(lark, "%json%json")


def test_lark_embedding_with_ignore_and_pydantic_schema() -> None:
    from pydantic import BaseModel, ConfigDict

    class Point(BaseModel):
        model_config = ConfigDict(extra="forbid")
        x: int
        y: int

    g = formgate.Grammar.from_lark('start: "points" (%json point)+\n'
                                   '%import common.WS\n%ignore WS',
                                   schemas={"point": Point})
    assert accepts(g, 'points {"x": 1, "y": 2}  {"x":3,"y":-4}')
    assert not accepts(g, 'points {"y": 1, "x": 2}') and not accepts(g, "points")
    inline = COMPILER.compile_lark('start: "n=" %json {"type": "integer", "maximum": 9}')
    m = formgate.GrammarMatcher(inline)
    assert m.accept_string("n=-3") and m.is_completed()
    assert not formgate.GrammarMatcher(inline).accept_string("n=10")


ERRORS = [
    # (syntax, text, schemas, error class, line, column, message part)
    ("ebnf", 'root ::= "a"\n  %json {"type": 1}', None, formgate.SchemaError, 2, 3,
     "'type' must be"),
    ("ebnf", 'root ::= %json {"type": "integer", "minimum": 3, "maximum": 1}', None,
     formgate.SchemaError, 1, 10, "unsatisfiable"),
    ("ebnf", 'root ::= %json {"type": "integer",}', None, formgate.GrammarError, 1, 35,
     "not JSON"),
    ("ebnf", 'root ::= "x" %json persn', {"person": {}}, formgate.GrammarError, 1, 20,
     "no schema of that name (schemas: person)"),
    ("ebnf", 'root ::= %json', None, formgate.GrammarError, 1, 15, "not JSON"),
    ("ebnf", 'root ::= %json [1]', None, formgate.SchemaError, 1, 16,
     "a schema is a JSON object or a boolean, not [1]"),
    ("ebnf", 'root ::= %json "{}"', None, formgate.SchemaError, 1, 16, "not \"{}\""),
    ("ebnf", 'root ::= %json p', {"p": 42}, formgate.SchemaError, 1, 10, "schema must be"),
    ("lark", 'start: A\nA: "a" %json {}', None, formgate.GrammarError, 2, 8,
     "not in the definition of terminal A"),
    ("lark", 'start: "a"\n | %json nope', None, formgate.GrammarError, 2, 10,
     "no schema of that name (schemas: none given)"),
    ("lark", 'start: %json {"uniqueItems": true}', None, formgate.SchemaError, 1, 8,
     "uniqueItems"),
]


@pytest.mark.parametrize("syntax,text,schemas,cls,line,column,part", ERRORS)
def test_errors_name_the_position(syntax, text, schemas, cls, line, column, part) -> None:
    build = (formgate.Grammar.from_ebnf_with_schemas if syntax == "ebnf"
             else formgate.Grammar.from_lark)
    with pytest.raises(cls) as e:
        build(text, schemas)
    assert (e.value.line, e.value.column) == (line, column), str(e.value)
    assert part in str(e.value) and f"line {line}, column {column}" in str(e.value)


def test_later_errors_keep_their_position() -> None:
    """The text after a (multi-line) %json keeps its lines and columns, so the core's errors
    point into the grammar as written."""
    text = 'root ::= %json {\n  "type": "integer"\n} "x" undefined_rule'
    with pytest.raises(formgate.GrammarError) as e:
        formgate.Grammar.from_ebnf_with_schemas(text)
    assert (e.value.line, e.value.column) == (3, 7)
    lark = 'start: "x" %json {"type": "null"} y\n'
    with pytest.raises(formgate.GrammarError, match="y"):
        formgate.Grammar.from_lark(lark)


def test_json_next_to_names() -> None:
    """`%json` glued to a name is not the keyword; a name right after the schema stays apart."""
    g = formgate.Grammar.from_ebnf_with_schemas('root ::= %json true"x" x\nx ::= "y"')
    assert accepts(g, "falsexy") and accepts(g, "[1]xy") and not accepts(g, "truex")
    assert accepts(formgate.Grammar.from_ebnf_with_schemas('root ::= %json {"const": 1}x\n'
                                                           'x ::= "y"', any_whitespace=False),
                   "1y")
    with pytest.raises(formgate.GrammarError, match="unexpected character '%'"):
        formgate.Grammar.from_ebnf_with_schemas('root ::= x%json {}\nx ::= "a"')


def test_bad_schema_names_are_refused() -> None:
    with pytest.raises(ValueError, match="not a name"):
        formgate.Grammar.from_ebnf_with_schemas('root ::= "a"', {"a b": {}})


def test_docstring_examples() -> None:
    import doctest

    from formgate import compose, embedded_json, lark_grammar

    for module in (compose, embedded_json, lark_grammar):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_special_token_terminals_are_not_renamed() -> None:
    g = formgate.Grammar.union('root ::= <|im_end|> x\nx ::= <[5]>', 'root ::= "b" x\nx ::= "c"')
    assert "g0_root ::= <|im_end|> g0_x" in str(g) and "g0_x ::= <[5]>" in str(g)
    e = formgate.Grammar.from_ebnf_with_schemas('root ::= <[5]> %json {"type": "null"} <|x|>')
    assert str(e).startswith("root ::= <[5]> json")


def test_compile_lark_passes_named_schemas_and_options() -> None:
    """``GrammarCompiler.compile_lark`` takes ``schemas`` and the schema options like
    ``Grammar.from_lark``; checked token by token on the shipped BPE fixture tokenizer."""
    from conftest import hf_tokenizer, tokenizer_info

    schema = {"type": "object", "properties": {"id": {"type": "integer", "minimum": 0}},
              "required": ["id"], "additionalProperties": False}
    compiler = formgate.GrammarCompiler(tokenizer_info("tokenizer_bpe_small"), max_threads=1)
    cg = compiler.compile_lark('start: "row " %json row', schemas={"row": schema},
                               any_whitespace=False)
    tok = hf_tokenizer("tokenizer_bpe_small")

    def accepted(text: str) -> bool:
        m = formgate.GrammarMatcher(cg)
        ids = tok.encode(text, add_special_tokens=False)
        return all(m.accept_token(t) for t in ids) and m.is_completed()

    validator = jsonschema.Draft202012Validator(schema)
    for instance, valid in [('{"id":7}', True), ('{"id":-1}', False), ('{"id":7,"x":1}', False),
                            ("{}", False), ('{"id": 7}', False)]:
        # '{"id": 7}' is valid JSON for the schema but not compact: any_whitespace=False reached
        # the converter.
        assert validator.is_valid(json.loads(instance)) == (valid or instance == '{"id": 7}')
        assert accepted(f"row {instance}") == valid, instance
    with pytest.raises(formgate.GrammarError, match="no schema of that name"):
        compiler.compile_lark('start: %json row')
