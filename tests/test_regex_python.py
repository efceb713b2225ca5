"""The regex frontend (``compile_regex`` / ``Grammar.from_regex``) against Python's ``re``.

Three oracles: ``re.fullmatch`` on generated patterns and strings (exact agreement, Unicode
``\\d\\w\\s`` included); hypothesis' ``from_regex`` strings (all must be accepted); and
``re.compile`` on random junk patterns (whatever ``re`` rejects, formgate must reject with a
GrammarError carrying a column, never translate).
"""

from __future__ import annotations

import re
import warnings

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import formgate

BYTE_VOCAB = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
COMPILER = formgate.GrammarCompiler(BYTE_VOCAB, max_threads=1)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


def _valid_for_re(pattern: str) -> bool:
    """False for generated patterns ``re`` refuses (two groups named alike), after checking
    that formgate refuses them too."""
    try:
        re.compile(pattern)
    except re.error:
        with pytest.raises(formgate.GrammarError):
            COMPILER.compile_regex(pattern)
        return False
    return True


def _compile(pattern):
    try:
        return COMPILER.compile_regex(pattern)
    except formgate.GrammarError as e:
        if "matches no string" in str(e) or "empty language" in str(e):
            return None
        raise


def _accepts(compiled, s: str) -> bool:
    if compiled is None:
        return False
    m = formgate.GrammarMatcher(compiled)
    return m.accept_string(s) and m.is_completed()


# Characters on which Python's Unicode classes differ from ASCII ones: Arabic-Indic digit,
# accented letter, NBSP and the file separator (both \s), a newline (excluded by '.').
ALPHABET = "abAB0_-. \n\u0663\u00e9\u00c9\u00a0\x1c]\\"

ATOMS = ["a", "b", "0", r"\.", "-", "[ab]", "[^a]", "[a-c0]", r"\d", r"\w", r"\s", r"\D", r"\W",
         r"\S", ".", r"\-", "é", r"[\-a]", r"\\", r"\n", r"\x61", r"\u00e9", r"\U000000e9",
         r"\141", r"\0", r"[]a]", r"[^]a]", r"[\d_]", r"[^\W\d]", r"\N{DIGIT THREE}", " ",
         "(?s:.)", r"(?a:\w)", r"(?a:\s)", r"\u0663", "_", "(?:)", "()", "(?i:a)", "(?i:[^b])",
         "(?i:é)", r"(?i:[a-c\d])", r"(?ai:\w)", "A"]


def _patterns():
    def extend(children):
        return st.one_of(
            st.tuples(children, children).map(lambda t: t[0] + t[1]),
            st.tuples(children, children).map(lambda t: f"(?:{t[0]}|{t[1]})"),
            st.tuples(children, children).map(lambda t: f"({t[0]}|{t[1]})"),
            st.tuples(children, children).map(lambda t: f"(?P<g>{t[0]}){t[1]}"),
            children.map(lambda c: f"(?:{c})*"),
            children.map(lambda c: f"(?:{c})+?"),
            children.map(lambda c: f"(?:{c})?"),
            st.tuples(children, st.integers(0, 3), st.integers(0, 3)).map(
                lambda t: f"(?:{t[0]}){{{min(t[1], t[2])},{max(t[1], t[2])}}}"),
            children.map(lambda c: f"(?:{c}){{,2}}"),
            children.map(lambda c: f"(?:{c}){{2}}"),
        )

    base = st.recursive(st.sampled_from(ATOMS), extend, max_leaves=6)
    return st.tuples(st.sampled_from(["", "^", r"\A", "(?s)"]), base,
                     st.sampled_from(["", "$", r"\Z"])).map("".join)


@SETTINGS
@given(_patterns(), st.lists(st.text(alphabet=ALPHABET, max_size=6), min_size=1, max_size=8))
def test_fullmatch_agrees_with_re(pattern: str, samples: list[str]) -> None:
    assume(_valid_for_re(pattern))
    compiled = _compile(pattern)
    py = re.compile(pattern)
    for s in samples:
        assert _accepts(compiled, s) == bool(py.fullmatch(s)), (pattern, s)


def _nested_repeats(pattern: str) -> bool:
    """Whether a variable repetition sits inside one of more than one copy: Python's backtracking
    ``re``, which ``st.from_regex`` uses to filter its draws, can take exponential time on such
    patterns (a CI run hung for minutes on one)."""
    import re._constants as c
    import re._parser as p

    repeats = (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT))

    def walk(items, inside: bool) -> bool:
        for op, av in items:
            if op in repeats:
                lo, hi, sub = av
                many = hi is c.MAXREPEAT or hi > 1
                if inside and (hi is c.MAXREPEAT or hi != lo):
                    return True
                if walk(sub, inside or many):
                    return True
            elif op is c.SUBPATTERN:
                if walk(av[-1], inside):
                    return True
            elif op is c.BRANCH:
                if any(walk(b, inside) for b in av[1]):
                    return True
        return False

    return walk(p.parse(pattern), False)


@SETTINGS
@given(_patterns(), st.data())
def test_from_regex_strings_are_accepted(pattern: str, data: st.DataObject) -> None:
    assume(_valid_for_re(pattern))
    assume(not _nested_repeats(pattern))
    compiled = _compile(pattern)
    assume(compiled is not None)
    for _ in range(5):
        s = data.draw(st.from_regex(pattern, fullmatch=True))
        assert _accepts(compiled, s), (pattern, s)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(alphabet="ab()[]{}|*+?^$\\-,.:=!<>P0123dwbAZ", max_size=10))
def test_patterns_re_rejects_are_rejected(pattern: str) -> None:
    """Junk patterns: if ``re`` rejects it, formgate raises GrammarError with a column; if
    formgate translates it, the translation agrees with ``re`` on a few strings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FutureWarning for '[[', '--' in classes
        try:
            py = re.compile(pattern)
        except re.error:
            py = None
    try:
        compiled = _compile(pattern)
    except formgate.GrammarError as e:
        assert e.column >= 1 and e.line == 1, (pattern, str(e))
        return
    assert py is not None, f"re rejects {pattern!r} but formgate translated it"
    for s in ["", "a", "ab", "b", "aa", "-", "0", "a-b", ","]:
        assert _accepts(compiled, s) == bool(py.fullmatch(s)), (pattern, s)


@pytest.mark.parametrize("pattern,column,cause", [
    (r"a(?=b)", 2, "lookahead"),
    (r"a(?!b)", 2, "negative lookahead"),
    (r"x(?<=a)", 2, "lookbehind"),
    (r"x(?<!a)", 2, "negative lookbehind"),
    (r"(a)\1", 4, "backreference"),
    (r"(?P<n>a)(?P=n)", 9, "backreference"),
    (r"ab\b", 3, "word boundary"),
    (r"\Ba", 1, "word boundary"),
    (r"a(?i)b", 2, "global flags not at the start"),
    (r"(?x)a b", 1, "verbose"),
    (r"a(?>b)", 2, "atomic group"),
    (r"(a)?(?(1)b|c)", 5, "conditional"),
    (r"a*+", 3, "possessive"),
    (r"a^b", 2, "anchors"),
    (r"a{3,1}", 2, "out of order"),
    (r"[z-a]", 2, "bad character range"),
    (r"(ab", 1, "missing ')'"),
    (r"ab)", 3, "unbalanced ')'"),
    (r"[ab", 1, "unterminated"),
    (r"\q", 1, "bad escape"),
    (r"a**", 3, "multiple repeat"),
    (r"*a", 1, "nothing to repeat"),
    (r"\N{NO SUCH NAME}", 1, "undefined character name"),
    (r"(?<n>a)", 1, "(?P<name>"),
])
def test_unsupported_and_malformed_raise_with_column(pattern: str, column: int,
                                                     cause: str) -> None:
    with pytest.raises(formgate.GrammarError) as info:
        formgate.Grammar.from_regex(pattern)
    assert info.value.column == column and info.value.line == 1, str(info.value)
    assert cause in info.value.cause, str(info.value)
    assert "^" in str(info.value).splitlines()[-1]  # the caret excerpt


@pytest.mark.parametrize("pattern,good,bad", [
    (r"\d+", ["0", "\u0663\u0661", "9"], ["", "a", "\u00b2"]),  # superscript 2: not Nd
    (r"\w+", ["a_Z9", "é", "\u0663"], ["-", " "]),
    (r"\s", [" ", "\t", "\u00a0", "\x1c", "\u2028"], ["a", "\u200b"]),
    (r"(?a)\d\w\s", ["0a "], ["\u0663a ", "0é ", "0a\u00a0"]),
    (r".", ["a", "\r", "\u2028"], ["\n"]),
    (r"(?s).", ["\n"], [""]),
    (r"a$", ["a"], ["a\n"]),
    (r"[^\W\d]+", ["ab_é"], ["a1"]),
    (r"\x41\u00e9\U0001F600\N{EM DASH}\101", ["Aé😀—A"], ["A"]),
])
def test_python_semantics(pattern: str, good: list[str], bad: list[str]) -> None:
    compiled = COMPILER.compile_regex(pattern)
    for s in good + bad:
        assert bool(re.fullmatch(pattern, s)) == (s in good), (pattern, s)  # the oracle agrees
        assert _accepts(compiled, s) == (s in good), (pattern, s)


def test_compiled_pattern_flags() -> None:
    dotall = COMPILER.compile_regex(re.compile("a.b", re.DOTALL))
    assert _accepts(dotall, "a\nb")
    assert not _accepts(COMPILER.compile_regex("a.b"), "a\nb")
    assert not _accepts(COMPILER.compile_regex(re.compile(r"\w", re.ASCII)), "é")
    assert _accepts(COMPILER.compile_regex(re.compile("é", re.IGNORECASE)), "É")
    with pytest.raises(formgate.GrammarError, match="verbose"):
        COMPILER.compile_regex(re.compile("a", re.VERBOSE))


def test_large_counted_repetition() -> None:
    compiled = COMPILER.compile_regex(r"[0-9a-f]{1000,200000}-x")
    assert _accepts(compiled, "0" * 1000 + "-x")
    assert not _accepts(compiled, "0" * 999 + "-x")
    assert "{1000,200000}" in str(formgate.Grammar.from_regex(r"[0-9a-f]{1000,200000}"))
    with pytest.raises(formgate.LimitError) as info:
        formgate.Grammar.from_regex("ab{2000000}")
    assert info.value.column == 3


def test_token_level_matching_splits_utf8() -> None:
    """Tokens need not align with characters: a BPE-like vocabulary with multi-byte tokens."""
    vocab = [bytes([b]) for b in range(256)] + ["é".encode(), "\u0663".encode()[:1], b"ab"]
    info = formgate.TokenizerInfo(vocab)
    m = formgate.GrammarMatcher(formgate.GrammarCompiler(info).compile_regex(r"(?:ab|\d)+é"))
    ids = [258, 257, "\u0663".encode()[1], 256]
    assert all(m.accept_token(t) for t in ids) and m.is_completed()
