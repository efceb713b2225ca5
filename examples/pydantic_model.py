"""Generate an instance of a Pydantic model and read it back with the model itself.

Run from the repository root (offline, CPU, a few seconds once the model is cached):

    python examples/pydantic_model.py

`compile_json_schema` takes the model class; formgate turns its JSON schema into a grammar, so
the generated text is JSON that `Model.model_validate_json` accepts: the right keys in
declaration order, the right types, only the allowed literals.
"""

import sys
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict

import formgate
import formgate.hf
from formgate.model_cache import ModelUnavailableError, load_smollm2


class WeatherReport(BaseModel):
    # Without "forbid" the JSON schema allows extra keys, and a small model happily invents
    # them until it runs out of tokens.
    model_config = ConfigDict(extra="forbid")

    city: str
    temperature_celsius: int
    sky: Literal["sunny", "cloudy", "rainy", "snowy"]
    wind: Literal["calm", "breezy", "stormy"]


QUESTION = "Describe today's weather in Lisbon as a JSON object."


def main() -> int:
    try:
        model, tokenizer = load_smollm2()
    except ModelUnavailableError as err:
        print(f"pydantic example: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # a 135M model gains little from more; steadier on busy machines
    info = formgate.hf.tokenizer_info(model, tokenizer)
    # Compact JSON with the separators json.dumps uses: fewer tokens than free whitespace, and
    # the shape a small model has seen most.
    compiled = formgate.GrammarCompiler(info).compile_json_schema(
        WeatherReport, any_whitespace=False, separators=(", ", ": "))
    result = formgate.generate(model, tokenizer, QUESTION, compiled, max_new_tokens=64)
    print(f"question:  {QUESTION}")
    print(f"json:      {result.text}")
    print(f"tokens:    {result.num_tokens} ({result.ms_per_token:.1f} ms/token)")
    report = WeatherReport.model_validate_json(result.text)  # raises if it were invalid
    print(f"validated: {report!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
