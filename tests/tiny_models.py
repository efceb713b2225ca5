"""A tiny random-weight Llama for generation tests: built from a LlamaConfig (no download),
sized to a shipped fixture tokenizer, deterministic (fixed seed)."""

from __future__ import annotations

import functools

from conftest import hf_tokenizer


@functools.lru_cache(maxsize=None)
def tiny_llama(tokenizer_name: str = "tokenizer_bpe_small", extra_vocab: int = 0, seed: int = 0):
    """``(model, tokenizer)``: 2 layers, hidden 64, grouped-query attention (4 heads, 2 KV),
    logits ``extra_vocab`` columns wider than the tokenizer (a padded embedding). The weights
    are spread wider than a trained model's (initializer_range 0.1) so greedy choices are not
    near-ties that float rounding could flip."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = hf_tokenizer(tokenizer_name)
    eos = tokenizer.eos_token_id
    config = LlamaConfig(
        vocab_size=len(tokenizer) + extra_vocab, hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=1024, initializer_range=0.1, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    model.generation_config.pad_token_id = config.pad_token_id
    return model, tokenizer
