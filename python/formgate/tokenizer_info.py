"""TokenizerInfo: the compiled core's vocabulary plus the Hugging Face constructor."""

from __future__ import annotations

from typing import Any

from formgate import _core
from formgate.vocab_decoding import decode_hf_vocab


class TokenizerInfo(_core.TokenizerInfo):
    """The exact bytes of every token id, with the stop and special ids.

    ``TokenizerInfo(encoded_vocab, *, vocab_size=None, stop_token_ids=None,
    special_token_ids=None, special_tokens=None)``: ``encoded_vocab[i]`` (bytes or str) is what
    token i adds to the text. Stop ids are allowed exactly when the grammar can end; ids in
    ``[len(encoded_vocab), vocab_size)`` (padded model vocabularies) are always masked.

    Special ids never match grammar text: only a grammar's special-token terminal (``<[ID]>``,
    ``<[NAME]>``, ``<|NAME|>``; docs/ebnf.md) allows one. ``special_tokens`` maps token texts to
    ids (a named id that is not a stop id becomes special); special and stop ids whose
    ``encoded_vocab`` entry is not empty are also named by it. The read-only ``special_tokens``
    property lists the names, and ``decoded_vocab[i]`` of a special id given as ``b""`` is its
    name, so that decoded output shows ``<tool_call>``. Ordinary tokens whose bytes hold 0xFF
    (never valid UTF-8) are never allowed: the core matches special tokens by a marker that
    starts with that byte.

    Example:
        >>> info = TokenizerInfo([b"a", b"b", b"</s>", b""], stop_token_ids=[2], vocab_size=8,
        ...                      special_tokens={"<tool_call>": 3})
        >>> info.vocab_size, info.stop_token_ids, info.special_token_ids
        (8, [2], [3])
        >>> info.special_tokens, info.decoded_vocab[3]
        ({'</s>': 2, '<tool_call>': 3}, b'<tool_call>')
    """

    vocab_type: str = "raw"

    @classmethod
    def from_huggingface(
        cls,
        tokenizer: Any,
        vocab_size: int | None = None,
        stop_token_ids: list[int] | None = None,
    ) -> "TokenizerInfo":
        """Build from a ``transformers`` tokenizer (byte-level BPE, SentencePiece byte-fallback
        or raw vocabularies); ``vocab_size`` is the model's (it may exceed the tokenizer's).
        Special and stop tokens are named by their text (added tokens' contents); an added
        token that is not special (Qwen2.5's ``<tool_call>``) stays ordinary text.

        Example:
            >>> from transformers import AutoTokenizer  # doctest: +SKIP
            >>> info = TokenizerInfo.from_huggingface(AutoTokenizer.from_pretrained(path))  # doctest: +SKIP
        """
        decoded = decode_hf_vocab(tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids)
        info = cls(
            decoded.encoded_vocab,
            vocab_size=vocab_size,
            stop_token_ids=decoded.stop_token_ids,
            special_token_ids=decoded.special_token_ids,
            special_tokens=decoded.special_tokens,
        )
        info.vocab_type = decoded.vocab_type
        return info
