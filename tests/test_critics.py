"""Critics: pairwise scores against explicit loops, chunking, memory bound, errors."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from infomatch.critics import BilinearCritic, ConcatCritic, SeparableCritic, make_critic


def _loop_scores(critic: torch.nn.Module, a: torch.Tensor, b: torch.Tensor, pair) -> torch.Tensor:
    return torch.stack([torch.stack([pair(a[i], b[j]) for j in range(b.shape[0])]) for i in range(a.shape[0])])


@pytest.mark.parametrize("similarity", ["dot", "cosine", "euclidean"])
@pytest.mark.parametrize("head", [None, "scale", "linear", "mlp"])
def test_separable_matches_pairwise_loop(similarity: str, head: str | None) -> None:
    torch.manual_seed(0)
    c = SeparableCritic(4, similarity=similarity, temperature=0.5, head=head, projection=3, hidden=8,
                        potentials=True).double()
    a, b = torch.randn(3, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)

    def pair(x, y):
        u, v = c.head_a(x[None])[0], c.head_b(y[None])[0]
        if similarity == "dot":
            s = u @ v
        elif similarity == "cosine":
            s = F.cosine_similarity(u, v, dim=0)
        else:
            s = -0.5 * (u - v).square().sum()
        return s / 0.5 + c.potential_a(x[None])[0, 0] + c.potential_b(y[None])[0, 0]

    torch.testing.assert_close(c(a, b), _loop_scores(c, a, b, pair))


def test_bilinear_matches_formula_and_starts_as_dot_product() -> None:
    a, b = torch.randn(3, 4), torch.randn(6, 4)
    c = BilinearCritic(4)
    torch.testing.assert_close(c(a, b), a @ b.T)
    with torch.no_grad():
        c.weight.copy_(torch.randn(4, 4))
    ref = torch.stack([torch.stack([a[i] @ c.weight @ b[j] for j in range(6)]) for i in range(3)])
    torch.testing.assert_close(c(a, b), ref, rtol=1e-5, atol=1e-5)


def test_concat_matches_the_paper_mlp_on_every_pair() -> None:
    torch.manual_seed(0)
    c = ConcatCritic(3, hidden=16).double()
    mlp = torch.nn.Sequential(c.layer1, torch.nn.LeakyReLU(0.01), c.layer2, torch.nn.LeakyReLU(0.01), c.layer3)
    a, b = torch.randn(4, 3, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    ref = _loop_scores(c, a, b, lambda x, y: mlp(torch.cat([x, y]))[0])
    torch.testing.assert_close(c(a, b), ref)
    torch.testing.assert_close(c.pair_scores(a, b[:4]), ref.diagonal())
    # paper architecture: Linear(2d,256)-LeakyReLU-Linear(256,256)-LeakyReLU-Linear(256,1)
    p = ConcatCritic(16)
    assert (p.layer1.in_features, p.layer1.out_features, p.layer2.out_features, p.layer3.out_features) == (32, 256, 256, 1)


@pytest.mark.parametrize("chunk_size", [1, 3, 64])
def test_concat_chunking_does_not_change_values_or_gradients(chunk_size: int) -> None:
    torch.manual_seed(1)
    ref = ConcatCritic(4, hidden=8, chunk_size=1000, checkpoint_chunks=False)
    c = ConcatCritic(4, hidden=8, chunk_size=chunk_size)
    c.load_state_dict(ref.state_dict())
    a = torch.randn(10, 4, requires_grad=True)
    b = torch.randn(10, 4, requires_grad=True)
    w = torch.randn(10, 10)
    s_ref, s = ref(a, b), c(a, b)
    torch.testing.assert_close(s, s_ref)
    g_ref = torch.autograd.grad((s_ref * w).sum(), [a, b, *ref.parameters()])
    g = torch.autograd.grad((s * w).sum(), [a, b, *c.parameters()])
    for x, y in zip(g, g_ref, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-5)


def test_auto_chunk_size_follows_memory_budget() -> None:
    c = ConcatCritic(16, memory_budget_mb=256)
    rows = c.rows_per_chunk(2048)
    per_row = 2048 * 256 * 4 * ConcatCritic.BYTES_FACTOR
    assert rows == 256 * 2**20 // per_row and rows * per_row <= 256 * 2**20
    assert ConcatCritic(16, memory_budget_mb=0.001).rows_per_chunk(2048) == 1
    assert ConcatCritic(16, chunk_size=7).rows_per_chunk(2048) == 7


@pytest.mark.slow
def test_concat_peak_memory_is_bounded_by_the_budget() -> None:
    """Forward + backward at B = 256 in a subprocess; without chunking + checkpointing it would
    keep ~4 (B, B, 256) float32 tensors alive (256 MB); with a 16 MB budget the peak is the
    ~85 MB one-off torch initialisation plus ~the budget. (B = 2048 is measured by
    benchmarks/bench_critic_memory.py.)"""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_critic_memory.py"
    spec = importlib.util.spec_from_file_location("bench_critic_memory", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_critic_memory"] = bench
    spec.loader.exec_module(bench)
    r = bench.measure(256, 16, budget_mb=16.0, threads=1)
    unchunked_mb = 4 * 256 * 256 * 256 * 4 / 2**20
    assert r["rows_per_chunk"] < 256
    assert r["peak_increase_mb"] < 85 + 3 * 16, r
    assert r["peak_increase_mb"] < 85 + unchunked_mb / 2, r


def test_critics_keep_dtype_and_work_in_bfloat16() -> None:
    a = torch.randn(4, 8, dtype=torch.bfloat16)
    for name in ("separable", "bilinear", "concat"):
        c = make_critic(name, 8).to(torch.bfloat16)
        s = c(a, a)
        assert s.shape == (4, 4) and s.dtype == torch.bfloat16


def test_temperature_can_be_learned() -> None:
    c = SeparableCritic(2, temperature=0.1, learn_temperature=True)
    assert any(p is c.log_temperature for p in c.parameters())
    assert c.temperature == pytest.approx(0.1)
    assert not any(True for _ in SeparableCritic(2).parameters())


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda: make_critic("transformer", 4), "critic"),
        (lambda: make_critic("separable", 4, similarity="l1"), "similarity"),
        (lambda: make_critic("separable", 4, head="conv"), "head"),
        (lambda: make_critic("separable", 4, temperature=0.0), "temperature"),
        (lambda: make_critic("concat", 4, chunk_size=0), "chunk_size"),
        (lambda: make_critic("concat", 0), "dim"),
        (lambda: make_critic("bilinear", 4, hidden=3), "critic_kwargs"),
    ],
)
def test_bad_arguments(call, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        call()


@pytest.mark.parametrize("name", ["separable", "bilinear", "concat"])
def test_bad_inputs(name: str) -> None:
    c = make_critic(name, 4)
    with pytest.raises(ValueError, match="4 columns"):
        c(torch.zeros(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="shape"):
        c(torch.zeros(4), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="dtype"):
        c(torch.zeros(3, 4), torch.zeros(3, 4, dtype=torch.float64))
