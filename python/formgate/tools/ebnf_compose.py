"""Pieces of EBNF for tool-call grammars: renaming a grammar's rules, literal markers, and free
text that never contains a trigger string."""

from __future__ import annotations

import re

from formgate.json_schema.regex import ebnf_literal

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def prefix_rules(ebnf: str, prefix: str) -> str:
    """``ebnf`` with every rule name (definitions and references) prefixed, so several grammars
    can live in one text; strings, classes and comments are left alone.

    Example:
        >>> prefix_rules('root ::= "a" x\\nx ::= [b-c]+ # x', "t0_")
        't0_root ::= "a" t0_x\\nt0_x ::= [b-c]+ # x'
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


def marker(text: str) -> str:
    """EBNF for a format's fixed marker (``<tool_call>``, ``<|python_tag|>``...).

    The one place where markers become grammar: today a marker is matched as its text spelled
    out, because the core never lets a special/control token match grammar text. When the core
    gains a special-token terminal, markers that are single special tokens change here.

    Example:
        >>> marker("<tool_call>")
        '"<tool_call>"'
    """
    return ebnf_literal(text) if text else '""'


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
