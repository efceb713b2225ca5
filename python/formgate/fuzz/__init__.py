"""Grammar-driven test inputs: sentences of a grammar, and near misses it rejects.

Everything runs on the grammar compiled over the 256 single bytes (see
:mod:`formgate.fuzz.acceptor`), and every string returned is checked on a fresh matcher.

Example:
    >>> import formgate.fuzz
    >>> g = 'root ::= "(" [a-c]* ")"'
    >>> samples = formgate.fuzz.generate(g, 5, max_bytes=6, seed=1)
    >>> all(s.startswith("(") and s.endswith(")") and len(s) <= 6 for s in samples)
    True
    >>> formgate.fuzz.mutants(g, "(ab)", 3, seed=1)  # doctest: +SKIP
    ['(a)b)', '(ab', 'a(ab)']
"""

from __future__ import annotations

import random
import warnings
from typing import Any, Literal, Optional

from formgate import _core
from formgate.fuzz.acceptor import GrammarSource, accepts, compile_bytes
from formgate.fuzz.errors import NoStringError, UniformFallbackWarning
from formgate.fuzz.mutants import near_misses
from formgate.fuzz.sources import FORMATS, load_grammar
from formgate.fuzz.uniform import DEFAULT_NODE_BUDGET, count_tree, sample
from formgate.fuzz.walk import first_witness, random_walk

__all__ = ["FORMATS", "NoStringError", "UniformFallbackWarning", "generate", "load_grammar",
           "mutants"]

Mode = Literal["uniform", "random-walk"]


def _decode(data: bytes, compiled: _core.CompiledGrammar) -> str:
    if not accepts(compiled, data):
        raise AssertionError(f"formgate.fuzz produced {data!r}, which the grammar rejects; "
                             "please report this with the grammar")
    return data.decode("utf-8")


def generate(source: GrammarSource, n: int, *, max_bytes: int = 64, seed: Optional[int] = None,
             mode: Mode = "random-walk", node_budget: int = DEFAULT_NODE_BUDGET,
             model: Any = None, tokenizer: Any = None, prompt: Optional[str] = None,
             temperature: float = 1.0) -> list[str]:
    """``n`` sentences of the grammar, each at most ``max_bytes`` UTF-8 bytes long.

    ``source`` is EBNF text, a :class:`formgate.Grammar` (``Grammar.from_regex``,
    ``Grammar.from_json_schema``, ...) or a :class:`formgate.CompiledGrammar` for any
    vocabulary. Modes:

    * ``"random-walk"``: byte by byte, each allowed byte about equally likely (ASCII favoured),
      stopping at accepting points with a probability that grows with the length; it always
      keeps a known way to finish within ``max_bytes``, so it never fails once one sentence
      fits. Duplicates are possible.
    * ``"uniform"``: every sentence of at most ``max_bytes`` bytes equally likely, by counting
      the prefix tree of the language (at most ``node_budget`` prefixes). When the tree is
      larger, a :class:`UniformFallbackWarning` is issued and the random walk is used.

    With ``model`` and ``tokenizer`` (a ``transformers`` causal LM), sentences are sampled from
    the model under the grammar instead (``prompt`` may contain ``{grammar}``; outputs the
    token limit cuts off are dropped, so fewer than ``n`` may come back).

    Raises NoStringError when no sentence of at most ``max_bytes`` bytes exists (or none is
    found within the search budget: ``proven=False``).

    Example:
        >>> generate('root ::= "a" | "b" | "c"', 6, seed=3, mode="uniform")
        ['a', 'b', 'c', 'c', 'b', 'c']
    """
    if n < 0 or max_bytes < 0:
        raise ValueError("n and max_bytes must be non-negative")
    if mode not in ("uniform", "random-walk"):
        raise ValueError(f"mode must be 'uniform' or 'random-walk', got {mode!r}")
    compiled = compile_bytes(source)
    rng = random.Random(seed)
    if model is not None or tokenizer is not None:
        if model is None or tokenizer is None:
            raise ValueError("LM-guided generation needs both model and tokenizer")
        from formgate.fuzz.lm import lm_generate

        grammar = source if isinstance(source, _core.Grammar) else compiled.grammar
        return lm_generate(grammar, compiled, n, max_bytes=max_bytes, seed=seed, model=model,
                           tokenizer=tokenizer, prompt=prompt, temperature=temperature,
                           max_attempts=4 * n + 4)
    if mode == "uniform":
        tree = count_tree(compiled, max_bytes, node_budget)
        if tree is not None:
            if tree.count == 0:
                raise NoStringError(max_bytes, proven=True)
            return [_decode(sample(tree, rng), compiled) for _ in range(n)]
        warnings.warn(f"the language has more than {node_budget} prefixes of at most "
                      f"{max_bytes} bytes; sampling by random walk instead (not uniform)",
                      UniformFallbackWarning, stacklevel=2)
    witness = first_witness(compiled, max_bytes)
    return [_decode(random_walk(compiled, max_bytes, rng, witness), compiled) for _ in range(n)]


def mutants(source: GrammarSource, valid_string: str, n: int, *, seed: Optional[int] = None,
            max_tries: Optional[int] = None) -> list[str]:
    """Up to ``n`` distinct strings one edit (insert, delete, substitute or swap a character)
    away from ``valid_string`` that the grammar rejects. Fewer come back when the neighbourhood
    has fewer rejected strings than ``n`` (or ``max_tries``, default ``50 * n``, runs out).

    Example:
        >>> ms = mutants('root ::= [0-9]+', "123", 5, seed=0)
        >>> len(ms), any(m.isdigit() for m in ms)
        (5, False)
    """
    compiled = compile_bytes(source)
    if not accepts(compiled, valid_string.encode("utf-8")):
        raise ValueError(f"{valid_string!r} is not a sentence of the grammar")
    tries = 50 * n if max_tries is None else max_tries
    return near_misses(compiled, valid_string, n, random.Random(seed), tries)
