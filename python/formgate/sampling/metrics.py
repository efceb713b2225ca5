"""Distances between output distributions, and a pooled chi-square goodness-of-fit test.

Distributions are dicts from outputs (token-id tuples or strings) to probabilities.

Example:
    >>> p = {"a": 0.5, "b": 0.5}
    >>> round(kl(p, {"a": 0.25, "b": 0.75}), 4)
    0.1438
    >>> tv(p, {"a": 1.0})
    0.5
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping

__all__ = ["chi_square_pooled", "counts", "kl", "marginal", "smoothed_empirical", "tv"]


def kl(p: Mapping[Hashable, float], q: Mapping[Hashable, float]) -> float:
    """``KL(p || q)`` in nats; ``inf`` when q misses an outcome p has."""
    total = 0.0
    for w, pw in p.items():
        if pw > 0:
            qw = q.get(w, 0.0)
            if qw <= 0:
                return math.inf
            total += pw * math.log(pw / qw)
    return max(0.0, total)


def tv(p: Mapping[Hashable, float], q: Mapping[Hashable, float]) -> float:
    """Total-variation distance."""
    keys = set(p) | set(q)
    return 0.5 * sum(abs(p.get(w, 0.0) - q.get(w, 0.0)) for w in keys)


def counts(outputs: Iterable[Hashable]) -> Counter:
    return Counter(outputs)


def smoothed_empirical(observed: Mapping[Hashable, int], support: Iterable[Hashable],
                       alpha: float = 0.5) -> dict[Hashable, float]:
    """Add-``alpha`` empirical distribution over ``support`` (so that ``KL(target || emp)`` is
    finite when a rare output was not drawn). Outputs outside the support raise ValueError."""
    support = list(support)
    outside = set(observed) - set(support)
    if outside:
        raise ValueError(f"{len(outside)} observed outputs are outside the support, e.g. "
                         f"{next(iter(outside))!r}")
    n = sum(observed.values())
    denom = n + alpha * len(support)
    return {w: (observed.get(w, 0) + alpha) / denom for w in support}


def marginal(p: Mapping[Hashable, float], key: Callable[[Hashable], Hashable]) -> dict:
    """The law of ``key(w)``: e.g. the string distribution of a token-sequence distribution."""
    out: dict[Hashable, float] = {}
    for w, pw in p.items():
        k = key(w)
        out[k] = out.get(k, 0.0) + pw
    return out


def chi_square_pooled(observed: Mapping[Hashable, int], probs: Mapping[Hashable, float],
                      min_expected: float = 5.0) -> tuple[float, int, float]:
    """Pearson's chi-square test of ``observed`` counts against ``probs``, with cells whose
    expected count is below ``min_expected`` pooled (smallest first) so the chi-square
    approximation holds. Returns ``(statistic, degrees of freedom, p-value)``.

    Example:
        >>> stat, dof, p = chi_square_pooled({"a": 52, "b": 48}, {"a": 0.5, "b": 0.5})
        >>> dof, round(p, 3)
        (1, 0.689)
    """
    from scipy.stats import chi2

    n = sum(observed.values())
    outside = sum(c for w, c in observed.items() if probs.get(w, 0.0) <= 0)
    if outside:
        return math.inf, 0, 0.0
    cells = sorted(probs, key=lambda w: probs[w])
    bins: list[list[float]] = []  # [expected, observed]
    current = [0.0, 0.0]
    for w in cells:
        current[0] += n * probs[w]
        current[1] += observed.get(w, 0)
        if current[0] >= min_expected:
            bins.append(current)
            current = [0.0, 0.0]
    if current[0] > 0:
        if bins:
            bins[-1][0] += current[0]
            bins[-1][1] += current[1]
        else:
            bins.append(current)
    dof = len(bins) - 1
    if dof < 1:
        return 0.0, 0, 1.0
    stat = sum((o - e) ** 2 / e for e, o in bins)
    return stat, dof, float(chi2.sf(stat, dof))
