"""Distribution-correct constrained sampling.

Constrained decoding (mask, renormalise, sample) returns grammatical outputs, but not with the
probabilities the model gives them conditioned on the grammar. This package samples that
conditional distribution:

- :class:`ASApSampler` (``mode="asap"``): grammar-aligned decoding (Park et al., NeurIPS 2024):
  learns, over repeated samples for one prompt and grammar, upper bounds on each prefix's
  probability of ending grammatically; converges to the target. ``mode="exact"``: rejection at
  first visits on the same trie; every accepted sample is exact.
- :class:`GCDSampler`: plain constrained decoding with importance weights, same interface.
- :mod:`~formgate.sampling.lm`: model adapters (transformers, tabular LMs for tests);
  :mod:`~formgate.sampling.enumerate` and :mod:`~formgate.sampling.metrics`: exact targets and
  distances for evaluation.

See docs/sampling.md.
"""

from formgate.sampling.asap import ASApSampler
from formgate.sampling.core import (
    FingerprintMismatchError,
    NoGrammaticalCompletion,
    Sample,
    SamplingKey,
)
from formgate.sampling.enumerate import ExactDistribution, enumerate_target, next_draw_distribution
from formgate.sampling.gcd import GCDSampler
from formgate.sampling.lm import FunctionLM, HashLM, MemoLM, TransformersLM

__all__ = [
    "ASApSampler",
    "ExactDistribution",
    "FingerprintMismatchError",
    "FunctionLM",
    "GCDSampler",
    "HashLM",
    "MemoLM",
    "NoGrammaticalCompletion",
    "Sample",
    "SamplingKey",
    "TransformersLM",
    "enumerate_target",
    "next_draw_distribution",
]
