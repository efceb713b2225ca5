"""GCDSampler: plain grammar-constrained decoding (what every production engine does), behind
the same interface as :class:`~formgate.sampling.ASApSampler` so the two compare like for like.

At every step the model's distribution is masked to the allowed tokens and renormalised. The
output is grammatical but biased: ``Q_GCD(w) = P(w) / prod_t A(x_t)``, where ``A(x_t)`` is the
allowed mass at step t. Each sample carries the importance weight ``log_weight =
sum_t log A(x_t) = logp - logq``: the mean weight over attempts (dead ends weigh 0) is an
unbiased estimate of ``Z = P(grammar)``, and self-normalised weights turn averages over GCD
samples into averages under the target Q.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from formgate._core import CompiledGrammar
from formgate.sampling.core import (
    Counters,
    MaskSource,
    NoGrammaticalCompletion,
    Sample,
    draw,
    prompt_ids,
)
from formgate.sampling.lm import LanguageModel, as_language_model

__all__ = ["GCDSampler"]


class GCDSampler:
    """Grammar-constrained decoding with importance weights; no state across samples.

    Arguments are those of :class:`~formgate.sampling.ASApSampler` that apply (no trie, so no
    mode, budgets or persistence).

    Example:
        >>> import formgate
        >>> from formgate.sampling import FunctionLM, GCDSampler
        >>> info = formgate.TokenizerInfo([b"0", b"1", b"<s>"], stop_token_ids=[2])
        >>> compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= "00" | "1" [01]')
        >>> bits = lambda ctx: [0.0, 0.0, -np.inf] if len(ctx) < 3 else [-np.inf, -np.inf, 0.0]
        >>> fair = FunctionLM(3, bits, "fair bits, stop after two")
        >>> gcd = GCDSampler(fair, None, compiled, [2], max_new_tokens=3, seed=0)
        >>> [(s.text, math.exp(s.log_weight)) for s in gcd.sample(3)]  # "00": P = 1/4, q = 1/2
        [('10', 1.0), ('00', 0.5), ('11', 1.0)]
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        compiled_grammar: CompiledGrammar,
        prompt: str | Sequence[int],
        *,
        temperature: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
        max_attempts: int = 1000,
    ):
        if not (temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a positive number, got {temperature}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.lm: LanguageModel = as_language_model(model)
        self.compiled_grammar = compiled_grammar
        self.prompt_ids = prompt_ids(prompt, tokenizer)
        self.temperature = float(temperature)
        self.max_new_tokens = int(max_new_tokens)
        self.max_attempts = int(max_attempts)
        self.masks = MaskSource(compiled_grammar, self.max_new_tokens, self.lm.vocab_size)
        self.rng = np.random.default_rng(seed)
        self.counters = Counters()

    def sample(self, n: int = 1) -> list[Sample]:
        """Draw ``n`` outputs; a draw that reaches a dead end (no allowed token with positive
        probability, or ``max_new_tokens`` reached) is restarted.

        Raises:
            NoGrammaticalCompletion: ``max_attempts`` attempts in a row hit dead ends.
        """
        out = []
        for _ in range(n):
            for attempt in range(1, self.max_attempts + 1):
                result = self._attempt()
                if result is not None:
                    tokens, logp, logq = result
                    self.counters.samples += 1
                    out.append(Sample(tokens, self.masks.text(tokens), logp, logq, attempt))
                    break
            else:
                raise NoGrammaticalCompletion(
                    f"{self.max_attempts} constrained decoding attempts in a row hit dead ends")
        return out

    def _attempt(self) -> tuple[list[int], float, float] | None:
        c = self.counters
        c.attempts += 1
        session = self.lm.session(self.prompt_ids)
        logits = session.logits
        tokens: list[int] = []
        logp = logq = 0.0
        while True:
            c.lm_calls += 1
            step = self.masks.step(tokens, logits, self.temperature)
            if len(step.toks) == 0:
                c.dead_ends += 1
                c.weights.fail()
                return None
            i, log_allowed = draw(step.lps, self.rng.random())
            logp += float(step.lps[i])
            logq += float(step.lps[i]) - log_allowed
            tok = int(step.toks[i])
            tokens.append(tok)
            c.tokens += 1
            if step.stop[i]:
                c.weights.add(logp - logq)
                return tokens, logp, logq
            logits = session.extend([tok])

    def stats(self) -> dict[str, Any]:
        """``samples``, ``attempts``, ``dead_ends``, ``lm_calls``, ``tokens`` and the
        importance estimate ``Z_is`` ± ``Z_is_se`` with the weights' ``ess``."""
        c = self.counters
        return {
            "mode": "gcd",
            "samples": c.samples,
            "attempts": c.attempts,
            "dead_ends": c.dead_ends,
            "lm_calls": c.lm_calls,
            "tokens": c.tokens,
            **c.weights.summary(),
        }
