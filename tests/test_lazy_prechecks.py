"""Token prechecks are computed lazily and shared between equivalent states: the masks must not
depend on when (or on which thread) a precheck was computed, nor on which state computed a
shared one first."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest
from conftest import SHIPPED_GRAMMARS, SMALL_TOKENIZERS, grammar_text, tokenizer_info

import formgate
from formgate.testing import bitmask_to_bool

# Several copies of one string body (inlined into different rules) plus a counted repetition:
# the shapes that share prechecks and memoised subtree walks.
SHARED_PIECES = r'''
root ::= "{" ( k1 | k2 | k3 ) ":" v "}"
k1 ::= "\"a" [^"\\]* "\""
k2 ::= "\"b" [^"\\]* "\""
k3 ::= "\"" [^"\\ab] [^"\\]{0,40} "\""
v ::= "\"" [^"\\]* "\"" | [0-9]{1,12} | "[" v ("," v)* "]"
'''


def walk_masks(compiled: formgate.CompiledGrammar, seed: int, steps: int = 40) -> list:
    """Masks along one random walk (choosing among allowed tokens with `seed`)."""
    info = compiled.tokenizer_info
    rng = random.Random(seed)
    m = formgate.GrammarMatcher(compiled)
    bm = formgate.allocate_token_bitmask(1, info.vocab_size)
    out = []
    for _ in range(steps):
        m.fill_next_token_bitmask(bm)
        allowed = np.flatnonzero(bitmask_to_bool(bm[0], info.vocab_size))
        out.append(allowed)
        text_ids = [t for t in allowed if t not in info.stop_token_ids]
        if not text_ids:
            break
        assert m.accept_token(int(rng.choice(text_ids)))
    return out


@pytest.mark.parametrize("tokenizer", SMALL_TOKENIZERS)
@pytest.mark.parametrize("grammar", SHIPPED_GRAMMARS + ["shared_pieces"])
def test_lazy_equals_precomputed(grammar: str, tokenizer: str) -> None:
    info = tokenizer_info(tokenizer)
    text = SHARED_PIECES if grammar == "shared_pieces" else grammar_text(grammar)
    compiler = formgate.GrammarCompiler(info, cache_enabled=False)
    lazy = compiler.compile_grammar(text)
    assert lazy.stats["prechecks_computed"] == 0
    eager = compiler.compile_grammar(text)
    eager.precompute()
    assert eager.stats["prechecks_computed"] > 0
    for seed in range(3):
        a, b = walk_masks(lazy, seed), walk_masks(eager, seed)
        assert len(a) == len(b)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    # Equivalent states share one precheck: fewer computed than scannable states.
    assert eager.stats["prechecks_computed"] <= eager.stats["scannable_states"] + 64


@pytest.mark.parametrize("tokenizer", SMALL_TOKENIZERS)
def test_concurrent_first_use_matches_single_thread(tokenizer: str) -> None:
    info = tokenizer_info(tokenizer)
    compiler = formgate.GrammarCompiler(info, cache_enabled=False)
    expected = {seed: walk_masks(compiler.compile_grammar(SHARED_PIECES), seed)
                for seed in range(8)}
    shared = compiler.compile_grammar(SHARED_PIECES)  # fresh: nothing computed yet
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        try:
            results[seed] = walk_masks(shared, seed)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for seed, masks in expected.items():
        assert len(results[seed]) == len(masks)
        for x, y in zip(results[seed], masks):
            np.testing.assert_array_equal(x, y)


def test_memory_grows_with_use() -> None:
    info = tokenizer_info("tokenizer_bpe_small")
    compiled = formgate.GrammarCompiler(info, cache_enabled=False).compile_grammar(SHARED_PIECES)
    before = compiled.memory_size_bytes
    walk_masks(compiled, 0)
    assert compiled.memory_size_bytes > before


def walk_against_brute_force(m: formgate.GrammarMatcher, rng: random.Random, steps: int,
                             max_token_bytes: int | None = None) -> None:
    """Fill, compare with the brute-force mask, accept a random allowed token (one of at most
    ``max_token_bytes`` bytes when there is one); stop early when only stop tokens remain."""
    info = m.compiled_grammar.tokenizer_info
    bm = formgate.allocate_token_bitmask(1, info.vocab_size)
    for _ in range(steps):
        m.fill_next_token_bitmask(bm)
        expected = formgate.testing.brute_force_bitmask(m)
        np.testing.assert_array_equal(bm[0].numpy(), expected[0].numpy())
        allowed = [t for t in np.flatnonzero(bitmask_to_bool(bm[0], info.vocab_size))
                   if t not in info.stop_token_ids]
        if not allowed:
            break
        if max_token_bytes is not None:
            allowed = [t for t in allowed
                       if len(info.decoded_vocab[t]) <= max_token_bytes] or allowed
        assert m.accept_token(int(rng.choice(allowed)))


@pytest.mark.parametrize("tokenizer", SMALL_TOKENIZERS)
@pytest.mark.parametrize("seed", range(4))
def test_wide_frontier_walk_equals_brute_force(tokenizer: str, seed: int) -> None:
    """A frontier holding dozens of states without prechecks is masked by one direct walk of
    the trie (not one precheck per state); it must equal the brute-force mask at every step."""
    rng = random.Random(seed)
    info = tokenizer_info(tokenizer)
    n = 80  # more than the matcher's 64 states without prechecks
    words = ["".join(rng.choice("abcdef ,") for _ in range(rng.randint(1, 4))) for _ in range(n)]
    # Recursive rules are never inlined, so after "z" the frontier holds n calls at once.
    text = (f"root ::= \"z\" ({' | '.join(f't{i}' for i in range(n))})\n"
            + "\n".join(f't{i} ::= "{w}" (";" t{i})? | [a-c]{{1,{i + 2}}} t{(i + 1) % n}'
                        + (' | [^;]* ";" t0' if i % 7 == 0 else "")  # a broad self-loop
                        for i, w in enumerate(words)))
    compiled = formgate.GrammarCompiler(info, cache_enabled=False).compile_grammar(text)
    m = formgate.GrammarMatcher(compiled)
    bm = formgate.allocate_token_bitmask(1, info.vocab_size)
    assert m.accept_string("z")
    m.fill_next_token_bitmask(bm)
    assert compiled.stats["prechecks_computed"] == 0  # the wide frontier took the direct walk
    walk_against_brute_force(m, rng, steps=25)


@pytest.mark.parametrize("tokenizer", SMALL_TOKENIZERS)
@pytest.mark.parametrize("seed", range(3))
def test_counted_repetition_below_minimum_equals_brute_force(tokenizer: str, seed: int) -> None:
    """Inside X{m,n} before m iterations, masks use the looping precheck for tokens too short to
    reach m and re-check longer ones; every step must equal the brute-force mask."""
    rng = random.Random(seed)
    info = tokenizer_info(tokenizer)
    text = ('root ::= "\\"" [a-z ]{30,300} "\\"" ("," [0-9]{10,19})? ";" ([a-c] | "ab"){5,7}\n')
    compiled = formgate.GrammarCompiler(info, cache_enabled=False).compile_grammar(text)
    # prefer short tokens so that the walk spends many steps below each minimum
    walk_against_brute_force(formgate.GrammarMatcher(compiled), rng, steps=80, max_token_bytes=2)


def utf8_vocab(rng: random.Random, size: int = 400) -> formgate.TokenizerInfo:
    """Tokens of whole characters from several UTF-8 lengths, quotes, escapes and split
    characters (a token holding only part of a multi-byte character), as byte-level BPE has."""
    chars = ["a", "b", " ", "\"", "\\", "n", "u", "0", "é", "ß", "日", "本", "€", "😀", "\U00100000",
             "\x01", ","]
    tokens = {bytes([b]) for b in range(256)}
    tokens |= {(c * k).encode() for c in ("a", "é", "日") for k in range(2, 15)}
    tokens |= {b'"' + (c * k).encode() for c in ("a", "é") for k in range(1, 15)}
    while len(tokens) < size:
        text = "".join(rng.choice(chars) for _ in range(rng.randint(1, 12))).encode()
        cut = rng.randint(0, len(text)) if rng.random() < 0.3 else len(text)
        tokens.add(text[:cut] or text)
        if rng.random() < 0.2:
            tokens.add(text[cut:] or text)
    vocab = sorted(tokens) + [b"</s>"]
    return formgate.TokenizerInfo(vocab, stop_token_ids=[len(vocab) - 1])


UTF8_STRINGS = r'''
root ::= "{" pair ("," pair)* "}"
pair ::= "\"a\":" str | "\"b\":" short | "\"ab\":" long
char ::= [ -!#-\[\]-\U0010FFFF] | "\\" ([\"\\n] | "u" [0-9]{4})
str ::= "\"" char* "\""
short ::= "\"" char{0,9} "\""
long ::= "\"" char{12,40} "\""
'''


@pytest.mark.parametrize("seed", range(6))
def test_utf8_string_bodies_equal_brute_force(seed: int) -> None:
    """String bodies take whole trie subtrees from the loop closures (a body plus the states of a
    multi-byte character), and counted ones from the repetition closures; every mask must still
    equal the brute-force one, lazily and precomputed."""
    rng = random.Random(seed)
    info = utf8_vocab(rng)
    compiler = formgate.GrammarCompiler(info, cache_enabled=False)
    lazy = compiler.compile_grammar(UTF8_STRINGS)
    walk_against_brute_force(formgate.GrammarMatcher(lazy), random.Random(seed), steps=120)
    eager = compiler.compile_grammar(UTF8_STRINGS)
    eager.precompute()
    walk_against_brute_force(formgate.GrammarMatcher(eager), random.Random(seed), steps=120)
    # Bounded strings right where a bound can cut a long token (random walks rarely stop there).
    for prefix in ['{"b":', '{"b":"', '{"b":"ab', '{"ab":', '{"ab":"', '{"ab":"' + "é" * 11, '{"a":"日']:
        m = formgate.GrammarMatcher(lazy)
        assert m.accept_string(prefix)
        walk_against_brute_force(m, random.Random(seed), steps=3)


# Counted string bodies near their bound, where tokens longer than the budget are decided by
# counting iterations along the closure DFA (no stack stepping): a JSON-like body whose "\u"
# escapes leave the 8-state closure, a counted body under its minimum, a body that is not
# prefix-free ("ab" or "a" then "b"), one whose continuation starts like an iteration (these
# two must not be decided by counting), and one that may not be left before 7 iterations.
COUNTED_STRINGS = r'''
root ::= "{" pair ("," pair)* "}"
pair ::= "\"s\":" s5 | "\"t\":" t9 | "\"u\":" u3 | "\"w\":" w | "\"v\":" v7
jchar ::= [ -!#-\[\]-\U0010FFFF] | "\\" ([\"\\/bfnrt] | "u" [0-9a-fA-F]{4})
s5 ::= "\"" jchar{0,5} "\""
t9 ::= "\"" jchar{2,9} "\""
u3 ::= "\"" ([a-z] | "ab"){0,3} "\""
v7 ::= "\"" jchar{7,8} "\""
w ::= [a-z]{0,4} [a-z]* ";"
'''


@pytest.mark.parametrize("seed", range(6))
def test_counted_strings_near_bound_equal_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    info = utf8_vocab(rng, size=600)
    compiled = formgate.GrammarCompiler(info, cache_enabled=False).compile_grammar(COUNTED_STRINGS)
    walk_against_brute_force(formgate.GrammarMatcher(compiled), random.Random(seed), steps=60,
                             max_token_bytes=2)
    for prefix in ['{"s":"', '{"s":"a', '{"s":"aaa', '{"s":"aaaa', '{"s":"\\u00', '{"s":"é日',
                   '{"t":"a', '{"t":"aaaaaaa', '{"u":"a', '{"u":"ab', '{"w":', '{"w":abc',
                   '{"v":"', '{"v":"aa', '{"v":"aaaaa', '{"v":"aaaaaa', '{"v":"aaaaaaa']:
        m = formgate.GrammarMatcher(compiled)
        assert m.accept_string(prefix), prefix
        walk_against_brute_force(m, random.Random(seed), steps=4)


# Right-recursive rules in tail position (calls that need no frame), next to the same rules
# right above a repeat frame (where a frame is still needed: returning into it restarts the
# rule), a patternProperties-style key DFA and a nullable tail.
TAIL_CALLS = r'''
root ::= "{" (key ":" val ("," key ":" val)*)? "}"
key ::= "\"" k0
k0 ::= [a-c] k1 | [0-9] k0 | "\""
k1 ::= [a-z] k1 | "_" k0 | "\""
val ::= digits | ("<" list){1,12} | "[" opt "]"
digits ::= [0-9] digits | [0-9]
list ::= "x" list | "y" rest
rest ::= "z" rest | ">"
opt ::= "" | "q" opt
'''


@pytest.mark.parametrize("tokenizer", SMALL_TOKENIZERS)
@pytest.mark.parametrize("seed", range(4))
def test_tail_calls_equal_brute_force(tokenizer: str, seed: int) -> None:
    """Tail calls reuse the caller's frame; masks must equal the brute-force ones along random
    walks (lazy and precomputed), with short tokens preferred so that walks go deep."""
    info = tokenizer_info(tokenizer)
    compiler = formgate.GrammarCompiler(info, cache_enabled=False)
    lazy = compiler.compile_grammar(TAIL_CALLS)
    walk_against_brute_force(formgate.GrammarMatcher(lazy), random.Random(seed), steps=60,
                             max_token_bytes=2)
    eager = compiler.compile_grammar(TAIL_CALLS)
    eager.precompute()
    walk_against_brute_force(formgate.GrammarMatcher(eager), random.Random(seed), steps=60)


def test_tail_recursion_accepts_long_input() -> None:
    """100,000 digits through `digits ::= [0-9] digits | [0-9]` are accepted and end cleanly."""
    info = formgate.TokenizerInfo([bytes([b]) for b in range(256)] + [b"0123456789" * 10])
    compiled = formgate.GrammarCompiler(info).compile_grammar(
        'root ::= "[" digits "]"\ndigits ::= [0-9] digits | [0-9]')
    m = formgate.GrammarMatcher(compiled, max_rollback_tokens=0)
    assert m.accept_string("[")
    for _ in range(1000):
        assert m.accept_token(256)
    assert m.accept_string("]") and m.is_completed()


@pytest.mark.parametrize("text,ok", [
    ('{"a":<xy>}', True), ('{"a":<xy><xxyzz>}', True), ('{"a":<xy>xy>}', False),
    ('{"a":' + "<y>" * 12 + "}", True), ('{"a":' + "<y>" * 13 + "}", False),
    ('{"a":[qqq],"b_c":12}', True), ('{"a":[qqq]q}', False), ('{"0a_b":1}', True),
    ('{"a":1', False), ('{"ab":123,"a":[]}', True), ('{"a":12]}', False),
])
def test_tail_calls_language(text: str, ok: bool) -> None:
    """The language is unchanged by frameless tail calls, above repeat frames too (where the
    runner keeps the frame: returning into it restarts the repetition's body, not the callee)."""
    info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
    m = formgate.GrammarMatcher(formgate.GrammarCompiler(info).compile_grammar(TAIL_CALLS))
    assert (m.accept_string(text) and m.is_completed()) is ok



# A JSON Schema pattern's string (GitHub o71317): an optional tail compiled as a counted
# repetition {1,1} whose body is larger than a closure, so its closure DFA completes no
# iteration (no marked transition, hence no iteration counts) while multi-byte characters
# still survive it: the budget check must not read the missing counts.
CAPPED_REPEAT_BODY = 'root ::= "\\"" [a-z]{2,3} "-" [0-9]+ ("/" | "\\\\/") [0-9]+ ("/" | "\\\\/") [0-9]+ (([ -!#-\\[\\]-‧\u202a-\ud7ff\ue000-\U0010ffff] | "\\\\b" | "\\\\t" | "\\\\f" | "\\\\\\"" | "\\\\\\\\" | "\\\\u000" "0" | "\\\\u000" "1" | "\\\\u000" "2" | "\\\\u000" "3" | "\\\\u000" "4" | "\\\\u000" "5" | "\\\\u000" "6" | "\\\\u000" "7" | "\\\\u000" "8" | "\\\\u000" "9" | "\\\\u000" [Bb] | "\\\\u000" [Cc] | "\\\\u000" [Ee] | "\\\\u000" [Ff] | "\\\\u001" "0" | "\\\\u001" "1" | "\\\\u001" "2" | "\\\\u001" "3" | "\\\\u001" "4" | "\\\\u001" "5" | "\\\\u001" "6" | "\\\\u001" "7" | "\\\\u001" "8" | "\\\\u001" "9" | "\\\\u001" [Aa] | "\\\\u001" [Bb] | "\\\\u001" [Cc] | "\\\\u001" [Dd] | "\\\\u001" [Ee] | "\\\\u001" [Ff] | "\\\\u0022" | "\\\\u005" [Cc] | "\\\\/") [0-9]+)? "\\""'


def test_repeat_closure_without_iterations() -> None:
    rng = random.Random(0)
    info = utf8_vocab(rng)
    compiled = formgate.GrammarCompiler(info, cache_enabled=False).compile_grammar(
        CAPPED_REPEAT_BODY)
    m = formgate.GrammarMatcher(compiled)
    assert m.accept_string('"ab-1/2/3')
    walk_against_brute_force(m, rng, steps=20)
