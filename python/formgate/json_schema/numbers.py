r"""EBNF for JSON integers and numbers inside exact bounds.

Only canonical spellings are produced: no leading zeros, no ``-0``, no exponent once a bound is
given, and (for ``integer``) no fraction. ``1.0`` is an integer to JSON Schema, but it is never
needed to express one, so rejecting it costs nothing.

Bounds are compared exactly on the decimal text. A float bound ``b`` from the schema is replaced
by the shortest decimal that reads back as ``b`` (``repr(b)``: ``0.01`` stays ``0.01``), and an
exclusive float bound by the shortest decimal of the adjacent double on the allowed side (made
inclusive). Because float rounding is monotone, any decimal ``d >= repr(b)`` parses to a float
``>= b``, so an instance the validator reads as a float can never land on the wrong side of the
bound through rounding. The few decimals that round onto the bound from outside it (``0.00999
99999999999999`` for ``minimum: 0.01``) are rejected, which is the conservative side.

Example:
    >>> from formgate.json_schema.numbers import integer_range
    >>> integer_range(-5, 12)
    '("-" [1-5] | [0-9] | "1" [0-2])'
"""

from __future__ import annotations

import math
from decimal import Context, Decimal, ROUND_CEILING, ROUND_FLOOR
from typing import Optional

from formgate.json_schema.errors import SchemaError

__all__ = ["integer_range", "number_range", "integer_multiple_of", "NUMBER", "INTEGER",
           "to_decimal_bound"]

INTEGER = '"-"? ("0" | [1-9] [0-9]*)'
NUMBER = '"-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [+-]? [0-9]+)?'

_MAX_FRACTION_DIGITS = 60  # bounds below 1e-60 are rounded (toward the allowed side)


def _alt(parts: list[str]) -> Optional[str]:
    parts = [p for p in dict.fromkeys(parts) if p is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"


def _digit_class(a: int, b: int) -> str:
    if a == b:
        return f'"{a}"'
    return f"[{a}-{b}]"


def _same_len(x: str, y: str) -> list[str]:
    """Alternatives matching digit strings s with len(s) == len(x) == len(y), x <= s <= y."""
    assert len(x) == len(y) and x <= y
    if not x:
        return ['""']
    if x == y:
        return [f'"{x}"']
    i = 0
    while x[i] == y[i]:
        i += 1
    prefix = f'"{x[:i]}" ' if i else ""
    rest = len(x) - i - 1
    a, b = int(x[i]), int(y[i])
    tail_any = f" [0-9]{{{rest}}}" if rest > 1 else (" [0-9]" if rest == 1 else "")
    if x[i + 1:] == "0" * rest and y[i + 1:] == "9" * rest:
        return [prefix + _digit_class(a, b) + tail_any]
    out = []
    lo_alts = _same_len(x[i + 1:], "9" * rest)
    out.append(prefix + f'"{a}" ' + _alt(lo_alts))
    if b - a > 1:
        out.append(prefix + _digit_class(a + 1, b - 1) + tail_any)
    hi_alts = _same_len("0" * rest, y[i + 1:])
    out.append(prefix + f'"{b}" ' + _alt(hi_alts))
    return out


def _natural_range(a: int, b: Optional[int]) -> list[str]:
    """Canonical spellings of the naturals in [a, b] (b None: unbounded), as alternatives."""
    if b is not None and a > b:
        return []
    out = []
    la = len(str(a))
    lb = len(str(b)) if b is not None else la
    for length in range(la, lb + 1):
        lo = max(a, 10 ** (length - 1) if length > 1 else 0)
        hi = 10 ** length - 1 if b is None or length < lb else b
        if lo > hi:
            continue
        out += _same_len(str(lo).zfill(length), str(hi).zfill(length))
    if b is None:
        out.append(f"[1-9] [0-9]{{{la},}}")
    return out


def integer_range(lo: Optional[int], hi: Optional[int]) -> Optional[str]:
    """EBNF for the canonical JSON integers in [lo, hi] (None = unbounded); None if empty.

    Example:
        >>> integer_range(0, None)
        '("0" | [1-9] [0-9]*)'
    """
    if lo is None and hi is None:
        return INTEGER
    if lo is not None and hi is not None and lo > hi:
        return None
    if lo == 0 and hi is None:
        return '("0" | [1-9] [0-9]*)'
    if lo == 1 and hi is None:
        return "[1-9] [0-9]*"
    parts = []
    # negative part: "-" then a magnitude in [max(1, -hi), -lo]
    if lo is None or lo < 0:
        mlo = 1 if hi is None or hi >= 0 else -hi
        mhi = None if lo is None else -lo
        if mhi is None and mlo == 1:
            parts.append('"-" [1-9] [0-9]*')
        else:
            neg = _natural_range(mlo, mhi)
            if neg:
                parts.append('"-" ' + _alt(neg))
    if hi is None or hi >= 0:
        pos = _natural_range(max(lo, 0) if lo is not None else 0, hi)
        parts += pos
    return _alt(parts)


# ---------------------------------------------------------------------------------------------
# decimals


def to_decimal_bound(value, exclusive: bool, upper: bool) -> tuple[Decimal, bool]:
    """A schema bound as (exact Decimal, still_exclusive).

    Float bounds become their shortest round-trip decimal; an exclusive float bound becomes the
    inclusive shortest decimal of the neighbouring double inside the allowed range (see the module
    docstring).

    >>> to_decimal_bound(0.01, False, upper=False)
    (Decimal('0.01'), False)
    >>> to_decimal_bound(0.5, True, upper=False)
    (Decimal('0.5000000000000001'), False)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"bound {value!r} is not a number")
    if isinstance(value, int):
        return Decimal(value), exclusive
    if math.isnan(value) or math.isinf(value):
        raise SchemaError(f"bound {value!r} is not finite")
    if exclusive:
        value = math.nextafter(value, -math.inf if upper else math.inf)
    d = Decimal(repr(value))
    # tiny bounds (5e-324): round toward the allowed side (a tighter, still safe, bound)
    q = Decimal(1).scaleb(-_MAX_FRACTION_DIGITS)
    if d.as_tuple().exponent < -_MAX_FRACTION_DIGITS:
        d = d.quantize(q, rounding=ROUND_FLOOR if upper else ROUND_CEILING,
                       context=Context(prec=800))
    return d, False


def _split(d: Decimal) -> tuple[int, str]:
    """Non-negative decimal -> (integer part, fraction digits without trailing zeros)."""
    assert d >= 0
    i = int(d)
    f = d - i
    if f == 0:
        return i, ""
    s = format(f, "f")
    frac = s.split(".", 1)[1].rstrip("0")
    return i, frac


def _frac(lo: Optional[str], los: bool, hi: Optional[str], his: bool) -> tuple[bool, Optional[str]]:
    """Digit strings F (maybe empty) with lo <= 0.F <= hi (strict per flag; None = no bound).

    ``lo``/``hi`` are fraction digits without trailing zeros. Returns (empty F allowed, EBNF for
    the non-empty F or None)."""
    if lo == "" and not los:
        lo = None
    if hi is not None and hi == "" and his:
        return False, None
    if lo is None and hi is None:
        return True, "[0-9]+"
    if lo == "" and hi is None:  # > 0
        return False, "[0-9]* [1-9] [0-9]*"
    if lo is None and hi == "":  # <= 0
        return True, '"0"+'
    if lo == "" and hi == "":
        return False, None
    empty_ok = lo is None and not (hi == "" and his)
    alts = []
    lo_d = int(lo[0]) if lo else 0
    hi_d = int(hi[0]) if hi else (0 if hi == "" else 9)
    free_from, free_to = None, None
    for d in range(lo_d, hi_d + 1):
        sub_lo = (lo[1:] if lo else "") if lo is not None and d == lo_d else None
        sub_hi = (hi[1:] if hi else "") if hi is not None and d == hi_d else None
        if sub_lo is None and sub_hi is None:
            free_from = d if free_from is None else free_from
            free_to = d
            continue
        e_ok, ne = _frac(sub_lo, los, sub_hi, his)
        if e_ok and ne:
            alts.append(f'"{d}" ({ne})?')
        elif e_ok:
            alts.append(f'"{d}"')
        elif ne:
            alts.append(f'"{d}" {ne}' if " " not in ne or ne.startswith("(") else f'"{d}" ({ne})')
    if free_from is not None:
        alts.append(f"{_digit_class(free_from, free_to)} [0-9]*")
    return empty_ok, _alt(alts)


def _with_frac(int_part: str, fr: tuple[bool, Optional[str]]) -> Optional[str]:
    empty_ok, ne = fr
    if ne is None:
        return int_part if empty_ok else None
    tail = f'"." {ne}' if _simple(ne) else f'"." ({ne})'
    return f"{int_part} ({tail})?" if empty_ok else f"{int_part} {tail}"


def _simple(e: str) -> bool:
    return " " not in e or (e.startswith("(") and e.endswith(")") and e.count("(") == 1)


def _magnitude(lo: Decimal, los: bool, hi: Optional[Decimal], his: bool) -> Optional[str]:
    """Unsigned decimals (int part, optional fraction) m with lo <= m <= hi (flags: strict)."""
    a_lo, f_lo = _split(lo)
    parts = []
    if hi is None:
        parts.append(_with_frac(f'"{a_lo}"', _frac(f_lo, los, None, False)))
        rest = _natural_range(a_lo + 1, None)
        if rest:
            parts.append(_with_frac(_alt(rest), (True, "[0-9]+")))
        return _alt(parts)
    if hi < lo or (hi == lo and (los or his)):
        return None
    a_hi, f_hi = _split(hi)
    if a_lo == a_hi:
        return _with_frac(f'"{a_lo}"', _frac(f_lo, los, f_hi, his))
    parts.append(_with_frac(f'"{a_lo}"', _frac(f_lo, los, None, False)))
    mid = _natural_range(a_lo + 1, a_hi - 1)
    if mid:
        parts.append(_with_frac(_alt(mid), (True, "[0-9]+")))
    parts.append(_with_frac(f'"{a_hi}"', _frac(None, False, f_hi, his)))
    return _alt(parts)


def number_range(lo: Optional[Decimal], lo_strict: bool, hi: Optional[Decimal],
                 hi_strict: bool) -> Optional[str]:
    """EBNF for JSON numbers x with lo <= x <= hi (``<`` where strict; None = unbounded).

    Example:
        >>> from decimal import Decimal
        >>> number_range(Decimal("0.5"), False, Decimal(1), True)
        '"0" "." (("5" ([0-9]+)? | [6-9] [0-9]*))'
    """
    if lo is None and hi is None:
        return NUMBER
    parts = []
    # negative values: "-" then a magnitude m = -x > 0
    if lo is None or lo < 0:
        if hi is not None and hi < 0:
            m_lo, m_los = -hi, hi_strict
        else:
            m_lo, m_los = Decimal(0), True
        m_hi = None if lo is None else -lo
        neg = _magnitude(m_lo, m_los, m_hi, lo_strict)
        if neg is not None:
            parts.append('"-" ' + (neg if _simple(neg) else f"({neg})"))
    if hi is None or hi >= 0:
        if lo is None or lo < 0:
            p_lo, p_los = Decimal(0), False
        else:
            p_lo, p_los = lo, lo_strict
        pos = _magnitude(p_lo, p_los, hi, hi_strict)
        if pos is not None:
            parts.append(pos)
    return _alt(parts)


# ---------------------------------------------------------------------------------------------
# multipleOf


def integer_multiple_of(k: int, nonneg_from: Optional[int], nonpos_to: Optional[int],
                        rule_prefix: str) -> tuple[Optional[str], dict[str, str]]:
    """Multiples of ``k`` as (expression, rules): a digit DFA with one rule per remainder.

    ``nonneg_from`` in {None, 0, k}: None allows negative multiples too; 0 means x >= 0; k means
    x >= k. ``nonpos_to`` mirrors it for the upper side (None, 0 or -k).
    """
    if k == 1:
        raise AssertionError("caller handles k == 1 as a plain range")
    rules: dict[str, str] = {}
    for r in range(k):
        alts = ['""'] if r == 0 else []
        by_target: dict[int, list[int]] = {}
        for d in range(10):
            by_target.setdefault((10 * r + d) % k, []).append(d)
        for t, ds in sorted(by_target.items()):
            cls = "[" + "".join(str(d) for d in ds) + "]" if len(ds) > 1 else f'"{ds[0]}"'
            alts.append(f"{cls} {rule_prefix}{t}")
        rules[f"{rule_prefix}{r}"] = " | ".join(alts)
    firsts: dict[int, list[int]] = {}
    for d in range(1, 10):
        firsts.setdefault(d % k, []).append(d)
    positive = _alt([("[" + "".join(map(str, ds)) + "]" if len(ds) > 1 else f'"{ds[0]}"')
                     + f" {rule_prefix}{t}" for t, ds in sorted(firsts.items())])
    parts = []
    allow_neg = nonneg_from is None
    allow_pos = nonpos_to is None
    allow_zero = (nonneg_from in (None, 0)) and (nonpos_to in (None, 0))
    if allow_neg:
        parts.append(f'"-" {positive}')
    if allow_zero:
        parts.append('"0"')
    if allow_pos:
        parts.append(positive)
    return _alt(parts), rules
