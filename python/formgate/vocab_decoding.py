"""The exact bytes every token of a Hugging Face tokenizer contributes to the generated text.

This module is pure Python (no ``formgate._core``): it turns a ``transformers`` tokenizer into the
``encoded_vocab`` that ``TokenizerInfo`` needs. The tokenizer's own ``decode`` cannot be used per
token, because it returns ``str``: a token holding half of a UTF-8 character (byte-level BPE) or a
single ``<0xHH>`` byte (SentencePiece byte fallback) would come back as U+FFFD. Instead the
tokenizer's decoder pipeline (from ``tokenizer.json``) is re-applied per token on bytes.

Vocabulary types (``DecodedVocab.vocab_type``):

- ``"byte_level"`` (GPT-2, Llama-3, Qwen2): tokens are spelled with GPT-2's ``bytes_to_unicode``
  alphabet (``Ġ`` is the space byte, ``Ċ`` the newline byte); the map is inverted. As in the
  ``tokenizers`` ByteLevel decoder, a token with a character outside that alphabet (only added
  tokens such as ``"hello world"`` have one) stands for its own UTF-8 text.
- ``"byte_fallback"`` (Llama-2, Mistral, Phi-3): SentencePiece pieces, where ``▁`` is a space and
  ``<0xHH>`` is the single byte 0xHH (so ``<0x0A>`` is ``b"\\n"``).
- ``"raw"``: the token text is the output text, UTF-8 encoded, after the decoder's per-token
  string replacements (e.g. ``▁`` -> space for a SentencePiece vocabulary without byte fallback).

SentencePiece leading space. SentencePiece tokenizers add a ``▁`` at the start of the text they
encode (a ``Prepend("▁")`` normalizer adds it always; a ``Metaspace`` pre-tokenizer adds it unless
the text already starts with a space), and their decoder strips one space at the very start of
the decoded text. ``encoded_vocab`` models neither: a ``▁`` is always ``b" "``, because that is
what the token adds to the output anywhere after the first position (the model continues a prompt,
so ``"a" + "▁b"`` is ``"a b"``). So for non-empty ``text`` without added-token strings::

    b"".join(encoded_vocab[i] for i in tokenizer.encode(text, add_special_tokens=False))
        == prefix + text.encode()

where ``prefix`` is ``b""`` for byte-level and raw tokenizers, and ``b" "`` for SentencePiece ones
whenever they add the ``▁`` (always for ``Prepend``; when ``text`` does not start with ``" "`` for
``Metaspace``). One consequence for callers: decoding a completion on its own with
``tokenizer.decode`` drops one leading space that the grammar saw.

Special and stop tokens contribute ``b""``: they never match grammar text. A stop token may also be
a special token (an eos added as special); the caller gives stop semantics precedence. Their texts
(``"<|python_tag|>"``, ``"<tool_call>"`` when the tokenizer has it as a special token) are kept
apart, in ``DecodedVocab.special_tokens``, which is how a grammar's special-token terminals
(``<[NAME]>``, docs/ebnf.md) find them.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

VocabType = Literal["byte_level", "byte_fallback", "raw"]

# End-of-sequence / end-of-turn spellings used by common chat models; the tokenizer's eos alone
# misses the turn terminators (Llama-3's <|eot_id|>, Qwen2's <|im_end|>, Phi-3's <|end|>).
STOP_TOKEN_CANDIDATES = frozenset(
    {
        "</s>",
        "<|end_of_text|>",
        "<|eot_id|>",
        "<|endoftext|>",
        "<|im_end|>",
        "<eos>",
        "<|eos|>",
        "<end_of_turn>",
        "<|end|>",
    }
)

SPIECE_UNDERLINE = "\u2581"

_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map that byte-level BPE vocabularies are spelled in."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    mapping = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + shifted)
            shifted += 1
    return mapping


_BYTE_LEVEL_ALPHABET = frozenset(_bytes_to_unicode().values())
# Maps each byte-level character to the Latin-1 character of its byte, so that
# ``token.translate(_BYTE_LEVEL_TO_LATIN1).encode("latin-1")`` yields the token's bytes.
_BYTE_LEVEL_TO_LATIN1 = {ord(c): b for b, c in _bytes_to_unicode().items()}


@dataclass(frozen=True)
class DecodedVocab:
    """What a tokenizer's vocabulary means as bytes.

    Attributes:
        encoded_vocab: ``encoded_vocab[i]`` is the exact byte string token ``i`` adds to the text
            (``b""`` for special and stop tokens and for ids no token uses). Covers ids
            ``0 .. max token id``; ids from there up to the model's vocab size are padding.
        special_token_ids: sorted ids that never match grammar text (added tokens marked special,
            the tokenizer's declared special tokens, unused ids, tokens with no bytes).
        stop_token_ids: sorted ids that end generation (eos, end-of-turn).
        vocab_type: ``"byte_level"``, ``"byte_fallback"`` or ``"raw"`` (see the module docstring).
        special_tokens: the text of every special and stop token that has one (added tokens'
            contents, declared special tokens), mapped to its id.
    """

    encoded_vocab: list[bytes]
    special_token_ids: list[int]
    stop_token_ids: list[int]
    vocab_type: VocabType
    special_tokens: dict[str, int] = field(default_factory=dict)


def decode_hf_vocab(
    tokenizer: Any,
    vocab_size: int | None = None,
    stop_token_ids: list[int] | None = None,
) -> DecodedVocab:
    """Decode every token of a Hugging Face tokenizer to the exact bytes it contributes.

    Args:
        tokenizer: a ``transformers`` tokenizer. Fast tokenizers are decoded by their
            ``tokenizer.json`` decoder; others by what their vocabulary looks like.
        vocab_size: the model's vocabulary size (``config.vocab_size``), which may exceed the
            tokenizer's to pad the embedding matrix; only checked, since ids past the tokenizer's
            are padding the caller masks.
        stop_token_ids: the ids that end generation; they contribute ``b""``. Default: the
            tokenizer's eos plus its added or special tokens spelled as one of
            ``STOP_TOKEN_CANDIDATES``.

    Raises:
        ValueError: ``vocab_size`` is smaller than the tokenizer's vocabulary, a stop id is out of
            range, or the tokenizer's decoder is one whose output is not a concatenation of
            per-token bytes (or contradicts its vocabulary).

    Example:
        >>> from transformers import AutoTokenizer
        >>> tok = AutoTokenizer.from_pretrained("tests/fixtures/tokenizer_bpe_small")
        >>> vocab = decode_hf_vocab(tok, vocab_size=3072)
        >>> vocab.vocab_type, len(vocab.encoded_vocab)
        ('byte_level', 3003)
        >>> ids = tok.encode(" café\\n", add_special_tokens=False)
        >>> b"".join(vocab.encoded_vocab[i] for i in ids)
        b' caf\\xc3\\xa9\\n'
        >>> eos = tok.convert_tokens_to_ids("<|endoftext|>")
        >>> eos in vocab.stop_token_ids, vocab.encoded_vocab[eos]
        (True, b'')
        >>> vocab.special_tokens["<|endoftext|>"] == eos
        True
    """
    tokens = _tokens_by_id(tokenizer)
    if vocab_size is not None and vocab_size < len(tokens):
        raise ValueError(
            f"vocab_size={vocab_size} is smaller than the tokenizer's vocabulary "
            f"({len(tokens)} ids, largest id {len(tokens) - 1}); pass the model's config.vocab_size"
        )
    added: Mapping[int, Any] = getattr(tokenizer, "added_tokens_decoder", {})
    model_tokens = [tok for i, tok in enumerate(tokens) if tok is not None and i not in added]
    vocab_type, steps = _decoding_steps(_backend_spec(tokenizer), model_tokens)

    special = {i for i, tok in added.items() if tok.special}
    special.update(getattr(tokenizer, "all_special_ids", ()))
    stops = _stop_ids(tokenizer, tokens, special | added.keys(), stop_token_ids)
    encoded_vocab = []
    for i, tok in enumerate(tokens):
        if tok is None or i in special or i in stops:
            encoded_vocab.append(b"")
        else:
            encoded_vocab.append(_decode_token(tok, steps))
    names = {tok: i for i in sorted(special | stops)
             if isinstance(tok := tokens[i], str) and tok}
    special.update(i for i, b in enumerate(encoded_vocab) if not b and i not in stops)
    return DecodedVocab(encoded_vocab, sorted(special), sorted(stops), vocab_type, names)


def _tokens_by_id(tokenizer: Any) -> list[str | bytes | None]:
    """Token strings indexed by id (``None`` for unused ids), added tokens included."""
    vocab: Mapping[str | bytes, int] = tokenizer.get_vocab()
    size = max(len(tokenizer), max(vocab.values(), default=-1) + 1)
    tokens: list[str | bytes | None] = [None] * size
    for token, i in vocab.items():
        tokens[i] = token
    return tokens


def _backend_spec(tokenizer: Any) -> dict[str, Any] | None:
    """The tokenizer.json parts that say how tokens are spelled, for fast tokenizers.

    Components are serialised one by one: the whole tokenizer.json of a 150k vocabulary takes a
    second to parse, almost all of it merges.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None

    def component(obj: Any) -> dict[str, Any] | None:
        return json.loads(obj.__getstate__()) if obj is not None else None

    return {
        "decoder": component(backend.decoder),
        "pre_tokenizer": component(backend.pre_tokenizer),
        "byte_fallback": bool(getattr(backend.model, "byte_fallback", False)),
    }


# A decoding step is ("byte_level",), ("byte_fallback",) or ("replace", pattern, content); steps
# act on one token at a time, which is exactly how the tokenizers decoders before Fuse behave.
Step = tuple[str, ...]


def _decoding_steps(
    spec: dict[str, Any] | None, model_tokens: list[str | bytes]
) -> tuple[VocabType, list[Step]]:
    if spec is None:
        return _steps_from_vocab(model_tokens)
    steps = _flatten_decoder(spec["decoder"])
    kinds = {step[0] for step in steps}
    if "byte_level" in kinds and "byte_fallback" in kinds:
        raise ValueError("tokenizer decoder has both ByteLevel and ByteFallback steps")
    vocab_type: VocabType = (
        "byte_level"
        if "byte_level" in kinds
        else "byte_fallback"
        if "byte_fallback" in kinds
        else "raw"
    )
    _check_against_spec(vocab_type, spec)
    _check_against_vocab(vocab_type, model_tokens)
    return vocab_type, steps


def _flatten_decoder(decoder: dict[str, Any] | None) -> list[Step]:
    """The per-token steps of a tokenizers decoder, in order.

    Steps after ``Fuse`` see the whole decoded text; only ``Strip`` may appear there, and it is
    dropped because it only trims the ends of that text (the SentencePiece leading space).
    """
    if decoder is None:
        return []
    parts = decoder["decoders"] if decoder["type"] == "Sequence" else [decoder]
    steps: list[Step] = []
    fused = False
    for part in parts:
        kind = part["type"]
        if fused:
            if kind != "Strip":
                raise ValueError(
                    f"unsupported tokenizer decoder: {kind} after Fuse rewrites the joined text"
                )
        elif kind == "Fuse":
            fused = True
        elif kind == "ByteLevel":
            steps.append(("byte_level",))
        elif kind == "ByteFallback":
            steps.append(("byte_fallback",))
        elif kind == "Metaspace":
            steps.append(("replace", part.get("replacement", SPIECE_UNDERLINE), " "))
        elif kind == "Replace" and "String" in part["pattern"]:
            steps.append(("replace", part["pattern"]["String"], part["content"]))
        else:
            raise ValueError(
                f"unsupported tokenizer decoder step {json.dumps(part)}: its output is not a "
                "concatenation of per-token bytes; build TokenizerInfo from an explicit "
                "encoded_vocab"
            )
    return steps


def _contains_type(node: Any, type_name: str) -> bool:
    if isinstance(node, dict):
        return node.get("type") == type_name or any(
            _contains_type(v, type_name) for v in node.values()
        )
    if isinstance(node, list):
        return any(_contains_type(v, type_name) for v in node)
    return False


def _check_against_spec(vocab_type: VocabType, spec: dict[str, Any]) -> None:
    """The decoder must undo what the pre-tokenizer and model encode, or decoding is meaningless."""
    if _contains_type(spec["pre_tokenizer"], "ByteLevel") and vocab_type != "byte_level":
        raise ValueError(
            "tokenizer.json is inconsistent: the pre-tokenizer is ByteLevel but the decoder is not"
        )
    if spec["byte_fallback"] and vocab_type != "byte_fallback":
        raise ValueError(
            "tokenizer.json is inconsistent: the model uses byte_fallback but the decoder has "
            "no ByteFallback"
        )


def _byte_tokens_present(model_tokens: list[str | bytes]) -> int:
    return sum(1 for tok in model_tokens if isinstance(tok, str) and _BYTE_TOKEN.fullmatch(tok))


def _check_against_vocab(vocab_type: VocabType, model_tokens: list[str | bytes]) -> None:
    if vocab_type == "byte_level":
        stray = next(
            (tok for tok in model_tokens if not _BYTE_LEVEL_ALPHABET.issuperset(tok)), None
        )
        if stray is not None:
            raise ValueError(
                f"tokenizer decoder is ByteLevel but vocabulary token {stray!r} is not "
                "byte-level text"
            )
    elif vocab_type == "raw":
        if _byte_tokens_present(model_tokens) == 256:
            raise ValueError(
                "vocabulary has all 256 <0xHH> byte tokens but the tokenizer decoder has no "
                "ByteFallback"
            )
    elif _byte_tokens_present(model_tokens) < 256:
        warnings.warn(
            "tokenizer uses byte fallback but lacks some <0xHH> tokens; bytes without one "
            "cannot be generated",
            stacklevel=4,  # the caller of decode_hf_vocab
        )


def _steps_from_vocab(model_tokens: list[str | bytes]) -> tuple[VocabType, list[Step]]:
    """Without tokenizer.json, recognise the vocabulary by its spelling."""
    if _byte_tokens_present(model_tokens) == 256:
        return "byte_fallback", [("replace", SPIECE_UNDERLINE, " "), ("byte_fallback",)]
    texts = [tok for tok in model_tokens if isinstance(tok, str)]
    if _BYTE_LEVEL_ALPHABET <= set(texts) and all(
        _BYTE_LEVEL_ALPHABET.issuperset(tok) for tok in texts
    ):
        return "byte_level", [("byte_level",)]
    if any(tok.startswith(SPIECE_UNDERLINE) for tok in texts):
        return "raw", [("replace", SPIECE_UNDERLINE, " ")]
    return "raw", []


def _decode_token(token: str | bytes, steps: list[Step]) -> bytes:
    """Apply the per-token decoder steps, keeping bytes where the real decoder would lose them."""
    value: str | bytes = token
    for step in steps:
        if isinstance(value, bytes):
            # Already bytes (a byte token or byte-level text): string rewrites no longer apply.
            continue
        if step[0] == "replace":
            value = value.replace(step[1], step[2])
        elif step[0] == "byte_fallback":
            match = _BYTE_TOKEN.fullmatch(value)
            if match:
                value = bytes([int(match.group(1), 16)])
        elif _BYTE_LEVEL_ALPHABET.issuperset(value):
            value = value.translate(_BYTE_LEVEL_TO_LATIN1).encode("latin-1")
        else:
            value = value.encode("utf-8")
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _stop_ids(
    tokenizer: Any, tokens: list[str | bytes | None], control_ids: set[int], given: list[int] | None
) -> set[int]:
    if given is not None:
        bad = [i for i in given if not 0 <= i < len(tokens)]
        if bad:
            raise ValueError(
                f"stop_token_ids {bad} are outside the tokenizer's ids 0..{len(tokens) - 1}"
            )
        return set(given)
    # Only added/special tokens count: Qwen2's ordinary BPE vocabulary spells "</s>" as plain text.
    stops = {i for i in control_ids if tokens[i] in STOP_TOKEN_CANDIDATES}
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is not None:
        stops.add(eos)
    return stops
