"""How the next token is picked: :class:`Sampler` (greedy, or temperature / top-k / top-p).

Used by :func:`formgate.hf.generate` (translated to ``model.generate`` arguments) and by
:func:`formgate.decode.decode` (applied to masked logits on the logits' device).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Sampler:
    """Greedy decoding when ``temperature == 0`` (the default), else sampling.

    ``top_k == 0`` and ``top_p == 1`` disable those filters; ``seed`` makes sampling
    reproducible (``formgate.decode``: a fresh ``torch.Generator`` per generation;
    ``formgate.generate``: ``torch.manual_seed(seed)`` before ``model.generate``, which
    samples from torch's global generator).

    Example:
        >>> s = Sampler.coerce("greedy")
        >>> s.greedy, s.sample(torch.tensor([[0.0, 2.0, float("-inf")]])).tolist()
        (True, [1])
        >>> Sampler(temperature=0.7, top_p=0.9).hf_kwargs()["do_sample"]
        True
    """

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @classmethod
    def coerce(cls, value: "Sampler | str | None") -> "Sampler":
        """A Sampler from ``None``/``"greedy"`` (argmax), ``"sample"`` (temperature 1) or
        itself; anything else raises ValueError."""
        if value is None or value == "greedy":
            return cls()
        if value == "sample":
            return cls(temperature=1.0)
        if isinstance(value, cls):
            return value
        raise ValueError(f"sampler must be a Sampler, 'greedy' or 'sample', got {value!r}")

    def hf_kwargs(self) -> dict[str, Any]:
        """Arguments for ``transformers`` ``generate`` with the same behaviour."""
        if self.greedy:
            return {"do_sample": False}
        return {"do_sample": True, "temperature": self.temperature, "top_k": self.top_k,
                "top_p": self.top_p}

    def generator(self, device: torch.device | str) -> torch.Generator | None:
        """A seeded generator on ``device`` (None without a seed: torch's global one)."""
        if self.seed is None or self.greedy:
            return None
        return torch.Generator(device=device).manual_seed(self.seed)

    def sample(self, logits: torch.Tensor, generator: torch.Generator | None = None
               ) -> torch.Tensor:
        """One token id per row of the (batch, vocab) ``logits``, on their device."""
        if self.greedy:
            return logits.argmax(dim=-1)
        scores = logits.float() / self.temperature
        if self.top_k:
            kth = torch.topk(scores, min(self.top_k, scores.shape[-1]), dim=-1).values[..., -1:]
            scores = scores.masked_fill(scores < kth, float("-inf"))
        if self.top_p < 1:
            ordered, order = scores.sort(dim=-1, descending=True)
            cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
            # Drop a token when the tokens before it already reach top_p (the first one stays).
            drop = (cumulative - ordered.softmax(dim=-1)) >= self.top_p
            scores = scores.scatter(-1, order, ordered.masked_fill(drop, float("-inf")))
        probs = scores.softmax(dim=-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
