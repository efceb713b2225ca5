r"""formgate: grammars, regexes and JSON schemas to per-step token masks for LLM generation.

Example:
    >>> import formgate
    >>> info = formgate.TokenizerInfo([b"{", b"}", b'"a"', b":", b"1", b"</s>"], stop_token_ids=[5])
    >>> compiled = formgate.GrammarCompiler(info).compile_grammar(
    ...     'root ::= "{" "\\"a\\"" ":" [0-9]+ "}"')
    >>> matcher = formgate.GrammarMatcher(compiled)
    >>> all(matcher.accept_token(t) for t in [0, 2, 3, 4, 1, 5])
    True
"""

from formgate import testing
from formgate._core import CompiledGrammar, Grammar
from formgate.compiler import GrammarCompiler
from formgate import lark_grammar as _lark_grammar  # installs Grammar.from_lark
from formgate import compose  # installs Grammar.union/concat/from_ebnf_with_schemas
from formgate import types
from formgate.bitmask import allocate_token_bitmask, apply_token_bitmask_inplace
from formgate.errors import GrammarError, LimitError
from formgate.json_schema.errors import SchemaError
from formgate.matcher import BatchGrammarMatcher, GrammarMatcher
from formgate.tokenizer_info import TokenizerInfo

__version__ = "0.1.0"

__all__ = [
    "BatchGrammarMatcher",
    "CompiledGrammar",
    "Grammar",
    "GrammarCompiler",
    "GrammarError",
    "GrammarMatcher",
    "LimitError",
    "SchemaError",
    "TokenizerInfo",
    "allocate_token_bitmask",
    "apply_token_bitmask_inplace",
    "compose",
    "testing",
    "types",
]


def __getattr__(name: str):
    # formgate.generate lives in formgate.hf, which imports torch and transformers: loaded on
    # first use so that the core works without them.
    if name == "generate":
        from formgate.hf import generate

        return generate
    raise AttributeError(f"module 'formgate' has no attribute {name!r}")
