"""An agent loop: the model calls Python tools, sees their results, and answers.

Run from the repository root (offline, CPU, well under a minute once the model is cached):

    python examples/agent_loop.py

Two tools are offered to SmolLM2-135M-Instruct in the Hermes/Qwen format
(`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`). For each user question:

1. the model must call a tool: `tool_choice="required"` makes every token it may pick part of a
   well-formed call of one of the tools, with arguments valid under the tool's JSON schema;
2. `parse_tool_calls` reads the calls back (validated with `jsonschema`);
3. the Python function runs and its result goes back to the model as a `tool` message;
4. the model answers in free text (unconstrained, a few tokens).

A 135M model is weak at choosing tools, but the grammar guarantees the loop never breaks: the
call always parses and its arguments always fit the function.
"""

import json
import sys
import time

import torch

import formgate
import formgate.hf
from formgate.model_cache import ModelUnavailableError, load_smollm2
from formgate.tools import compile_tool_calls, parse_tool_calls


def get_weather(city: str) -> dict:
    """A stand-in for a weather service."""
    return {"city": city, "temperature_celsius": 18 + len(city) % 7, "sky": "cloudy"}


def add(a: int, b: int) -> int:
    return a + b


FUNCTIONS = {"get_weather": get_weather, "add": add}

# The OpenAI `tools` list: each function's arguments as a JSON schema. The grammar follows the
# schemas exactly, so no `additionalProperties`: false means extra keys would be allowed.
TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "add", "description": "Add two integers.",
        "parameters": {"type": "object",
                       "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                       "required": ["a", "b"], "additionalProperties": False}}},
]

SYSTEM = (
    "You are a helpful assistant with tools. To call one, write <tool_call>\n"
    '{"name": <tool name>, "arguments": <JSON arguments>}\n</tool_call>. Tools:\n'
    + "\n".join(json.dumps(t["function"]) for t in TOOLS)
)

QUESTIONS = ["What is the weather like in Paris?", "What is 17 plus 25?"]


def run_turn(model, tokenizer, info, messages, grammar, max_new_tokens):
    """One assistant turn: the chat so far through SmolLM2's template, then generation."""
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return formgate.generate(model, tokenizer, prompt, grammar, max_new_tokens=max_new_tokens,
                             chat_template=False, tokenizer_info=info)


def main() -> int:
    try:
        model, tokenizer = load_smollm2()
    except ModelUnavailableError as err:
        print(f"agent example: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # a 135M model gains little from more; steadier on busy machines
    info = formgate.hf.tokenizer_info(model, tokenizer)
    compiler = formgate.GrammarCompiler(info)
    t0 = time.perf_counter()
    # Exactly one call and nothing else (parallel=False); compact separators keep it short.
    calls_grammar = compile_tool_calls(compiler, TOOLS, format="hermes", tool_choice="required",
                                       parallel=False, any_whitespace=False,
                                       separators=(", ", ": "))
    print(f"tool-call grammar compiled in {1e3 * (time.perf_counter() - t0):.0f} ms")

    messages = [{"role": "system", "content": SYSTEM}]
    for question in QUESTIONS:
        print(f"\nuser:      {question}")
        messages.append({"role": "user", "content": question})

        call_turn = run_turn(model, tokenizer, info, messages, calls_grammar, 48)
        print(f"tool call: {call_turn.text!r}")
        print(f"           ({call_turn.num_tokens} tokens, {call_turn.ms_per_token:.1f} ms/token "
              f"constrained, of which the grammar {call_turn.stats.mean_step_ms:.2f} ms)")
        calls = parse_tool_calls(call_turn.text, TOOLS, "hermes")
        messages.append({"role": "assistant", "content": call_turn.text})

        for call in calls:
            result = FUNCTIONS[call.name](**call.arguments)
            print(f"executed:  {call.name}({call.arguments}) -> {json.dumps(result)}")
            messages.append({"role": "tool", "content": json.dumps(result)})

        answer = run_turn(model, tokenizer, info, messages, None, 20)
        print(f"assistant: {answer.text.strip()!r}")
        print(f"           ({answer.num_tokens} tokens, {answer.ms_per_token:.1f} ms/token "
              f"unconstrained)")
        messages.append({"role": "assistant", "content": answer.text})
    return 0


if __name__ == "__main__":
    sys.exit(main())
