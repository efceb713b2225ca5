"""Fuzz target: the JSON Schema converter. The input is JSON text; as a schema it must compile
or raise SchemaError/GrammarError/LimitError, and values generated from a compiled schema must
validate under the ``jsonschema`` package (the oracle).

    python tests/fuzz/fuzz_json_schema.py CORPUS_DIR -max_total_time=60
"""

from __future__ import annotations

import json

from fuzz_common import WrongAnswer, byte_compiler, main


def one_input(data: bytes) -> None:
    import jsonschema

    import formgate.fuzz as fz

    try:
        schema = json.loads(data.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return
    if not isinstance(schema, (dict, bool)):
        return
    try:
        # formgate's semantics are draft 2020-12 whatever "$schema" says
        validator = jsonschema.Draft202012Validator(schema)
        validator.check_schema(schema)
    except Exception:  # not a valid schema for the oracle: nothing to compare against
        validator = None
    compiled = byte_compiler().compile_json_schema(schema)
    if validator is None:
        return
    try:
        samples = fz.generate(compiled, 2, max_bytes=64, seed=0)
    except fz.NoStringError:
        return
    for s in samples:
        value = json.loads(s)
        errors = list(validator.iter_errors(value))
        if errors:
            raise WrongAnswer(f"schema {schema!r}: generated {s!r} is invalid: {errors[0].message}")


if __name__ == "__main__":
    main(one_input)
