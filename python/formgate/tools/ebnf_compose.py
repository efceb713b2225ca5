"""Pieces of EBNF for tool-call grammars: renaming a grammar's rules, markers (as text or as
special-token terminals), and free text that never contains a trigger string."""

from __future__ import annotations

import re
from collections.abc import Mapping

from formgate.json_schema.regex import ebnf_literal

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def prefix_rules(ebnf: str, prefix: str) -> str:
    """``ebnf`` with every rule name (definitions and references) prefixed, so several grammars
    can live in one text; strings, classes, special tokens and comments are left alone.

    Example:
        >>> prefix_rules('root ::= "a" x\\nx ::= [b-c]+ # x', "t0_")
        't0_root ::= "a" t0_x\\nt0_x ::= [b-c]+ # x'
        >>> prefix_rules("root ::= <|python_tag|> <[tag]> x", "t0_")
        't0_root ::= <|python_tag|> <[tag]> t0_x'
    """
    out, i, n = [], 0, len(ebnf)
    while i < n:
        c = ebnf[i]
        if c in "\"[":
            close = '"' if c == '"' else "]"
            j = i + 1
            while j < n and ebnf[j] != close:
                j += 2 if ebnf[j] == "\\" else 1
            out.append(ebnf[i:j + 1])
            i = j + 1
        elif c == "#":
            j = ebnf.find("\n", i)
            j = n if j < 0 else j
            out.append(ebnf[i:j])
            i = j
        elif ebnf.startswith(("<[", "<|"), i):  # a special token: its name is not a rule
            close = "]>" if ebnf[i + 1] == "[" else "|>"
            j = ebnf.find(close, i + 2)
            j = n if j < 0 else j + 2
            out.append(ebnf[i:j])
            i = j
        elif c == "{":  # counted repetition: digits, not names
            j = ebnf.index("}", i)
            out.append(ebnf[i:j + 1])
            i = j + 1
        else:
            m = _IDENT.match(ebnf, i)
            if m:
                out.append(prefix + m.group())
                i = m.end()
            else:
                out.append(c)
                i += 1
    return "".join(out)


def special_token_terminal(name: str, token_id: int) -> str:
    """The EBNF special-token terminal for the token ``name`` (id ``token_id``): ``<|NAME|>``,
    ``<[NAME]>``, or ``<[ID]>`` when the name cannot be written (docs/ebnf.md).

    Example:
        >>> special_token_terminal("<|python_tag|>", 128010), special_token_terminal("[A]", 5)
        ('<|python_tag|>', '<[[A]]>')
    """
    if "\n" in name:
        return f"<[{token_id}]>"
    if name.startswith("<|") and name.find("|>", 2) == len(name) - 2:
        return name
    if "]>" not in name and not name.isdigit():
        return f"<[{name}]>"
    return f"<[{token_id}]>"


def marker(text: str, special_tokens: Mapping[str, int] | None = None) -> str:
    """EBNF for a format's fixed text (``<tool_call>\\n{"name": ...``, ``<|python_tag|>``...).

    Every occurrence of a name in ``special_tokens`` (the tokenizer's special, non-stop tokens:
    ``TokenizerInfo.special_tokens``) becomes a special-token terminal, so the model must emit
    that single token; the rest is matched as text. Without the mapping, or for a tokenizer
    that lacks a marker as a special token, the marker is text spelled out.

    Example:
        >>> marker("<tool_call>{")
        '"<tool_call>{"'
        >>> marker("<tool_call>{", {"<tool_call>": 7, "<|eot|>": 8})
        '<[<tool_call>]> "{"'
    """
    names = sorted((n for n in (special_tokens or {}) if n), key=len, reverse=True)
    parts: list[str] = []
    pos = 0
    while names and pos < len(text):
        # Leftmost occurrence, longest name first among those starting there.
        found = min(((text.find(n, pos), n) for n in names if n in text[pos:]),
                    key=lambda hit: hit[0], default=None)
        if found is None:
            break
        start, name = found
        if start > pos:
            parts.append(ebnf_literal(text[pos:start]))
        parts.append(special_token_terminal(name, special_tokens[name]))
        pos = start + len(name)
    if pos < len(text):
        parts.append(ebnf_literal(text[pos:]))
    return " ".join(parts) if parts else '""'


def free_text_without(trigger: str, name: str) -> str:
    """Rules (the first named ``name``) for any text not containing ``trigger``. The trigger's
    first character must not occur again in it, which makes the language a simple loop (no
    deep recursion for long texts): chunks that are one other character, or aborted attempts
    at the trigger.

    Example:
        >>> print(free_text_without("<t>", "text"))
        text ::= ( [^<] | text_pre* text_fail )* text_pre*
        text_pre ::= "<" | "<t"
        text_fail ::= "<" [^t<] | "<t" [^><]
    """
    if not trigger:
        raise ValueError("the trigger must not be empty")
    first = trigger[0]
    if first in trigger[1:]:
        raise ValueError(f"trigger {trigger!r}: its first character occurs again in it; "
                         f"choose a trigger whose first character is unique")

    def cls(*chars: str) -> str:
        body = "".join("\\" + c if c in "\\]^-[" else c for c in dict.fromkeys(chars))
        return f"[^{body}]".replace("\n", "\\n")

    prefixes = [ebnf_literal(trigger[:k]) for k in range(1, len(trigger))]
    fails = [f"{ebnf_literal(trigger[:k])} {cls(trigger[k], first)}"
             for k in range(1, len(trigger))]
    lines = [f"{name} ::= ( {cls(first)} | {name}_pre* {name}_fail )* {name}_pre*"]
    if prefixes:
        lines.append(f"{name}_pre ::= " + " | ".join(prefixes))
        lines.append(f"{name}_fail ::= " + " | ".join(fails))
    else:  # a one-character trigger: text is simply the other characters
        lines = [f"{name} ::= {cls(first)}*"]
    return "\n".join(lines)
