"""Tool-call grammars and parsing: generated calls are accepted (byte by byte and token by token
with real tokenizers) and parse back to the same calls; wrong tool names, invalid arguments and
text outside the allowed places are rejected; ``jsonschema`` is the oracle for arguments."""

from __future__ import annotations

import glob
import json
import random
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formgate
from conftest import SHARED, hf_tokenizer, tokenizer_info
from formgate.tools import (ToolCall, ToolCallFormat, ToolCallParseError, compile_tool_calls,
                            get_format, parse_tool_calls, tool_calls_ebnf)

BYTE_VOCAB = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
COMPILER = formgate.GrammarCompiler(BYTE_VOCAB, max_threads=1)
FORMATS = ["json", "llama3", "hermes", "mistral",
           ToolCallFormat("xml", begin="<function={name}>", end="</function>")]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string", "minLength": 1},
                                     "unit": {"enum": ["C", "F"]}},
    "required": ["city"], "additionalProperties": False}}}
ADD = {"type": "function", "function": {"name": "add", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"], "additionalProperties": False}}}
TOOLS = [WEATHER, ADD]


def render(fmt, calls: list[tuple[str, dict]]) -> str:
    """The text of one call section, spelled as the grammar's formats spell it."""
    f = get_format(fmt)
    body = f.separator.join(f.call_begin(n) + json.dumps(a, ensure_ascii=False) + f.call_end(n) for n, a in calls)
    return f.section_begin + body + f.section_end


def _accepts(compiled, s: str) -> bool:
    m = formgate.GrammarMatcher(compiled)
    return m.accept_string(s) and m.is_completed()


def _fname(fmt) -> str:
    return fmt if isinstance(fmt, str) else fmt.name


calls_st = st.lists(st.one_of(
    st.tuples(st.just("get_weather"), st.fixed_dictionaries(
        {"city": st.text(min_size=1, max_size=8)},
        optional={"unit": st.sampled_from(["C", "F"])}).map(  # the schema's property order
            lambda d: {k: d[k] for k in ("city", "unit") if k in d})),
    st.tuples(st.just("add"), st.builds(lambda a, b: {"a": a, "b": b}, st.integers(), st.integers()))),
    min_size=1, max_size=3)


@pytest.mark.parametrize("fmt", FORMATS, ids=_fname)
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(calls=calls_st, before=st.text(max_size=12), after=st.text(max_size=12))
def test_calls_round_trip(fmt, calls, before, after) -> None:
    trigger = get_format(fmt).effective_trigger
    before, after = before.replace(trigger[0], ""), after.replace(trigger[0], "")
    auto = COMPILER.compile_grammar(tool_calls_ebnf(TOOLS, format=fmt))
    required = COMPILER.compile_grammar(tool_calls_ebnf(TOOLS, format=fmt,
                                                        tool_choice="required"))
    section = render(fmt, calls)
    text = before + section + after
    assert _accepts(auto, text), text
    assert _accepts(required, section), section
    assert not _accepts(required, before + section + "x"), "required: calls only"
    assert parse_tool_calls(text, TOOLS, fmt) == [ToolCall(n, a) for n, a in calls]
    single = COMPILER.compile_grammar(tool_calls_ebnf(TOOLS, format=fmt, parallel=False))
    assert _accepts(single, text) == (len(calls) == 1)


@pytest.mark.parametrize("fmt", FORMATS, ids=_fname)
def test_invalid_calls_rejected(fmt) -> None:
    auto = COMPILER.compile_grammar(tool_calls_ebnf(TOOLS, format=fmt))
    named = COMPILER.compile_grammar(tool_calls_ebnf(TOOLS, format=fmt,
                                                     tool_choice={"name": "add"}))
    good = render(fmt, [("add", {"a": 1, "b": 2})])
    assert _accepts(auto, "Hi! " + good) and _accepts(named, good)
    assert _accepts(auto, "no call at all")
    assert not _accepts(named, render(fmt, [("get_weather", {"city": "Oslo"})]))
    assert not _accepts(named, render(fmt, [("add", {"a": 1, "b": 2})] * 2))
    bad = [render(fmt, [("delete_all", {})]),                      # unknown tool
           render(fmt, [("add", {"a": 1})]),                        # missing argument
           render(fmt, [("add", {"a": 1, "b": "2"})]),              # wrong type
           render(fmt, [("get_weather", {"city": ""})]),            # minLength
           render(fmt, [("get_weather", {"city": "x", "unit": "K"})]),  # enum
           render(fmt, [("get_weather", {"city": "x", "zip": 1})])]     # additionalProperties
    for text in bad:
        assert not _accepts(auto, "ok " + text), text
        with pytest.raises(ToolCallParseError):
            parse_tool_calls("ok " + text, TOOLS, fmt)


def test_auto_mode_allows_free_text_but_not_a_half_call() -> None:
    auto = COMPILER.compile_grammar(tool_calls_ebnf(TOOLS, format="hermes"))
    assert _accepts(auto, "I use <tool and <tool_ca tags freely <")
    m = formgate.GrammarMatcher(auto)
    assert m.accept_string("Sure <tool_call>")
    assert not m.is_completed()  # once triggered, the call must be finished
    assert not m.accept_string("\nhello")


def test_tool_choice_errors() -> None:
    with pytest.raises(ValueError, match="not among the tools"):
        tool_calls_ebnf(TOOLS, format="json", tool_choice={"name": "nope"})
    with pytest.raises(ValueError, match="unknown tool-call format"):
        tool_calls_ebnf(TOOLS, format="chatml-ish")
    with pytest.raises(ValueError, match="duplicate"):
        tool_calls_ebnf([ADD, ADD], format="json")
    with pytest.raises(ValueError, match="first character"):
        tool_calls_ebnf(TOOLS, format=ToolCallFormat("x", begin="aa{name}", end="", ))


def _maskbench_tools(n: int) -> list[tuple[dict, list]]:
    files = sorted(glob.glob(str(SHARED / "maskbench" / "Glaiveai2K---*.json")))
    if not files:
        pytest.skip("../shared/maskbench not available")
    rng = random.Random(5)
    out = []
    for f in rng.sample(files, len(files)):
        d = json.loads(Path(f).read_text())
        schema = d["schema"]
        try:
            formgate.Grammar.from_json_schema(schema)
        except formgate.GrammarError:
            continue  # outside the converter's subset; its own tests cover that
        name = "fn_" + Path(f).stem.split("---")[1][:40].replace(".", "_")
        out.append(({"type": "function", "function": {"name": name, "parameters": schema}},
                    d["tests"]))
        if len(out) == n:
            return out
    return out


@pytest.mark.parametrize("tok", ["tokenizer_bpe_small", "llama3", "qwen2"])
@pytest.mark.parametrize("fmt", ["llama3", "hermes", "mistral", "json"])
def test_maskbench_calls_token_by_token(tok: str, fmt: str) -> None:
    """Function-calling schemas from maskbench: valid arguments accepted token by token (markers
    spelled out: split_special_tokens), invalid ones rejected, parsing round-trips."""
    entries = _maskbench_tools(6)
    tools = [t for t, _ in entries]
    tokenizer = hf_tokenizer(tok)
    compiled = compile_tool_calls(formgate.GrammarCompiler(tokenizer_info(tok)), tools,
                                  format=fmt)
    checked = rejected = 0
    for tool, tests in entries:
        name = tool["function"]["name"]
        validator = jsonschema.Draft202012Validator(tool["function"]["parameters"])
        for case in tests[:4]:
            text = "Calling. " + render(fmt, [(name, case["data"])])
            ok = validator.is_valid(case["data"])
            if ok:
                ids = tokenizer(text, add_special_tokens=False,
                                split_special_tokens=True)["input_ids"]
                m = formgate.GrammarMatcher(compiled)
                assert all(m.accept_token(t) for t in ids) and m.is_completed(), text
                assert parse_tool_calls(text, tools, fmt) == [ToolCall(name, case["data"])]
                checked += 1
            else:
                assert not _accepts(compiled, text) or not case.get("valid", True), text
                with pytest.raises(ToolCallParseError):
                    parse_tool_calls(text, tools, fmt)
                rejected += 1
    assert checked > 0
