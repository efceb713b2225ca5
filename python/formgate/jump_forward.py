"""Jump-forward decoding: when the grammar forces the next bytes, append them as tokens in one
step instead of sampling them one by one, without breaking canonical tokenization.

The forced bytes are re-tokenized together with the token just sampled (not yet fed to the
model), and only the *stable prefix* is committed: the tokens that the tokenizer produces
whatever comes next. "Whatever comes next" is probed with the continuations the grammar allows
after the forced bytes (the longest allowed token per distinct pair of first bytes; the empty
string when the grammar may end there); a token boundary that any probe moves is not committed, and the model
generates those bytes itself, under the mask. When only a stop token (or nothing) can follow,
the whole forced text is committed.

So a forced segment never introduces a token boundary that the tokenizer would merge, e.g.
after ``{"`` it commits ``{"name":`` as the tokenizer splits it, not byte by byte. The last few
tokens before the sampled one are tokenized along as context: when the forced text would change
their boundaries (they are already in the KV cache), nothing is committed. Limits: the probes
look one token ahead, so a merge that depends on text beyond it is not seen; context further
back than three tokens is not looked at; the tokenizer must round-trip the text (byte-level BPE
does; a SentencePiece tokenizer that adds a word-start marker does not, and then nothing is
committed: decoding proceeds one token at a time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from formgate.bitmask import allocate_token_bitmask
from formgate.matcher import GrammarMatcher
from formgate.tokenizer_info import TokenizerInfo

__all__ = ["JumpForward", "JumpStep"]

MAX_PROBES = 64
CONTEXT_TOKENS = 3


@dataclass(frozen=True)
class JumpStep:
    """What :meth:`JumpForward.extend` decided for one row.

    ``tokens``: the ids to feed to the model next (the sampled token alone when nothing was
    forced; else the re-tokenized text, which may start with a different token than the sampled
    one: ``replaced`` is then True). ``forced``: how many of them the model did not sample
    (``len(tokens) - 1``).
    """

    tokens: list[int]
    replaced: bool = False

    @property
    def forced(self) -> int:
        return max(0, len(self.tokens) - 1)


class JumpForward:
    """Extends a row by the bytes its grammar forces, as canonically tokenized tokens.

    Args:
        tokenizer_info: the vocabulary the grammars were compiled for.
        encode: text to token ids without special tokens, e.g.
            ``lambda s: tokenizer.encode(s, add_special_tokens=False)``.
        encode_batch: the same for a list of texts (one call per jump; default: ``encode``
            on each). :meth:`from_huggingface` sets both.

    Example:
        >>> import formgate
        >>> info = formgate.TokenizerInfo([b"a", b"b", b"ab", b"c", b"abc", b"</s>"],
        ...                               stop_token_ids=[5])
        >>> compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= "a" "bc"')
        >>> def encode(text):  # greedy longest match stands in for a real tokenizer here
        ...     out = []
        ...     while text:
        ...         tok = max((t for t in info.decoded_vocab[:5] if text.encode().startswith(t)),
        ...                   key=len)
        ...         out.append(info.decoded_vocab.index(tok)); text = text[len(tok):]
        ...     return out
        >>> m = formgate.GrammarMatcher(compiled)
        >>> m.accept_token(0)  # the model sampled "a"; "bc" is forced
        True
        >>> step = JumpForward(info, encode).extend(m, last_token=0)
        >>> step.tokens, step.replaced, m.is_completed()  # "abc" replaces "a"
        ([4], True, True)
    """

    def __init__(
        self,
        tokenizer_info: TokenizerInfo,
        encode: Callable[[str], Sequence[int]],
        encode_batch: Callable[[list[str]], Sequence[Sequence[int]]] | None = None,
    ):
        self.info = tokenizer_info
        self.encode = encode
        self.encode_batch = encode_batch or (lambda texts: [encode(t) for t in texts])
        self._vocab: list[bytes] = list(tokenizer_info.decoded_vocab)
        self._special = set(tokenizer_info.special_token_ids) | set(
            tokenizer_info.stop_token_ids)
        self._bitmask = allocate_token_bitmask(1, tokenizer_info.vocab_size)
        # Per token usable as a probe (not special, non-empty, valid UTF-8): a key made of its
        # first two bytes (probes are grouped by it), else -1; and its length.
        key = np.full(tokenizer_info.vocab_size, -1, dtype=np.int32)
        length = np.zeros(tokenizer_info.vocab_size, dtype=np.int32)
        for tid, data in enumerate(self._vocab):
            if data and tid not in self._special and _is_utf8(data):
                key[tid] = data[0] * 257 + (data[1] + 1 if len(data) > 1 else 0)
                length[tid] = len(data)
        self._probe_key = key
        self._length = length

    @classmethod
    def from_huggingface(cls, tokenizer: Any, tokenizer_info: TokenizerInfo) -> "JumpForward":
        """A JumpForward that re-tokenizes with ``tokenizer.encode`` (no special tokens)."""
        return cls(
            tokenizer_info,
            lambda text: tokenizer.encode(text, add_special_tokens=False),
            lambda texts: tokenizer(texts, add_special_tokens=False)["input_ids"],
        )

    def extend(self, matcher: GrammarMatcher, last_token: int | None,
               context: Sequence[int] = ()) -> JumpStep:
        """Advance ``matcher`` over the forced bytes and return the tokens to feed.

        ``matcher`` has already accepted ``last_token`` (the token just sampled, not yet fed to
        the model), or ``last_token`` is None at the start of a generation. ``context``: the
        tokens generated before ``last_token`` (the last few are used): the tokenizer may put
        the sampled token in one pre-token chunk with them (``" -"`` then ``"\""`` in Qwen2),
        so they are tokenized along and must keep their boundaries, else nothing is committed.
        On return the matcher has accepted exactly ``JumpStep.tokens`` instead (it is rolled
        back by one token when ``last_token`` is replaced, so it needs rollback history).
        """
        keep = JumpStep([] if last_token is None else [last_token])
        if matcher.is_terminated():
            return keep
        forced = matcher.find_jump_forward_bytes()
        if not forced:
            return keep
        head = b"" if last_token is None else self._vocab[last_token]
        text_bytes = head + forced
        try:
            text = text_bytes.decode("utf-8")
        except UnicodeDecodeError:  # a character split across the boundary: cannot re-encode
            return keep
        tokens = self._stable_prefix(matcher, self._context(context, text), text, text_bytes,
                                     forced)
        if len(tokens) <= len(keep.tokens) and tokens == keep.tokens[: len(tokens)]:
            return keep  # nothing gained over feeding the sampled token alone
        if not tokens:
            return keep
        if last_token is not None:
            matcher.rollback(1)
        for k, tid in enumerate(tokens):
            if not matcher.accept_token(tid):
                # The re-tokenized bytes are the grammar's own forced bytes, so this means the
                # tokenizer does not round-trip them: undo and feed the sampled token alone.
                if k:
                    matcher.rollback(k)
                if last_token is not None and not matcher.accept_token(last_token):
                    raise RuntimeError("matcher state lost while undoing a jump-forward")
                return keep
        replaced = last_token is not None and tokens[0] != last_token
        return JumpStep(tokens, replaced=replaced)

    # ------------------------------------------------------------------ internals

    def _context(self, context: Sequence[int], text: str) -> tuple[list[int], str]:
        """The last context tokens (at most CONTEXT_TOKENS) and their text, or none when their
        bytes do not form whole characters."""
        ids = [t for t in context[-CONTEXT_TOKENS:] if 0 <= t < len(self._vocab)]
        while ids:
            try:
                return ids, b"".join(self._vocab[t] for t in ids).decode("utf-8")
            except UnicodeDecodeError:
                ids = ids[1:]
        return [], ""

    def _stable_prefix(self, matcher: GrammarMatcher, context: tuple[list[int], str],
                       text: str, text_bytes: bytes, forced: bytes) -> list[int]:
        """The tokens of ``text`` whose boundaries no allowed continuation moves (and that
        leave the context tokens as they are)."""
        probes = self._probes(matcher, forced)
        if not probes:
            return []
        context_ids, context_text = context
        common: list[int] | None = None
        for ids in self.encode_batch([context_text + text + probe for probe in probes]):
            ids = list(ids)
            if ids[: len(context_ids)] != context_ids:
                return []  # the text would merge into the context: cannot stay canonical
            ids = ids[len(context_ids):]
            if common is None:
                common = ids
            else:
                n = 0
                while n < min(len(common), len(ids)) and common[n] == ids[n]:
                    n += 1
                common = common[:n]
            if not common:
                return []
        # Only tokens lying wholly inside ``text`` (a probe's own bytes are not forced).
        out, used = [], 0
        for tid in common or []:
            data = self._vocab[tid] if 0 <= tid < len(self._vocab) else b"\xff\xff"
            if used + len(data) > len(text_bytes) or text_bytes[used : used + len(data)] != data:
                break
            out.append(tid)
            used += len(data)
        return out

    def _probes(self, matcher: GrammarMatcher, forced: bytes) -> list[str]:
        """Continuations the grammar allows after ``forced``: "" if it may stop there, and for
        each distinct pair of first two bytes the longest allowed token (valid UTF-8 ones):
        long tokens show merges that depend on more than the next character ("  \n" merges
        with a following "    \n" but not with " the")."""
        ahead = matcher.fork()
        if not ahead.accept_string(forced):
            return []
        ahead.fill_next_token_bitmask(self._bitmask)
        words = self._bitmask[0].numpy().view(np.uint8)
        allowed = np.flatnonzero(np.unpackbits(words, bitorder="little")[: self.info.vocab_size])
        probes: list[str] = []
        if allowed.size == 0 or any(_allows(self._bitmask, t) for t in self.info.stop_token_ids):
            probes.append("")  # the text may end here (nothing at all can follow: it must)
        candidates = allowed[self._probe_key[allowed] >= 0]
        keys = self._probe_key[candidates]
        order = np.lexsort((-self._length[candidates], keys))  # by key, longest first
        _, first = np.unique(keys[order], return_index=True)
        for tid in candidates[order][first][:MAX_PROBES]:
            probes.append(self._vocab[int(tid)].decode("utf-8"))
        return probes


def _allows(bitmask: Any, token_id: int) -> bool:
    """Whether row 0 of ``bitmask`` allows ``token_id``."""
    return bool((int(bitmask[0, token_id // 32]) >> (token_id % 32)) & 1)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
