"""allocate_token_bitmask / apply_token_bitmask_inplace: exact -inf on disallowed ids only."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import formgate
from formgate.testing import bitmask_to_bool

torch = pytest.importorskip("torch")


@settings(max_examples=80, deadline=None)
@given(
    vocab=st.integers(1, 300),
    pad=st.integers(0, 40),
    batch=st.integers(1, 4),
    dtype=st.sampled_from(["float32", "float16", "bfloat16"]),
    seed=st.integers(0, 2**31 - 1),
    use_indices=st.booleans(),
)
def test_apply_masks_exactly_disallowed(vocab, pad, batch, dtype, seed, use_indices) -> None:
    gen = torch.Generator().manual_seed(seed)
    dt = getattr(torch, dtype)
    logits = torch.randn(batch, vocab + pad, generator=gen).to(dt)
    original = logits.clone()
    words = (vocab + 31) // 32
    mask = torch.randint(-(2**31), 2**31 - 1, (batch, words), generator=gen, dtype=torch.int32)
    rows = list(range(batch))
    if use_indices and batch > 1:
        rows = rows[::-1][: batch - 1]
        formgate.apply_token_bitmask_inplace(logits, mask[: len(rows)], indices=rows, vocab_size=vocab)
    else:
        formgate.apply_token_bitmask_inplace(logits, mask, vocab_size=vocab)
    for i in range(batch):
        if i not in rows:
            assert torch.equal(logits[i], original[i])
            continue
        j = rows.index(i) if use_indices and batch > 1 else i
        allowed = np.zeros(vocab + pad, dtype=bool)
        allowed[:vocab] = bitmask_to_bool(mask[j], vocab)
        got = logits[i].float().numpy()
        assert np.all(np.isneginf(got[~allowed]))
        assert np.array_equal(got[allowed], original[i].float().numpy()[allowed])


def test_allocate_shape_and_default() -> None:
    m = formgate.allocate_token_bitmask(3, 128256)
    assert tuple(m.shape) == (3, 4008) and m.dtype == torch.int32
    assert bool((m == -1).all())


def test_apply_rejects_wrong_dtype_and_rows() -> None:
    logits = torch.zeros(2, 64)
    with pytest.raises(ValueError, match="int32"):
        formgate.apply_token_bitmask_inplace(logits, torch.zeros(2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="rows"):
        formgate.apply_token_bitmask_inplace(logits, torch.zeros(3, 2, dtype=torch.int32))


def test_numpy_bitmask_is_filled_like_torch() -> None:
    info = formgate.TokenizerInfo([b"a", b"b", b"c"])
    m = formgate.GrammarMatcher(formgate.GrammarCompiler(info).compile_grammar('root ::= "b"'))
    arr = np.zeros((2, 1), dtype=np.int32)
    m.fill_next_token_bitmask(arr, index=1)
    assert arr.tolist() == [[0], [2]]
