"""The grammar of a model turn that calls tools (see :func:`tool_calls_ebnf`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

from formgate.json_schema import json_schema_to_ebnf
from formgate.tools.ebnf_compose import free_text_without, marker, prefix_rules
from formgate.tools.formats import ToolCallFormat, get_format

__all__ = ["Tool", "normalize_tools", "tool_calls_ebnf"]

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
ToolChoice = Union[str, dict]


@dataclass(frozen=True)
class Tool:
    name: str
    parameters: Any  # a JSON schema


def normalize_tools(tools: list) -> list[Tool]:
    """OpenAI ``tools`` entries (``{"type": "function", "function": {...}}``) or bare
    ``{"name", "parameters"}`` dicts to :class:`Tool`; names must be unique and match
    ``[A-Za-z0-9_-]{1,64}`` (the OpenAI rule, which also keeps them safe inside JSON).

    Example:
        >>> normalize_tools([{"type": "function", "function": {"name": "f"}}])
        [Tool(name='f', parameters={'type': 'object', 'properties': {}})]
    """
    out: list[Tool] = []
    for i, t in enumerate(tools):
        if not isinstance(t, dict):
            raise ValueError(f"tools[{i}] is not a dict")
        fn = t.get("function", t) if t.get("type", "function") == "function" else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise ValueError(f"tools[{i}] is not a function tool with a name")
        if not _NAME.fullmatch(fn["name"]):
            raise ValueError(f"tools[{i}]: name {fn['name']!r} must match [A-Za-z0-9_-]{{1,64}}")
        if any(o.name == fn["name"] for o in out):
            raise ValueError(f"tools[{i}]: duplicate tool name {fn['name']!r}")
        out.append(Tool(fn["name"], fn.get("parameters",
                                           {"type": "object", "properties": {}})))
    if not out:
        raise ValueError("no tools given")
    return out


def _chosen(tools: list[Tool], tool_choice: ToolChoice) -> tuple[list[Tool], str]:
    if isinstance(tool_choice, dict):
        name = tool_choice.get("function", tool_choice).get("name")
        match = [t for t in tools if t.name == name]
        if not match:
            raise ValueError(f"tool_choice names {name!r}, which is not among the tools")
        return match, "named"
    if tool_choice not in ("auto", "required"):
        raise ValueError("tool_choice must be 'auto', 'required' or {'name': ...}")
    return tools, tool_choice


def tool_calls_ebnf(tools: list, *, format: "str | ToolCallFormat",
                    tool_choice: ToolChoice = "auto", parallel: bool = True,
                    special_tokens: Mapping[str, int] | None = None,
                    **schema_opts: Any) -> str:
    """EBNF for a model turn under ``format`` (see :mod:`formgate.tools.formats`):

    * ``"auto"``: free text without the trigger, then any number of call sections each
      followed by free text (at most one section of one call when ``parallel=False``);
    * ``"required"``: one section of one or more calls (one when ``parallel=False``), nothing
      else;
    * ``{"name": f}`` (or OpenAI's ``{"type": "function", "function": {"name": f}}``): exactly
      one call of ``f``.

    ``special_tokens`` (name -> id of the tokenizer's special, non-stop tokens): markers that
    are one of them (``<tool_call>``, ``<|python_tag|>``, ``[TOOL_CALLS]``) become special-token
    terminals, so the model must emit the single token; otherwise markers are text. Free text
    still excludes the trigger spelled out, so that :func:`parse_tool_calls` on the decoded
    text (where the special token reads as its name) finds only real calls.

    Each tool's arguments follow its ``parameters`` schema (converted by
    :func:`formgate.json_schema.json_schema_to_ebnf` with ``schema_opts``; its rules are
    prefixed ``t<i>_``).

    Example:
        >>> print(tool_calls_ebnf([{"name": "ping", "parameters": {"const": 1}}],
        ...                       format="hermes", tool_choice="required"), end="")
        root ::= section
        section ::= "" calls ""
        calls ::= call ( "\\u000a" call )*
        call ::= call_0
        call_0 ::= "<tool_call>\\u000a{\\"name\\": \\"ping\\", \\"arguments\\": " t0_root "}\\u000a</tool_call>"
        t0_root ::= ("1" | "1.0")
        t0_ws ::= [ \\t\\n\\r]{0,64}
    """
    fmt = get_format(format)
    all_tools = normalize_tools(tools)
    chosen, mode = _chosen(all_tools, tool_choice)
    multi = parallel and mode != "named"
    lines = []
    if mode == "auto":
        trigger = fmt.effective_trigger
        for t in chosen:
            if not (fmt.section_begin + fmt.call_begin(t.name)).startswith(trigger):
                raise ValueError(f"format {fmt.name!r}: trigger {trigger!r} does not start the "
                                 f"call of {t.name!r}")
        rep = "*" if parallel else "?"
        lines.append(f"root ::= text ( section text ){rep}")
        lines.append(free_text_without(trigger, "text"))
    else:
        lines.append("root ::= section")
    def mark(text: str) -> str:
        return marker(text, special_tokens)

    lines.append(f"section ::= {mark(fmt.section_begin)} calls {mark(fmt.section_end)}")
    lines.append(f"calls ::= call ( {mark(fmt.separator)} call )*" if multi
                 else "calls ::= call")
    ids = [all_tools.index(t) for t in chosen]
    lines.append("call ::= " + " | ".join(f"call_{i}" for i in ids))
    for i, t in zip(ids, chosen):
        lines.append(f"call_{i} ::= {mark(fmt.call_begin(t.name))} t{i}_root "
                     f"{mark(fmt.call_end(t.name))}")
    for i, t in zip(ids, chosen):
        lines.append(prefix_rules(json_schema_to_ebnf(t.parameters, **schema_opts).strip(),
                                  f"t{i}_"))
    return "\n".join(lines) + "\n"
