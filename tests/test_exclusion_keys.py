"""Extra keys next to declared properties (additionalProperties true): a key is accepted as an
extra key exactly when it is none of the declared names, whatever characters the names share
with the key (ASCII, escapes, non-ASCII), checked against the jsonschema validator."""

from __future__ import annotations

import json

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formgate

BYTES = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
COMPILER = formgate.GrammarCompiler(BYTES, max_threads=1)

# Characters that exercise each branch of an exclusion-trie node: plain ASCII, "/" (two
# spellings), the mandatory escapes, a control character, and 2-, 3- and 4-byte UTF-8.
ALPHABET = st.sampled_from(list('ab/"\\\n\x01') + ["é", "漢", "😀", "\x7f"])
NAMES = st.text(ALPHABET, min_size=0, max_size=4)


def accepts(compiled, text: str) -> bool:
    m = formgate.GrammarMatcher(compiled)
    return m.accept_string(text) and m.is_completed()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(declared=st.lists(NAMES, min_size=1, max_size=5, unique=True),
       keys=st.lists(NAMES, min_size=1, max_size=6))
def test_extra_key_iff_undeclared(declared, keys):
    schema = {"type": "object", "properties": {n: {"type": "integer"} for n in declared}}
    cg = COMPILER.compile_json_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for key in keys + [d + "a" for d in declared] + [d[:-1] for d in declared if d]:
        instance = {key: "text"}  # valid exactly when `key` is an extra key
        text = json.dumps(instance, ensure_ascii=False, separators=(",", ":"))
        assert accepts(cg, text) == validator.is_valid(instance), (declared, key, text)
    for name in declared:
        text = json.dumps({name: 1}, ensure_ascii=False)
        assert accepts(cg, text), (declared, text)


def test_escaped_slash_is_never_an_extra_key():
    r"""``"a\/b"`` decodes to the declared ``a/b``, so it must not pass as an extra key (declared
    keys themselves are written in their one canonical spelling)."""
    cg = COMPILER.compile_json_schema({"type": "object", "properties": {"a/b": {"type": "integer"}}})
    assert accepts(cg, '{"a/b": 1}')
    assert not accepts(cg, '{"a\\/b": "x"}')
    assert accepts(cg, '{"a\\/c": "x"}')
