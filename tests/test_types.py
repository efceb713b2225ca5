"""Python types and pydantic models to grammars: values pydantic serialises are accepted and
validate back; values of the wrong shape are rejected (pydantic's own validator is the oracle)."""

from __future__ import annotations

import dataclasses
import enum
from typing import Literal, Optional, Union

import pydantic
import pytest
from typing_extensions import TypedDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formgate
from formgate.types import from_type

BYTE_VOCAB = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
COMPILER = formgate.GrammarCompiler(BYTE_VOCAB, max_threads=1)


class Movie(TypedDict):
    title: str
    year: int


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: Optional[str] = None


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class User(pydantic.BaseModel):
    name: str = pydantic.Field(min_length=1, max_length=8)
    age: int = pydantic.Field(ge=0, le=150)
    tags: list[Literal["admin", "dev"]] = []
    home: Optional[Point] = None


TYPES = [int, list[int], dict[str, int], tuple[int, str], Literal["a", "b", 3],
         Optional[int], Union[int, str], Movie, Point, Color, list[Movie]]


def _accepts(compiled, s: str) -> bool:
    m = formgate.GrammarMatcher(compiled)
    return m.accept_string(s) and m.is_completed()


@pytest.mark.parametrize("tp", TYPES, ids=str)
def test_serialised_values_are_accepted(tp) -> None:
    """Values hypothesis builds for the type, serialised by pydantic (compact and indented),
    are accepted."""
    adapter = pydantic.TypeAdapter(tp)
    compiled = COMPILER.compile_type(tp)

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.from_type(tp), st.sampled_from([None, 2]))
    def check(value, indent):
        try:
            value = adapter.validate_python(value)
        except pydantic.ValidationError:
            return  # e.g. NaN floats, which JSON cannot carry
        text = adapter.dump_json(value, indent=indent).decode()
        try:
            adapter.validate_json(text)
        except pydantic.ValidationError:
            return  # pydantic writes inf as null, which its own schema rejects
        assert _accepts(compiled, text), text

    check()


@pytest.mark.parametrize("tp,good,bad", [
    (list[int], ["[]", "[1, -2]"], ["[1.5]", '["1"]', "{}"]),
    (Literal["a", "b"], ['"a"'], ['"c"', "a"]),
    (Optional[int], ["null", "7"], ['"7"', ""]),
    (Movie, ['{"title": "x", "year": 1999}'], ['{"title": "x"}', '{"year": 1, "title": 2}']),
    (Point, ['{"x": 1, "y": 2.5}', '{"x": 1, "y": 2, "label": null}'], ['{"x": 1}']),
    (User, ['{"name": "ann", "age": 3, "tags": ["dev"]}'],
     ['{"name": "", "age": 3}', '{"name": "ann", "age": -1}', '{"name": "a", "age": 1, '
      '"tags": ["root"]}']),
])
def test_examples_agree_with_pydantic(tp, good: list[str], bad: list[str]) -> None:
    compiled = COMPILER.compile_type(tp)
    adapter = pydantic.TypeAdapter(tp)
    for s in good:
        adapter.validate_json(s)
        assert _accepts(compiled, s), s
    for s in bad:
        assert not _accepts(compiled, s), s
        with pytest.raises(pydantic.ValidationError):
            adapter.validate_json(s, strict=True)


def test_pydantic_model_class_goes_to_compile_json_schema() -> None:
    compiled = COMPILER.compile_json_schema(User)
    assert _accepts(compiled, '{"name": "bo", "age": 40}')
    assert not _accepts(compiled, '{"name": "bo"}')
    assert str(from_type(User)) == str(formgate.Grammar.from_json_schema(User))


def test_type_without_schema_raises() -> None:
    with pytest.raises(TypeError, match="no JSON schema"):
        from_type(object())
