"""ASApSampler: grammar-aligned sampling (Park et al., "Grammar-Aligned Decoding", NeurIPS 2024)
with an exact rejection mode on the same trie.

Plain constrained decoding samples ``P(v | x) * 1[v allowed]`` renormalised at every step, which
over-samples outputs whose prefixes lost much mass to the mask. The target is instead
``Q(w) = P(w) 1[w in L] / Z``. It can be sampled left to right with
``Q(v | x) = P(v | x) c(xv) / c(x)``, where ``c(x)`` is the probability that the model,
continuing from x, produces a grammatical output. ASAp replaces c by an upper bound c~ learned
from earlier samples: the trie of sampled prefixes (:mod:`formgate.sampling.trie`). The first
draw is exactly a GCD draw; every draw tightens the bounds along its path, and the sampler's
distribution converges to Q. ``stats()`` reports bounds ``Z_lower <= Z <= Z_upper`` and the
certificate ``tv_bound = 1 - Z_lower / Z_upper`` on the total-variation distance of the next
draw to Q (exact statement in docs/sampling.md).

``mode="exact"``: at a node's first visit the token is drawn from the *unmasked* model; a token
the grammar forbids rejects the attempt (the trie learns from it and the draw restarts). Every
accepted sample is then an exact draw from Q, independent of the earlier ones; the cost is the
rejected attempts, frequent early and rare once the trie knows the model's favourite mistakes.
"""

from __future__ import annotations

import json
import math
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from formgate._core import CompiledGrammar
from formgate.sampling.core import (
    Counters,
    MaskSource,
    NoGrammaticalCompletion,
    Sample,
    SamplingKey,
    draw,
    grammar_digest,
    prompt_ids,
    vocabulary_digest,
)
from formgate.sampling.lm import LanguageModel, Session, as_language_model
from formgate.sampling.trie import NODE_OVERHEAD_BYTES, Trie

__all__ = ["ASApSampler"]

FORMAT = "formgate-asap-trie"
FORMAT_VERSION = 1

# Tries of live samplers by (model object, key): a new sampler for the same key continues from
# what earlier ones learned (share=True).
_SHARED: "weakref.WeakValueDictionary[tuple[int, str], Trie]" = weakref.WeakValueDictionary()


class ASApSampler:
    """Sample grammatical outputs from ``model`` with the probabilities the model gives them,
    conditioned on the grammar.

    Args:
        model: a :class:`~formgate.sampling.lm.LanguageModel` or a ``transformers`` causal LM.
        tokenizer: a Hugging Face tokenizer to encode a text ``prompt`` (None with token ids).
        compiled_grammar: the constraint; its ``TokenizerInfo`` must list the stop tokens.
        prompt: text or token ids; the sampler's state belongs to this prompt.
        temperature: applied to the logits before anything else (the target is the tempered
            model conditioned on the grammar).
        max_new_tokens: outputs have at most this many tokens, the stop token included; longer
            ones are dead ends, so the target is Q restricted to that length.
        seed: seeds the sampler's random generator.
        mode: ``"asap"`` (adaptive, converges to Q) or ``"exact"`` (rejection at first visits;
            every accepted sample exactly from Q).
        max_attempts: consecutive dead ends/rejections tolerated per sample before
            :class:`NoGrammaticalCompletion` is raised.
        cache_bytes: budget for cached log-probability arrays (least recently used evicted).
        max_nodes: budget for trie nodes (least recently used leaves pruned).
        share: reuse (and extend) the trie of a live sampler with the same model object and key.

    Example:
        >>> import formgate
        >>> from formgate.sampling import ASApSampler, HashLM
        >>> info = formgate.TokenizerInfo([b"0", b"1", b"<s>"], stop_token_ids=[2])
        >>> compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= "00" | "1" [01]')
        >>> sampler = ASApSampler(HashLM(3, seed=1), None, compiled, [2], max_new_tokens=4)
        >>> [s.text for s in sampler.sample(3)]
        ['00', '00', '11']
        >>> stats = sampler.stats()
        >>> stats["Z_lower"] <= stats["Z_upper"]
        True
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
        mode: str = "asap",
        max_attempts: int = 1000,
        cache_bytes: int = 256 << 20,
        max_nodes: int = 1_000_000,
        share: bool = False,
    ):
        if mode not in ("asap", "exact"):
            raise ValueError(f"mode must be 'asap' or 'exact', got {mode!r}")
        if not (temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a positive number, got {temperature}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.lm: LanguageModel = as_language_model(model)
        self.compiled_grammar = compiled_grammar
        self.prompt_ids = prompt_ids(prompt, tokenizer)
        self.temperature = float(temperature)
        self.max_new_tokens = int(max_new_tokens)
        self.mode = mode
        self.max_attempts = int(max_attempts)
        self.masks = MaskSource(compiled_grammar, self.max_new_tokens, self.lm.vocab_size)
        self.key = SamplingKey(
            model=self.lm.fingerprint(),
            vocabulary=vocabulary_digest(compiled_grammar),
            prompt=self.prompt_ids,
            grammar=grammar_digest(compiled_grammar),
            temperature=self.temperature,
            max_new_tokens=self.max_new_tokens,
        )
        self.rng = np.random.default_rng(seed)
        self.counters = Counters()
        shared_key = (id(model), self.key.digest())
        trie = _SHARED.get(shared_key) if share else None
        self.trie = trie if trie is not None else Trie(cache_bytes, max_nodes)
        if share:
            _SHARED[shared_key] = self.trie

    # ------------------------------------------------------------------ sampling

    def sample(self, n: int = 1) -> list[Sample]:
        """Draw ``n`` grammatical outputs (the trie learns from each before the next).

        Raises:
            NoGrammaticalCompletion: the model gives the grammar no probability within
                ``max_new_tokens``, or ``max_attempts`` attempts in a row failed.
        """
        return [self._sample_one() for _ in range(n)]

    def _sample_one(self) -> Sample:
        for attempt in range(1, self.max_attempts + 1):
            if self.trie.root.logc == -math.inf:
                raise NoGrammaticalCompletion(
                    "no grammatical output has positive probability under the model within "
                    f"max_new_tokens={self.max_new_tokens} tokens"
                )
            result = self._attempt()
            if result is not None:
                tokens, logp, logq = result
                self.counters.samples += 1
                return Sample(tokens, self.masks.text(tokens), logp, logq, attempt)
        raise NoGrammaticalCompletion(f"{self.max_attempts} attempts in a row failed (dead ends"
                                      f"{' or rejections' if self.mode == 'exact' else ''})")

    def _attempt(self) -> tuple[list[int], float, float] | None:
        """One walk from the root; None when it ends in a dead end or a rejection."""
        c = self.counters
        c.attempts += 1
        trie = self.trie
        node = trie.root
        path = [node]
        tokens: list[int] = []
        logp = logq = 0.0
        session: Session | None = None
        session_len = 0
        ok = False
        while True:
            fresh = not node.expanded
            full = None
            if node.cached:
                c.cache_hits += 1
            else:
                # One LM call: open a session at the first node that needs logits in this
                # attempt, then extend it (with a KV cache, each extension is one decode step).
                context = self.prompt_ids + tuple(tokens)
                if session is None:
                    session = self.lm.session(context)
                    logits = session.logits
                else:
                    logits = session.extend(context[session_len:])
                session_len = len(context)
                c.lm_calls += 1
                step = self.masks.step(tokens, logits, self.temperature)
                trie.cache(node, step)
                full = step.full
            if self.mode == "exact" and fresh and node is not trie.root:
                # First visit: propose from the unmasked model (normaliser 1 = the c~ the parent
                # used for this node); a forbidden token rejects the attempt.
                v, _ = draw(full, self.rng.random())
                lp = float(full[v])
                i = node.index_of(v)
                if i >= len(node.toks) or node.toks[i] != v:
                    c.rejections += 1
                    break
                logp += lp
                logq += lp
            else:
                s = node.logweights()
                if len(s) == 0 or s.max() == -math.inf:
                    c.dead_ends += 1
                    break
                i, norm = draw(s, self.rng.random())
                logp += float(node.lps[i])
                logq += float(s[i]) - norm
            tok = int(node.toks[i])
            tokens.append(tok)
            c.tokens += 1
            if node.stop[i]:
                ok = True
                break
            child = node.children.get(tok)
            node = child if child is not None else trie.add_child(node, i)
            path.append(node)
        trie.update(path)
        trie.enforce_budget(path)
        if not ok:
            c.weights.fail()
            return None
        c.weights.add(logp - logq)
        return tokens, logp, logq

    # ------------------------------------------------------------------ inspection

    def bounds(self, prefix: Sequence[int] = ()) -> tuple[float, float]:
        """``(lower, upper)`` bounds on the probability that the model, continuing from
        ``prefix`` (generated tokens after the prompt), produces a grammatical output. An
        unvisited prefix gives ``(0, 1)``."""
        node = self.trie.root
        for t in prefix:
            node = node.children.get(int(t))
            if node is None:
                return 0.0, 1.0
        return math.exp(node.logc_lo), math.exp(node.logc)

    def stats(self) -> dict[str, Any]:
        """Counters, trie size and the current bounds on ``Z = P(grammar)``.

        Keys: ``samples``, ``attempts``, ``dead_ends``, ``rejections``, ``lm_calls`` (forward
        passes; a KV-cached decode step counts one), ``cache_hits`` (steps served by the trie
        without an LM call), ``tokens``, ``nodes``, ``expanded_nodes``, ``cache_bytes``,
        ``skeleton_bytes`` (estimate), ``evictions``, ``pruned_nodes``, ``Z_lower``, ``Z_upper``,
        ``tv_bound`` (``1 - Z_lower / Z_upper``: bounds the total-variation distance between
        the next draw's distribution and the target), ``Z_is``/``Z_is_se``/``ess`` (importance
        estimate of Z from this sampler's attempts).
        """
        c = self.counters
        root = self.trie.root
        lo, up = math.exp(root.logc_lo), math.exp(root.logc)
        expanded = sum(1 for n in self.trie.walk() if n.expanded)
        return {
            "mode": self.mode,
            "samples": c.samples,
            "attempts": c.attempts,
            "dead_ends": c.dead_ends,
            "rejections": c.rejections,
            "lm_calls": c.lm_calls,
            "cache_hits": c.cache_hits,
            "tokens": c.tokens,
            "nodes": self.trie.nodes,
            "expanded_nodes": expanded,
            "cache_bytes": self.trie.cached_bytes,
            "skeleton_bytes": self.trie.nodes * NODE_OVERHEAD_BYTES,
            "evictions": self.trie.evictions,
            "pruned_nodes": self.trie.pruned,
            "Z_lower": lo,
            "Z_upper": up,
            "tv_bound": 1.0 - lo / up if up > 0 else 0.0,
            **c.weights.summary(),
        }

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> None:
        """Write the trie, counters and random state to ``path`` (a numpy ``.npz``; no pickle),
        with the sampling key so that :meth:`load` can refuse another key's state."""
        c = self.counters
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "key": self.key.components(),
            "counters": [c.samples, c.attempts, c.dead_ends, c.rejections, c.lm_calls,
                         c.cache_hits, c.tokens],
            "weights": [c.weights.attempts, c.weights.log_sum, c.weights.log_sum_sq],
            "rng": self.rng.bit_generator.state,
        }
        arrays = self.trie.to_arrays()
        with open(path, "wb") as f:
            np.savez_compressed(f, meta=np.array(json.dumps(meta)), **arrays)

    def load(self, path: str | Path) -> None:
        """Replace this sampler's state with the one saved at ``path``.

        Raises:
            FingerprintMismatchError: the file was saved for another model, vocabulary, prompt,
                grammar, temperature or max_new_tokens (the message names which).
            ValueError: the file is not a saved ASAp trie.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            meta = json.loads(str(arrays.pop("meta")))
        except (OSError, ValueError, KeyError) as err:
            raise ValueError(f"{path}: not a saved ASAp sampler state ({err})") from err
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: not a saved ASAp sampler state (format "
                             f"{meta.get('format')!r} version {meta.get('version')!r})")
        self.key.check(meta["key"], str(path))
        trie = Trie.from_arrays(arrays, self.trie.cache_budget, self.trie.max_nodes)
        self.trie = trie
        c = self.counters = Counters()
        (c.samples, c.attempts, c.dead_ends, c.rejections, c.lm_calls, c.cache_hits,
         c.tokens) = meta["counters"]
        c.weights.attempts, c.weights.log_sum, c.weights.log_sum_sq = meta["weights"]
        self.rng.bit_generator.state = meta["rng"]

    def reset(self) -> None:
        """Forget everything learned (a fresh trie; counters to zero)."""
        self.trie = Trie(self.trie.cache_budget, self.trie.max_nodes)
        self.counters = Counters()

