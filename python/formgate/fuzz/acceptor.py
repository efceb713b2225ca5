"""The byte-level acceptor: a grammar compiled over a vocabulary of the 256 single bytes, so that
a matcher's mask is exactly the set of bytes that may come next.

Everything in :mod:`formgate.fuzz` walks this acceptor. Characters in formgate grammars are
code points, so every path through it is valid UTF-8 (a lone continuation byte, an overlong
form or a surrogate is never allowed).
"""

from __future__ import annotations

import functools
from typing import Union

import numpy as np

from formgate import _core
from formgate.compiler import GrammarCompiler
from formgate.errors import GrammarError
from formgate.matcher import GrammarMatcher
from formgate.tokenizer_info import TokenizerInfo

GrammarSource = Union[_core.CompiledGrammar, _core.Grammar, str]


@functools.lru_cache(maxsize=1)
def byte_compiler() -> GrammarCompiler:
    """The shared compiler for the 256-byte vocabulary (its cache serves every fuzz call).

    Example:
        >>> byte_compiler().compile_grammar('root ::= "a"').tokenizer_info.vocab_size
        256
    """
    return GrammarCompiler(TokenizerInfo([bytes([b]) for b in range(256)]))


def _is_byte_vocabulary(info: _core.TokenizerInfo) -> bool:
    vocab = info.decoded_vocab
    return (info.vocab_size == 256 and not info.stop_token_ids
            and all(vocab[b] == bytes([b]) for b in range(256)))


def compile_bytes(source: GrammarSource) -> _core.CompiledGrammar:
    """``source`` (EBNF text, a :class:`formgate.Grammar`, or a grammar compiled for any
    vocabulary) compiled for the byte vocabulary.

    Example:
        >>> m = new_matcher(compile_bytes('root ::= "é"'))
        >>> allowed_bytes(m).tolist()
        [195]
        >>> compile_bytes('root ::= <|python_tag|> "{"')
        Traceback (most recent call last):
        ...
        formgate.errors.GrammarError: the grammar has special-token terminals (<|python_tag|>), which are tokens, not text: formgate.fuzz and formgate.strategies generate text only; replace them by their text (a string) to fuzz the rest
    """
    if isinstance(source, _core.CompiledGrammar):
        if _is_byte_vocabulary(source.tokenizer_info):
            return source
        source = source.grammar
    if isinstance(source, str):
        source = _core.Grammar.from_ebnf(source)
    if not isinstance(source, _core.Grammar):
        raise TypeError("expected EBNF text, a formgate.Grammar or a CompiledGrammar, got "
                        f"{type(source).__name__}")
    if source.special_tokens:
        raise GrammarError(
            f"the grammar has special-token terminals ({', '.join(source.special_tokens)}), "
            "which are tokens, not text: formgate.fuzz and formgate.strategies generate text "
            "only; replace them by their text (a string) to fuzz the rest", 0, 0)
    return byte_compiler().compile_grammar(source)


def allowed_bytes(matcher: GrammarMatcher) -> np.ndarray:
    """The bytes ``matcher`` accepts next, ascending (uint8 values as an int array)."""
    mask = np.zeros((1, 8), dtype=np.int32)
    matcher.fill_next_token_bitmask(mask)
    return np.flatnonzero(np.unpackbits(mask.view(np.uint8), bitorder="little"))


def new_matcher(compiled: _core.CompiledGrammar) -> GrammarMatcher:
    """A matcher without rollback history: forks then cost the same at any depth."""
    return GrammarMatcher(compiled, max_rollback_tokens=0)


def accepts(compiled: _core.CompiledGrammar, data: bytes) -> bool:
    """Whether ``data`` is a whole sentence, checked on a fresh matcher.

    Example:
        >>> g = compile_bytes('root ::= "ab"')
        >>> accepts(g, b"ab"), accepts(g, b"a"), accepts(g, b"abc")
        (True, False, False)
    """
    matcher = new_matcher(compiled)
    return matcher.accept_string(data) and matcher.is_completed()


def step(matcher: GrammarMatcher, byte: int) -> GrammarMatcher:
    """A fork of ``matcher`` that has accepted ``byte`` (which must be allowed)."""
    child = matcher.fork()
    if not child.accept_token(int(byte)):
        raise AssertionError(f"byte {byte} was in the mask but accept_token refused it")
    return child
