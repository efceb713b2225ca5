"""An overlapped constrained decode loop for users who run their own model.

Per step, on a CUDA model::

    sample x_t (GPU) -> copy x_t to pinned host memory (non-blocking), record an event
    launch forward(x_t)                    (GPU, asynchronous; CUDA graph when compiled)
    wait for the event (x_t only, not the forward), matchers accept x_t      (CPU)
    fill the masks of step t+1 with BatchGrammarMatcher (C++ threads, GIL released)  (CPU)
    copy the bitmask from pinned memory (non-blocking), apply it, sample x_{t+1}  (GPU)

so the grammar work of a step hides behind the forward pass of the same step. On the CPU the
same code runs synchronously. With jump-forward decoding the forward of a step can only be
launched once the CPU knows which tokens the grammar forces, so the launch waits for the
matchers (the mask fill still overlaps it).

The model side is a :class:`Runner`: ``forward(input_ids, valid)`` feeds ``n`` tokens per row
(``valid`` False for padding inside the chunk) and returns each row's logits at its last valid
input. :class:`HFRunner` implements it for ``transformers`` causal LMs with a dynamic or
static KV cache and optional ``torch.compile``; padding positions stay in the cache, masked.

Example (a tiny random model; any ``transformers`` causal LM works the same way)::

    result = formgate.decode.decode(model, info, [tokenizer.encode("Hi")], compiled,
                                    max_new_tokens=32)
    result.texts[0], result.forced_tokens[0], result.mean_step_ms
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from formgate._core import CompiledGrammar
from formgate.bitmask import allocate_token_bitmask, apply_token_bitmask_inplace
from formgate.jump_forward import JumpForward
from formgate.matcher import BatchGrammarMatcher, GrammarMatcher
from formgate.sampler import Sampler
from formgate.tokenizer_info import TokenizerInfo

__all__ = ["DecodeResult", "HFRunner", "Runner", "decode"]


class Runner(Protocol):
    """The model as :func:`decode` drives it."""

    device: torch.device

    def start(self, batch: int, capacity: int) -> None:
        """Begin a generation of ``batch`` rows and at most ``capacity`` positions per row."""

    def forward(self, input_ids: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Append ``input_ids`` (batch, n) to the cache; return (batch, vocab) logits at each
        row's last valid position (any row for a row with no valid position)."""


class HFRunner:
    """A :class:`Runner` for a ``transformers`` causal LM.

    Args:
        model: e.g. ``LlamaForCausalLM`` (any model taking a 4-D additive ``attention_mask``,
            ``position_ids``, ``past_key_values`` and ``logits_to_keep``).
        static_cache: a ``StaticCache`` of ``capacity`` positions instead of a dynamic one
            (fixed shapes: what CUDA graphs need).
        compile: compile the one-token step with ``torch.compile(mode="reduce-overhead")``
            (CUDA graphs on a GPU); implies ``static_cache``. Multi-token chunks (prefill,
            jump-forward) run uncompiled.
        max_cache_len: the static cache's size (default: what each call needs). A fixed size
            lets calls of different lengths share one cache and its compiled graphs.

    The attention mask is built here, not by the model: a key position is visible when it is
    at or before the query and was a valid token (left padding of the prompts and padding
    inside jump-forward chunks are not). Position ids count each row's valid tokens, as
    ``generate`` does for left-padded batches.
    """

    def __init__(self, model: Any, static_cache: bool = False, compile: bool = False,
                 max_cache_len: int | None = None):
        self.model = model
        self.max_cache_len = max_cache_len
        self.static_cache = static_cache or compile
        self.compile = compile
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self._step_fn = (
            torch.compile(model.forward, mode="reduce-overhead", fullgraph=False)
            if compile else model.forward
        )
        self._cache: Any = None

    def start(self, batch: int, capacity: int) -> None:
        from transformers import DynamicCache, StaticCache

        config = self.model.config
        if self.static_cache and self.max_cache_len is not None:
            if capacity > self.max_cache_len:
                raise ValueError(f"this generation needs {capacity} cache positions; the "
                                 f"runner's max_cache_len is {self.max_cache_len}")
            capacity = self.max_cache_len
        if self.static_cache:
            if isinstance(self._cache, StaticCache) and self._capacity == capacity and \
                    self._batch == batch:
                self._cache.reset()  # same buffers: compiled graphs stay valid
            else:
                self._cache = StaticCache(config=config, max_cache_len=capacity)
        else:
            self._cache = DynamicCache(config=config)
        self._batch, self._capacity = batch, capacity
        self._used = 0
        self._seen = torch.zeros(batch, capacity, dtype=torch.bool, device=self.device)
        self._next_position = torch.zeros(batch, dtype=torch.long, device=self.device)
        self._positions = torch.arange(capacity, device=self.device)

    def forward(self, input_ids: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        batch, n = input_ids.shape
        start, end = self._used, self._used + n
        if end > self._capacity:
            raise ValueError(f"the cache holds {self._capacity} positions; {end} needed")
        self._seen[:, start:end] = valid
        counts = valid.long().cumsum(dim=1)
        position_ids = (self._next_position[:, None] + counts - 1).clamp(min=0)
        self._next_position += counts[:, -1]
        keys = self._capacity if self.static_cache else end
        query = self._positions[start:end]
        visible = (self._positions[None, :keys] <= query[:, None])[None] & \
            self._seen[:, None, :keys]
        mask = torch.zeros(visible.shape, dtype=self.dtype, device=self.device)
        mask.masked_fill_(~visible, torch.finfo(self.dtype).min)
        last = n - 1 - valid.flip(dims=[1]).long().argmax(dim=1)  # last valid index per row
        every_row_ends_last = bool(valid[:, -1].all()) if n > 1 else True
        compiled = self.compile and n == 1
        if compiled:
            torch.compiler.cudagraph_mark_step_begin()
        fn = self._step_fn if compiled else self.model.forward
        out = fn(
            input_ids=input_ids, attention_mask=mask[:, None], position_ids=position_ids,
            past_key_values=self._cache, use_cache=True,
            logits_to_keep=1 if every_row_ends_last else 0,
        )
        self._used = end
        # A CUDA graph's output buffer is overwritten by its next replay; callers may keep
        # these logits across one more step.
        logits = out.logits.clone() if compiled else out.logits
        if every_row_ends_last:
            return logits[:, -1]
        return logits[torch.arange(batch, device=logits.device), last]


@dataclass
class DecodeResult:
    """What :func:`decode` returns. Per row: ``token_ids`` (generated ids, the stop token
    included when one was generated), ``texts`` (their bytes as text, stop tokens excluded),
    ``forced_tokens`` (tokens jump-forward added beyond the sampled ones), ``completed`` /
    ``terminated`` (as the matcher says; unconstrained rows: whether a stop token came).
    Timing: ``prefill_s``, ``step_s`` (wall time of each decode step), ``grammar_s`` (CPU time
    in matchers: accept, jump-forward, mask fill)."""

    token_ids: list[list[int]]
    texts: list[str]
    forced_tokens: list[int]
    completed: list[bool]
    terminated: list[bool]
    prefill_s: float = 0.0
    step_s: list[float] = field(default_factory=list)
    grammar_s: float = 0.0

    @property
    def steps(self) -> int:
        return len(self.step_s)

    @property
    def mean_step_ms(self) -> float:
        return 1e3 * sum(self.step_s) / max(1, len(self.step_s))


def decode(
    model: Any,
    tokenizer_info: TokenizerInfo,
    prompts: Sequence[Sequence[int]],
    grammars: CompiledGrammar | Sequence[CompiledGrammar | None] | None,
    max_new_tokens: int = 64,
    sampler: Sampler | str | None = "greedy",
    *,
    jump_forward: JumpForward | None = None,
    static_cache: bool = False,
    compile: bool = False,
    stop_token_ids: Sequence[int] | None = None,
    pad_token_id: int | None = None,
    max_threads: int | str = "auto",
) -> DecodeResult:
    """Generate from token-id prompts under grammars, with mask work overlapped on the GPU.

    Args:
        model: a ``transformers`` causal LM (wrapped in :class:`HFRunner`) or a
            :class:`Runner`.
        tokenizer_info: the vocabulary (its ``vocab_size`` may be below the logits width; the
            extra columns are masked).
        prompts: one list of token ids per row (any lengths; left-padded here).
        grammars: one compiled grammar for all rows, one per row (None: that row is
            unconstrained), or None for an unconstrained batch (the baseline).
        max_new_tokens: budget per row (forced tokens count).
        sampler: ``"greedy"``, ``"sample"`` or a :class:`~formgate.sampler.Sampler`.
        jump_forward: a :class:`~formgate.jump_forward.JumpForward` to append forced text in
            one forward pass (constrained rows only).
        static_cache, compile: see :class:`HFRunner` (ignored for a Runner).
        stop_token_ids: stop tokens of unconstrained rows (default: the vocabulary's; pass
            ``[]`` to always generate ``max_new_tokens``).
        pad_token_id: the token fed for finished rows (default: the first stop token, else 0).
        max_threads: threads for the batched mask fill.
    """
    runner = model if hasattr(model, "start") and hasattr(model, "forward") and not \
        isinstance(model, torch.nn.Module) else HFRunner(model, static_cache, compile)
    loop = _Loop(runner, tokenizer_info, prompts, grammars, max_new_tokens,
                 Sampler.coerce(sampler), jump_forward, stop_token_ids, pad_token_id,
                 max_threads)
    with torch.inference_mode():
        return loop.run()


class _Loop:
    """State of one :func:`decode` call (one object so the steps share buffers)."""

    def __init__(self, runner: Any, info: TokenizerInfo, prompts: Sequence[Sequence[int]],
                 grammars: Any, max_new_tokens: int, sampler: Sampler,
                 jump_forward: JumpForward | None, stop_token_ids: Sequence[int] | None,
                 pad_token_id: int | None, max_threads: int | str):
        if not prompts or any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        batch = len(prompts)
        if grammars is None or isinstance(grammars, CompiledGrammar):
            per_row = [grammars] * batch
        else:
            per_row = list(grammars)
            if len(per_row) != batch:
                raise ValueError(f"{len(per_row)} grammars for {batch} prompts")
        for g in per_row:
            if g is not None and g.tokenizer_info.vocab_size != info.vocab_size:
                raise ValueError(
                    f"a grammar was compiled for vocab_size {g.tokenizer_info.vocab_size}, "
                    f"not {info.vocab_size}")
        self.runner, self.info, self.prompts = runner, info, [list(p) for p in prompts]
        self.batch, self.max_new_tokens, self.sampler = batch, max_new_tokens, sampler
        self.jump = jump_forward
        self.matchers = [GrammarMatcher(g) if g is not None else None for g in per_row]
        self.constrained = [i for i, m in enumerate(self.matchers) if m is not None]
        self.stops = set(info.stop_token_ids if stop_token_ids is None else stop_token_ids)
        self.pad = pad_token_id if pad_token_id is not None else (
            min(info.stop_token_ids) if info.stop_token_ids else 0)
        self.filler = BatchGrammarMatcher(max_threads)
        self.device = torch.device(runner.device)
        self.cuda = self.device.type == "cuda"
        self.generator = sampler.generator(self.device)
        self.out: list[list[int]] = [[] for _ in range(batch)]
        self.forced = [0] * batch
        self.done = [False] * batch
        self.grammar_s = 0.0
        if self.constrained:
            host = allocate_token_bitmask(batch, info.vocab_size)
            self.mask_host = host.pin_memory() if self.cuda else host
            self.mask_dev = self.mask_host.to(self.device) if self.cuda else self.mask_host
        self.token_host = torch.zeros(batch, dtype=torch.long,
                                      pin_memory=self.cuda)

    # ------------------------------------------------------------------ loop

    def run(self) -> DecodeResult:
        t0 = time.perf_counter()
        longest = max(len(p) for p in self.prompts)
        # Jump-forward chunks use cache slots beyond one per step: leave room for them.
        capacity = longest + self.max_new_tokens * (2 if self.jump else 1) + 2
        self.runner.start(self.batch, capacity)
        self.capacity, self.used = capacity, longest
        ids = torch.full((self.batch, longest), self.pad, dtype=torch.long)
        valid = torch.zeros(self.batch, longest, dtype=torch.bool)
        for i, p in enumerate(self.prompts):
            ids[i, longest - len(p):] = torch.tensor(p)
            valid[i, longest - len(p):] = True
        logits = self.runner.forward(ids.to(self.device), valid.to(self.device))
        if self.jump:
            logits = self._initial_jump(logits)
        tokens = self._masked_sample(logits)
        prefill_s = time.perf_counter() - t0
        step_s: list[float] = []
        t_step = time.perf_counter()
        while True:
            self.token_host.copy_(tokens, non_blocking=True)
            ready = torch.cuda.Event() if self.cuda else None
            if ready is not None:
                ready.record()
            early = self.jump is None and self._budget_left()
            if early:  # every row feeds its sampled token: launch before the CPU looks at it
                self.used += 1
                logits = self.runner.forward(tokens[:, None], self._ones(1))
            if ready is not None:
                ready.synchronize()
            feeds = self._accept(self.token_host.tolist())
            if all(self.done):
                step_s.append(time.perf_counter() - t_step)
                break
            if not early:
                logits = self._feed(feeds, logits)
            tokens = self._masked_sample(logits)
            now = time.perf_counter()
            step_s.append(now - t_step)
            t_step = now
        return self._result(prefill_s, step_s)

    def _budget_left(self) -> bool:
        return any(not d and len(o) + 1 < self.max_new_tokens
                   for d, o in zip(self.done, self.out))

    def _ones(self, n: int) -> torch.Tensor:
        return torch.ones(self.batch, n, dtype=torch.bool, device=self.device)

    def _accept(self, tokens: list[int]) -> list[list[int]]:
        """Feed each live row's sampled token to its matcher (and jump-forward); return what
        each row feeds next (empty for finished rows)."""
        start = time.perf_counter()
        feeds: list[list[int]] = [[] for _ in range(self.batch)]
        for i, token in enumerate(tokens):
            if self.done[i]:
                continue
            matcher = self.matchers[i]
            if matcher is not None:
                if not matcher.accept_token(token):
                    raise RuntimeError(f"row {i}: sampled token {token} is not allowed by the "
                                       "grammar (was the mask applied?)")
                finished = matcher.is_terminated()
                feed = [token]
                if self.jump is not None and not finished:
                    step = self.jump.extend(matcher, token, context=self.out[i])
                    if len(step.tokens) <= self._jump_room(i):
                        feed = step.tokens
                        self.forced[i] += step.forced
                    elif step.tokens != [token]:  # no room left: undo, feed the sampled token
                        matcher.rollback(len(step.tokens))
                        matcher.accept_token(token)
            else:
                finished = token in self.stops
                feed = [token]
            self.out[i].extend(feed)
            if finished or len(self.out[i]) >= self.max_new_tokens:
                self.done[i] = True
            feeds[i] = feed
        self.grammar_s += time.perf_counter() - start
        return feeds

    def _jump_room(self, row: int) -> int:
        """How many tokens row ``row`` may feed this step: its token budget, and the cache
        slots left after reserving one per step that may still follow."""
        budget = self.max_new_tokens - len(self.out[row])  # the sampled token is not in out
        steps_left = self.max_new_tokens - 1
        return max(1, min(budget, self.capacity - self.used - steps_left))

    def _feed(self, feeds: list[list[int]], previous: torch.Tensor) -> torch.Tensor:
        """One forward pass over each row's tokens (right-padded chunk); rows that feed nothing
        keep their previous logits."""
        n = max(1, max(len(f) for f in feeds))
        ids = torch.full((self.batch, n), self.pad, dtype=torch.long)
        valid = torch.zeros(self.batch, n, dtype=torch.bool)
        for i, f in enumerate(feeds):
            if f:
                ids[i, : len(f)] = torch.tensor(f)
                valid[i, : len(f)] = True
        self.used += n
        logits = self.runner.forward(ids.to(self.device, non_blocking=True),
                                     valid.to(self.device, non_blocking=True))
        if all(feeds):
            return logits
        fed = valid.any(dim=1).to(self.device)
        return torch.where(fed[:, None], logits, previous)

    def _initial_jump(self, logits: torch.Tensor) -> torch.Tensor:
        """Text the grammars force before the first token: fed in one chunk after prefill."""
        start = time.perf_counter()
        feeds = [[] for _ in range(self.batch)]
        for i in self.constrained:
            step = self.jump.extend(self.matchers[i], None)
            if len(step.tokens) > self.max_new_tokens - 1:
                self.matchers[i].rollback(len(step.tokens))
                continue
            feeds[i] = step.tokens
        self.grammar_s += time.perf_counter() - start
        if not any(feeds):
            return logits
        for i, f in enumerate(feeds):
            self.out[i].extend(f)
            self.forced[i] += len(f)
        return self._feed(feeds, logits)

    def _masked_sample(self, logits: torch.Tensor) -> torch.Tensor:
        """Fill the live constrained rows' masks (CPU, overlapping the forward still running on
        a GPU), copy and apply them, and sample one token per row."""
        if self.constrained:
            start = time.perf_counter()
            live = [i for i in self.constrained if not self.done[i]]
            if live:
                self.filler.batch_fill_next_token_bitmask(
                    [self.matchers[i] for i in live], self.mask_host, indices=live)
                empty = np.flatnonzero(~self.mask_host.numpy()[live].any(axis=1))
                if empty.size:
                    row = live[int(empty[0])]
                    raise RuntimeError(
                        f"no token can continue row {row} under its grammar; the tokenizer has "
                        "no token for the next required bytes, or the grammar is complete and "
                        "the vocabulary has no stop token")
            self.grammar_s += time.perf_counter() - start
            if live:
                # The previous copy out of mask_host finished before this fill: it was queued
                # before the sampled tokens that the CPU has since waited for.
                mask = self.mask_dev
                if self.cuda:
                    mask.copy_(self.mask_host, non_blocking=True)
                apply_token_bitmask_inplace(logits, mask[live] if len(live) < self.batch
                                            else mask, indices=live if len(live) < self.batch
                                            else None, vocab_size=self.info.vocab_size)
        return self.sampler.sample(logits, self.generator)

    def _result(self, prefill_s: float, step_s: list[float]) -> DecodeResult:
        vocab = list(self.info.decoded_vocab)
        # Special tokens a grammar matched (tool-call markers) appear as their names, as
        # parse_tool_calls expects; stop tokens end the text.
        stops = set(self.info.stop_token_ids)
        texts, completed, terminated = [], [], []
        for i, ids in enumerate(self.out):
            data = b"".join(vocab[t] for t in ids if t < len(vocab) and t not in stops)
            texts.append(data.decode("utf-8", errors="replace"))
            m = self.matchers[i]
            if m is not None:
                completed.append(m.is_completed())
                terminated.append(m.is_terminated())
            else:
                ended = bool(ids) and ids[-1] in self.stops
                completed.append(ended)
                terminated.append(ended)
        return DecodeResult(self.out, texts, self.forced, completed, terminated,
                            prefill_s=prefill_s, step_s=step_s, grammar_s=self.grammar_s)
