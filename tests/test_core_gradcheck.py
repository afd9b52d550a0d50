"""torch.autograd.gradcheck in float64 through normalize -> fixed noise -> critic -> bound."""

from __future__ import annotations

import pytest
import torch

from infomatch.bounds import dv, infonce, jsd_objective, make_bound, nwj
from infomatch.critics import make_critic
from infomatch.noise import NoiseInjection
from infomatch.normalize import Normalize

CRITICS = [
    ("separable", {"similarity": "euclidean", "head": "mlp", "projection": 3, "hidden": 5, "potentials": True}),
    ("separable", {"similarity": "cosine", "temperature": 0.3}),
    ("bilinear", {}),
    ("concat", {"hidden": 6, "chunk_size": 2}),
]


@pytest.mark.parametrize(("critic_name", "kwargs"), CRITICS, ids=[c[0] + str(i) for i, c in enumerate(CRITICS)])
@pytest.mark.parametrize("bound_fn", [infonce, jsd_objective, dv, nwj])
@pytest.mark.parametrize("mode", ["gaussian", "uniform"])
def test_gradcheck_full_pipeline(critic_name: str, kwargs: dict, bound_fn, mode: str) -> None:
    torch.manual_seed(0)
    d, b = 3, 5
    norm = Normalize(d, mode=mode).double()
    noise = NoiseInjection("gaussian" if mode == "gaussian" else "uniform", 0.3)
    critic = make_critic(critic_name, d, **kwargs).double()

    def pipeline(h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        z = norm(torch.cat([h1, h2]))
        a, bb = z[:b], z[b:]
        noisy = noise(bb, generator=torch.Generator().manual_seed(11))  # the same draw each call
        return bound_fn(critic(a, noisy))

    h1 = torch.randn(b, d, dtype=torch.float64, requires_grad=True)
    h2 = torch.randn(b, d, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(pipeline, (h1, h2), eps=1e-6, atol=1e-5)


def test_gradcheck_dv_module_and_offset() -> None:
    torch.manual_seed(1)
    s = torch.randn(3, 9, dtype=torch.float64, requires_grad=True)
    for fn in (infonce, jsd_objective, dv, nwj):
        assert torch.autograd.gradcheck(lambda x, f=fn: f(x, offset=3), (s,))
    bound = make_bound("dv", alpha=1.0)  # alpha = 1: the moving average is the batch value
    assert torch.autograd.gradcheck(lambda x: bound(x).loss, (s,))
