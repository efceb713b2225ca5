"""GrammarMatcher and BatchGrammarMatcher: the per-sequence state and the parallel mask filler."""

from __future__ import annotations

import operator
import os
from typing import Any, Iterable, Sequence

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
        self._max_rollback_tokens = max_rollback_tokens
        self._init_python_state()

    def _init_python_state(self) -> None:
        self.vocab_size: int = self.compiled_grammar.tokenizer_info.vocab_size
        # (bitmask, index, data pointer, shape, row pointer, strides, row bytes) of the last
        # validated fill (see _row_address). Holding the tensor keeps its id from being reused
        # by another object.
        self._last_fill: tuple | None = None

    def fill_next_token_bitmask(self, bitmask: Any, index: int = 0) -> None:
        """Write the allowed-token mask into row ``index`` of ``bitmask`` (releases the GIL)."""
        self._fill_bitmask_ptr(self._row_address(bitmask, index)[0])

    def _row_address(self, bitmask: Any, index: int) -> tuple[int, int]:
        """(address of row ``index``, bytes from one row to the next) after ``row_pointer``'s
        checks. A decode loop passes the same tensor every step, so the last answer is kept."""
        last = self._last_fill
        if (
            last is not None
            and last[0] is bitmask
            and last[1] == index
            and last[2] == bitmask.data_ptr()
            and last[3] == bitmask.shape
            and last[5] == bitmask.stride()
        ):
            return last[4], last[6]
        ptr = row_pointer(bitmask, index, self.vocab_size)
        if hasattr(bitmask, "data_ptr"):
            strides = bitmask.stride()
            row_bytes = strides[0] * 4 if len(strides) == 2 else 0
            self._last_fill = (
                bitmask, index, bitmask.data_ptr(), bitmask.shape, ptr, strides, row_bytes
            )
        else:  # numpy: strides in bytes
            row_bytes = bitmask.strides[0] if bitmask.ndim == 2 else 0
        return ptr, row_bytes

    def fork(self) -> "GrammarMatcher":
        """An independent copy with the same state and rollback history."""
        copy = GrammarMatcher.__new__(GrammarMatcher)
        _core.GrammarMatcher.__init__(copy, self)
        copy._max_rollback_tokens = self._max_rollback_tokens
        copy._init_python_state()
        return copy

    def validate_tokens(self, tokens: Iterable[int]) -> int:
        """How many leading tokens of a speculative draft the grammar accepts, in order.

        The matcher is left as it was (same state, same rollback history). A stop token counts
        as accepted where the grammar may end; nothing after it is (the sequence is over). The
        draft is accepted and then rolled back, or, when ``max_rollback_tokens`` could not undo
        it without dropping older history, stepped on a :meth:`fork`. ValueError for an id
        outside the vocabulary (before anything is accepted) or a terminated matcher.

        Example:
            >>> import formgate
            >>> info = formgate.TokenizerInfo([b"a", b"b", b"ab", b"</s>"], stop_token_ids=[3])
            >>> m = formgate.GrammarMatcher(
            ...     formgate.GrammarCompiler(info).compile_grammar('root ::= "a" "b"*'))
            >>> m.validate_tokens([2, 1, 3, 1]), m.validate_tokens([0, 0]), m.num_steps
            (3, 1, 0)
        """
        ids = self._draft_ids(tokens)
        probe = self._speculation_probe(len(ids))
        accepted = 0
        try:
            for token in ids:
                if probe.is_terminated() or not probe.accept_token(token):
                    break
                accepted += 1
        finally:
            if probe is self:
                self.rollback(accepted)
        return accepted

    def fill_draft_bitmasks(self, tokens: Iterable[int], bitmask: Any, start_index: int = 0) -> int:
        """Fill the masks a speculative verifier needs for a draft of ``k`` tokens; returns the
        number ``n`` of leading draft tokens the grammar accepts (as :meth:`validate_tokens`).

        Row ``start_index + i`` gets the mask after accepting ``tokens[:i]``, for ``i = 0..n``:
        the target model's logits at draft position ``i`` are masked with it, and row
        ``start_index + n`` also serves the extra token sampled after a fully accepted draft.
        Rows that no grammar state belongs to are set to all zeros (no token allowed): rows
        ``start_index + n + 1 .. start_index + k`` (after the first rejected token), and row
        ``start_index + n`` when ``tokens[n - 1]`` is an accepted stop token. The verifier never
        needs them (row ``n`` already forbids the rejected ``tokens[n]``); do not sample from
        them (softmax of an all ``-inf`` row is NaN). The matcher is left as it was.

        ``bitmask``: int32, at least ``start_index + k + 1`` rows (ValueError otherwise, and for
        bad ids or a terminated matcher, before anything is written).

        One speculative step (``draft`` from a small model, ``target_argmax`` from one
        forward pass of the large one over the prompt plus the draft, masked row by row):

            >>> import formgate, torch
            >>> info = formgate.TokenizerInfo([b"a", b"b", b"ab", b"</s>"], stop_token_ids=[3])
            >>> m = formgate.GrammarMatcher(
            ...     formgate.GrammarCompiler(info).compile_grammar('root ::= "a" "b"*'))
            >>> draft = [2, 1, 0]                        # "ab" "b" "a": the grammar stops at "a"
            >>> mask = formgate.allocate_token_bitmask(len(draft) + 1, info.vocab_size)
            >>> n = m.fill_draft_bitmasks(draft, mask)
            >>> n, [formgate.testing.allowed_tokens(mask[i], info.vocab_size) for i in range(4)]
            (2, [[0, 2], [1, 3], [1, 3], []])
            >>> logits = torch.zeros(len(draft) + 1, info.vocab_size)
            >>> logits[0, 2] = logits[1, 1] = logits[2, 3] = 1.0   # the target model's verdict
            >>> formgate.apply_token_bitmask_inplace(logits[: n + 1], mask[: n + 1])
            >>> target_argmax = logits[: n + 1].argmax(-1).tolist()
            >>> keep = 0                                 # the verified prefix of the draft ...
            >>> while keep < n and draft[keep] == target_argmax[keep]:
            ...     keep += 1
            >>> new_tokens = draft[:keep] + [target_argmax[keep]]  # ... and the target's next token
            >>> new_tokens, all(m.accept_token(t) for t in new_tokens), m.is_terminated()
            ([2, 1, 3], True, True)

        When the verified prefix ends with a stop token there is no next token (its row is
        empty). If the draft tokens were accepted one by one while drafting (a matcher shared
        with the draft model, which stops at the first rejected one), ``rollback(n - keep)``
        undoes the unverified ones instead.
        """
        ids = self._draft_ids(tokens)
        first, row_bytes = self._row_address(bitmask, start_index)  # checks dtype and layout
        rows = bitmask.shape[0] if len(bitmask.shape) == 2 else 1
        if start_index + len(ids) + 1 > rows:
            raise ValueError(
                f"a draft of {len(ids)} tokens needs bitmask rows {start_index}.."
                f"{start_index + len(ids)}, but the bitmask has {rows} rows")
        probe = self._speculation_probe(len(ids))
        accepted = 0
        try:
            while not probe.is_terminated():
                probe._fill_bitmask_ptr(first + accepted * row_bytes)
                if accepted == len(ids) or not probe.accept_token(ids[accepted]):
                    break
                accepted += 1
            # The row after an accepted stop token has no state; so has every row after the
            # first rejected token.
            stateless_from = accepted if probe.is_terminated() else accepted + 1
        finally:
            if probe is self:
                self.rollback(accepted)
        if stateless_from <= len(ids):
            bitmask[start_index + stateless_from: start_index + len(ids) + 1] = 0
        return accepted

    def _draft_ids(self, tokens: Iterable[int]) -> list[int]:
        if self.is_terminated():
            raise ValueError(
                "the matcher has terminated (it accepted a stop token); call reset() or rollback()")
        ids = [operator.index(t) for t in tokens]
        for position, token in enumerate(ids):
            if not 0 <= token < self.vocab_size:
                raise ValueError(f"draft token {position} has id {token}, outside "
                                 f"[0, {self.vocab_size})")
        return ids

    def _speculation_probe(self, draft_length: int) -> "GrammarMatcher":
        """``self`` when accepting ``draft_length`` tokens can be rolled back exactly, else a fork.

        With a bounded ``max_rollback_tokens`` the core drops the oldest history entry at each
        step past the bound, so accepting then rolling back would shorten the history.
        """
        bound = self._max_rollback_tokens
        if bound < 0 or self.num_steps + draft_length <= bound:
            return self
        return self.fork()


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

    def batch_fill_draft_bitmasks(
        self,
        matchers: Sequence[GrammarMatcher],
        drafts: Sequence[Sequence[int]],
        bitmask: Any,
        start_indices: Sequence[int] | None = None,
    ) -> list[int]:
        """:meth:`GrammarMatcher.fill_draft_bitmasks` for each ``(matchers[i], drafts[i])``, its
        rows from ``start_indices[i]`` on; returns each accepted count.

        By default the rows are packed: ``len(drafts[0]) + 1`` rows for the first sequence,
        then the next, so ``bitmask`` needs ``sum(len(d) + 1 for d in drafts)`` rows. Row ranges
        must not overlap. Every argument is checked before anything is written (ValueError).
        The sequences are filled one after another: a pool of ``max_threads`` Python threads
        (mask filling releases the GIL) was slower on Llama-3's vocabulary with 8 sequences of
        4-token drafts on 2 cores (9-14 ms against 6.5-7.5 ms for whole generations), since
        accepting and rolling back hold the GIL.

        Example:
            >>> import formgate
            >>> info = formgate.TokenizerInfo([b"a", b"b"])
            >>> compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= "a"+ "b"')
            >>> matchers = [formgate.GrammarMatcher(compiled) for _ in range(2)]
            >>> mask = formgate.allocate_token_bitmask(5, info.vocab_size)
            >>> formgate.BatchGrammarMatcher(2).batch_fill_draft_bitmasks(
            ...     matchers, [[0, 0], [1]], mask)
            [2, 0]
            >>> [formgate.testing.allowed_tokens(row, info.vocab_size) for row in mask]
            [[0], [0, 1], [0, 1], [0], []]
        """
        if len(drafts) != len(matchers):
            raise ValueError(f"{len(matchers)} matchers but {len(drafts)} drafts")
        drafts = [m._draft_ids(d) for m, d in zip(matchers, drafts)]
        if start_indices is None:
            starts, row = [], 0
            for d in drafts:
                starts.append(row)
                row += len(d) + 1
        else:
            starts = [operator.index(i) for i in start_indices]
            if len(starts) != len(matchers):
                raise ValueError(f"{len(matchers)} matchers but {len(starts)} start_indices")
        spans = sorted((start, start + len(d)) for start, d in zip(starts, drafts))
        for (_, end), (start, _) in zip(spans, spans[1:]):
            if start <= end:
                raise ValueError(f"draft rows overlap: a draft's rows end at {end}, the next "
                                 f"one's start at {start}")
        rows = bitmask.shape[0] if len(bitmask.shape) == 2 else 1
        for m, start in zip(matchers, starts):
            m._row_address(bitmask, start)  # dtype, layout and the first row
        if spans and spans[-1][1] >= rows:
            raise ValueError(f"the drafts need bitmask rows up to {spans[-1][1]}, but the "
                             f"bitmask has {rows} rows")
        return [m.fill_draft_bitmasks(d, bitmask, s) for m, d, s in zip(matchers, drafts, starts)]
