"""Tests for python/formgate/vocab_decoding.py (Hugging Face tokenizer -> exact token bytes).

The module is loaded from its file so these tests do not need the compiled formgate core. They run
on the small tokenizers in tests/fixtures (rebuild with tests/fixtures/make_fixtures.py) and, when
the sibling checkout ../shared/tokenizers has them, on the real gpt2, llama3, qwen2 and phi3
tokenizers.

The central property: for text that contains no added-token string,
``b"".join(encoded_vocab[i] for i in tokenizer.encode(text, add_special_tokens=False))`` is the
UTF-8 of the text (after the tokenizer's Unicode normalisation: NFC for qwen2), preceded by one
space where a SentencePiece tokenizer prepends its ``▁``: always for a ``Prepend`` normalizer
(phi3), unless the text already starts with a space for a ``Metaspace`` pre-tokenizer (the spm
fixture), never for empty text.
"""

from __future__ import annotations

import ast
import copy
import doctest
import functools
import importlib.util
import json
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

REPO = Path(__file__).resolve().parents[1]
MODULE_PATH = REPO / "python" / "formgate" / "vocab_decoding.py"
FIXTURES = REPO / "tests" / "fixtures"
SHARED = REPO.parent / "shared" / "tokenizers"


def _load_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("formgate_vocab_decoding_under_test", MODULE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses looks the defining module up in sys.modules while building DecodedVocab.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


vd = _load_module()


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    vocab_type: str
    prefix: str  # "never" | "always" | "unless_space": when encode() adds a leading "▁"
    stop_tokens: frozenset[str]
    special_count: int
    unicode_form: str | None = None  # the tokenizer's Unicode normalizer, if any


CASES = [
    Case("bpe_small", FIXTURES / "tokenizer_bpe_small", vocab_type="byte_level", prefix="never",
         stop_tokens=frozenset({"<|endoftext|>", "<|im_end|>"}), special_count=3),
    Case("spm_small", FIXTURES / "tokenizer_spm_small", vocab_type="byte_fallback",
         prefix="unless_space", stop_tokens=frozenset({"</s>"}), special_count=3),
    Case("gpt2", SHARED / "gpt2", vocab_type="byte_level", prefix="never",
         stop_tokens=frozenset({"<|endoftext|>"}), special_count=1),
    Case("llama3", SHARED / "llama3", vocab_type="byte_level", prefix="never",
         stop_tokens=frozenset({"<|end_of_text|>", "<|eot_id|>"}), special_count=256),
    # transformers' Qwen2Tokenizer installs an NFC normalizer that tokenizer.json does not have.
    Case("qwen2", SHARED / "qwen2", vocab_type="byte_level", prefix="never",
         stop_tokens=frozenset({"<|endoftext|>", "<|im_end|>"}), special_count=3,
         unicode_form="NFC"),
    Case("phi3", SHARED / "phi3", vocab_type="byte_fallback", prefix="always",
         stop_tokens=frozenset({"</s>", "<|endoftext|>", "<|end|>"}), special_count=13),
]  # fmt: skip

CASE_PARAMS = [
    pytest.param(
        case,
        id=case.name,
        marks=pytest.mark.skipif(not case.path.is_dir(), reason=f"{case.path} not present"),
    )
    for case in CASES
]


@functools.cache
def _load(path: Path) -> tuple[Any, Any]:
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path))
    return tokenizer, vd.decode_hf_vocab(tokenizer)


def _tokenizer_from_json(spec: dict[str, Any], **special: str) -> Any:
    backend = tokenizers.Tokenizer.from_str(json.dumps(spec))
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, **special)


def _fixture_json(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name / "tokenizer.json").read_text(encoding="utf-8"))


def _expected(case: Case, text: str) -> bytes:
    if case.unicode_form:
        text = unicodedata.normalize(case.unicode_form, text)
    data = text.encode("utf-8")
    if text and (
        case.prefix == "always" or (case.prefix == "unless_space" and not text.startswith(" "))
    ):
        return b" " + data
    return data


def _round_trip_error(case: Case, text: str) -> str | None:
    tokenizer, vocab = _load(case.path)
    ids = tokenizer.encode(text, add_special_tokens=False)
    got = b"".join(vocab.encoded_vocab[i] for i in ids)
    want = _expected(case, text)
    if got == want:
        return None
    tokens = tokenizer.convert_ids_to_tokens(ids)
    return f"{text!r}: ids {ids} tokens {tokens} gave {got!r}, want {want!r}"


def _plain_text(case: Case, text: str) -> bool:
    """Text the round-trip rule covers: no added-token strings, and no literal ▁ for SentencePiece
    (it encodes exactly like a space, so it cannot come back as itself)."""
    tokenizer, _ = _load(case.path)
    if case.vocab_type == "byte_fallback" and vd.SPIECE_UNDERLINE in text:
        return False
    return not any(tok.content in text for tok in tokenizer.added_tokens_decoder.values())


TRICKY = [
    "Hello world",
    " leading space",
    "  two leading spaces",
    "\nnewline first",
    "trailing space ",
    "tabs\tand\ttabs",
    "\t\tindented",
    "line1\nline2\r\nline3\n\n",
    "   ",
    " ",
    "emoji 🎉🚀😀 👍🏽 🇯🇵",
    "日本語のテキスト",
    "中文：北京",
    "caf\u00e9",
    "\u00e9",
    "e\u0301 combining accent",
    "Привет",
    '{"key": "value", "n": [1, 2.5, -3e10], "ok": true, "x": null}',
    '{\n  "a": {\n    "b": [1, 2]\n  }\n}',
    "def f(x):\n    return x * 2\n",
    "\u00a0non-breaking\u200bzero-width",
    "\x00\x01\x1f\x7f control",
    "1234567890 3.14159",
    "it's we'll they'd",
    "a" * 64,
    "",
]

FRAGMENTS = [
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "\r\n",
    "\u00e9",
    "日本",
    "🎉",
    "👍🏽",
    '{"a": 1}',
    "'s",
    "12345",
    " the",
    "\u00a0",
    "\u200b",
    "\x00",
    "ü",
    "»",
]
TEXT = st.lists(st.one_of(st.text(max_size=6), st.sampled_from(FRAGMENTS)), max_size=8).map("".join)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_vocab_type_and_length(case: Case) -> None:
    tokenizer, vocab = _load(case.path)
    assert vocab.vocab_type == case.vocab_type
    assert len(vocab.encoded_vocab) == len(tokenizer)
    assert all(isinstance(b, bytes) for b in vocab.encoded_vocab)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_tricky_strings_round_trip(case: Case) -> None:
    errors = [
        e for text in TRICKY if _plain_text(case, text) and (e := _round_trip_error(case, text))
    ]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_generated_text_round_trips(case: Case) -> None:
    @settings(max_examples=50, deadline=None)
    @given(text=TEXT)
    def check(text: str) -> None:
        assume(_plain_text(case, text))
        error = _round_trip_error(case, text)
        assert error is None, error

    check()


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_agrees_with_tokenizer_decode(case: Case) -> None:
    """Every text token whose bytes are valid UTF-8 decodes, after a plain "a" token, to exactly
    those bytes in the tokenizer's own decode (which the leading-space Strip cannot touch there)."""
    tokenizer, vocab = _load(case.path)
    anchor = tokenizer.convert_tokens_to_ids("a")
    assert anchor is not None and anchor != tokenizer.unk_token_id
    backend = tokenizer.backend_tokenizer
    prefix = backend.decode([anchor], skip_special_tokens=False)
    text_ids = [i for i, b in enumerate(vocab.encoded_vocab) if b]
    checked = []
    for i in text_ids:
        try:
            checked.append((i, vocab.encoded_vocab[i].decode("utf-8")))
        except UnicodeDecodeError:
            continue  # a partial character: the real decoder turns it into U+FFFD
    decoded = backend.decode_batch([[anchor, i] for i, _ in checked], skip_special_tokens=False)
    mismatches = [
        (i, text, out)
        for (i, text), out in zip(checked, decoded, strict=True)
        if out != prefix + text
    ]
    assert not mismatches, mismatches[:10]
    assert len(checked) > 0.9 * len(text_ids)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_special_tokens_flagged_and_empty(case: Case) -> None:
    tokenizer, vocab = _load(case.path)
    special = set(vocab.special_token_ids)
    declared = {i for i, tok in tokenizer.added_tokens_decoder.items() if tok.special}
    assert declared <= special
    assert len(special) == case.special_count
    empty = {i for i, b in enumerate(vocab.encoded_vocab) if not b}
    assert empty == special | set(vocab.stop_token_ids)
    assert vocab.special_token_ids == sorted(special)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_stop_tokens(case: Case) -> None:
    tokenizer, vocab = _load(case.path)
    assert tokenizer.eos_token_id in vocab.stop_token_ids
    assert {tokenizer.convert_ids_to_tokens(i) for i in vocab.stop_token_ids} == case.stop_tokens
    assert all(vocab.encoded_vocab[i] == b"" for i in vocab.stop_token_ids)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_padded_vocab_size(case: Case) -> None:
    tokenizer, vocab = _load(case.path)
    assert vd.decode_hf_vocab(tokenizer, vocab_size=len(tokenizer) + 61) == vocab


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_too_small_vocab_size_raises(case: Case) -> None:
    tokenizer, _ = _load(case.path)
    with pytest.raises(ValueError, match="smaller than the tokenizer's vocabulary"):
        vd.decode_hf_vocab(tokenizer, vocab_size=len(tokenizer) - 1)


def test_spm_pieces() -> None:
    tokenizer, vocab = _load(FIXTURES / "tokenizer_spm_small")
    assert vocab.encoded_vocab[tokenizer.convert_tokens_to_ids("<0x0A>")] == b"\n"
    assert vocab.encoded_vocab[tokenizer.convert_tokens_to_ids("<0xE6>")] == b"\xe6"
    assert vocab.encoded_vocab[tokenizer.convert_tokens_to_ids("▁")] == b" "
    assert vocab.encoded_vocab[tokenizer.convert_tokens_to_ids("▁The")] == b" The"
    assert vocab.special_token_ids == [0, 1, 2]
    assert vocab.stop_token_ids == [2]


def test_byte_level_pieces() -> None:
    tokenizer, vocab = _load(FIXTURES / "tokenizer_bpe_small")
    for token, expected in [
        ("Ġ", b" "),
        ("Ċ", b"\n"),
        ("ĉ", b"\t"),
        ("Ã", b"\xc3"),
        ("©", b"\xa9"),
        ("!", b"!"),
    ]:
        assert vocab.encoded_vocab[tokenizer.convert_tokens_to_ids(token)] == expected


def test_explicit_stop_ids_win() -> None:
    tokenizer, default = _load(FIXTURES / "tokenizer_bpe_small")
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    newline = tokenizer.convert_tokens_to_ids("Ċ")
    vocab = vd.decode_hf_vocab(tokenizer, stop_token_ids=[newline, im_end])
    assert vocab.stop_token_ids == sorted([newline, im_end])
    assert vocab.encoded_vocab[newline] == b""
    assert tokenizer.eos_token_id in vocab.special_token_ids
    assert vocab.encoded_vocab[tokenizer.eos_token_id] == b""
    assert vd.decode_hf_vocab(tokenizer, stop_token_ids=[]).stop_token_ids == []
    assert default.encoded_vocab[newline] == b"\n"


def test_out_of_range_stop_ids_raise() -> None:
    tokenizer, _ = _load(FIXTURES / "tokenizer_bpe_small")
    with pytest.raises(ValueError, match="outside the tokenizer's ids"):
        vd.decode_hf_vocab(tokenizer, stop_token_ids=[len(tokenizer)])


def test_raw_vocab_without_decoder() -> None:
    alphabet = 'abcdefgh .,\n{}":é日'
    backend = tokenizers.Tokenizer(tokenizers.models.BPE())
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=60, show_progress=False, initial_alphabet=list(alphabet)
    )
    backend.train_from_iterator(["abc def, gh.\n", '{"a": "bé"}', "日 hg fed cba"] * 20, trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>")
    tokenizer.add_special_tokens({"eos_token": "<eos>"})
    vocab = vd.decode_hf_vocab(tokenizer)
    assert vocab.vocab_type == "raw"
    assert vocab.stop_token_ids == [tokenizer.eos_token_id]

    @settings(max_examples=50, deadline=None)
    @given(text=st.text(alphabet=alphabet))
    def check(text: str) -> None:
        ids = tokenizer.encode(text, add_special_tokens=False)
        assert b"".join(vocab.encoded_vocab[i] for i in ids) == text.encode("utf-8")

    check()


class _NoBackend:
    """A tokenizer without tokenizer.json, as transformers' Python/SentencePiece backends are."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.added_tokens_decoder = tokenizer.added_tokens_decoder
        self.all_special_ids = tokenizer.all_special_ids
        self.eos_token_id = tokenizer.eos_token_id

    def __len__(self) -> int:
        return len(self._tokenizer)

    def get_vocab(self) -> dict[str, int]:
        return self._tokenizer.get_vocab()


@pytest.mark.parametrize("name", ["tokenizer_bpe_small", "tokenizer_spm_small"])
def test_vocabulary_spelling_decides_without_tokenizer_json(name: str) -> None:
    tokenizer, vocab = _load(FIXTURES / name)
    assert vd.decode_hf_vocab(_NoBackend(tokenizer)) == vocab


def _mutated(spec: dict[str, Any], **changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    for key, value in changes.items():
        if key == "byte_fallback":
            spec["model"]["byte_fallback"] = value
        else:
            spec[key] = value
    return spec


@pytest.mark.parametrize(
    ("fixture", "changes", "message"),
    [
        (
            "tokenizer_spm_small",
            {
                "decoder": {
                    "type": "ByteLevel",
                    "add_prefix_space": True,
                    "trim_offsets": True,
                    "use_regex": True,
                }
            },
            "byte_fallback but the decoder",
        ),
        (
            "tokenizer_spm_small",
            {
                "decoder": {
                    "type": "ByteLevel",
                    "add_prefix_space": True,
                    "trim_offsets": True,
                    "use_regex": True,
                },
                "byte_fallback": False,
            },
            "not byte-level text",
        ),
        (
            "tokenizer_spm_small",
            {"decoder": None, "byte_fallback": False},
            "256 <0xHH> byte tokens",
        ),
        ("tokenizer_bpe_small", {"decoder": None}, "pre-tokenizer is ByteLevel"),
        (
            "tokenizer_bpe_small",
            {"decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True}},
            "unsupported tokenizer decoder",
        ),
    ],
    ids=[
        "fallback-model-bytelevel-decoder",
        "spm-vocab-bytelevel-decoder",
        "byte-tokens-no-fallback",
        "bytelevel-pretokenizer-no-decoder",
        "wordpiece-decoder",
    ],
)
def test_inconsistent_or_unsupported_tokenizer_raises(
    fixture: str, changes: dict[str, Any], message: str
) -> None:
    tokenizer = _tokenizer_from_json(_mutated(_fixture_json(fixture), **changes))
    with pytest.raises(ValueError, match=message):
        vd.decode_hf_vocab(tokenizer)


def test_missing_byte_token_warns_and_leaves_a_masked_hole() -> None:
    spec = _fixture_json("tokenizer_spm_small")
    hole = spec["model"]["vocab"].pop("<0xFF>")
    tokenizer = _tokenizer_from_json(spec, unk_token="<unk>", eos_token="</s>")
    with pytest.warns(UserWarning, match="lacks some <0xHH> tokens") as record:
        vocab = vd.decode_hf_vocab(tokenizer)
    assert record[0].filename == __file__
    assert vocab.encoded_vocab[hole] == b""
    assert hole in vocab.special_token_ids
    assert vocab.encoded_vocab[hole - 1] == b"\xfe"


def test_metaspace_decoder_without_byte_fallback_is_raw() -> None:
    spec = _mutated(
        _fixture_json("tokenizer_spm_small"),
        decoder={
            "type": "Metaspace",
            "replacement": "▁",
            "prepend_scheme": "first",
            "split": False,
        },
        byte_fallback=False,
    )
    spec["model"]["vocab"] = {
        t: i for t, i in spec["model"]["vocab"].items() if not t.startswith("<0x")
    }
    spec["model"]["vocab"] = {t: i for i, t in enumerate(spec["model"]["vocab"])}
    tokenizer = _tokenizer_from_json(spec, unk_token="<unk>", eos_token="</s>")
    vocab = vd.decode_hf_vocab(tokenizer)
    assert vocab.vocab_type == "raw"
    assert vocab.encoded_vocab[tokenizer.convert_tokens_to_ids("▁The")] == b" The"
    ids = tokenizer.encode("The engine masks tokens.", add_special_tokens=False)
    assert b"".join(vocab.encoded_vocab[i] for i in ids) == b" The engine masks tokens."


def test_module_is_pure_python() -> None:
    tree = ast.parse(MODULE_PATH.read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {
        name for name in imported if name.split(".")[0] in {"formgate", "torch", "transformers"}
    }


def test_docstring_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = doctest.testmod(vd, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
