"""allocate_token_bitmask / apply_token_bitmask_inplace: exact -inf on disallowed ids only, for
every backend (C++ loop when the core has it, numpy, torch, and Triton/torch on CUDA when a GPU
is present), compared with a bit-by-bit reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import formgate
from formgate.testing import bitmask_to_bool

torch = pytest.importorskip("torch")

from formgate import kernels  # noqa: E402  (needs torch)
from formgate.kernels import cpu, torch_apply, triton_apply  # noqa: E402

DTYPES = ["float32", "float16", "bfloat16"]
HAS_CPP = cpu.has_cpp()
HAS_CUDA = torch.cuda.is_available()


def reference(logits, bitmask, indices, vocab_size):
    """The expected result, one bit at a time: numpy float64 copy with -inf written."""
    out = logits.float().numpy().astype(np.float64)
    rows = list(range(bitmask.shape[0])) if indices is None else list(indices)
    width = out.shape[1]
    covered = min(width, 32 * bitmask.shape[1], width if vocab_size is None else vocab_size)
    for i, r in enumerate(rows):
        for col in range(width):
            allowed = col < covered and (int(bitmask[i, col // 32]) >> (col % 32)) & 1
            if not allowed:
                out[r, col] = -np.inf
    return out


def random_case(seed, batch, vocab, pad, dtype, density):
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(batch, vocab + pad, generator=gen) * 4).to(getattr(torch, dtype))
    words = (vocab + 31) // 32
    bits = torch.rand(batch, words * 32, generator=gen) < density
    # Whole words of zeros and ones, as real masks have (the core's fast paths).
    if words > 1:
        bits[:, :32] = False
        bits[:, 32:64] = True
    weights = (1 << torch.arange(32, dtype=torch.int64))
    packed = (bits.view(batch, words, 32).long() * weights).sum(-1)
    mask = packed.to(torch.int64).apply_(lambda v: v - (1 << 32) if v >= 1 << 31 else v)
    return logits, mask.to(torch.int32)


def run_backend(name, logits, mask, indices, vocab_size):
    """Apply through one backend directly (bypassing the dispatcher's choice)."""
    rows2d, mask2d, rows, covered = formgate.bitmask._check_apply_args(
        logits, mask, indices, vocab_size)
    if name == "cpp":
        cpu.apply(rows2d, mask2d, rows, covered, use_cpp=True)
    elif name == "numpy":
        cpu.apply(rows2d, mask2d, rows, covered, use_cpp=False)
    elif name == "torch":
        torch_apply.apply(rows2d, mask2d, rows, covered)
    elif name == "dispatch":
        formgate.apply_token_bitmask_inplace(logits, mask, indices=indices, vocab_size=vocab_size)
    else:
        raise AssertionError(name)


BACKENDS = [
    pytest.param("cpp", marks=pytest.mark.skipif(not HAS_CPP, reason="core has no C++ apply")),
    "numpy",
    "torch",
    "dispatch",
]


def assert_matches(got, expected):
    got = got.float().numpy().astype(np.float64)
    neg = np.isneginf(expected)
    assert np.array_equal(np.isneginf(got), neg)
    assert np.array_equal(got[~neg], expected[~neg])  # allowed logits untouched, bit for bit


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40, deadline=None)
@given(
    vocab=st.integers(1, 200),
    pad=st.integers(0, 40),
    batch=st.integers(1, 4),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**31 - 1),
    density=st.sampled_from([0.0, 0.1, 0.5, 0.95, 1.0]),
    shrink_vocab=st.integers(0, 40),
    subset=st.booleans(),
)
def test_backend_equals_reference(backend, vocab, pad, batch, dtype, seed, density,
                                  shrink_vocab, subset):
    logits, mask = random_case(seed, batch, vocab, pad, dtype, density)
    vocab_size = max(0, vocab - shrink_vocab) if shrink_vocab else None
    indices = None
    if subset and batch > 1:
        indices = list(range(batch))[::-1][: batch - 1]  # reversed and one row left out
        mask = mask[: len(indices)]
    expected = reference(logits, mask, indices, vocab_size)
    original = logits.clone()
    run_backend(backend, logits, mask, indices, vocab_size)
    assert_matches(logits, expected)
    if indices is not None:
        untouched = sorted(set(range(batch)) - set(indices))
        assert torch.equal(logits[untouched], original[untouched])


@pytest.mark.skipif(not HAS_CPP, reason="core has no C++ apply")
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), dtype=st.sampled_from(DTYPES),
       vocab=st.integers(1, 300), pad=st.integers(0, 70))
def test_cpp_and_numpy_agree_bit_for_bit(seed, dtype, vocab, pad):
    logits, mask = random_case(seed, 3, vocab, pad, dtype, 0.3)
    a, b = logits.clone(), logits.clone()
    cpu.apply(a, mask, None, vocab, use_cpp=True)
    cpu.apply(b, mask, None, vocab, use_cpp=False)
    assert torch.equal(a.view(torch.uint8), b.view(torch.uint8))


def test_golden_small_case():
    logits = torch.arange(70, dtype=torch.float32).reshape(1, 70)
    mask = torch.tensor([[0b1001, 0, 1 << 5]], dtype=torch.int32)
    formgate.apply_token_bitmask_inplace(logits, mask)
    assert torch.isfinite(logits[0]).nonzero().flatten().tolist() == [0, 3, 69]
    assert logits[0, 69].item() == 69.0


def test_vocab_size_and_padding_columns_are_masked():
    logits = torch.zeros(2, 100)
    mask = formgate.allocate_token_bitmask(2, 64)  # 2 words: columns 64.. are padding
    formgate.apply_token_bitmask_inplace(logits, mask, vocab_size=50)
    assert bool(torch.isfinite(logits[:, :50]).all())
    assert bool(torch.isneginf(logits[:, 50:]).all())


def test_one_dimensional_logits_and_mask():
    logits = torch.zeros(40, dtype=torch.bfloat16)
    mask = torch.tensor([0b110, 0], dtype=torch.int32)
    formgate.apply_token_bitmask_inplace(logits, mask)
    assert torch.isfinite(logits).nonzero().flatten().tolist() == [1, 2]


def test_strided_logits_rows():
    """A view whose rows are wider in memory than in shape (logits[:, :V] of a wider buffer)."""
    base = torch.randn(3, 96)
    view = base[:, :70]
    mask = torch.randint(-(2**31), 2**31 - 1, (3, 3), dtype=torch.int32,
                         generator=torch.Generator().manual_seed(5))
    expected = reference(view.clone(), mask, None, None)
    before_tail = base[:, 70:].clone()
    formgate.apply_token_bitmask_inplace(view, mask)
    assert_matches(view, expected)
    assert torch.equal(base[:, 70:], before_tail)  # columns outside the view untouched


def test_allocate_shape_and_default() -> None:
    m = formgate.allocate_token_bitmask(3, 128256)
    assert tuple(m.shape) == (3, 4008) and m.dtype == torch.int32
    assert bool((m == -1).all())


@pytest.mark.parametrize("order", [[2, 0], [0, 2], [1]])
def test_xgrammar_indices_convention(order) -> None:
    """A bitmask with one row per logits row: indices pick rows, and row r masks row r."""
    batch, vocab = 3, 70
    gen = torch.Generator().manual_seed(len(order))
    mask = torch.randint(-2**31, 2**31 - 1, (batch, 3), dtype=torch.int32, generator=gen)
    logits = torch.randn(batch, vocab, generator=gen)
    expected = logits.numpy().astype(np.float64)
    for r in order:
        expected[r] = reference(logits[r : r + 1], mask[r : r + 1], None, None)[0]
    formgate.apply_token_bitmask_inplace(logits, mask, indices=order)
    np.testing.assert_array_equal(logits.numpy().astype(np.float64), expected)


@pytest.mark.parametrize(
    "logits,mask,kwargs,match",
    [
        (torch.zeros(2, 64), torch.zeros(2, 2, dtype=torch.int64), {}, "int32"),
        (torch.zeros(2, 64), torch.zeros(3, 2, dtype=torch.int32), {}, "rows"),
        (torch.zeros(2, 64, dtype=torch.int32), torch.zeros(2, 2, dtype=torch.int32), {},
         "floating"),
        (torch.zeros(2, 2, 64), torch.zeros(2, 2, dtype=torch.int32), {}, "batch, vocab"),
        (torch.zeros(2, 64), torch.zeros(1, 2, dtype=torch.int32), {"indices": [2]},
         "outside"),
        (torch.zeros(2, 64), torch.zeros(2, 2, dtype=torch.int32), {"indices": [1, 1]},
         "repeated"),
        (torch.zeros(3, 64), torch.zeros(2, 2, dtype=torch.int32), {"indices": [1]},
         "entries"),
        (torch.zeros(2, 64), np.zeros((2, 2), dtype=np.int32), {}, "torch tensors"),
    ],
)
def test_bad_arguments_raise_value_error(logits, mask, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        formgate.apply_token_bitmask_inplace(logits, mask, **kwargs)


def test_forcing_cpp_without_it_is_an_error():
    if HAS_CPP:
        with pytest.raises(ValueError, match="contiguous"):
            cpu.apply(torch.zeros(64, 2).t(), torch.zeros(2, 1, dtype=torch.int32), None, 2,
                      use_cpp=True)
    else:
        with pytest.raises(RuntimeError, match="apply_token_bitmask_cpu"):
            cpu.apply(torch.zeros(1, 32), torch.zeros(1, 1, dtype=torch.int32), None, 32,
                      use_cpp=True)


def test_backend_name_on_cpu():
    assert kernels.backend_name(torch.zeros(1, 8)) == ("cpp" if HAS_CPP else "numpy")


def test_numpy_bitmask_is_filled_like_torch() -> None:
    info = formgate.TokenizerInfo([b"a", b"b", b"c"])
    m = formgate.GrammarMatcher(formgate.GrammarCompiler(info).compile_grammar('root ::= "b"'))
    arr = np.zeros((2, 1), dtype=np.int32)
    m.fill_next_token_bitmask(arr, index=1)
    assert arr.tolist() == [[0], [2]]


def test_masked_logits_follow_a_real_matcher():
    """End to end with the core: the mask a matcher fills, applied, leaves exactly its tokens."""
    info = formgate.TokenizerInfo([bytes([b]) for b in range(256)])
    compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= [a-c] "x"')
    matcher = formgate.GrammarMatcher(compiled)
    mask = formgate.allocate_token_bitmask(1, info.vocab_size)
    matcher.fill_next_token_bitmask(mask)
    logits = torch.zeros(1, 300)
    formgate.apply_token_bitmask_inplace(logits, mask, vocab_size=info.vocab_size)
    assert torch.isfinite(logits[0]).nonzero().flatten().tolist() == [97, 98, 99]
    assert bitmask_to_bool(mask[0], 256).sum() == 3


# ---------------------------------------------------------------------- CUDA (skipped on CPU)

cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device")


@cuda
@pytest.mark.parametrize("backend", ["triton", "torch"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch,vocab,pad,subset", [(1, 1000, 0, False), (8, 32001, 63, True),
                                                    (64, 128256, 0, False)])
def test_cuda_backends_equal_reference(backend, dtype, batch, vocab, pad, subset):
    if backend == "triton" and not triton_apply.available():
        pytest.skip("triton not importable")
    logits, mask = random_case(batch * 1000 + vocab, batch, vocab, pad, dtype, 0.2)
    indices = list(range(0, batch, 2)) if subset else None
    if indices is not None:
        mask = mask[: len(indices)]
    expected_cpu = logits.clone()
    formgate.apply_token_bitmask_inplace(expected_cpu, mask, indices=indices)
    on_gpu = logits.cuda()
    rows2d, mask2d, rows, covered = formgate.bitmask._check_apply_args(
        on_gpu, mask.cuda(), indices, None)
    (triton_apply if backend == "triton" else torch_apply).apply(rows2d, mask2d, rows, covered)
    assert torch.equal(on_gpu.cpu().view(torch.uint8), expected_cpu.view(torch.uint8))


# ---------------------------------------------------------------------- Triton kernel on the CPU

_INTERPRETED_KERNEL_CHECK = r"""
import sys
sys.path[:0] = [TESTS, PACKAGE]
import formgate
from formgate.kernels import triton_apply
from test_bitmask import assert_matches, random_case, reference
cases = 0
for dtype in ("float32", "float16", "bfloat16"):
    for batch, vocab, pad, subset, vocab_size in [
        (1, 100, 0, False, None), (3, 5000, 37, True, None), (2, 4100, 5000, False, 4090),
        (4, 31, 1, True, None), (2, 8192, 0, False, 0),
    ]:
        logits, mask = random_case(batch * 7 + vocab, batch, vocab, pad, dtype, 0.3)
        indices = list(range(batch))[::-2] if subset else None
        if indices is not None:
            mask = mask[: len(indices)]
        expected = reference(logits, mask, indices, vocab_size)
        args = formgate.bitmask._check_apply_args(logits, mask, indices, vocab_size)
        triton_apply.apply(*args)
        assert_matches(logits, expected)
        cases += 1
print("checked", cases)
"""


@pytest.mark.skipif(not triton_apply.available(), reason="triton not importable")
def test_triton_kernel_in_the_interpreter_equals_reference():
    """The Triton kernel's logic, run by Triton's CPU interpreter (TRITON_INTERPRET=1, set
    before triton is imported, hence a subprocess): padding columns, vocab_size cut inside a
    word, row subsets, all three dtypes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parent)
    package = str(Path(formgate.__file__).resolve().parents[1])
    code = f"TESTS, PACKAGE = {tests!r}, {package!r}\n" + _INTERPRETED_KERNEL_CHECK
    env = dict(os.environ, TRITON_INTERPRET="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "checked 15" in proc.stdout
