"""Reading tool calls back out of a model's text."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from formgate.tools.formats import ToolCallFormat, get_format
from formgate.tools.grammar import normalize_tools

__all__ = ["ToolCall", "ToolCallParseError", "parse_tool_calls"]


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict = field(default_factory=dict)


class ToolCallParseError(ValueError):
    """The text has a malformed call, an unknown tool, or arguments its schema rejects;
    ``position`` is the offset in the text."""

    def __init__(self, message: str, position: int):
        super().__init__(f"{message} (at offset {position})")
        self.position = position


def parse_tool_calls(text: str, tools: list, format: "str | ToolCallFormat") -> list[ToolCall]:
    """The calls in ``text`` (as produced under :func:`formgate.tools.compile_tool_calls`),
    each validated against its tool's parameters schema with ``jsonschema``; free text
    around them is skipped.

    Example:
        >>> tools = [{"name": "add", "parameters": {"type": "object",
        ...           "properties": {"a": {"type": "integer"}}, "required": ["a"]}}]
        >>> parse_tool_calls('Sure. <tool_call>\\n{"name": "add", "arguments": {"a": 2}}'
        ...                  '\\n</tool_call>', tools, "hermes")
        [ToolCall(name='add', arguments={'a': 2})]
    """
    import jsonschema

    fmt = get_format(format)
    by_name = {t.name: t for t in normalize_tools(tools)}
    decoder = json.JSONDecoder()
    trigger = fmt.effective_trigger
    calls: list[ToolCall] = []
    pos = 0
    while True:
        start = text.find(trigger, pos)
        if start < 0:
            return calls
        pos = _expect(text, start, fmt.section_begin)
        while True:
            name = next((n for n in sorted(by_name, key=len, reverse=True)
                         if text.startswith(fmt.call_begin(n), pos)), None)
            if name is None:
                raise ToolCallParseError("expected a call of one of the tools "
                                         f"{sorted(by_name)}", pos)
            pos += len(fmt.call_begin(name))
            try:
                args, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as e:
                raise ToolCallParseError(f"arguments of {name!r} are not JSON: {e.msg}",
                                         e.pos) from None
            errors = sorted(jsonschema.Draft202012Validator(by_name[name].parameters)
                            .iter_errors(args), key=lambda e: list(e.path))
            if errors:
                raise ToolCallParseError(f"arguments of {name!r} are invalid: "
                                         f"{errors[0].message}", pos)
            pos = _expect(text, pos, fmt.call_end(name))
            calls.append(ToolCall(name, args))
            if fmt.separator and any(text.startswith(fmt.separator + fmt.call_begin(n), pos)
                                     for n in by_name):
                pos += len(fmt.separator)
                continue
            pos = _expect(text, pos, fmt.section_end)
            break


def _expect(text: str, pos: int, s: str) -> int:
    if not text.startswith(s, pos):
        raise ToolCallParseError(f"expected {s!r}", pos)
    return pos + len(s)
