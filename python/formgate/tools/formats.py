"""Tool-call output formats: fixed strings around each call's JSON arguments.

A call of tool ``f`` is ``begin(f) <arguments JSON> end``; calls are grouped into a *section*
``section_begin call (separator call)* section_end``. In ``tool_choice="auto"`` mode free text
may appear until the ``trigger`` (a prefix of ``section_begin + begin(f)`` for every ``f``).
This is XGrammar's structural-tag model; :class:`ToolCallFormat` declares a custom one.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ToolCallFormat", "FORMATS", "get_format"]


@dataclass(frozen=True)
class ToolCallFormat:
    """``begin``/``end`` may contain ``{name}`` (the tool's name). ``trigger`` defaults to
    ``section_begin`` if it is not empty, else to ``begin`` up to ``{name}``.

    Example:
        >>> f = ToolCallFormat("xml", begin="<function={name}>", end="</function>")
        >>> f.call_begin("get_weather"), f.effective_trigger
        ('<function=get_weather>', '<function=')
    """

    name: str
    begin: str
    end: str
    section_begin: str = ""
    section_end: str = ""
    separator: str = "\n"
    trigger: str = ""

    def call_begin(self, tool: str) -> str:
        return self.begin.replace("{name}", tool)

    def call_end(self, tool: str) -> str:
        return self.end.replace("{name}", tool)

    @property
    def effective_trigger(self) -> str:
        if self.trigger:
            return self.trigger
        if self.section_begin:
            return self.section_begin
        return self.begin.split("{name}", 1)[0]


def _json_call(prefix: str, suffix: str, args_key: str = "arguments") -> tuple[str, str]:
    return prefix + '{"name": "{name}", "' + args_key + '": ', "}" + suffix


FORMATS: dict[str, ToolCallFormat] = {
    # {"name": "f", "arguments": {...}}; parallel calls one per line
    "json": ToolCallFormat("json", *_json_call("", "")),
    # Llama 3.1: <|python_tag|>{"name": "f", "parameters": {...}}
    "llama3": ToolCallFormat("llama3", *_json_call("<|python_tag|>", "", "parameters"),
                             trigger="<|python_tag|>"),
    # Hermes 2 Pro / Qwen2.5: <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>
    "hermes": ToolCallFormat("hermes", *_json_call("<tool_call>\n", "\n</tool_call>"),
                             trigger="<tool_call>"),
    # Mistral: [TOOL_CALLS][{"name": "f", "arguments": {...}}, {...}]
    "mistral": ToolCallFormat("mistral", *_json_call("", ""), section_begin="[TOOL_CALLS][",
                              section_end="]", separator=", ", trigger="[TOOL_CALLS]"),
}
FORMATS["openai"] = FORMATS["json"]
FORMATS["qwen"] = FORMATS["hermes"]


def get_format(fmt: "str | ToolCallFormat") -> ToolCallFormat:
    """A built-in format by name (json/openai, llama3, hermes/qwen, mistral) or ``fmt`` itself.

    Example:
        >>> get_format("qwen").effective_trigger
        '<tool_call>'
    """
    if isinstance(fmt, ToolCallFormat):
        return fmt
    try:
        return FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown tool-call format {fmt!r}; built-in: "
                         f"{', '.join(sorted(FORMATS))}, or pass a ToolCallFormat") from None
