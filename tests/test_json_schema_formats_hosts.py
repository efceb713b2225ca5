"""Host-name formats (``hostname``, ``idn-hostname``, ``email``, ``idn-email``): the subset
python/formgate/json_schema/strings.py documents, checked against an RFC 1123 checker written
here, the JSON Schema Test Suite, and hypothesis (strings the grammar generates, names the
subset contains)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import formgate
from formgate.strategies import from_json_schema

SUITE = Path(__file__).resolve().parents[2] / "shared" / "json-schema-test-suite" / "tests" \
    / "draft2020-12" / "optional" / "format"
BYTES = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
COMPILER = formgate.GrammarCompiler(BYTES)
_LDH = re.compile(r"[A-Za-z0-9-]+")


def rfc1123(name: str) -> bool:
    """RFC 1123 host name, with the suite's rule that "--" in positions 3-4 marks an A-label
    (which is then punycode; never produced here, so refused outright)."""
    if not 1 <= len(name) <= 253:
        return False
    for label in name.split("."):
        if not (1 <= len(label) <= 63 and _LDH.fullmatch(label)):
            return False
        if label[0] == "-" or label[-1] == "-" or label[2:4] == "--":
            return False
    return True


def in_subset(name: str, groups: int = 3, per_group: int = 32) -> bool:
    """The documented subset: no "--", and the labels (in order) fit in ``groups`` dot-joined
    groups of at most ``per_group`` letters/digits. Packing greedily is optimal."""
    if not rfc1123(name) or "--" in name:
        return False
    used, count = 0, 1
    for label in name.split("."):
        n = len(label.replace("-", ""))
        if n > per_group:
            return False
        if used + n > per_group:
            count, used = count + 1, 0
        used += n
    return count <= groups


def accepts(compiled, value) -> bool:
    m = formgate.GrammarMatcher(compiled)
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return m.accept_string(text) and m.is_completed()


def compile_schema(schema):
    return COMPILER.compile_json_schema(schema)


HOSTNAME = compile_schema({"type": "string", "format": "hostname"})
IDN_HOSTNAME = compile_schema({"type": "string", "format": "idn-hostname"})
EMAIL = compile_schema({"type": "string", "format": "email"})

TYPICAL_HOSTS = ["localhost", "example.com", "stoltenberg.info", "ns1.example.com",
                 "bastion-host", "a.b.c.example.co.uk", "mybastionhost.com",
                 "my-server-01.us-east-1.compute.amazonaws.com", "raw.githubusercontent.com",
                 "kubernetes.default.svc.cluster.local", "db-primary-replica-03.internal",
                 "ec2-54-123-45-67.us-west-2.compute.amazonaws.com", "x" * 32 + ".com"]
TYPICAL_EMAILS = ["maiya@stoltenberg.info", "john.doe.parents@example.com", "aa@bb.ru",
                  "claire.kiehn@ward.net", "user+tag@mail.example.co.uk", "o'brien@example.ie"]


def test_checkers_agree_with_examples():
    # the oracles themselves, on cases with known answers
    assert rfc1123("a--b.com") and not in_subset("a--b.com")
    assert not rfc1123("xn--X") and not rfc1123("a.") and not rfc1123("-a")
    assert rfc1123("a" * 63) and not rfc1123("a" * 64)
    assert not rfc1123(".".join(["a" * 63] * 4)) and rfc1123(".".join(["a" * 62] * 4))
    assert in_subset(".".join(["a" * 32] * 3)) and not in_subset(".".join(["a" * 32] * 4))
    assert in_subset(".".join(["a" * 8] * 12)) and not in_subset(".".join(["a" * 8] * 13))


@pytest.mark.parametrize("name", TYPICAL_HOSTS)
def test_typical_hostnames_accepted(name):
    assert accepts(HOSTNAME, name)
    assert accepts(IDN_HOSTNAME, name) == (name == name.lower())


@pytest.mark.parametrize("address", TYPICAL_EMAILS)
def test_typical_emails_accepted(address):
    assert accepts(EMAIL, address)


@pytest.mark.parametrize("name", ["", ".", "a.", ".a", "a..b", "-a", "a-", "a--b", "xn--p1ai",
                                  "a_b", "a b", "example.com\n", "ex\u212aample.com",
                                  "a" * 33, ".".join(["a" * 32] * 4), "1.2.3.4.5.6.7.8.9." * 9])
def test_hostnames_outside_the_subset_rejected(name):
    assert not accepts(HOSTNAME, name)
    assert not accepts(EMAIL, "joe@" + name)


@pytest.mark.skipif(not SUITE.is_dir(), reason="../shared/json-schema-test-suite not present")
@pytest.mark.parametrize("fmt", ["hostname", "idn-hostname", "email", "idn-email"])
def test_suite_host_formats(fmt):
    checked = 0
    for group in json.loads((SUITE / f"{fmt}.json").read_text(encoding="utf-8")):
        compiled = compile_schema(group["schema"])
        for t in group["tests"]:
            data = t["data"]
            ok = accepts(compiled, data)
            if not t["valid"]:
                assert not ok, (fmt, t["description"], data)
                continue
            if not isinstance(data, str):
                assert ok, (fmt, t["description"])
                continue
            host = data.rpartition("@")[2] if "email" in fmt else data
            local = data.rpartition("@")[0]
            within = in_subset(host)  # ASCII letters/digits only, so no U-labels
            if fmt == "idn-hostname":
                within = within and host == host.lower()
            if "email" in fmt:
                within = within and re.fullmatch(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
                                                 r"(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*", local)
            if within:
                checked += 1
                assert ok, (fmt, t["description"], data)
    assert checked >= 2  # the suite has 2 such idn-email cases, more for the others


@settings(max_examples=150, deadline=None)
@given(from_json_schema({"type": "string", "format": "hostname"}, max_bytes=200))
def test_generated_hostnames_are_rfc1123_and_in_subset(name):
    assert rfc1123(name) and in_subset(name)


@settings(max_examples=100, deadline=None)
@given(from_json_schema({"type": "string", "format": "idn-hostname"}, max_bytes=200))
def test_generated_idn_hostnames_pass_idna(name):
    assert in_subset(name) and name == name.lower()
    assert jsonschema.FormatChecker().conforms(name, "idn-hostname")


_LABELS = st.lists(st.from_regex(r"[A-Za-z0-9]{1,12}(-[A-Za-z0-9]{1,12}){0,2}", fullmatch=True),
                   min_size=1, max_size=14)


@settings(max_examples=200, deadline=None)
@given(_LABELS)
def test_names_in_the_subset_accepted(labels):
    name = ".".join(labels)
    assert accepts(HOSTNAME, name) == in_subset(name)


@pytest.mark.parametrize("fmt,hi", [("hostname", 0), ("email", 2)])
def test_max_length_below_the_shortest_value(fmt, hi):
    schema = {"type": "string", "format": fmt, "maxLength": hi}
    with pytest.raises(formgate.GrammarError, match="unsatisfiable"):
        compile_schema(schema)
    nullable = compile_schema({**schema, "type": ["string", "null"]})
    assert accepts(nullable, None) and not accepts(nullable, "a@b" if fmt == "email" else "a")


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 300), st.sampled_from(["hostname", "idn-hostname", "email"]))
def test_max_length_shrinks_the_subset(hi, fmt):
    compiled = compile_schema({"type": "string", "format": fmt, "maxLength": hi})
    values = TYPICAL_EMAILS + ["a@b"] if fmt == "email" else TYPICAL_HOSTS + ["a"]
    values = [v.lower() for v in values] if fmt == "idn-hostname" else values
    for value in values:
        if accepts(compiled, value):
            assert len(value) <= hi
    # wide budgets keep the whole subset; the shortest value always fits
    assert accepts(compiled, values[-1])
    if hi >= (254 if fmt == "email" else 191):
        assert all(accepts(compiled, v) for v in values)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_max_length_generated_values_fit(data):
    hi = data.draw(st.integers(3, 80))
    fmt = data.draw(st.sampled_from(["hostname", "email"]))
    value = data.draw(from_json_schema({"type": "string", "format": fmt, "maxLength": hi}))
    assert len(value) <= hi
    host = value.rpartition("@")[2]
    assert rfc1123(host) and in_subset(host)


def test_format_with_pattern_uses_one_group():
    compiled = compile_schema({"type": "string", "format": "email", "pattern": "^.*@.*$"})
    assert accepts(compiled, "maiya@stoltenberg.info")
    assert not accepts(compiled, "maiya@stoltenberg-.info")
    assert not accepts(compiled, "a@" + ".".join(["b" * 20] * 2))  # 40 letters: two groups


def test_draft3_aliases():
    host = compile_schema({"type": "string", "format": "host-name"})
    ip = compile_schema({"type": "string", "format": "ip-address"})
    assert accepts(host, "localhost") and not accepts(host, "-x")
    assert accepts(ip, "10.0.0.1") and not accepts(ip, "256.0.0.1")
