"""GrammarMatcher and BatchGrammarMatcher: the per-sequence state and the parallel mask filler."""

from __future__ import annotations

import os
from typing import Any, Sequence

from formgate import _core
from formgate.bitmask import bitmask_words, row_pointer


class GrammarMatcher(_core.GrammarMatcher):
    """Tracks one generation under a compiled grammar and fills its token masks.

    ``accept_token``/``accept_string`` return False and leave the matcher unchanged when the
    grammar rejects the input; a set bit in ``fill_next_token_bitmask`` means ``accept_token``
    would succeed. An out-of-range id, a terminated matcher or a bitmask of the wrong shape or
    dtype raise ValueError.

    Example:
        >>> import formgate
        >>> info = formgate.TokenizerInfo([b"a", b"b", b"ab", b"</s>"], stop_token_ids=[3])
        >>> compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= "a" "b"*')
        >>> m = formgate.GrammarMatcher(compiled)
        >>> mask = formgate.allocate_token_bitmask(1, info.vocab_size)
        >>> m.fill_next_token_bitmask(mask)
        >>> formgate.testing.allowed_tokens(mask[0], info.vocab_size)
        [0, 2]
        >>> m.accept_token(2), m.is_completed(), m.accept_token(3), m.is_terminated()
        (True, True, True, True)
    """

    def __init__(self, compiled_grammar: _core.CompiledGrammar, max_rollback_tokens: int = -1):
        super().__init__(compiled_grammar, max_rollback_tokens)
        self._init_python_state()

    def _init_python_state(self) -> None:
        self.vocab_size: int = self.compiled_grammar.tokenizer_info.vocab_size
        # (bitmask, index, data pointer, shape, row pointer, strides) of the last validated fill: a
        # decode loop passes the same tensor every step, so its checks need not be redone.
        # Holding the tensor keeps its id from being reused by another object.
        self._last_fill: tuple | None = None

    def fill_next_token_bitmask(self, bitmask: Any, index: int = 0) -> None:
        """Write the allowed-token mask into row ``index`` of ``bitmask`` (releases the GIL)."""
        last = self._last_fill
        if (
            last is not None
            and last[0] is bitmask
            and last[1] == index
            and last[2] == bitmask.data_ptr()
            and last[3] == bitmask.shape
            and last[5] == bitmask.stride()
        ):
            self._fill_bitmask_ptr(last[4])
            return
        ptr = row_pointer(bitmask, index, self.vocab_size)
        if hasattr(bitmask, "data_ptr"):
            self._last_fill = (
                bitmask, index, bitmask.data_ptr(), bitmask.shape, ptr, bitmask.stride()
            )
        self._fill_bitmask_ptr(ptr)

    def fork(self) -> "GrammarMatcher":
        """An independent copy with the same state and rollback history."""
        copy = GrammarMatcher.__new__(GrammarMatcher)
        _core.GrammarMatcher.__init__(copy, self)
        copy._init_python_state()
        return copy


class BatchGrammarMatcher:
    """Fills the masks of many matchers at once on C++ threads, with the GIL released.

    Example:
        >>> import formgate
        >>> info = formgate.TokenizerInfo([b"a", b"b"])
        >>> compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= "a"+')
        >>> matchers = [formgate.GrammarMatcher(compiled) for _ in range(3)]
        >>> mask = formgate.allocate_token_bitmask(3, info.vocab_size)
        >>> formgate.BatchGrammarMatcher(2).batch_fill_next_token_bitmask(matchers, mask)
        >>> formgate.testing.allowed_tokens(mask[2], info.vocab_size)
        [0]
    """

    def __init__(self, max_threads: int | str = "auto"):
        if max_threads == "auto":
            max_threads = max(1, (os.cpu_count() or 2) // 2)
        if not isinstance(max_threads, int) or max_threads < 1:
            raise ValueError(f"max_threads must be a positive int or 'auto', got {max_threads!r}")
        self.max_threads = max_threads

    def batch_fill_next_token_bitmask(
        self,
        matchers: Sequence[GrammarMatcher],
        bitmask: Any,
        indices: Sequence[int] | None = None,
    ) -> None:
        """Fill row ``indices[i]`` (default ``i``) of ``bitmask`` for ``matchers[i]``."""
        if not matchers:
            return
        rows = list(range(len(matchers))) if indices is None else [int(i) for i in indices]
        if len(rows) != len(matchers):
            raise ValueError("indices must have one entry per matcher")
        if len({id(m) for m in matchers}) != len(matchers):
            # Filling mutates a matcher's scratch state, so one matcher on two threads would race.
            raise ValueError("the same matcher appears twice in the batch")
        vocab_size = matchers[0].vocab_size
        for m in matchers:
            if m.vocab_size != vocab_size:
                raise ValueError("all matchers must share one vocabulary size")
        base = row_pointer(bitmask, 0, vocab_size)
        for r in rows:
            row_pointer(bitmask, r, vocab_size)  # validates every row index
        row_words = bitmask_words(vocab_size)
        if hasattr(bitmask, "stride"):
            row_words = bitmask.stride(0) if bitmask.dim() == 2 else row_words
        elif hasattr(bitmask, "strides") and bitmask.ndim == 2:
            row_words = bitmask.strides[0] // 4
        _core._batch_fill(list(matchers), base, row_words, rows, self.max_threads)
