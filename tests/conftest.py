"""Shared fixtures: vocabularies (shipped small ones always; the real 128k/151k/32k ones from
../shared when present) and the shipped grammars."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GRAMMARS = ROOT / "grammars"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import formgate  # noqa: E402

SHIPPED_GRAMMARS = ["json", "json_compact", "arithmetic", "sql_select", "c_like"]
SMALL_TOKENIZERS = ["tokenizer_bpe_small", "tokenizer_spm_small"]
REAL_TOKENIZERS = ["llama3", "qwen2", "phi3"]


def tokenizer_path(name: str) -> Path | None:
    path = FIXTURES / name if name in SMALL_TOKENIZERS else SHARED / "tokenizers" / name
    return path if path.exists() else None


@functools.lru_cache(maxsize=None)
def hf_tokenizer(name: str):
    from transformers import AutoTokenizer

    path = tokenizer_path(name)
    if path is None:
        pytest.skip(f"tokenizer {name} not available (../shared missing)")
    return AutoTokenizer.from_pretrained(str(path))


@functools.lru_cache(maxsize=None)
def tokenizer_info(name: str) -> formgate.TokenizerInfo:
    return formgate.TokenizerInfo.from_huggingface(hf_tokenizer(name))


@functools.lru_cache(maxsize=None)
def compiled(grammar_name: str, tokenizer_name: str) -> formgate.CompiledGrammar:
    text = (GRAMMARS / f"{grammar_name}.ebnf").read_text()
    return formgate.GrammarCompiler(tokenizer_info(tokenizer_name)).compile_grammar(text)


def grammar_text(name: str) -> str:
    return (GRAMMARS / f"{name}.ebnf").read_text()
