"""Pieces shared by the samplers: the sample record, errors, the sampling key, the allowed-set
computation (mask, length cap, tokens the LM gives no mass), log-space helpers and draws.

Conventions: every probability is kept as a float64 natural log; ``-inf`` is probability 0.
A *stop token* (``TokenizerInfo.stop_token_ids``) ends a draw; the grammar allows it exactly
when the text so far is a sentence, and the sampled token ids include it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from formgate._core import CompiledGrammar
from formgate.bitmask import allocate_token_bitmask
from formgate.matcher import GrammarMatcher

__all__ = [
    "FingerprintMismatchError",
    "NoGrammaticalCompletion",
    "Sample",
    "SamplingKey",
    "logsumexp",
]


class NoGrammaticalCompletion(RuntimeError):
    """The model gives no probability to any grammatical output within ``max_new_tokens`` (or
    ``max_attempts`` draws in a row all hit dead ends)."""


class FingerprintMismatchError(ValueError):
    """Saved sampler state belongs to another (model, tokenizer, prompt, grammar, decoding
    parameters) key."""


@dataclass
class Sample:
    """One grammatical output.

    Attributes:
        token_ids: the generated ids, the final stop token included.
        text: the text the grammar saw (the stop token adds nothing).
        logp: ``log P(token_ids | prompt)`` under the (tempered) model, stop token included.
        logq: log-probability with which the sampler proposed this output on its last attempt.
        attempts: attempts this sample took (1 + dead ends/rejections before it).
    """

    token_ids: list[int]
    text: str
    logp: float
    logq: float
    attempts: int = 1

    @property
    def log_weight(self) -> float:
        """``logp - logq``: the importance weight ``P(w) / q(w)`` of this output. With failed
        attempts counted as weight 0, the mean weight over attempts is an unbiased estimate of
        ``P(grammar)``, and self-normalised weights reweight the samples to the target."""
        return self.logp - self.logq


def logsumexp(values: Any) -> float:
    """``log(sum(exp(values)))`` without overflow; ``-inf`` for no values or all ``-inf``.

    Example:
        >>> round(logsumexp([math.log(0.25), math.log(0.5)]), 12) == round(math.log(0.75), 12)
        True
        >>> logsumexp([])
        -inf
    """
    if isinstance(values, list) or (isinstance(values, np.ndarray) and values.size <= 32):
        # Short inputs: plain Python beats numpy's per-call overhead several times over.
        return logsumexp_list(values.tolist() if isinstance(values, np.ndarray) else values)
    arr = np.asarray(values, dtype=np.float64)
    top = float(arr.max())
    if top == -math.inf:
        return -math.inf
    return top + math.log(float(np.exp(arr - top).sum()))


def log_softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    """float64 log-softmax of ``logits / temperature`` (never ``log(softmax)``: that underflows
    to ``-inf`` for tokens ~100 nats below the top one)."""
    x = np.asarray(logits, dtype=np.float64)
    if temperature != 1.0:
        x = x / temperature
    top = x.max()
    if not np.isfinite(top):
        raise ValueError("the model's logits are all -inf (or contain +inf/NaN)")
    shifted = x - top
    return shifted - math.log(float(np.exp(shifted).sum()))


def draw(logweights: np.ndarray, u: float) -> tuple[int, float]:
    """``(index, log normaliser)``: an index drawn with probability proportional to
    ``exp(logweights)`` by inverting the CDF at ``u`` in [0, 1), and ``logsumexp(logweights)``.
    At least one weight must be finite."""
    top = logweights.max()
    w = np.exp(logweights - top)
    cdf = np.cumsum(w)
    total = float(cdf[-1])
    i = int(np.searchsorted(cdf, u * total, side="right"))
    # u * total can round up to the last cumulative value; never return a zero-weight index.
    i = min(i, len(w) - 1)
    while w[i] == 0.0:
        i -= 1
    return i, float(top) + math.log(total)


def logsumexp_list(values: list[float]) -> float:
    """:func:`logsumexp` of a short Python list, without numpy's per-call overhead."""
    top = max(values, default=-math.inf)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


@dataclass(frozen=True)
class SamplingKey:
    """What the target distribution depends on. Sampler state is valid only for its key."""

    model: str
    vocabulary: str
    prompt: tuple[int, ...]
    grammar: str
    temperature: float
    max_new_tokens: int

    def components(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "vocabulary": self.vocabulary,
            "prompt": list(self.prompt),
            "grammar": self.grammar,
            "temperature": self.temperature,
            "max_new_tokens": self.max_new_tokens,
        }

    def digest(self) -> str:
        text = json.dumps(self.components(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def check(self, saved: dict[str, Any], path: str) -> None:
        """Raise :class:`FingerprintMismatchError` naming every component that differs."""
        mine = self.components()
        diff = [name for name in mine if saved.get(name) != mine[name]]
        if diff:
            raise FingerprintMismatchError(
                f"{path}: saved sampler state was made for a different "
                f"{', '.join(diff)}; it cannot be used for this sampler"
            )


def vocabulary_digest(compiled: CompiledGrammar) -> str:
    info = compiled.tokenizer_info
    digest = hashlib.sha256()
    for piece in info.decoded_vocab:
        digest.update(len(piece).to_bytes(4, "little") + bytes(piece))
    digest.update(json.dumps([info.vocab_size, sorted(info.stop_token_ids),
                              sorted(info.special_token_ids)]).encode())
    return digest.hexdigest()


def grammar_digest(compiled: CompiledGrammar) -> str:
    return hashlib.sha256(str(compiled.grammar).encode()).hexdigest()


@dataclass
class Step:
    """What a sampler knows at one prefix: the allowed tokens and their log-probabilities."""

    toks: np.ndarray  # int64, increasing: allowed ids (stop ids included when the text can end)
    lps: np.ndarray  # float64 log P(tok | prefix) over the whole vocabulary
    stop: np.ndarray  # bool: toks[i] is a stop token
    full: np.ndarray  # float64 log P(. | prefix) over the whole vocabulary (for exact mode)


class MaskSource:
    """Computes allowed sets for one grammar: one matcher that follows the current draw lazily
    (it accepts the draw's tokens only when a mask is needed), plus the length cap."""

    def __init__(self, compiled: CompiledGrammar, max_new_tokens: int, lm_width: int):
        info = compiled.tokenizer_info
        if not info.stop_token_ids:
            raise ValueError(
                "the grammar's TokenizerInfo has no stop_token_ids: a sampler must be able to end "
                "a draw (TokenizerInfo(..., stop_token_ids=[...]))"
            )
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        self.vocab_size = info.vocab_size
        self.width = min(self.vocab_size, lm_width)
        self.stop_ids = np.array(sorted(t for t in info.stop_token_ids if t < self.width),
                                 dtype=np.int64)
        if self.stop_ids.size == 0:
            raise ValueError(f"every stop token id is beyond the model's {lm_width} logits")
        self.is_stop = np.zeros(self.width, dtype=bool)
        self.is_stop[self.stop_ids] = True
        self.max_new_tokens = max_new_tokens
        self.matcher = GrammarMatcher(compiled)
        self._bitmask = allocate_token_bitmask(1, self.vocab_size)
        # A view of the same memory: the bits are unpacked without a torch round trip.
        self._bytes = self._bitmask.numpy().view(np.uint8).reshape(-1)
        self._fed: list[int] = []
        self.decoded = list(info.decoded_vocab)

    def step(self, prefix: Sequence[int], logits: np.ndarray, temperature: float) -> Step:
        """Allowed tokens after ``prefix`` with their log-probabilities. A prefix of
        ``max_new_tokens - 1`` tokens may only stop (outputs have at most ``max_new_tokens``
        tokens, the stop token included, as in ``model.generate``)."""
        self._follow(prefix)
        full = log_softmax(logits, temperature)
        if full.shape[0] < self.width:
            raise ValueError(f"the model returned {full.shape[0]} logits, expected {self.width}")
        self.matcher.fill_next_token_bitmask(self._bitmask)
        bits = np.unpackbits(self._bytes, bitorder="little")[: self.width]
        allowed = np.flatnonzero(bits)
        if len(prefix) >= self.max_new_tokens - 1:
            allowed = allowed[self.is_stop[allowed]]
        lps = full[allowed]
        keep = lps > -math.inf
        toks = allowed[keep].astype(np.int64)
        return Step(toks, lps[keep], self.is_stop[toks], full)

    def _follow(self, prefix: Sequence[int]) -> None:
        fed = self._fed
        n = len(fed)
        if len(prefix) < n or list(prefix[:n]) != fed:
            self.matcher.reset()
            fed.clear()
            n = 0
        for t in prefix[n:]:
            if not self.matcher.accept_token(int(t)):
                raise AssertionError(f"token {t} was sampled but the grammar rejects it")
            fed.append(int(t))

    def text(self, token_ids: Sequence[int]) -> str:
        data = b"".join(bytes(self.decoded[t]) for t in token_ids if t not in self.stop_ids)
        return data.decode("utf-8", errors="replace")


@dataclass
class WeightStats:
    """Running importance-weight statistics over attempts (failed attempts weigh 0)."""

    attempts: int = 0
    log_sum: float = -math.inf
    log_sum_sq: float = -math.inf

    def add(self, log_weight: float) -> None:
        self.attempts += 1
        self.log_sum = float(np.logaddexp(self.log_sum, log_weight))
        self.log_sum_sq = float(np.logaddexp(self.log_sum_sq, 2 * log_weight))

    def fail(self) -> None:
        self.attempts += 1

    def summary(self) -> dict[str, float]:
        """``Z_is`` (mean weight), ``Z_is_se`` (its standard error) and ``ess`` (effective
        sample size of the successful draws' weights)."""
        n = self.attempts
        if n == 0 or self.log_sum == -math.inf:
            return {"Z_is": 0.0, "Z_is_se": math.nan, "ess": 0.0}
        mean = math.exp(self.log_sum - math.log(n))
        mean_sq = math.exp(self.log_sum_sq - math.log(n))
        var = max(0.0, mean_sq - mean * mean) * n / max(1, n - 1)
        ess = math.exp(2 * self.log_sum - self.log_sum_sq)
        return {"Z_is": mean, "Z_is_se": math.sqrt(var / n), "ess": ess}


@dataclass
class Counters:
    samples: int = 0
    attempts: int = 0
    dead_ends: int = 0
    rejections: int = 0
    lm_calls: int = 0
    cache_hits: int = 0
    tokens: int = 0
    weights: WeightStats = field(default_factory=WeightStats)


def prompt_ids(prompt: str | Sequence[int], tokenizer: Any) -> tuple[int, ...]:
    """The prompt as token ids: a sequence of ints is used as is; a string needs ``tokenizer``
    (a Hugging Face tokenizer; no special tokens are added)."""
    if isinstance(prompt, str):
        if tokenizer is None:
            raise ValueError("a text prompt needs a tokenizer; or pass the prompt as token ids")
        return tuple(int(t) for t in tokenizer(prompt, add_special_tokens=False)["input_ids"])
    return tuple(int(t) for t in prompt)
