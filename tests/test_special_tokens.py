"""Special tokens as grammar terminals (`<[ID]>`, `<[NAME]>`, `<|NAME|>`): EBNF syntax and
errors, golden masks on a small vocabulary where the marker's text, a raw 0xFF token and an
ordinary token spelling a marker all exist, compile errors, tool calls with real tokenizers,
and the mask == accept_token invariant on random grammars mixing special tokens and text."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import tokenizer_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formgate
from formgate.testing import allowed_tokens, bitmask_to_bool, brute_force_bitmask
from formgate.tools import compile_tool_calls, get_format, parse_tool_calls

# ----------------------------------------------------------------------------- EBNF syntax


@pytest.mark.parametrize("text, printed", [
    ("root ::= <[128010]>", "root ::= <[128010]>"),
    ("root ::= <[007]>", "root ::= <[7]>"),
    ('root ::= <[<tool_call>]> "x"', 'root ::= <[<tool_call>]> "x"'),
    ("root ::= <[[TOOL_CALLS]]>", "root ::= <[[TOOL_CALLS]]>"),  # the name runs to the first ]>
    ("root ::= <|python_tag|>", "root ::= <|python_tag|>"),
    ("root ::= <[<|python_tag|>]>", "root ::= <|python_tag|>"),  # the same token, shorter
    ("root ::= <[<|a|>b]>", "root ::= <[<|a|>b]>"),
    ("root ::= <|a]>b|>", "root ::= <|a]>b|>"),
    ("root ::= <[é ü]>", "root ::= <[é ü]>"),
    ('root ::= (<|x|> | "a")* <[1]>{2} x\nx ::= <[12]>?',
     'root ::= (<|x|> | "a")* <[1]>{2} x\nx ::= <[12]>?'),
])
def test_parse_print_round_trip(text: str, printed: str) -> None:
    g = formgate.Grammar.from_ebnf(text)
    assert str(g) == printed + "\n"
    assert str(formgate.Grammar.from_ebnf(str(g))) == str(g)


def test_grammar_lists_its_special_tokens_once() -> None:
    g = formgate.Grammar.from_ebnf('root ::= <|a|> "x" <[5]> <[<|a|>]> <[[B]]>')
    assert g.special_tokens == ["<|a|>", "<[5]>", "<[[B]]>"]
    assert formgate.Grammar.from_ebnf('root ::= "<|a|>" [<]').special_tokens == []


@pytest.mark.parametrize("text, line, column, cause", [
    ("root ::= <[]>", 1, 10, "empty special token"),
    ('root ::= "a"\n  <[abc', 2, 3, "unterminated special token: missing ']>'"),
    ("root ::= <|abc", 1, 10, "unterminated special token: missing '|>'"),
    ("root ::= <[ab\n]>", 1, 10, "missing ']>' on this line"),
    ("root ::= <abc>", 1, 10, "a special token is written <[ID]>, <[NAME]> or <|NAME|>"),
    ("root ::= <", 1, 10, "unexpected character '<'"),
    ('root ::= "a" <[16777216]>', 1, 14, "exceeds the limit 16777215"),
])
def test_malformed_special_tokens(text: str, line: int, column: int, cause: str) -> None:
    with pytest.raises(formgate.GrammarError) as err:
        formgate.Grammar.from_ebnf(text)
    assert (err.value.line, err.value.column) == (line, column)
    assert cause in str(err.value)


# ----------------------------------------------------------------------- a small vocabulary

A, B, LT, TOOL, GT, SPELLED, TOOL_CALL, FF, FAKE_MARKER, EOS, UNNAMED, PYTAG, AB = range(13)
SMALL_VOCAB = [b"a", b"b", b"<", b"tool_call", b">", b"<tool_call>", b"", b"\xff",
               b"\xff\x00\x00\x06", b"</s>", b"", b"<|python_tag|>", b"ab"]


def small_info() -> formgate.TokenizerInfo:
    # SPELLED is an ordinary token with the marker's text; FAKE_MARKER's bytes are exactly
    # TOOL_CALL's marker; PYTAG is named by its encoded_vocab text.
    return formgate.TokenizerInfo(SMALL_VOCAB, stop_token_ids=[EOS],
                                  special_token_ids=[UNNAMED, PYTAG],
                                  special_tokens={"<tool_call>": TOOL_CALL})


def allowed(m: formgate.GrammarMatcher) -> list[int]:
    mask = formgate.allocate_token_bitmask(1, m.vocab_size)
    m.fill_next_token_bitmask(mask)
    fast = allowed_tokens(mask[0], m.vocab_size)
    assert fast == allowed_tokens(brute_force_bitmask(m)[0], m.vocab_size)
    return fast


def test_tokenizer_info_names_and_decoded_vocab() -> None:
    info = small_info()
    assert info.special_tokens == {"<tool_call>": TOOL_CALL, "<|python_tag|>": PYTAG,
                                   "</s>": EOS}
    assert info.special_token_ids == [UNNAMED, PYTAG, TOOL_CALL]
    # A special token given as b"" reads as its name; others keep what was given.
    assert info.decoded_vocab[TOOL_CALL] == b"<tool_call>"
    assert info.decoded_vocab[UNNAMED] == b"" and info.decoded_vocab[FF] == b"\xff"
    info.special_tokens["x"] = 1  # a copy: the tokenizer's names cannot change
    assert "x" not in info.special_tokens
    with pytest.raises(ValueError, match="outside"):
        formgate.TokenizerInfo([b"a"], special_tokens={"<t>": 3})


def test_golden_masks() -> None:
    cg = formgate.GrammarCompiler(small_info()).compile_grammar(
        'root ::= "a" <[<tool_call>]> "b" | "ab" <|python_tag|>')
    m = formgate.GrammarMatcher(cg)
    assert allowed(m) == [A, AB]
    assert m.accept_token(A)
    assert allowed(m) == [B, TOOL_CALL]
    for spelled in (LT, SPELLED, FAKE_MARKER, FF):
        assert not m.accept_token(spelled)
    assert m.accept_token(TOOL_CALL)
    assert allowed(m) == [B]
    assert m.accept_token(B) and allowed(m) == [EOS]
    m.reset()
    assert m.accept_token(AB) and allowed(m) == [PYTAG]
    assert m.accept_token(PYTAG) and m.is_completed() and allowed(m) == [EOS]


def test_unnamed_special_token_by_id_and_text_grammars_unchanged() -> None:
    compiler = formgate.GrammarCompiler(small_info())
    assert allowed(formgate.GrammarMatcher(compiler.compile_grammar("root ::= <[10]>"))) == [
        UNNAMED]
    # Without terminals no special token, 0xFF token or marker-spelling token is ever allowed.
    m = formgate.GrammarMatcher(compiler.compile_grammar("root ::= [^a]* | .*"))
    assert set(allowed(m)) == {A, B, LT, TOOL, GT, SPELLED, AB, EOS}


def test_strings_cannot_spell_markers() -> None:
    cg = formgate.GrammarCompiler(small_info()).compile_grammar('root ::= "a" <[<tool_call>]>')
    m = formgate.GrammarMatcher(cg)
    assert not m.accept_string("a<tool_call>")
    assert not m.accept_string(b"a\xff\x00\x00\x06")
    assert m.accept_string("a") and not m.accept_string(b"\xff\x00\x00\x06")
    assert m.accept_token(TOOL_CALL) and m.is_completed()


def test_jump_forward_stops_before_a_special_token() -> None:
    cg = formgate.GrammarCompiler(small_info()).compile_grammar(
        'root ::= "ab" <|python_tag|> "{}"')
    m = formgate.GrammarMatcher(cg)
    assert m.find_jump_forward_bytes() == b"ab"
    assert m.accept_string("ab")
    assert m.find_jump_forward_bytes() == b"" and m.find_jump_forward_string() == ""
    assert m.accept_token(PYTAG) and m.find_jump_forward_bytes() == b"{}"


@pytest.mark.parametrize("text, cause", [
    ("root ::= <|nope|>", "special token <|nope|>: the tokenizer has no special token of that"),
    ("root ::= <[5]>", "id 5 is not a special token"),  # the marker's text, as a text token
    ("root ::= <[7]>", "id 7 is not a special token"),  # the raw 0xFF token
    ("root ::= <[9]>", "id 9 is a stop token"),
    ("root ::= <[</s>]>", "id 9 is a stop token"),
    ("root ::= <[13]>", "id 13 is outside the vocabulary [0, 13)"),
])
def test_compile_errors_name_the_token_and_position(text: str, cause: str) -> None:
    compiler = formgate.GrammarCompiler(small_info())
    with pytest.raises(formgate.GrammarError) as err:
        compiler.compile_grammar('root ::= x\nx ::= "a"\n   ' + text.removeprefix("root ::= "))
    assert cause in str(err.value)
    assert (err.value.line, err.value.column) == (3, 4)


def test_fuzz_refuses_special_tokens_clearly() -> None:
    from formgate import fuzz

    with pytest.raises(formgate.GrammarError, match="special-token terminals \\(<\\|x\\|>\\)"):
        fuzz.generate('root ::= "a" <|x|>', 1)


# -------------------------------------------------------------------- property: mask == accept

ATOMS = ['"a"', '"b"', '"ab"', '"<"', "<[<tool_call>]>", "<|python_tag|>", "<[10]>", "[a-b]",
         '"tool_call"']


@st.composite
def expressions(draw, depth: int = 0) -> str:
    kind = draw(st.sampled_from(["atom"] * 3 + ["seq", "alt", "rep"] if depth < 3 else ["atom"]))
    if kind == "atom":
        return draw(st.sampled_from(ATOMS))
    if kind == "rep":
        return f"({draw(expressions(depth + 1))}){draw(st.sampled_from(['*', '+', '?', '{1,2}']))}"
    parts = draw(st.lists(expressions(depth + 1), min_size=2, max_size=3))
    return "(" + (" " if kind == "seq" else " | ").join(parts) + ")"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grammar=expressions(), picks=st.lists(st.integers(0, 1000), max_size=8))
def test_mask_bit_iff_accept_token(grammar: str, picks: list[int]) -> None:
    info = small_info()
    m = formgate.GrammarMatcher(formgate.GrammarCompiler(info, cache_enabled=False)
                                .compile_grammar(f"root ::= {grammar}"))
    mask = formgate.allocate_token_bitmask(1, m.vocab_size)
    for pick in picks + [None]:
        if m.is_terminated():
            break
        m.fill_next_token_bitmask(mask)
        fast = bitmask_to_bool(mask[0], m.vocab_size)
        assert np.array_equal(fast, bitmask_to_bool(brute_force_bitmask(m)[0], m.vocab_size))
        # No atom ends in ">": the marker's text can never be completed as text.
        assert not fast[[GT, SPELLED, FF, FAKE_MARKER]].any()
        ids = np.flatnonzero(fast).tolist()
        if pick is None or not ids:
            break
        assert m.accept_token(ids[pick % len(ids)])


# ------------------------------------------------------------------------- real tokenizers

WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
MARKERS = ["<|python_tag|>", "<tool_call>", "</tool_call>", "[TOOL_CALLS]"]


def tokenizer_with_tool_tokens(name: str):
    """A fresh copy (the conftest one is shared) with the tool markers added as special tokens,
    as models that use them have them."""
    from transformers import AutoTokenizer

    path = tokenizer_path(name)
    if path is None:
        pytest.skip(f"tokenizer {name} not available (../shared missing)")
    tok = AutoTokenizer.from_pretrained(str(path))
    tok.add_special_tokens({"additional_special_tokens": MARKERS})
    return tok


def call_text(fmt_name: str) -> tuple[str, str]:
    """(free text before the call, the call) for get_weather(city="Oslo") in a format."""
    fmt = get_format(fmt_name)
    key = "parameters" if fmt_name == "llama3" else "arguments"
    call = (fmt.section_begin + fmt.call_begin("get_weather") + json.dumps({"city": "Oslo"})
            + fmt.call_end("get_weather") + fmt.section_end)
    assert f'"{key}": ' in call
    return ("Let me check. " if fmt_name != "llama3" else ""), call


@pytest.mark.parametrize("name", ["tokenizer_bpe_small", "llama3", "qwen2"])
def test_tool_calls_use_the_single_special_token(name: str) -> None:
    from formgate.hf import decode_tokens

    tok = tokenizer_with_tool_tokens(name)
    info = formgate.TokenizerInfo.from_huggingface(tok)
    ids_of = {m: tok.convert_tokens_to_ids(m) for m in MARKERS}
    assert all(info.special_tokens[m] == i for m, i in ids_of.items())
    compiler = formgate.GrammarCompiler(info)
    formats = ["llama3", "hermes"] + (["mistral"] if name == "tokenizer_bpe_small" else [])
    for fmt_name in formats:
        cg = compile_tool_calls(compiler, WEATHER, format=fmt_name)
        prose, call = call_text(fmt_name)
        ids = tok.encode(prose + call, add_special_tokens=False)
        assert set(ids) & set(ids_of.values()), "the tokenizer splits off the special token"
        m = formgate.GrammarMatcher(cg)
        mask = formgate.allocate_token_bitmask(1, info.vocab_size)
        for t in ids:
            m.fill_next_token_bitmask(mask)
            assert bitmask_to_bool(mask[0], info.vocab_size)[t], (fmt_name, tok.decode([t]))
            assert m.accept_token(t), (fmt_name, tok.decode([t]))
        assert m.is_completed()
        # The same text with every marker spelled out as ordinary tokens is rejected.
        spelled = formgate.GrammarMatcher(cg)
        pieces = [tok.encode(c, add_special_tokens=False) for c in prose + call]
        assert not all(spelled.accept_token(t) for piece in pieces for t in piece), fmt_name
        # Decoded output keeps the marker, so the calls parse back.
        text = decode_tokens(info, ids)
        assert text.endswith(call)
        calls = parse_tool_calls(text, WEATHER, fmt_name)
        assert [(c.name, c.arguments) for c in calls] == [("get_weather", {"city": "Oslo"})]


def test_markers_stay_text_without_special_tokens() -> None:
    # The byte vocabulary has no special tokens: markers are matched spelled out.
    info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
    prose, call = call_text("hermes")
    m = formgate.GrammarMatcher(compile_tool_calls(info, WEATHER, format="hermes"))
    assert m.accept_string(prose + call) and m.is_completed()


def test_jump_forward_after_a_sampled_special_token() -> None:
    from formgate.jump_forward import JumpForward

    tok = tokenizer_with_tool_tokens("tokenizer_bpe_small")
    info = formgate.TokenizerInfo.from_huggingface(tok)
    cg = compile_tool_calls(info, WEATHER, format="llama3", tool_choice="required")
    tag = info.special_tokens["<|python_tag|>"]
    jump = JumpForward.from_huggingface(tok, info)
    m = formgate.GrammarMatcher(cg)
    assert jump.extend(m, None).tokens == []  # nothing forced before the special token
    assert m.accept_token(tag)
    step = jump.extend(m, tag)
    assert step.tokens[0] == tag and len(step.tokens) > 1
    forced = '<|python_tag|>{"name": "get_weather", "parameters": '
    # The last space may merge with what follows, so it is left to the model.
    done = tok.decode(step.tokens)
    assert forced.startswith(done) and len(done) >= len(forced) - 1
    assert m.accept_string(forced[len(done):] + '{"city": "Oslo"}}') and m.is_completed()
