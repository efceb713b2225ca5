"""TokenizerInfo: the compiled core's vocabulary plus the Hugging Face constructor."""

from __future__ import annotations

from typing import Any

from formgate import _core
from formgate.vocab_decoding import decode_hf_vocab


class TokenizerInfo(_core.TokenizerInfo):
    """The exact bytes of every token id, with the stop and special ids.

    ``TokenizerInfo(encoded_vocab, *, vocab_size=None, stop_token_ids=None,
    special_token_ids=None)``: ``encoded_vocab[i]`` (bytes or str) is what token i adds to the
    text. Special ids never match text; stop ids are allowed exactly when the grammar can end;
    ids in ``[len(encoded_vocab), vocab_size)`` (padded model vocabularies) are always masked.

    Example:
        >>> info = TokenizerInfo([b"a", b"b", b"</s>"], stop_token_ids=[2], vocab_size=8)
        >>> info.vocab_size, info.stop_token_ids
        (8, [2])
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
        )
        info.vocab_type = decoded.vocab_type
        return info
