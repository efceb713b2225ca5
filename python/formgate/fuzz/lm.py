"""Language-model-guided sampling: realistic sentences from a causal LM decoding under the
grammar (``model.generate`` with :class:`formgate.hf.LogitsProcessor`), for seed corpora."""

from __future__ import annotations

from typing import Any, Optional

from formgate import _core
from formgate.fuzz.acceptor import accepts

DEFAULT_PROMPT = "Write one example of text in this format:\n{grammar}\nAnswer with the text only."


def _prompt_ids(tokenizer: Any, text: str) -> Any:
    if getattr(tokenizer, "chat_template", None) is not None:
        text = tokenizer.apply_chat_template([{"role": "user", "content": text}],
                                             tokenize=False, add_generation_prompt=True)
        return tokenizer(text, return_tensors="pt", add_special_tokens=False)
    return tokenizer(text, return_tensors="pt")


def lm_generate(grammar: _core.Grammar, byte_grammar: _core.CompiledGrammar, n: int, *,
                max_bytes: int, seed: Optional[int], model: Any, tokenizer: Any,
                prompt: Optional[str], temperature: float, max_attempts: int) -> list[str]:
    """Up to ``n`` sampled sentences of at most ``max_bytes`` bytes (``max_attempts``
    generations at most: an output cut off by the token limit is discarded)."""
    import torch

    from formgate import hf
    from formgate.compiler import GrammarCompiler

    info = hf.tokenizer_info(model, tokenizer)
    processor = hf.LogitsProcessor(GrammarCompiler(info).compile_grammar(grammar),
                                   tokenizer_info=info)
    text = (prompt if prompt is not None else DEFAULT_PROMPT).replace("{grammar}", str(grammar))
    inputs = _prompt_ids(tokenizer, text).to(getattr(model, "device", "cpu"))
    stops = set(info.stop_token_ids)
    vocab = info.decoded_vocab
    special = set(info.special_token_ids) | stops
    generator_state = torch.random.get_rng_state()
    if seed is not None:
        torch.manual_seed(seed)
    out: list[str] = []
    try:
        for _ in range(max_attempts):
            if len(out) >= n:
                break
            processor.reset()
            with torch.inference_mode():
                ids = model.generate(**inputs, logits_processor=[processor], do_sample=True,
                                     temperature=temperature, max_new_tokens=max_bytes,
                                     eos_token_id=sorted(stops) or None,
                                     pad_token_id=min(stops) if stops else None)
            new = ids[0, inputs["input_ids"].shape[1]:].tolist()
            data = b"".join(vocab[t] for t in _before_stop(new, stops) if t not in special)
            # Re-checked on the byte acceptor: the token budget may cut a sentence short.
            if len(data) <= max_bytes and accepts(byte_grammar, data):
                out.append(data.decode("utf-8"))
    finally:
        torch.random.set_rng_state(generator_state)
    return out


def _before_stop(tokens: list[int], stops: set[int]) -> list[int]:
    """The tokens before the first stop token."""
    for k, t in enumerate(tokens):
        if t in stops:
            return tokens[:k]
    return tokens
