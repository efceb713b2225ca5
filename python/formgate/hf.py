"""Hugging Face ``transformers`` integration: a ``LogitsProcessor`` that constrains
``model.generate`` to a grammar, and a one-call :func:`generate` helper.

Example (``model`` and ``tokenizer`` from ``transformers``; see ``formgate.model_cache``)::

    import formgate, formgate.hf

    info = formgate.hf.tokenizer_info(model, tokenizer)  # sized to the model's logits
    compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= "yes" | "no"')
    processor = formgate.hf.LogitsProcessor(compiled)
    out = model.generate(input_ids, logits_processor=[processor], max_new_tokens=8,
                         eos_token_id=info.stop_token_ids)

    formgate.generate(model, tokenizer, "Is water wet?", 'root ::= "yes" | "no"').text  # 'yes'
    formgate.generate(model, tokenizer, "A user?", {"type": "object", ...}).json  # a dict

Supported decoding: greedy and sampling (any batch size, left padding included). Beam search
(``num_beams > 1``) reorders rows between steps and is refused with ValueError; assisted /
speculative decoding is not supported either.
"""

from __future__ import annotations

import json
import sys
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import transformers

from formgate._core import CompiledGrammar, Grammar
from formgate.compiler import GrammarCompiler
from formgate.bitmask import allocate_token_bitmask, apply_token_bitmask_inplace, bitmask_words
from formgate.matcher import BatchGrammarMatcher, GrammarMatcher
from formgate.sampler import Sampler
from formgate.tokenizer_info import TokenizerInfo

__all__ = [
    "GenerationResult",
    "LogitsProcessor",
    "ProcessorStats",
    "build_prompt",
    "compile_spec",
    "decode_tokens",
    "generate",
    "model_vocab_size",
    "tokenizer_info",
]


@dataclass
class ProcessorStats:
    """Time the processor spent in one ``generate`` call (reset with the processor).

    ``step_s[i]`` is the whole processor call for step i; ``accept_s`` the matchers' token
    acceptance, ``fill_s`` the bitmask fill, ``apply_s`` writing ``-inf`` into the logits.
    """

    calls: int = 0
    accept_s: float = 0.0
    fill_s: float = 0.0
    apply_s: float = 0.0
    step_s: list[float] = field(default_factory=list)

    @property
    def total_s(self) -> float:
        return sum(self.step_s)

    @property
    def mean_step_ms(self) -> float:
        return 1e3 * self.total_s / self.calls if self.calls else 0.0


def model_vocab_size(model: Any) -> int:
    """The width of the model's logits (its output embedding rows, else ``config.vocab_size``);
    it may exceed ``len(tokenizer)`` when the embedding is padded."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weight = getattr(head, "weight", None)
    if weight is not None and weight.dim() == 2:
        return int(weight.shape[0])
    config = getattr(model, "config", None)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    return int(text_config.vocab_size)


_INFO_CACHE: weakref.WeakKeyDictionary[Any, dict[int, TokenizerInfo]] = (
    weakref.WeakKeyDictionary()
)


def tokenizer_info(model: Any, tokenizer: Any) -> TokenizerInfo:
    """``TokenizerInfo.from_huggingface`` sized to the model's logits (cached per tokenizer)."""
    vocab_size = max(model_vocab_size(model), len(tokenizer))
    try:
        per_tokenizer = _INFO_CACHE.setdefault(tokenizer, {})
    except TypeError:  # not weak-referenceable
        per_tokenizer = {}
    info = per_tokenizer.get(vocab_size)
    if info is None:
        info = TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        per_tokenizer[vocab_size] = info
    return info


_tokenizer_info_for = tokenizer_info  # generate() has a parameter of that name


def decode_tokens(info: TokenizerInfo, token_ids: Sequence[int]) -> str:
    """The text of ``token_ids`` as ``TokenizerInfo.decoded_vocab`` spells it: stop tokens add
    nothing, named special tokens (tool-call markers) add their names. Unlike
    ``tokenizer.decode`` this never strips or cleans up spaces."""
    vocab = _decoded_vocab(info)
    data = b"".join(vocab[t] for t in token_ids if 0 <= t < len(vocab))
    return data.decode("utf-8", errors="replace")


_DECODED_CACHE: weakref.WeakKeyDictionary[Any, list[bytes]] = weakref.WeakKeyDictionary()


def _decoded_vocab(info: TokenizerInfo) -> list[bytes]:
    try:
        vocab = _DECODED_CACHE.get(info)
        if vocab is None:
            vocab = _DECODED_CACHE[info] = list(info.decoded_vocab)
        return vocab
    except TypeError:
        return list(info.decoded_vocab)


def _words_row(token_ids: Sequence[int], vocab_size: int) -> torch.Tensor:
    """A bitmask row (int32 words) with exactly ``token_ids`` allowed."""
    words = np.zeros(bitmask_words(vocab_size), dtype=np.uint32)
    for t in token_ids:
        if 0 <= t < vocab_size:
            words[t // 32] |= np.uint32(1) << np.uint32(t % 32)
    return torch.from_numpy(words.view(np.int32).copy())


GrammarLike = CompiledGrammar | str | Grammar


def _caller_num_beams(max_depth: int = 12) -> int | None:
    """``num_beams`` of a ``generate`` call up the stack, if any (only looked at once per
    generation: a processor gets no other way to learn it is running under beam search)."""
    try:
        frame = sys._getframe(2)
    except ValueError:  # called from a shallow stack
        return None
    for _ in range(max_depth):
        if frame is None:
            return None
        config = frame.f_locals.get("generation_config")
        if config is not None and hasattr(config, "num_beams"):
            return config.num_beams
        frame = frame.f_back
    return None


class LogitsProcessor(transformers.LogitsProcessor):
    """Constrain ``model.generate`` to grammars: pass it in ``logits_processor=[...]``.

    Args:
        compiled_grammars: one :class:`~formgate.CompiledGrammar` for every batch row, or a list
            with one per row. With ``tokenizer_info`` given, entries may also be EBNF text or
            :class:`~formgate.Grammar` objects, compiled here.
        tokenizer_info: the vocabulary (default: the compiled grammars'). Its ``vocab_size``
            should be the model's logits width (:func:`tokenizer_info` does that); logits
            columns beyond it are always masked.
        max_threads: threads for the batched mask fill (``"auto"``: half the cores).

    One :class:`~formgate.GrammarMatcher` per batch row is created on the first call, when the
    prompt length is recorded. Every later call first feeds each row's newest token to its
    matcher, then fills the rows' masks (:class:`~formgate.BatchGrammarMatcher`) and sets the
    logits of disallowed tokens to ``-inf``. A row whose matcher has accepted a stop token (or
    that ``generate`` finished and now pads) may only produce stop tokens, so the pad/eos that
    ``generate`` appends is always allowed.

    A call whose ``input_ids`` do not extend the previous call's by one token (new prompt,
    new batch size) starts a new generation: matchers and :attr:`stats` are reset. Call
    :meth:`reset` to force that. Beam search is refused with ValueError.

    Attributes:
        matchers: the per-row matchers of the current generation (empty before the first call).
        prompt_length: ``input_ids.shape[1]`` at the first call of the current generation.
        stats: :class:`ProcessorStats` for the current generation.
    """

    def __init__(
        self,
        compiled_grammars: GrammarLike | Sequence[GrammarLike],
        tokenizer_info: TokenizerInfo | None = None,
        max_threads: int | str = "auto",
    ):
        grammars = (
            list(compiled_grammars)
            if isinstance(compiled_grammars, (list, tuple))
            else [compiled_grammars]
        )
        if not grammars:
            raise ValueError("compiled_grammars is empty")
        compiler = None
        resolved: list[CompiledGrammar] = []
        for g in grammars:
            if isinstance(g, CompiledGrammar):
                resolved.append(g)
            elif isinstance(g, (str, Grammar)):
                if tokenizer_info is None:
                    raise ValueError(
                        "EBNF text or a Grammar needs tokenizer_info to be compiled; pass a "
                        "CompiledGrammar or tokenizer_info"
                    )
                compiler = compiler or GrammarCompiler(tokenizer_info)
                resolved.append(compiler.compile_grammar(g))
            else:
                raise TypeError(f"expected a CompiledGrammar, got {type(g).__name__}")
        info = tokenizer_info if tokenizer_info is not None else resolved[0].tokenizer_info
        for g in resolved:
            if g.tokenizer_info.vocab_size != info.vocab_size:
                raise ValueError(
                    f"a grammar was compiled for vocab_size {g.tokenizer_info.vocab_size}, "
                    f"but the processor's vocabulary has {info.vocab_size}"
                )
        self.compiled_grammars = resolved
        self.tokenizer_info = info
        self.vocab_size = info.vocab_size
        self.stop_token_ids = list(info.stop_token_ids)
        self._special = set(info.special_token_ids) | set(self.stop_token_ids)
        self._stop_row = _words_row(self.stop_token_ids, self.vocab_size)
        self._batch_matcher = BatchGrammarMatcher(max_threads)
        self.matchers: list[GrammarMatcher] = []
        self.prompt_length: int | None = None
        self.stats = ProcessorStats()
        self._bitmask: torch.Tensor | None = None
        self._last_ids: np.ndarray | None = None
        self._finished: list[bool] = []

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget the current generation; the next call starts a new one."""
        self.matchers = []
        self.prompt_length = None
        self.stats = ProcessorStats()
        self._last_ids = None
        self._finished = []

    def _start(self, input_ids: torch.Tensor) -> None:
        batch = input_ids.shape[0]
        num_beams = _caller_num_beams()
        if num_beams is not None and num_beams > 1:
            raise ValueError(
                f"formgate.hf.LogitsProcessor does not support beam search (num_beams="
                f"{num_beams}): beams are reordered between steps, so per-row grammar state "
                "cannot follow them; use greedy decoding or sampling (num_beams=1)"
            )
        if len(self.compiled_grammars) == 1:
            grammars = self.compiled_grammars * batch
        elif len(self.compiled_grammars) == batch:
            grammars = self.compiled_grammars
        else:
            raise ValueError(
                f"the processor has {len(self.compiled_grammars)} grammars but generate passed "
                f"{batch} rows; give one grammar per batch row (with beam search or "
                "num_return_sequences > 1 rows are multiplied, and beam search is not supported)"
            )
        self.reset()
        self.matchers = [GrammarMatcher(g) for g in grammars]
        self._finished = [False] * batch
        self.prompt_length = int(input_ids.shape[1])
        if self._bitmask is None or self._bitmask.shape[0] < batch:
            self._bitmask = allocate_token_bitmask(batch, self.vocab_size)

    def _continues(self, ids: np.ndarray) -> bool:
        """Whether ``ids`` extends the previous call's rows by one token each (numpy: this runs
        every step, and torch's per-op overhead was most of the processor's accept time).

        Raises ValueError when the rows look like the previous ones reordered (beam search)."""
        last = self._last_ids
        if last is None or not self.matchers:
            return False
        if ids.shape[0] != last.shape[0] or ids.shape[1] != last.shape[1] + 1:
            return False
        prefix = ids[:, :-1]
        same = (prefix == last).all(axis=1)
        if same.all():
            return True
        # Rows that continue some *other* previous row: beams were reordered.
        changed = np.flatnonzero(~same).tolist()
        moved = [i for i in changed if (last == prefix[i]).all(axis=1).any()]
        if moved and len(moved) == len(changed):
            raise ValueError(
                "input_ids rows were reordered between steps (rows "
                f"{moved} continue other rows): beam search and other row-reordering decoding "
                "are not supported by formgate.hf.LogitsProcessor"
            )
        return False

    # ------------------------------------------------------------------ call

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        start = time.perf_counter()
        ids = input_ids.detach()
        if ids.device.type != "cpu":
            ids = ids.cpu()
        if ids.dim() != 2 or scores.dim() != 2 or ids.shape[0] != scores.shape[0]:
            raise ValueError(
                f"expected input_ids (batch, seq) and scores (batch, vocab), got "
                f"{tuple(ids.shape)} and {tuple(scores.shape)}"
            )
        array = ids.numpy()
        if self._continues(array):
            self._accept_last(array[:, -1].tolist())
        else:
            self._start(ids)
        self._last_ids = array.copy()
        accepted = time.perf_counter()

        batch = ids.shape[0]
        if scores.device.type == "cuda" and not self._bitmask.is_pinned():
            # Pinned host memory makes the copy to the GPU below asynchronous.
            self._bitmask = self._bitmask.pin_memory()
        bitmask = self._bitmask[:batch]
        active = [i for i in range(batch) if not self._finished[i]]
        if active:
            self._batch_matcher.batch_fill_next_token_bitmask(
                [self.matchers[i] for i in active], bitmask, indices=active
            )
        for i in range(batch):
            if self._finished[i]:
                bitmask[i] = self._stop_row
        empty = np.flatnonzero(~bitmask.numpy().any(axis=1))  # numpy: ~10x less overhead
        if empty.size:
            row = int(empty[0])
            raise RuntimeError(
                f"no token can continue row {row} under its grammar (text so far: "
                f"{self._row_text(ids, row)!r}); the tokenizer has no token for the next "
                "required bytes, or the grammar is complete and the vocabulary has no stop token"
            )
        filled = time.perf_counter()

        on_cpu = scores.device.type == "cpu"
        mask = bitmask if on_cpu else bitmask.to(scores.device, non_blocking=True)
        apply_token_bitmask_inplace(scores, mask, vocab_size=self.vocab_size)
        done = time.perf_counter()

        stats = self.stats
        stats.calls += 1
        stats.accept_s += accepted - start
        stats.fill_s += filled - accepted
        stats.apply_s += done - filled
        stats.step_s.append(done - start)
        return scores

    def _accept_last(self, tokens: list[int]) -> None:
        for i, token in enumerate(tokens):
            if self._finished[i]:
                continue
            matcher = self.matchers[i]
            if matcher.accept_token(token):
                if matcher.is_terminated():
                    self._finished[i] = True
            elif token in self._special:
                # generate() finished this row on its own (an eos or stop string the grammar does
                # not treat as a stop, then padding): keep it on stop tokens only.
                self._finished[i] = True
            else:
                raise RuntimeError(
                    f"row {i}: token {token} ({decode_tokens(self.tokenizer_info, [token])!r}) "
                    "was not allowed by the grammar; was the processor's mask overridden by a "
                    "later logits processor, or input_ids edited between steps?"
                )

    def _row_text(self, ids: torch.Tensor, row: int) -> str:
        start = self.prompt_length or 0
        return decode_tokens(self.tokenizer_info, ids[row, start:].tolist())

    def is_finished(self, row: int = 0) -> bool:
        """Whether row ``row`` has ended (its matcher accepted a stop token, or it was padded)."""
        return self._finished[row]


# ---------------------------------------------------------------------- helper


@dataclass
class GenerationResult:
    """One completion from :func:`generate`.

    ``text`` is the completion (exactly the bytes the grammar saw; stop tokens excluded),
    ``token_ids`` the generated ids (the stop token included when one was generated),
    ``seconds`` the wall time of the whole ``model.generate`` call (shared by a batch's rows),
    ``stats`` the processor's timings (None unconstrained). ``completed``: the text is a
    sentence of the grammar; ``terminated``: a stop token ended it.
    """

    text: str
    token_ids: list[int]
    prompt: str
    seconds: float
    stats: ProcessorStats | None
    completed: bool
    terminated: bool

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def ms_per_token(self) -> float:
        return 1e3 * self.seconds / max(1, self.num_tokens)

    @property
    def json(self) -> Any:
        """The text parsed as JSON (a JSON-schema or tool-call grammar's output); ValueError
        naming the position when it does not parse (e.g. cut off by ``max_new_tokens``)."""
        try:
            return json.loads(self.text)
        except json.JSONDecodeError as err:
            cut = "" if self.terminated else " (generation stopped at max_new_tokens)"
            raise ValueError(f"the output is not JSON{cut}: {err}") from None

    def __str__(self) -> str:
        return self.text


def build_prompt(
    tokenizer: Any, prompt: str, system: str | None = None, chat_template: bool = True
) -> str:
    """The model input text: ``prompt`` in the tokenizer's chat template (a user turn, then the
    assistant header), or ``prompt`` itself when ``chat_template`` is False or missing."""
    if not chat_template or getattr(tokenizer, "chat_template", None) is None:
        return prompt
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}
    ]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


GrammarSpec = str | Grammar | CompiledGrammar | dict


def compile_spec(spec: GrammarSpec, info: TokenizerInfo,
                 compiler: GrammarCompiler | None = None) -> CompiledGrammar:
    """Compile EBNF text, a :class:`~formgate.Grammar` or a JSON Schema (a dict) for ``info``;
    a :class:`~formgate.CompiledGrammar` is returned as is after checking its vocabulary size.

    Example:
        >>> import formgate
        >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
        >>> compile_spec({"type": "boolean"}, info).tokenizer_info.vocab_size
        256
    """
    if isinstance(spec, CompiledGrammar):
        if spec.tokenizer_info.vocab_size != info.vocab_size:
            raise ValueError(
                f"the grammar was compiled for vocab_size {spec.tokenizer_info.vocab_size}, "
                f"but the model's vocabulary has {info.vocab_size}"
            )
        return spec
    compiler = compiler or GrammarCompiler(info)
    if isinstance(spec, dict):
        return compiler.compile_json_schema(spec)
    if isinstance(spec, (str, Grammar)):
        return compiler.compile_grammar(spec)
    raise TypeError(
        f"grammar must be EBNF text, a Grammar, a CompiledGrammar or a JSON Schema dict, got "
        f"{type(spec).__name__}"
    )


def generate(
    model: Any,
    tokenizer: Any,
    prompts: str | Sequence[str],
    grammar: GrammarSpec | Sequence[GrammarSpec] | None = None,
    max_new_tokens: int = 64,
    sampler: Sampler | str | None = "greedy",
    *,
    system: str | None = None,
    chat_template: bool = True,
    tokenizer_info: TokenizerInfo | None = None,
    processor: LogitsProcessor | None = None,
    **generate_kwargs: Any,
) -> GenerationResult | list[GenerationResult]:
    """Generate constrained completions with ``model.generate`` and this module's processor.

    Args:
        model, tokenizer: a causal LM and its tokenizer.
        prompts: one user message (returns one :class:`GenerationResult`) or a list (returns a
            list, generated as one left-padded batch). Each is wrapped in the chat template
            unless ``chat_template=False`` or the tokenizer has none.
        grammar: EBNF text (root rule ``root``), a :class:`~formgate.Grammar`, a
            :class:`~formgate.CompiledGrammar` or a JSON Schema dict; or a list with one per
            prompt. None generates unconstrained (a baseline).
        max_new_tokens: the token budget per row.
        sampler: ``"greedy"``, ``"sample"`` or a :class:`~formgate.sampler.Sampler`
            (temperature, top_k, top_p, seed).
        system: an optional system message.
        tokenizer_info: the vocabulary; default :func:`tokenizer_info` of model and tokenizer.
        processor: reuse this processor (then ``grammar`` must be None).
        generate_kwargs: passed to ``model.generate``; ``num_beams > 1`` raises ValueError.

    Each result's ``.text`` is the completion, ``.json`` its parsed JSON.
    """
    if generate_kwargs.get("num_beams", 1) not in (None, 1):
        raise ValueError("formgate.hf.generate does not support beam search (num_beams > 1)")
    single = isinstance(prompts, str)
    prompt_list = [prompts] if single else list(prompts)
    if not prompt_list:
        raise ValueError("prompts is empty")
    sampler = Sampler.coerce(sampler)
    if processor is not None and grammar is not None:
        raise ValueError("pass either grammar or processor, not both")
    if processor is None and grammar is not None:
        info = tokenizer_info or _tokenizer_info_for(model, tokenizer)
        if info.vocab_size < len(tokenizer):
            raise ValueError(
                f"the vocabulary size ({info.vocab_size}) is smaller than the tokenizer's "
                f"({len(tokenizer)} tokens); build TokenizerInfo with "
                "formgate.hf.tokenizer_info(model, tokenizer)"
            )
        specs = list(grammar) if isinstance(grammar, (list, tuple)) else [grammar]
        if len(specs) not in (1, len(prompt_list)):
            raise ValueError(f"{len(specs)} grammars for {len(prompt_list)} prompts")
        compiler = GrammarCompiler(info)
        processor = LogitsProcessor([compile_spec(g, info, compiler) for g in specs],
                                    tokenizer_info=info)
    if processor is not None:
        processor.reset()
        info = processor.tokenizer_info
    else:
        info = tokenizer_info or _tokenizer_info_for(model, tokenizer)

    texts = [build_prompt(tokenizer, p, system=system, chat_template=chat_template)
             for p in prompt_list]
    templated = texts[0] != prompt_list[0]  # a chat template already holds its special tokens
    side = getattr(tokenizer, "padding_side", "left")
    tokenizer.padding_side = "left"  # generation continues every row at the same column
    try:
        inputs = tokenizer(texts, return_tensors="pt", padding=len(texts) > 1,
                           add_special_tokens=not templated)
    finally:
        tokenizer.padding_side = side
    device = getattr(model, "device", None)
    if device is not None:
        inputs = inputs.to(device)
    kwargs = {**sampler.hf_kwargs(), **generate_kwargs}
    kwargs.setdefault("pad_token_id", _pad_id(model, tokenizer))
    stop_ids = list(info.stop_token_ids)
    if stop_ids and "eos_token_id" not in kwargs:
        config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        eos = [config_eos] if isinstance(config_eos, int) else list(config_eos or [])
        kwargs["eos_token_id"] = sorted(set(eos) | set(stop_ids))
    processors = transformers.LogitsProcessorList([processor] if processor is not None else [])
    generator_seed = sampler.seed if not sampler.greedy else None
    start = time.perf_counter()
    with torch.inference_mode():
        if generator_seed is not None:
            torch.manual_seed(generator_seed)
        output = model.generate(**inputs, logits_processor=processors,
                                max_new_tokens=max_new_tokens, **kwargs)
    seconds = time.perf_counter() - start
    prompt_len = inputs["input_ids"].shape[1]
    eos_kw = kwargs.get("eos_token_id")
    stops = set(stop_ids) | set([eos_kw] if isinstance(eos_kw, int) else list(eos_kw or []))
    results = []
    for row, text in enumerate(texts):
        new_ids = output[row, prompt_len:].tolist()
        end = next((k for k, t in enumerate(new_ids) if t in stops), None)
        new_ids = new_ids if end is None else new_ids[: end + 1]
        if processor is not None:
            grammar_row = processor.compiled_grammars[
                row if len(processor.compiled_grammars) > 1 else 0]
            completed, terminated = _replay(grammar_row, new_ids)
        else:
            completed, terminated = end is not None, end is not None
        results.append(GenerationResult(
            text=decode_tokens(info, new_ids), token_ids=new_ids, prompt=text, seconds=seconds,
            stats=processor.stats if processor is not None else None,
            completed=completed, terminated=terminated,
        ))
    return results[0] if single else results


def _replay(compiled: CompiledGrammar, token_ids: Sequence[int]) -> tuple[bool, bool]:
    """``(completed, terminated)`` of a fresh matcher fed ``token_ids`` (generate() never
    passes the last token to the processor)."""
    check = GrammarMatcher(compiled)
    for t in token_ids:
        if check.is_terminated() or not check.accept_token(t):
            break
    return check.is_completed(), check.is_terminated()


def _pad_id(model: Any, tokenizer: Any) -> int | None:
    for source in (getattr(model, "generation_config", None), tokenizer):
        for name in ("pad_token_id", "eos_token_id"):
            value = getattr(source, name, None)
            if isinstance(value, list):
                value = value[0] if value else None
            if value is not None:
                return int(value)
    return None
