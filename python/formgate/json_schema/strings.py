r"""String schemas: lengths, ``pattern`` and ``format``, over JSON-encoded string bodies.

Lengths count code points like the validator: one JSON string character (raw, or one escape) is
one code point, and a ``\uD83D\uDE00`` surrogate pair, two escapes, is one code point too;
length-constrained strings accept surrogate escapes only as such pairs (never a lone surrogate),
so that every spelling is counted one way.

Formats are regexes chosen as *subsets* of the RFC grammars: every string they produce passes
``jsonschema.FormatChecker`` (and the RFC), while some valid but unusual spellings are not
produced (``t``/``z`` in date-times, leap seconds, IPv4-embedded IPv6, ``userinfo@`` and IP
literals in URIs). Host names (``hostname``, the domain of ``email``; ``idn-hostname`` the same in
lower case) are letters/digits with single inner hyphens and dots, at most 32 letters/digits in
all, or up to 96 when dots cut them into three groups of at most 32 (so labels stay within 63
characters and names within 191): no ``--`` (hence no A-labels ``xn--``), no trailing dot, no
quoted or IP-literal e-mail parts, no non-ASCII ``idn-*``. Under a ``maxLength`` they shrink to
fit it (an e-mail's local part then has at most 32 ``atext`` characters); intersected with a
``pattern``, host names have one group (at most 32 letters/digits). ``format`` is an assertion
here, as with ``format_checker=FormatChecker()``; draft 3's ``host-name`` and ``ip-address`` are
``hostname`` and ``ipv4``.

Example:
    >>> from formgate.json_schema.strings import FORMATS
    >>> sorted(FORMATS)[:4]
    ['date', 'date-time', 'duration', 'email']
"""

from __future__ import annotations

from typing import Callable, Optional

from formgate.json_schema import regex as rx
from formgate.json_schema.errors import SchemaError

__all__ = ["FORMATS", "SPEC_FORMATS", "string_body"]

# Formats the specification (draft 2020-12 and earlier) defines. One formgate does not produce
# raises SchemaError; any other name ("url", "int64", "path"...) is an annotation: validators
# (jsonschema's FormatChecker included) ignore unknown formats, and so does formgate.
SPEC_FORMATS = frozenset({
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
    "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template",
    "json-pointer", "relative-json-pointer", "regex", "color", "host-name", "ip-address",
    "utc-millisec", "phone", "style",
})

_Y = "([0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"  # 0001..9999 (Python's date range)
_LEAP = "([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)"
_MD = ("((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
       "|02-(0[1-9]|1[0-9]|2[0-8]))")
_DATE = f"({_Y}-{_MD}|{_LEAP}-02-29)"
_TIME = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
# RFC 3339 appendix A: components are contiguous (no years+days without months)
_DUR_TIME = "T([0-9]+H([0-9]+M([0-9]+S)?)?|[0-9]+M([0-9]+S)?|[0-9]+S)"
_DUR_DATE = f"([0-9]+Y([0-9]+M([0-9]+D)?)?|[0-9]+M([0-9]+D)?|[0-9]+D)({_DUR_TIME})?"
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_H16 = "[0-9a-fA-F]{1,4}"


def _ipv6() -> str:
    alts = [f"({_H16}:){{7}}{_H16}"]
    for k in range(8):
        for m in range(8 - k):
            before = "" if k == 0 else (f"({_H16}:){{{k - 1}}}{_H16}" if k > 1 else _H16)
            after = "" if m == 0 else (f"({_H16}:){{{m - 1}}}{_H16}" if m > 1 else _H16)
            alts.append(f"{before}::{after}")
    return "(" + "|".join(alts) + ")"



_LD = "[A-Za-z0-9]"
_IDN_LD = "[a-z0-9]"  # IDNA2008 disallows upper case
_ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LOCAL = f"{_ATEXT}+(\\.{_ATEXT}+)*"  # dot-atom (RFC 5322), no quoted local parts


def _host(ld: str, blocks: int = 3, per_block: int = 32) -> str:
    """Dot-separated names of letters/digits ``ld`` with single inner hyphens ("LDH" labels,
    never "--", so never an A-label), cut into at most ``blocks`` dot-joined blocks of at most
    ``per_block`` letters/digits, each but the first one preceded by "-" or ".".

    A block is at most 2 * per_block - 1 characters (63 by default), hence so is every label,
    and the name at most blocks * 2 * per_block - 1 (191 <= 253, RFC 1123). Counting characters
    per label and per name (nested counted repetitions, a bounded count of labels) would cover
    more, but then every mask re-checks the tokens that cross a label boundary against the real
    stacks; a block is one counted repetition of a deterministic body, whose masks come from
    the token trie's survival tables (bench/format_masks.py compares the shapes).

    >>> import re
    >>> [bool(re.fullmatch(_host("[a-z0-9]"), h)) for h in ("localhost", "a.b.c.example.co.uk",
    ...  "a--b", "-a", "a.", "a" * 33, ".".join(["a" * 32] * 3), ".".join(["a" * 32] * 4))]
    [True, True, False, False, False, False, True, False]
    """
    block = f"{ld}(-?{ld}|\\.{ld}){{0,{per_block - 1}}}"
    name = ""
    for _ in range(blocks - 1):  # nested, not {0,2}: a bounded count of blocks is slower
        name = f"(\\.{block}{name})?"
    return block + name


def _host_within(ld: str, hi: int) -> tuple[Optional[str], int]:
    """The widest :func:`_host` shape at most ``hi`` characters long, and its maximum length
    (None, 0 when ``hi`` < 1)."""
    for blocks in (3, 2, 1):
        if blocks * 64 - 1 <= hi:
            return _host(ld, blocks), blocks * 64 - 1
    per_block = min(32, (hi + 1) // 2)
    return (_host(ld, 1, per_block), 2 * per_block - 1) if per_block else (None, 0)


def _email_within(hi: Optional[int]) -> Optional[str]:
    """An e-mail subset at most ``hi`` characters long (any length when None): the host name
    keeps about two thirds of the budget, the local part the rest, up to 63 characters."""
    if hi is None:
        return f"{_LOCAL}@{_host(_LD)}"
    host, host_len = _host_within(_LD, hi - 1 - min(31, (hi - 1) // 3))
    per_local = min(32, (hi - 1 - host_len + 1) // 2)
    if host is None or per_local < 1:
        return None
    # a counted dot-atom: at most per_local atext characters, each maybe after a dot
    return f"{_ATEXT}(\\.?{_ATEXT}){{0,{per_local - 1}}}@{host}"


def _sized_host(ld: str) -> Callable[[Optional[int]], Optional[str]]:
    return lambda hi: _host(ld) if hi is None else _host_within(ld, hi)[0]


# formats without a natural length bound whose subset string_body picks to fit a maxLength
_SIZED = {
    "hostname": _sized_host(_LD),
    "host-name": _sized_host(_LD),  # draft 3
    "idn-hostname": _sized_host(_IDN_LD),
    "email": _email_within,
    "idn-email": _email_within,
}
_PCT = "%[0-9A-Fa-f]{2}"
_PCHAR = f"([A-Za-z0-9\\-._~!$&'()*+,;=:@]|{_PCT})"
_PCHAR_NC = f"([A-Za-z0-9\\-._~!$&'()*+,;=@]|{_PCT})"
_REGNAME = f"([A-Za-z0-9\\-._~!$&'()*+,;=]|{_PCT})*"
_AUTH_PATH = f"//{_REGNAME}(:[0-9]*)?(/{_PCHAR}*)*"
_QF = f"(\\?({_PCHAR}|[/?])*)?(#({_PCHAR}|[/?])*)?"
_URI = (f"[A-Za-z][A-Za-z0-9+\\-.]*:({_AUTH_PATH}|/({_PCHAR}+(/{_PCHAR}*)*)?"
        f"|{_PCHAR}+(/{_PCHAR}*)*|){_QF}")
_RELREF = f"({_AUTH_PATH}|/({_PCHAR}+(/{_PCHAR}*)*)?|{_PCHAR_NC}+(/{_PCHAR}*)*|){_QF}"
_JSON_POINTER = "(/([^/~]|~[01])*)*"

FORMATS: dict[str, str] = {
    "date": _DATE,
    "time": _TIME,
    "date-time": f"{_DATE}T{_TIME}",
    "duration": f"P({_DUR_DATE}|{_DUR_TIME}|[0-9]+W)",
    # host names as one block here: the three-block shape string_body uses has no small
    # automaton (Dfa), which a format intersected with a pattern needs
    "email": f"{_LOCAL}@{_host(_LD, 1)}",
    "idn-email": f"{_LOCAL}@{_host(_LD, 1)}",
    "hostname": _host(_LD, 1),
    "host-name": _host(_LD, 1),
    "idn-hostname": _host(_IDN_LD, 1),
    "ipv4": f"{_OCTET}(\\.{_OCTET}){{3}}",
    "ip-address": f"{_OCTET}(\\.{_OCTET}){{3}}",  # draft 3's ipv4
    "ipv6": _ipv6(),
    "uuid": "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "uri": _URI,
    "iri": _URI,
    "uri-reference": f"({_URI}|{_RELREF})",
    "iri-reference": f"({_URI}|{_RELREF})",
    "json-pointer": _JSON_POINTER,
    "relative-json-pointer": f"(0|[1-9][0-9]*)(#|{_JSON_POINTER})",
}


def _restrict_length(node: rx.Node, lo: int, hi: Optional[int]) -> Optional[rx.Node]:
    """``node`` intersected with lengths [lo, hi] when that is easy and exact, else None.

    Handles a sequence of fixed-length parts around at most one repetition of a single-character
    class (``^[a-z]+$``, ``^x-[0-9]*$``), the common shapes in real schemas."""
    items = list(node.items) if node.kind == "seq" else [node]
    fixed = 0
    rep_i = None
    for i, it in enumerate(items):
        a, b = rx.length_bounds(it)
        if a == b:
            fixed += a
        elif it.kind == "rep" and rx.length_bounds(it.items[0]) == (1, 1) and rep_i is None:
            rep_i = i
        else:
            return None
    if rep_i is None:
        return node if fixed >= lo and (hi is None or fixed <= hi) else rx.Node("set", ranges=())
    r = items[rep_i]
    new_lo = max(r.lo, lo - fixed)
    new_hi = r.hi
    if hi is not None:
        new_hi = hi - fixed if new_hi is None else min(new_hi, hi - fixed)
    if new_hi is not None and new_hi < new_lo:
        return rx.Node("set", ranges=())
    items[rep_i] = rx.Node("rep", r.items, lo=new_lo, hi=new_hi)
    return rx.Node("seq", tuple(items))


def _regex_body(pattern: str, search: bool, lo: int, hi: Optional[int], any_char: str,
                pointer: str, keyword: str) -> Optional[str]:
    """EBNF for a string body matching ``pattern`` with length in [lo, hi]."""
    try:
        node = rx.parse_regex(pattern)
        branches = rx.split_anchors(node, pattern)
    except SchemaError as e:
        raise SchemaError(f"{e} (keyword '{keyword}' at {pointer or '/'})", pointer, keyword) from None
    alts = []
    for start, body, end in branches:
        open_start = search and not start
        open_end = search and not end
        if open_start or open_end:
            a, b = rx.length_bounds(body)
            if lo > a or hi is not None:
                if lo <= a and hi is None:
                    pass
                else:
                    raise SchemaError(
                        f"'{keyword}' {pattern!r} is unanchored; combining it with minLength/"
                        f"maxLength is not supported at {pointer or '/'}", pointer, keyword)
        elif lo > 0 or hi is not None:
            a, b = rx.length_bounds(body)
            if not (a >= lo and (hi is None or (b is not None and b <= hi))):
                body2 = _restrict_length(body, lo, hi)
                if body2 is None:
                    raise SchemaError(
                        f"'{keyword}' {pattern!r} combined with minLength/maxLength is not "
                        f"supported at {pointer or '/'}", pointer, keyword)
                body = body2
        e = rx.emit(body, rx.json_encode_class)
        if e is None:
            continue
        parts = []
        if open_start:
            parts.append(any_char + "*")
        if e != '""':
            parts.append(rx._group(e))
        if open_end:
            parts.append(any_char + "*")
        alts.append(" ".join(parts) if parts else '""')
    if not alts:
        return None
    return alts[0] if len(alts) == 1 else "(" + " | ".join(dict.fromkeys(alts)) + ")"


def string_body(schema: dict, pointer: str, any_char: str, counted_char: str) -> Optional[str]:
    """EBNF for the inside of a JSON string (between the quotes) that satisfies the string
    keywords of ``schema``; None when no string does. ``any_char``/``counted_char`` are rule
    names for one JSON string character (all spellings / surrogate escapes only in pairs)."""
    lo = schema.get("minLength", 0)
    hi = schema.get("maxLength")
    for k, v in (("minLength", lo), ("maxLength", hi)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                              or v < 0 or v != int(v)):
            raise SchemaError(f"'{k}' must be a non-negative integer at {pointer or '/'}",
                              pointer, k)
    lo = int(lo)
    hi = int(hi) if hi is not None else None
    if hi is not None and hi < lo:
        return None
    pattern = schema.get("pattern")
    fmt = schema.get("format")
    if fmt is not None and fmt not in FORMATS:
        if fmt in SPEC_FORMATS:
            raise SchemaError(f"unsupported format {fmt!r} at {pointer or '/'}", pointer,
                              "format")
        fmt = None  # not a JSON Schema format: an annotation, which no validator checks
    if pattern is not None and fmt is not None:
        raise SchemaError(f"'pattern' together with 'format' is not supported at "
                          f"{pointer or '/'}", pointer, "pattern")
    if pattern is not None:
        if not isinstance(pattern, str):
            raise SchemaError(f"'pattern' must be a string at {pointer or '/'}", pointer, "pattern")
        return _regex_body(pattern, True, lo, hi, any_char, pointer, "pattern")
    if fmt is not None:
        regex = _SIZED[fmt](hi) if fmt in _SIZED else FORMATS[fmt]
        if regex is None:
            return None  # shorter than the shortest name or address
        return _regex_body(regex, False, lo, hi, any_char, pointer, "format")
    if lo == 0 and hi is None:
        return any_char + "*"
    if hi is None:
        return f"{counted_char}{{{lo},}}"
    if lo == hi:
        return f"{counted_char}{{{lo}}}" if lo else '""'
    return f"{counted_char}{{{lo},{hi}}}"
