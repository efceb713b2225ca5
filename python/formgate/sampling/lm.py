"""Language-model adapters for the samplers: one interface, three implementations.

A sampler needs, for a context (prompt ids followed by the tokens generated so far), the raw
next-token logits over the whole vocabulary. It asks for them through a *session* that it opens
at some context and then extends token by token, so that a transformers model can keep its KV
cache between the steps of one draw (the same cost as ``model.generate``).

- :class:`HashLM`: a deterministic "random-weight" tabular LM (logits drawn from a normal
  distribution seeded by the context): exact enumeration is cheap, so tests can compare samplers
  with the exact target distribution.
- :class:`FunctionLM`: logits from a Python function of the context (closed-form LMs such as
  fair bits).
- :class:`TransformersLM`: any ``transformers`` causal LM, on its own device (CPU or GPU).
- :class:`MemoLM`: wraps another LM and memoises logits by context (exact enumeration and
  repeated draws with a tiny model).

Example:
    >>> lm = HashLM(vocab_size=4, seed=1)
    >>> session = lm.session([0, 1])
    >>> session.logits.shape
    (4,)
    >>> bool((session.extend([2]) == lm.session([0, 1, 2]).logits).all())
    True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

__all__ = [
    "FunctionLM",
    "HashLM",
    "LanguageModel",
    "MemoLM",
    "Session",
    "TransformersLM",
    "as_language_model",
]


class Session(Protocol):
    """Next-token logits after a growing context."""

    logits: np.ndarray
    """float32/float64 array of length ``vocab_size``: raw logits after the current context."""

    def extend(self, tokens: Sequence[int]) -> np.ndarray:
        """Append ``tokens`` to the context; return (and store in ``logits``) the new logits."""


class LanguageModel(Protocol):
    """What the samplers need from a model."""

    vocab_size: int
    """Width of the logits."""

    calls: int
    """Forward passes made so far (a session start or an ``extend`` counts one each)."""

    def session(self, context: Sequence[int]) -> Session:
        """Logits after ``context`` (non-empty for transformers models)."""

    def fingerprint(self) -> str:
        """A string identifying the distribution (weights, config); keys saved sampler state."""


_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _splitmix64_array(x: np.ndarray) -> np.ndarray:
    """Vectorised :func:`_splitmix64` (uint64 arithmetic wraps modulo 2**64)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class _ContextSession:
    """A session for LMs that compute logits from the whole context (no incremental state)."""

    def __init__(self, lm: "FunctionLM | HashLM | MemoLM", context: Sequence[int]):
        self._lm = lm
        self._context = tuple(int(t) for t in context)
        self.logits = lm.logits_for(self._context)

    def extend(self, tokens: Sequence[int]) -> np.ndarray:
        self._context += tuple(int(t) for t in tokens)
        self.logits = self._lm.logits_for(self._context)
        return self.logits


class FunctionLM:
    """Logits given by ``fn(context) -> array of vocab_size floats`` (``-inf`` allowed).

    ``name`` goes into the fingerprint: give different functions different names.

    Example:
        >>> fair = FunctionLM(3, lambda ctx: np.array([0.0, 0.0, -np.inf]), name="fair")
        >>> fair.session([]).logits.tolist()
        [0.0, 0.0, -inf]
    """

    def __init__(self, vocab_size: int, fn: Callable[[tuple[int, ...]], Any], name: str):
        self.vocab_size = int(vocab_size)
        self._fn = fn
        self.name = name
        self.calls = 0

    def logits_for(self, context: tuple[int, ...]) -> np.ndarray:
        self.calls += 1
        logits = np.asarray(self._fn(context), dtype=np.float64)
        if logits.shape != (self.vocab_size,):
            raise ValueError(
                f"FunctionLM {self.name!r} returned shape {logits.shape} for context {context}, "
                f"expected ({self.vocab_size},)"
            )
        return logits

    def session(self, context: Sequence[int]) -> Session:
        return _ContextSession(self, context)

    def fingerprint(self) -> str:
        return f"FunctionLM:{self.name}:{self.vocab_size}"


class HashLM:
    """A tabular LM with i.i.d. normal logits per context: ``scale * N(0, 1)``, derived from a
    splitmix64 hash of ``(seed, context)`` (portable and deterministic: the same logits on
    every platform and numpy version).

    Args:
        vocab_size: width of the logits.
        seed: selects the table.
        scale: standard deviation of the logits (1.5 to 3 gives peaky, LLM-like conditionals).
        stop_token_ids: tokens whose logit gets ``stop_bias(len(context))`` added.
        stop_bias: an extra logit for the stop tokens by context length (default none); use it
            to make short or long outputs likely.
        banned: token ids whose logit is always ``-inf``.

    Example:
        >>> lm = HashLM(3, seed=0, banned=[2])
        >>> float(lm.session([1]).logits[2])
        -inf
    """

    def __init__(
        self,
        vocab_size: int,
        seed: int = 0,
        scale: float = 1.5,
        stop_token_ids: Sequence[int] = (),
        stop_bias: Callable[[int], float] | None = None,
        banned: Sequence[int] = (),
    ):
        self.vocab_size = int(vocab_size)
        self.seed = int(seed)
        self.scale = float(scale)
        self.stop_token_ids = sorted(int(t) for t in stop_token_ids)
        self._stop_bias = stop_bias
        self.banned = sorted(int(t) for t in banned)
        self.calls = 0

    def logits_for(self, context: tuple[int, ...]) -> np.ndarray:
        self.calls += 1
        h = _splitmix64(self.seed ^ 0x5DEECE66D)
        for t in context:
            h = _splitmix64(h ^ (t + 1))  # +1: token 0 must change the hash
        # Two uniforms per logit from splitmix64 over (h, index), then Box-Muller.
        words = _splitmix64_array(np.uint64(h) + np.arange(2 * self.vocab_size, dtype=np.uint64))
        u = ((words >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
        normal = np.sqrt(-2.0 * np.log(u[0::2])) * np.cos(2.0 * np.pi * u[1::2])
        logits = self.scale * normal
        if self._stop_bias is not None and self.stop_token_ids:
            logits[self.stop_token_ids] += self._stop_bias(len(context))
        logits[self.banned] = -np.inf
        return logits

    def session(self, context: Sequence[int]) -> Session:
        return _ContextSession(self, context)

    def fingerprint(self) -> str:
        # The stop_bias function cannot be hashed; its values on short contexts stand in for it.
        bias = [self._stop_bias(n) for n in range(64)] if self._stop_bias else []
        return "HashLM:" + json.dumps([self.vocab_size, self.seed, self.scale,
                                       self.stop_token_ids, self.banned, bias])


class MemoLM:
    """Memoises another LM's logits by context (unbounded; for small problems).

    ``calls`` counts only the forward passes of the wrapped model.

    Example:
        >>> memo = MemoLM(HashLM(4, seed=3))
        >>> _ = memo.session([1, 2]); _ = memo.session([1, 2])
        >>> memo.calls, len(memo.table)
        (1, 1)
    """

    def __init__(self, lm: LanguageModel):
        self.lm = lm
        self.vocab_size = lm.vocab_size
        self.table: dict[tuple[int, ...], np.ndarray] = {}

    @property
    def calls(self) -> int:
        return self.lm.calls

    def logits_for(self, context: tuple[int, ...]) -> np.ndarray:
        logits = self.table.get(context)
        if logits is None:
            logits = self.table[context] = np.asarray(self.lm.session(context).logits)
        return logits

    def session(self, context: Sequence[int]) -> Session:
        return _ContextSession(self, context)

    def fingerprint(self) -> str:
        return self.lm.fingerprint()


class _TransformersSession:
    def __init__(self, lm: "TransformersLM", context: Sequence[int]):
        if len(context) == 0:
            raise ValueError("a transformers model needs a non-empty context: pass a prompt "
                             "(at least a BOS token)")
        self._lm = lm
        self._past: Any = None
        self.logits = self._forward(context)

    def _forward(self, tokens: Sequence[int]) -> np.ndarray:
        import torch

        lm = self._lm
        ids = torch.tensor([list(tokens)], dtype=torch.long, device=lm.device)
        with torch.inference_mode():
            out = lm.model(input_ids=ids, past_key_values=self._past, use_cache=True)
        lm.calls += 1
        self._past = out.past_key_values
        return out.logits[0, -1].float().cpu().numpy()

    def extend(self, tokens: Sequence[int]) -> np.ndarray:
        self.logits = self._forward(tokens)
        return self.logits


class TransformersLM:
    """A ``transformers`` causal LM: a session prefills its context once, then each ``extend``
    is one decode step with the KV cache (the model stays on its device, CPU or GPU; logits
    come back as float32 on the CPU).

    The fingerprint hashes the config, ``name_or_path``, the dtype and a sample of the weights
    (the first and last parameter tensors); it does not read every weight.
    """

    def __init__(self, model: Any):
        self.model = model.eval()
        self.device = next(model.parameters()).device
        from formgate.hf import model_vocab_size

        self.vocab_size = model_vocab_size(model)
        self.calls = 0
        self._fingerprint: str | None = None

    def session(self, context: Sequence[int]) -> Session:
        return _TransformersSession(self, context)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            params = list(self.model.parameters())
            digest = hashlib.sha256()
            digest.update(self.model.config.to_json_string(use_diff=False).encode())
            for p in (params[0], params[-1]):
                digest.update(p.detach().float().cpu().numpy().tobytes())
            name = getattr(self.model, "name_or_path", "") or ""
            self._fingerprint = (f"TransformersLM:{type(self.model).__name__}:{name}:"
                                 f"{params[0].dtype}:{digest.hexdigest()}")
        return self._fingerprint


def as_language_model(model: Any) -> LanguageModel:
    """``model`` itself when it has ``session``/``fingerprint``, a :class:`TransformersLM` for a
    ``torch.nn.Module`` causal LM; TypeError otherwise."""
    if hasattr(model, "session") and hasattr(model, "fingerprint"):
        return model
    if hasattr(model, "forward") and hasattr(model, "config") and hasattr(model, "parameters"):
        return TransformersLM(model)
    raise TypeError(
        f"expected a formgate.sampling LanguageModel or a transformers causal LM, got "
        f"{type(model).__name__}"
    )
