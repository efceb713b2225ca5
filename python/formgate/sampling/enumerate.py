"""Exact distributions by enumeration, for tests and benchmarks on small finite problems.

- :func:`enumerate_target`: every grammatical output within ``max_new_tokens`` with its model
  log-probability, ``Z = P(grammar)``, the target ``Q`` and the exact output distribution of
  plain constrained decoding (GCD);
- :func:`next_draw_distribution`: the exact distribution of an :class:`ASApSampler`'s next
  draw, given its trie as it is now (no sampling noise: convergence curves without variance).

Both walk the whole tree of allowed prefixes, one LM call per prefix: use them on small
vocabularies and short outputs (or a small set of allowed tokens per step).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from formgate._core import CompiledGrammar
from formgate.sampling.core import MaskSource, Step, logsumexp, prompt_ids
from formgate.sampling.lm import as_language_model

__all__ = ["ExactDistribution", "enumerate_target", "next_draw_distribution"]

Output = tuple[int, ...]


@dataclass
class ExactDistribution:
    """Attributes:
        logp: ``log P(w | prompt)`` (stop token included) of every grammatical output ``w``.
        Z: ``P(grammar)``: the total probability of ``logp``.
        target: ``Q(w) = P(w) / Z``.
        gcd: the output distribution of constrained decoding with restarts after dead ends.
        gcd_success: the probability that one constrained decoding attempt ends grammatically.
    """

    logp: dict[Output, float]
    Z: float
    target: dict[Output, float]
    gcd: dict[Output, float]
    gcd_success: float


class _Oracle:
    """Allowed sets by prefix, memoised (one LM call per distinct prefix)."""

    def __init__(self, lm: Any, masks: MaskSource, prompt: tuple[int, ...], temperature: float,
                 max_prefixes: int):
        self.lm, self.masks, self.prompt, self.temperature = lm, masks, prompt, temperature
        self.max_prefixes = max_prefixes
        self.table: dict[Output, Step] = {}

    def step(self, prefix: Output) -> Step:
        step = self.table.get(prefix)
        if step is None:
            if len(self.table) >= self.max_prefixes:
                raise ValueError(f"more than {self.max_prefixes} allowed prefixes: the problem is "
                                 "too large to enumerate (raise max_prefixes or shrink it)")
            logits = self.lm.session(self.prompt + prefix).logits
            step = self.table[prefix] = self.masks.step(list(prefix), logits, self.temperature)
        return step


def enumerate_target(
    model: Any,
    compiled_grammar: CompiledGrammar,
    prompt: str | Sequence[int],
    *,
    tokenizer: Any = None,
    temperature: float = 1.0,
    max_new_tokens: int = 256,
    max_prefixes: int = 100_000,
) -> ExactDistribution:
    """Enumerate the grammatical outputs of ``model`` (same conventions as the samplers).

    Example:
        >>> import formgate
        >>> from formgate.sampling import FunctionLM
        >>> info = formgate.TokenizerInfo([b"0", b"1", b"<s>"], stop_token_ids=[2])
        >>> compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= "00" | "1" [01]')
        >>> bits = lambda ctx: [0.0, 0.0, -np.inf] if len(ctx) < 3 else [-np.inf, -np.inf, 0.0]
        >>> fair = FunctionLM(3, bits, "fair bits, stop after two")
        >>> d = enumerate_target(fair, compiled, [2], max_new_tokens=3)
        >>> round(d.Z, 12), round(d.target[(0, 0, 2)], 12), round(d.gcd[(0, 0, 2)], 12)
        (0.75, 0.333333333333, 0.5)
    """
    lm = as_language_model(model)
    masks = MaskSource(compiled_grammar, max_new_tokens, lm.vocab_size)
    oracle = _Oracle(lm, masks, prompt_ids(prompt, tokenizer), float(temperature), max_prefixes)
    logp: dict[Output, float] = {}
    loggcd: dict[Output, float] = {}
    stack: list[tuple[Output, float, float]] = [((), 0.0, 0.0)]
    while stack:
        prefix, lp, lq = stack.pop()
        step = oracle.step(prefix)
        if len(step.toks) == 0:
            continue
        norm = logsumexp(step.lps)
        for tok, tlp, is_stop in zip(step.toks.tolist(), step.lps.tolist(), step.stop.tolist()):
            out = prefix + (tok,)
            if is_stop:
                logp[out] = lp + tlp
                loggcd[out] = lq + tlp - norm
            else:
                stack.append((out, lp + tlp, lq + tlp - norm))
    if not logp:
        raise ValueError("the grammar has no output with positive probability under the model")
    logz = logsumexp(list(logp.values()))
    log_success = logsumexp(list(loggcd.values()))
    return ExactDistribution(
        logp=logp,
        Z=math.exp(logz),
        target={w: math.exp(v - logz) for w, v in logp.items()},
        gcd={w: math.exp(v - log_success) for w, v in loggcd.items()},
        gcd_success=math.exp(log_success),
    )


def next_draw_distribution(sampler: Any, max_prefixes: int = 100_000,
                           model: Any = None) -> dict[Output, float]:
    """The exact distribution of ``sampler``'s next attempt, conditioned on its success, given
    its trie now. (When attempts can fail, a sample's law also depends on what failed attempts
    teach the trie first; without dead ends and in ASAp mode it is exactly the next sample's.)

    The trie is not modified; prefixes it lacks cost one LM call each, to ``model`` when given
    (e.g. a :class:`~formgate.sampling.lm.MemoLM` of the sampler's model), else the sampler's.
    """
    lm = sampler.lm if model is None else as_language_model(model)
    oracle = _Oracle(lm, sampler.masks, sampler.prompt_ids, sampler.temperature,
                     max_prefixes)
    exact_mode = sampler.mode == "exact"
    root = sampler.trie.root
    result: dict[Output, float] = {}
    # (node or None when the prefix is not in the trie, prefix, log-probability so far)
    stack: list[tuple[Any, Output, float]] = [(root, (), 0.0)]
    while stack:
        node, prefix, logq = stack.pop()
        if node is not None and node.expanded:
            if node.cached:
                toks, lps, s = node.toks, node.lps, node.logweights()
            else:  # evicted: the sampler re-caches it, children's frozen edges winning
                step = oracle.step(prefix)
                toks, lps = step.toks, step.lps.copy()
                for tok, child in node.children.items():
                    lps[np.searchsorted(toks, tok)] = child.edge_lp
                s = lps.copy()
                for tok, child in node.children.items():
                    s[np.searchsorted(toks, tok)] += child.logc
            weights = s - logsumexp(s)
        else:
            step = oracle.step(prefix)
            toks = step.toks
            if exact_mode and node is not root:
                weights = step.full[toks]  # unmasked proposal; the rest is rejected
            else:
                weights = step.lps - logsumexp(step.lps)
        stops = np.isin(toks, sampler.masks.stop_ids)
        for k, tok in enumerate(toks.tolist()):
            w = float(weights[k])
            if w == -math.inf:
                continue
            out = prefix + (tok,)
            if stops[k]:
                result[out] = logq + w
            else:
                child = node.children.get(tok) if node is not None else None
                stack.append((child, out, logq + w))
    if not result:
        return {}
    log_success = logsumexp(list(result.values()))
    return {w: math.exp(v - log_success) for w, v in result.items()}
