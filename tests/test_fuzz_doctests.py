"""The examples in the docstrings of formgate.fuzz, formgate.strategies and formgate.cli run
and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["formgate.fuzz", "formgate.fuzz.acceptor", "formgate.fuzz.search",
           "formgate.fuzz.uniform", "formgate.fuzz.errors", "formgate.fuzz.sources",
           "formgate.strategies", "formgate.cli"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
