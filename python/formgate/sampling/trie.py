"""The ASAp trie: one node per sampled prefix, with the learned upper bound on its expected
future grammaticality (EFG) and a cache of its allowed tokens' log-probabilities.

For an expanded node at prefix x (all values natural logs, float64):

- ``toks``/``lps``/``stop``/``mat``: the allowed tokens, ``log P(v | x)`` over the whole
  vocabulary, which of them stop, which have a child node (the *cache*; may be evicted);
- ``logU``: log of the allowed mass whose EFG bound is still the GCD value 1 (stop tokens,
  whose EFG is exactly 1, and tokens without a child);
- ``children``: token -> child node; each child keeps ``edge_lp = log P(tok | x)`` frozen at
  first expansion, so updates never need the cache;
- ``logc``: log c~(x), the upper bound: ``logsumexp(logU, edge_lp + child.logc ...)`` (I1);
- ``logc_lo``: log of a lower bound: stop mass plus ``edge_lp + child.logc_lo`` over children
  (an unexpanded node counts 0).

An unexpanded node has ``logc = 0`` and ``logc_lo = -inf``. Values are recomputed from their
terms on every update (never by subtracting deltas: cancellation would make ``logU`` wrong).

Memory policy (see docs/sampling.md): past ``cache_bytes`` the least recently used nodes' caches
are evicted (the skeleton stays; a revisit recomputes the cache with one LM call); past
``max_nodes`` the least recently used leaves are pruned back to "never visited" (c~ = 1, lower
bound 0), which keeps both bounds valid but forgets what was learned there.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from formgate.sampling.core import Step, logsumexp, logsumexp_list

__all__ = ["Node", "Trie"]

# Rough size of a node's Python skeleton (object, slots, dict entry in its parent); used for
# the ``skeleton_bytes`` statistic, not for the budget.
NODE_OVERHEAD_BYTES = 360


class Node:
    __slots__ = (
        "parent", "tok", "depth", "edge_lp", "children", "expanded", "logU", "log_stop",
        "logc", "logc_lo", "toks", "lps", "stop", "mat", "last_used", "__weakref__",
    )

    def __init__(self, parent: "Node | None", tok: int, edge_lp: float):
        self.parent = parent
        self.tok = tok
        self.depth = 0 if parent is None else parent.depth + 1
        self.edge_lp = edge_lp
        self.children: dict[int, Node] = {}
        self.expanded = False
        self.logU = 0.0
        self.log_stop = -math.inf
        self.logc = 0.0
        self.logc_lo = -math.inf
        self.toks: np.ndarray | None = None
        self.lps: np.ndarray | None = None
        self.stop: np.ndarray | None = None
        self.mat: np.ndarray | None = None
        self.last_used = 0

    @property
    def cached(self) -> bool:
        return self.toks is not None

    def cache_bytes(self) -> int:
        if self.toks is None:
            return 0
        return self.toks.nbytes + self.lps.nbytes + self.stop.nbytes + self.mat.nbytes

    def prefix(self) -> list[int]:
        out: list[int] = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            out.append(node.tok)
            node = node.parent
        return out[::-1]

    def set_cache(self, step: Step) -> None:
        """Store the allowed set. On a re-expansion after eviction the children's frozen edge
        log-probabilities win over the recomputed ones (the bounds were built on them)."""
        self.toks, self.lps, self.stop = step.toks, step.lps, step.stop
        self.mat = np.zeros(len(step.toks), dtype=bool)
        if self.children:
            idx = np.searchsorted(self.toks, list(self.children))
            for i, (tok, child) in zip(idx.tolist(), self.children.items()):
                if i >= len(self.toks) or self.toks[i] != tok:
                    raise RuntimeError(f"token {tok} has a child but is no longer allowed: the "
                                       "model or the mask changed under a saved trie")
                self.lps[i] = child.edge_lp
                self.mat[i] = True
        if not self.expanded:
            self.expanded = True
            self.log_stop = logsumexp(self.lps[self.stop])
        self.refresh_free_mass()

    def refresh_free_mass(self) -> None:
        self.logU = logsumexp(self.lps[~self.mat])

    def drop_cache(self) -> None:
        self.toks = self.lps = self.stop = self.mat = None

    def index_of(self, tok: int) -> int:
        return int(np.searchsorted(self.toks, tok))

    def logweights(self) -> np.ndarray:
        """``log P(v | x) + log c~(xv)`` over the allowed tokens (the sampling weights)."""
        s = self.lps.copy()
        children = self.children
        if len(children) > 16:
            toks = np.fromiter(children, dtype=np.int64, count=len(children))
            logc = np.fromiter((c.logc for c in children.values()), dtype=np.float64,
                               count=len(children))
            s[np.searchsorted(self.toks, toks)] += logc
        elif children:
            where = np.searchsorted(self.toks, list(children)).tolist()
            for i, child in zip(where, children.values()):
                s[i] += child.logc
        return s

    def recompute(self) -> None:
        """(I1) and the lower bound, from scratch."""
        if not self.expanded:
            return
        if self.children:
            children = self.children.values()
            self.logc = logsumexp_list([c.edge_lp + c.logc for c in children] + [self.logU])
            self.logc_lo = logsumexp_list([c.edge_lp + c.logc_lo for c in children]
                                          + [self.log_stop])
        else:
            self.logc = self.logU
            self.logc_lo = self.log_stop


class Trie:
    """The nodes of one sampling key, with the memory policy."""

    def __init__(self, cache_bytes: int, max_nodes: int):
        if cache_bytes < 0 or max_nodes < 1:
            raise ValueError("cache_bytes must be >= 0 and max_nodes >= 1")
        self.root = Node(None, -1, 0.0)
        self.cache_budget = int(cache_bytes)
        self.max_nodes = int(max_nodes)
        self.nodes = 1
        self.cached_bytes = 0
        self.evictions = 0
        self.pruned = 0
        self.clock = 0

    def walk(self) -> Iterator[Node]:
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.children.values())

    def add_child(self, node: Node, i: int) -> Node:
        tok = int(node.toks[i])
        child = Node(node, tok, float(node.lps[i]))
        node.children[tok] = child
        node.mat[i] = True
        node.refresh_free_mass()
        self.nodes += 1
        return child

    def cache(self, node: Node, step: Step) -> None:
        node.set_cache(step)
        self.cached_bytes += node.cache_bytes()

    def update(self, path: list[Node]) -> None:
        """Recompute the bounds bottom-up along ``path`` (root first) after an attempt."""
        self.clock += 1
        for node in reversed(path):
            node.last_used = self.clock
            node.recompute()

    def enforce_budget(self, keep: list[Node]) -> None:
        """Apply the memory policy; nodes in ``keep`` (the last path) stay cached."""
        if self.cached_bytes > self.cache_budget:
            self._evict(set(map(id, keep)))
        if self.nodes > self.max_nodes:
            self._prune()

    def _evict(self, keep: set[int]) -> None:
        target = self.cache_budget * 3 // 4  # evict in batches: a full walk each time is O(nodes)
        heap = [(n.last_used, id(n), n) for n in self.walk() if n.cached and id(n) not in keep]
        heapq.heapify(heap)
        while heap and self.cached_bytes > target:
            _, _, node = heapq.heappop(heap)
            self.cached_bytes -= node.cache_bytes()
            node.drop_cache()
            self.evictions += 1

    def _prune(self) -> None:
        target = max(1, self.max_nodes * 3 // 4)
        heap = [(n.last_used, id(n), n) for n in self.walk() if n.parent and not n.children]
        heapq.heapify(heap)
        touched: list[Node] = []
        while heap and self.nodes > target:
            _, _, leaf = heapq.heappop(heap)
            parent = leaf.parent
            self.cached_bytes -= leaf.cache_bytes()
            del parent.children[leaf.tok]
            self.nodes -= 1
            self.pruned += 1
            if parent.cached:
                parent.mat[parent.index_of(leaf.tok)] = False
                parent.refresh_free_mass()
            else:
                # The skeleton must know logU without the cache: add the pruned edge back.
                parent.logU = float(np.logaddexp(parent.logU, leaf.edge_lp))
            touched.append(parent)
            if parent.parent is not None and not parent.children:
                heapq.heappush(heap, (parent.last_used, id(parent), parent))
        # Ancestors' bounds depend on the pruned subtrees: recompute bottom-up (deepest first).
        seen: set[int] = set()
        for node in sorted(touched, key=lambda n: -n.depth):
            while node is not None and id(node) not in seen:
                seen.add(id(node))
                node = node.parent
        for node in sorted((n for n in self.walk() if id(n) in seen), key=lambda n: -n.depth):
            node.recompute()

    # ------------------------------------------------------------------ persistence

    def to_arrays(self) -> dict[str, Any]:
        """Flat arrays of every node (parents before children) and every cache."""
        order = list(self._preorder())
        index = {id(n): i for i, n in enumerate(order)}
        scalars = np.array([[n.edge_lp, n.logU, n.log_stop, n.logc, n.logc_lo] for n in order],
                           dtype=np.float64)
        ints = np.array([[index[id(n.parent)] if n.parent else -1, n.tok, int(n.expanded),
                          n.last_used] for n in order], dtype=np.int64)
        cached = [n for n in order if n.cached]
        lengths = np.array([len(n.toks) for n in cached], dtype=np.int64)
        concat = (lambda name, dtype: np.concatenate([getattr(n, name) for n in cached])
                  if cached else np.zeros(0, dtype=dtype))
        return {
            "node_scalars": scalars,
            "node_ints": ints,
            "cache_nodes": np.array([index[id(n)] for n in cached], dtype=np.int64),
            "cache_lengths": lengths,
            "cache_toks": concat("toks", np.int64),
            "cache_lps": concat("lps", np.float64),
            "cache_stop": concat("stop", bool),
            "cache_mat": concat("mat", bool),
            "trie_counters": np.array([self.evictions, self.pruned, self.clock], dtype=np.int64),
        }

    def _preorder(self) -> Iterator[Node]:
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(list(node.children.values())))

    @classmethod
    def from_arrays(cls, arrays: Any, cache_bytes: int, max_nodes: int) -> "Trie":
        trie = cls(cache_bytes, max_nodes)
        nodes: list[Node] = []
        for (edge_lp, logU, log_stop, logc, logc_lo), (parent, tok, expanded, last) in zip(
                arrays["node_scalars"].tolist(), arrays["node_ints"].tolist()):
            if parent < 0:
                node = trie.root
            else:
                node = Node(nodes[parent], tok, edge_lp)
                nodes[parent].children[tok] = node
            node.expanded = bool(expanded)
            node.logU, node.log_stop, node.logc, node.logc_lo = logU, log_stop, logc, logc_lo
            node.last_used = last
            nodes.append(node)
        offsets = np.concatenate([[0], np.cumsum(arrays["cache_lengths"])])
        for k, i in enumerate(arrays["cache_nodes"].tolist()):
            a, b = offsets[k], offsets[k + 1]
            node = nodes[i]
            node.toks = arrays["cache_toks"][a:b].copy()
            node.lps = arrays["cache_lps"][a:b].copy()
            node.stop = arrays["cache_stop"][a:b].copy()
            node.mat = arrays["cache_mat"][a:b].copy()
            trie.cached_bytes += node.cache_bytes()
        trie.nodes = len(nodes)
        trie.evictions, trie.pruned, trie.clock = arrays["trie_counters"].tolist()
        return trie
