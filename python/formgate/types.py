"""Plain Python types to grammars, through pydantic's JSON schema.

``from_type(T)`` accepts anything ``pydantic.TypeAdapter`` accepts: ``int``, ``list[int]``,
``dict[str, float]``, ``tuple[int, str]``, ``Literal["a", "b"]``, ``Optional[T]``,
``Union[A, B]``, ``TypedDict`` classes, dataclasses, enums and pydantic models. The JSON texts
the grammar allows are those pydantic would *validate in JSON mode* as far as the schema
expresses it (pydantic's lax coercions, such as ``"1"`` for an ``int``, are not offered).
"""

from __future__ import annotations

from typing import Any

from formgate import _core

__all__ = ["from_type", "type_json_schema"]


def type_json_schema(tp: Any) -> dict:
    """The JSON schema pydantic gives ``tp`` (validation mode).

    Example:
        >>> from typing import Literal
        >>> type_json_schema(Literal["a", "b"])
        {'enum': ['a', 'b'], 'type': 'string'}
    """
    try:
        import pydantic
    except ImportError as e:  # pragma: no cover - pydantic is a test dependency
        raise ImportError("formgate.types needs pydantic (pip install pydantic)") from e
    try:
        return pydantic.TypeAdapter(tp).json_schema()
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticInvalidForJsonSchema,
            pydantic.PydanticUserError) as e:
        raise TypeError(f"{tp!r} has no JSON schema: {e}") from None


def from_type(tp: Any, **opts: Any) -> _core.Grammar:
    """The grammar of the JSON texts of type ``tp``; options as
    ``formgate.Grammar.from_json_schema`` (``any_whitespace``, ``strict``...).

    Example:
        >>> import formgate
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Point:
        ...     x: int
        ...     y: int
        >>> info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
        >>> cg = formgate.GrammarCompiler(info).compile_grammar(from_type(Point))
        >>> formgate.GrammarMatcher(cg).accept_string('{"x": 1, "y": 2}')
        True
    """
    return _core.Grammar.from_json_schema(type_json_schema(tp), **opts)
