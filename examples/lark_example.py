"""Drive generation with a Lark grammar: a tiny command language for a robot.

Run from the repository root (offline, CPU, a few seconds once the model is cached):

    python examples/lark_example.py

The grammar is ordinary Lark (rules, aliases, terminals, `~ 0..3` repetition); formgate reads
it with the `lark` package and compiles it for the model's vocabulary. The generated program is
then parsed by Lark itself, which proves it is in the language. A JSON schema can sit inside a
rule too (`%json {...}`, see docs/frontends.md), used here for the `say` command's payload.
"""

import sys

import lark

import torch

import formgate
import formgate.hf
from formgate.model_cache import ModelUnavailableError, load_smollm2

ROBOT = r"""
start: command ("; " command) ~ 0..3
command: "move " DIRECTION " " INT          -> move
       | "pick " ITEM                       -> pick
       | "say " %json {"type": "string", "maxLength": 20}  -> say
DIRECTION: "north" | "south" | "east" | "west"
ITEM: "key" | "box" | "apple"
INT: /[1-9][0-9]?/
"""

QUESTION = ("Robot commands: `move <direction> <steps>`, `pick <item>`, `say \"<text>\"`; join "
            "them with `; `. Example: `move north 3; pick key`. Now: go east 2 steps, pick up "
            "the apple and say hello.")


def main() -> int:
    try:
        model, tokenizer = load_smollm2()
    except ModelUnavailableError as err:
        print(f"lark example: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # a 135M model gains little from more; steadier on busy machines
    info = formgate.hf.tokenizer_info(model, tokenizer)
    compiled = formgate.GrammarCompiler(info).compile_lark(ROBOT)
    result = formgate.generate(model, tokenizer, QUESTION, compiled, max_new_tokens=40)
    print(f"question: {QUESTION}")
    print(f"program:  {result.text}")
    print(f"complete: {result.completed} ({result.num_tokens} tokens, "
          f"{result.ms_per_token:.1f} ms/token)")

    # Lark parses the program back. Lark has no %json, so this copy of the grammar spells the
    # `say` payload with Lark's own string terminal (which every JSON string matches).
    oracle = lark.Lark(ROBOT.replace('%json {"type": "string", "maxLength": 20}',
                                     "ESCAPED_STRING") + "%import common.ESCAPED_STRING\n",
                       parser="earley")
    print("parsed by Lark:")
    print(oracle.parse(result.text).pretty())
    return 0


if __name__ == "__main__":
    sys.exit(main())
