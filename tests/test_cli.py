"""``formgate sample`` and ``formgate check``: outputs judged by oracles (lark, re, jsonschema),
error messages with positions and carets, exit statuses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import formgate
from conftest import GRAMMARS
from formgate.__main__ import main
from oracle.lark_oracle import lark_accepts

ORACLE = Path(__file__).resolve().parent / "oracle"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_ebnf_lines_are_sentences_and_seeded(capsys):
    path = str(GRAMMARS / "arithmetic.ebnf")
    code, out, _ = run(capsys, "sample", path, "-n", "20", "--seed", "3", "--max-bytes", "30")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 20
    lark_text = (ORACLE / "arithmetic.lark").read_text()
    assert all(lark_accepts(lark_text, s) and len(s.encode()) <= 30 for s in lines)
    assert run(capsys, "sample", path, "-n", "20", "--seed", "3", "--max-bytes", "30")[1] == out


def test_sample_regex_and_schema_by_suffix_and_flag(capsys, tmp_path):
    regex = tmp_path / "id.regex"
    regex.write_text("[A-C]{2}-[0-9]{1,2}\n")
    code, out, _ = run(capsys, "sample", str(regex), "-n", "10", "--mode", "uniform")
    assert code == 0 and all(re.fullmatch("[A-C]{2}-[0-9]{1,2}", s) for s in out.splitlines())
    jsonschema = pytest.importorskip("jsonschema")
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    path = tmp_path / "schema.txt"
    path.write_text(json.dumps(schema))
    code, out, _ = run(capsys, "sample", str(path), "--format", "json-schema", "-n", "10",
                       "--json")
    assert code == 0
    for line in out.splitlines():
        jsonschema.validate(json.loads(json.loads(line)), schema)


def test_sample_json_output_keeps_newlines_apart(capsys, tmp_path):
    path = tmp_path / "g.ebnf"
    path.write_text('root ::= "a\\nb" | "c"')
    code, out, _ = run(capsys, "sample", str(path), "-n", "30", "--seed", "0", "--json")
    assert code == 0
    assert {json.loads(line) for line in out.splitlines()} == {"a\nb", "c"}
    code, out, _ = run(capsys, "sample", str(path), "-n", "5", "-0")
    assert code == 0 and out.count("\0") == 5


def test_sample_mutants_are_rejected(capsys):
    path = str(GRAMMARS / "json.ebnf")
    code, out, _ = run(capsys, "sample", path, "--mutants", '{"a": [1]}', "-n", "8", "--json")
    mutants = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(mutants) == 8
    lark_text = (ORACLE / "json.lark").read_text()
    assert not any(lark_accepts(lark_text, m) for m in mutants)


def test_sample_reports_an_impossible_length(capsys, tmp_path):
    path = tmp_path / "g.ebnf"
    path.write_text('root ::= "abcdef"')
    code, _, err = run(capsys, "sample", str(path), "--max-bytes", "3")
    assert code == 1 and "no string of at most 3 bytes" in err


def test_check_reports_grammar_error_with_caret(capsys, tmp_path):
    path = tmp_path / "bad.ebnf"
    path.write_text('root ::= "a" item\nitem ::= "b" | undefined_rule\n')
    code, out, err = run(capsys, "check", str(path))
    assert code == 1 and out == ""
    assert f"{path}: error: line 2, column 16: undefined rule 'undefined_rule'" in err
    source, caret = err.splitlines()[1:3]
    assert source.strip() == 'item ::= "b" | undefined_rule'
    assert caret.index("^") == source.index("undefined_rule")


def test_check_reports_regex_and_schema_errors(capsys, tmp_path):
    regex = tmp_path / "bad.regex"
    regex.write_text("(ab")
    code, _, err = run(capsys, "check", str(regex))
    assert code == 1 and "error" in err
    schema = tmp_path / "bad.json"
    schema.write_text('{"type": "object", "properties": {"a": {"type": "integer"}},\n "x": }')
    code, _, err = run(capsys, "check", str(schema))
    assert code == 1 and "line 2, column 7" in err and "not valid JSON" in err
    schema.write_text('{"type": "integer", "minimum": 5, "maximum": 1}')
    code, _, err = run(capsys, "check", str(schema))
    assert code == 1 and "unsatisfiable" in err or "no JSON value" in err or "empty" in err


def test_check_valid_grammar_and_inputs(capsys, tmp_path):
    grammar = str(GRAMMARS / "json.ebnf")
    good = tmp_path / "good.json"
    good.write_text('{"a": [1, 2]}')
    code, out, _ = run(capsys, "check", grammar)
    assert code == 0 and "ok" in out
    code, out, _ = run(capsys, "check", grammar, str(good))
    assert code == 0 and out.strip() == f"{good}: ok"
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": [1,\n  2 x]}')
    code, _, err = run(capsys, "check", grammar, str(bad))
    assert code == 1
    first, source, caret = err.splitlines()[:3]
    assert first.startswith(f'{bad}: line 2, column 5: rejected byte "x"; expected one of')
    assert source.strip() == "2 x]}" and caret.index("^") == source.index("x")
    code, _, err = run(capsys, "check", grammar, "--string", '{"a": ')
    assert code == 1 and "ends too early" in err


def test_lark_format_works_or_says_it_is_missing(capsys, tmp_path):
    path = tmp_path / "g.lark"
    path.write_text('start: "a" "b"*\n')
    code, out, err = run(capsys, "sample", str(path), "-n", "3")
    if hasattr(formgate.Grammar, "from_lark"):
        assert code == 0 and all(re.fullmatch("ab*", s) for s in out.splitlines())
    else:
        assert code == 1 and "no Lark frontend" in err


def test_missing_file_and_usage_errors(capsys):
    code, _, err = run(capsys, "check", "/nonexistent/g.ebnf")
    assert code == 1 and "cannot read /nonexistent/g.ebnf" in err
    with pytest.raises(SystemExit) as e:
        main(["sample", "g.ebnf", "--format", "yaml"])
    assert e.value.code == 2


def test_module_entry_point_reads_stdin():
    package_parent = str(Path(formgate.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=package_parent)
    proc = subprocess.run([sys.executable, "-m", "formgate", "sample", "-", "-n", "4",
                           "--seed", "1"], input='root ::= "x" [0-9]', capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 4
    assert all(re.fullmatch("x[0-9]", s) for s in proc.stdout.splitlines())
