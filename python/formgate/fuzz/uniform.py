"""Uniform sampling over the sentences of at most ``max_bytes`` bytes.

The prefix tree of all sentences within the bound is built once by stepping forks of the
byte-level matcher, counting the sentences below each node; a sample then descends it choosing
"stop here" or a child byte in proportion to those counts, so every sentence is equally likely.

The matcher exposes no state identity to memoise on, so the tree is not shared between
prefixes that reach the same parser state: its size is the number of viable prefixes, which
grows exponentially with ``max_bytes`` for most grammars. Past ``node_budget`` nodes (or
``MAX_UNIFORM_BYTES``) :func:`count_tree` returns None and ``generate`` falls back to the random walk.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Optional

from formgate import _core
from formgate.fuzz.acceptor import allowed_bytes, new_matcher, step
from formgate.matcher import GrammarMatcher

DEFAULT_NODE_BUDGET = 50_000
# The tree is built recursively, one frame per byte; longer bounds fall back to the random walk
# (their trees exceed any affordable node budget anyway, unless the language is a single chain).
MAX_UNIFORM_BYTES = 256


@dataclass
class Node:
    """``count``: sentences (within the bound) that extend this prefix, itself included when
    ``accepting``; ``children``: next byte -> subtree, only subtrees with a positive count."""

    accepting: bool
    count: int = 0
    children: dict[int, "Node"] = field(default_factory=dict)


class _Budget:
    def __init__(self, nodes: int):
        self.left = nodes


def _build(matcher: GrammarMatcher, remaining: int, budget: _Budget) -> Optional[Node]:
    budget.left -= 1
    if budget.left < 0:
        return None
    node = Node(accepting=matcher.is_completed())
    node.count = int(node.accepting)
    if remaining > 0:
        for byte in allowed_bytes(matcher):
            child = _build(step(matcher, byte), remaining - 1, budget)
            if child is None:
                return None
            if child.count:
                node.children[int(byte)] = child
                node.count += child.count
    return node


def count_tree(compiled: _core.CompiledGrammar, max_bytes: int,
               node_budget: int = DEFAULT_NODE_BUDGET) -> Optional[Node]:
    """The counted prefix tree, or None when it has more than ``node_budget`` nodes.

    Example:
        >>> from formgate.fuzz.acceptor import compile_bytes
        >>> count_tree(compile_bytes('root ::= [ab] [ab]?'), 2).count
        6
    """
    if max_bytes > MAX_UNIFORM_BYTES:
        return None
    return _build(new_matcher(compiled), max_bytes, _Budget(node_budget))


def sample(tree: Node, rng: random.Random) -> bytes:
    """One sentence, uniformly among the ``tree.count`` in the tree."""
    out = bytearray()
    node = tree
    while True:
        pick = rng.randrange(node.count)
        if node.accepting:
            if pick == 0:
                return bytes(out)
            pick -= 1
        for byte, child in node.children.items():
            if pick < child.count:
                out.append(byte)
                node = child
                break
            pick -= child.count
