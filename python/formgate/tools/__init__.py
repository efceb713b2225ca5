"""Tool calls for agents: grammars that let a model call the offered tools in a model family's
format (JSON/OpenAI, Llama 3.1, Hermes/Qwen, Mistral, or a custom :class:`ToolCallFormat`), and
a parser for what it wrote. See docs/frontends.md.

Special tokens: when the tokenizer has a marker such as ``<tool_call>`` or ``<|python_tag|>`` as
one special token, :func:`compile_tool_calls` matches the marker as that token (a special-token
terminal, docs/ebnf.md), never as its text spelled out; otherwise the marker is text. Decoded
output shows the token as its name (``TokenizerInfo.decoded_vocab``), which is what
:func:`parse_tool_calls` reads.

Example:
    >>> import formgate
    >>> from formgate.tools import compile_tool_calls, parse_tool_calls
    >>> tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    ...     "type": "object", "properties": {"city": {"type": "string"}},
    ...     "required": ["city"]}}}]
    >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
    >>> cg = compile_tool_calls(info, tools, format="hermes")
    >>> text = 'Let me check. <tool_call>\\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\\n</tool_call>'
    >>> m = formgate.GrammarMatcher(cg)
    >>> m.accept_string(text) and m.is_completed()
    True
    >>> parse_tool_calls(text, tools, "hermes")
    [ToolCall(name='get_weather', arguments={'city': 'Oslo'})]
"""

from __future__ import annotations

from typing import Any

from formgate.tools.formats import FORMATS, ToolCallFormat, get_format
from formgate.tools.grammar import tool_calls_ebnf
from formgate.tools.parse import ToolCall, ToolCallParseError, parse_tool_calls

__all__ = ["FORMATS", "ToolCall", "ToolCallFormat", "ToolCallParseError", "compile_tool_calls",
           "get_format", "parse_tool_calls", "tool_calls_ebnf"]


def compile_tool_calls(compiler_or_tokenizer_info: Any, tools: list, *,
                       format: "str | ToolCallFormat", tool_choice: "str | dict" = "auto",
                       parallel: bool = True, **schema_opts: Any):
    """Compile :func:`tool_calls_ebnf` with a :class:`formgate.GrammarCompiler` (or a new one
    for a :class:`formgate.TokenizerInfo`); returns a CompiledGrammar. Markers that are single
    special tokens of the vocabulary are matched as those tokens.

    Example:
        >>> import formgate
        >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)] + [b""],
        ...                               special_tokens={"<|python_tag|>": 256})
        >>> tools = [{"name": "ping", "parameters": {"const": 1}}]
        >>> cg = compile_tool_calls(info, tools, format="llama3", tool_choice="required")
        >>> m = formgate.GrammarMatcher(cg)
        >>> m.accept_string('<|python_tag|>{"name": "ping", "parameters": 1}')
        False
        >>> m.accept_token(256) and m.accept_string('{"name": "ping", "parameters": 1}')
        True
    """
    from formgate.compiler import GrammarCompiler
    from formgate.tokenizer_info import TokenizerInfo

    compiler = compiler_or_tokenizer_info
    if isinstance(compiler, TokenizerInfo) or not hasattr(compiler, "compile_grammar"):
        compiler = GrammarCompiler(compiler)
    info = compiler.tokenizer_info
    stops = set(info.stop_token_ids)
    special = {name: i for name, i in info.special_tokens.items() if i not in stops}
    return compiler.compile_grammar(tool_calls_ebnf(tools, format=format,
                                                    tool_choice=tool_choice, parallel=parallel,
                                                    special_tokens=special, **schema_opts))
