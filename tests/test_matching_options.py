"""The distribution-matching options: symmetric objective, separate branch statistics, queue,
the noise advisor, the view-strength dial and the cosine schedule."""

from __future__ import annotations

import math

import pytest
import torch

from infomatch.advisor import advise_noise
from infomatch.bounds import infonce
from infomatch.data.views import make_views, preset_config, scale_strength
from infomatch.model import NINE
from infomatch.priors import get_prior, matched_mi
from infomatch.training.config import TrainConfig
from infomatch.training.module import NINEModule, cosine_warmup, mix_pairs


class _Fixed(torch.nn.Module):
    """Adds pre-drawn noise tensors in order (one per call)."""

    def __init__(self, draws: list[torch.Tensor]) -> None:
        super().__init__()
        self.draws = list(draws)
        self.scale = 1.0

    def forward(self, z: torch.Tensor, generator: object = None) -> torch.Tensor:
        return z + self.draws.pop(0)


@pytest.mark.parametrize("normalization", ["standardize", "whiten"])
def test_symmetric_loss_is_mean_of_the_two_directions(normalization: str) -> None:
    torch.manual_seed(0)
    nine = NINE(4, normalization=normalization, symmetric=True).double()
    h1, h2 = torch.randn(32, 4, dtype=torch.float64), torch.randn(32, 4, dtype=torch.float64)
    n1, n2 = torch.randn(32, 4, dtype=torch.float64), torch.randn(32, 4, dtype=torch.float64)
    nine.noise = _Fixed([n2, n1])  # forward draws view 2's noise first, then view 1's
    out = nine(h1, h2)
    ref = NINE(4, normalization=normalization).double()
    ref.load_state_dict(nine.state_dict())
    z = ref.normalize(torch.cat([h1, h2]))
    z1, z2 = z[:32], z[32:]
    forward = -infonce(ref.critic(z1, z2 + n2))
    backward = -infonce(ref.critic(z2, z1 + n1))
    assert torch.allclose(out.loss, 0.5 * (forward + backward), atol=1e-12)


def test_separate_statistics_keep_running_stats_of_view_two_only() -> None:
    nine = NINE(3, branch_statistics="separate", momentum=None)
    h1 = torch.randn(64, 3) * 5 + 10
    h2 = torch.randn(64, 3)
    out = nine(h1, h2)
    assert torch.allclose(nine.normalize.running_mean, h2.mean(0), atol=1e-5)
    # both branches are standardized with their own batch statistics
    assert float(out.z.mean(0).abs().max()) < 1e-4


def test_queue_adds_negatives_and_raises_the_ceiling() -> None:
    nine = NINE(4, queue=48)
    for _ in range(4):  # the 4th step sees the 48 rows of the 3 before
        out = nine(torch.randn(16, 4), torch.randn(16, 4))
    assert nine.queue.shape == (48, 4)
    assert out.ceiling == pytest.approx(math.log(16 + 48))
    nine.eval()
    assert nine(torch.randn(16, 4), torch.randn(16, 4)).ceiling == pytest.approx(math.log(16))
    with pytest.raises(ValueError, match="queue"):
        NINE(4, queue=-1)


@pytest.mark.parametrize("base", ["gaussian", "uniform"])
@pytest.mark.parametrize("dim,negatives,fraction", [(8, 256, 0.5), (16, 512, 0.3), (32, 512, 0.9), (2, 64, 0.1)])
def test_advisor_puts_capacity_at_the_fraction(base: str, dim: int, negatives: int, fraction: float) -> None:
    scale = advise_noise(base, dim, negatives, fraction)
    reached = matched_mi(base, dim, scale)  # the capacity for the Gaussian base
    assert reached == pytest.approx(fraction * math.log(negatives), rel=1e-9)
    if base == "gaussian":
        assert get_prior(base).capacity(dim, scale) == pytest.approx(reached)


def test_config_uses_the_advisor_unless_noise_is_given() -> None:
    cfg = TrainConfig(dim=16, batch_size=512, capacity_fraction=0.4)
    assert cfg.noise_scale == pytest.approx(advise_noise("gaussian", 16, 512, 0.4))
    assert cfg.resolved().sigma == pytest.approx(cfg.noise_scale)
    assert TrainConfig(sigma=2.0).noise_scale == 2.0
    d = TrainConfig().dim
    assert TrainConfig(prior="uniform", queue=256).noise_scale == pytest.approx(advise_noise("gaussian", d, 512, 0.5))
    uniform_base = TrainConfig(prior="uniform", prior_params={"base": "uniform"}, queue=256)
    assert uniform_base.noise_scale == pytest.approx(advise_noise("uniform", d, 512, 0.72))
    with pytest.raises(ValueError, match="capacity_fraction"):
        TrainConfig(capacity_fraction=1.0)
    with pytest.raises(ValueError, match="view_strength"):
        TrainConfig(view_strength=1.5)


def test_view_strength_scales_the_preset() -> None:
    full = preset_config("mnist", (1, 28, 28))
    assert scale_strength(full, 1.0, (1, 28, 28)) == full
    half = scale_strength(full, 0.5, (1, 28, 28))
    assert (half.degrees, half.shear, half.noise_std) == (5.0, 2.5, 0.1)
    assert half.scale == pytest.approx((0.95, 1.05)) and half.crop_slack == 0.5 and half.crop == (24, 24)
    x = torch.rand(8, 1, 28, 28)
    none = make_views("image", "mnist", (1, 28, 28), strength=0.0, seed=0)
    assert torch.allclose(none(x), none.eval_transform(x), atol=1e-5)
    digits = make_views("image", "digits", (1, 8, 8), strength=0.0, seed=0)
    y = torch.rand(8, 1, 8, 8)
    assert torch.allclose(digits(y), y, atol=1e-5)
    with pytest.raises(ValueError, match="strength"):
        make_views("image", "digits", (1, 8, 8), strength=-0.1)


def test_mix_pairs_keeps_whole_pairs_at_the_fraction() -> None:
    n = 4000
    v1, v2, clean = torch.randn(n, 1, 3, 3), torch.randn(n, 1, 3, 3), torch.randn(n, 1, 3, 3)
    assert all(torch.equal(a, b) for a, b in zip(mix_pairs(v1, v2, clean, 1.0), (v1, v2), strict=True))
    assert all(torch.equal(a, clean) for a in mix_pairs(v1, v2, clean, 0.0))
    m1, m2 = mix_pairs(v1, v2, clean, 0.3, generator=torch.Generator().manual_seed(0))
    kept1 = (m1 == v1).flatten(1).all(1)
    kept2 = (m2 == v2).flatten(1).all(1)
    cleaned = (m1 == clean).flatten(1).all(1) & (m2 == clean).flatten(1).all(1)
    assert torch.equal(kept1, kept2) and torch.equal(cleaned, ~kept1)  # a pair is kept or replaced whole
    sd = math.sqrt(0.3 * 0.7 / n)
    assert abs(float(kept1.float().mean()) - 0.3) < 4 * sd


@pytest.mark.parametrize("matched_view", ["clean", "augmented"])
def test_view_fraction_zero_pairs_each_input_with_itself(matched_view: str) -> None:
    torch.manual_seed(0)
    x = torch.rand(16, 1, 8, 8)
    for fraction, identical in ((0.0, True), (1.0, False)):
        cfg = TrainConfig(dim=4, view_fraction=fraction, matched_view=matched_view, radialize=False)
        module = NINEModule(cfg.to_dict(), (1, 8, 8), "image").train()
        h1, h2 = module._encode_pair(x)
        assert torch.allclose(h1, h2) is identical
    with pytest.raises(ValueError, match=r"view_fraction must be a number in \[0, 1\]; got -0.5"):
        TrainConfig(view_fraction=-0.5)


def test_unset_view_fraction_takes_the_presets() -> None:
    """``view_fraction=None`` (the default) is a quarter of the pairs with the digits views and every
    pair with the others; a given fraction wins; runs stored before the option augmented every pair."""
    assert TrainConfig().view_fraction is None
    cases = {((1, 8, 8), "auto"): 0.25, ((1, 28, 28), "auto"): 1.0, ((1, 28, 28), "digits"): 0.25,
             ((1, 8, 8), "none"): 1.0, ((1, 8, 8), "image"): 1.0}
    for (shape, views), fraction in cases.items():
        module = NINEModule(TrainConfig(dim=4, views=views, radialize=False).to_dict(), shape, "image")
        assert module.view_fraction == fraction, (shape, views)
    given = NINEModule(TrainConfig(dim=4, view_fraction=0.6, radialize=False).to_dict(), (1, 8, 8), "image")
    assert given.view_fraction == 0.6
    tabular = NINEModule(TrainConfig(dim=4, radialize=False).to_dict(), (5,), "tabular")
    assert tabular.view_fraction == 1.0
    stored = {k: v for k, v in TrainConfig().to_dict().items() if k != "view_fraction"}
    assert TrainConfig.from_stored(stored).view_fraction == 1.0
    # about a quarter of the digits pairs differ between the branches (clean matched view: the others are equal)
    torch.manual_seed(0)
    module = NINEModule(TrainConfig(dim=4, radialize=False).to_dict(), (1, 8, 8), "image").train()
    x = torch.rand(2000, 1, 8, 8)
    h1, h2 = module._encode_pair(x)
    augmented = float((~torch.isclose(h1, h2, atol=1e-6).all(1)).float().mean())
    assert abs(augmented - 0.25) < 4 * math.sqrt(0.25 * 0.75 / 2000)


def test_train_names_the_views_and_the_fraction_at_start(tmp_path) -> None:
    from infomatch.training.engine import train

    for given, expected in ((None, "views: digits preset, 25% of the pairs augmented (the preset's default; "
                                   "--view-fraction sets it)"),
                            (0.5, "views: digits preset, 50% of the pairs augmented")):
        lines: list[str] = []
        cfg = TrainConfig(dim=2, epochs=1, batch_size=256, progress="none", threads=1, view_fraction=given)
        result = train(cfg, tmp_path / f"run{given}", log=lines.append)
        used = 0.25 if given is None else given
        assert [m for m in lines if m.startswith("views:")] == [expected]
        assert result.metrics["views"] == {"preset": "digits", "view_fraction": used}
        assert TrainConfig.from_stored_yaml(result.run_dir / "config.yaml").view_fraction == used  # recorded
    # an unset fraction resumes with the stored one, whatever the preset's default is now
    out = tmp_path / "runNone"
    config = out / "config.yaml"
    config.write_text(config.read_text().replace("view_fraction: 0.25", "view_fraction: 0.4"))
    lines = []
    result = train(TrainConfig(dim=2, epochs=2, batch_size=256, progress="none", threads=1), out, resume=True,
                   log=lines.append)
    assert result.metrics["epochs_completed"] == 2 and result.metrics["views"]["view_fraction"] == 0.4
    assert "views: digits preset, 40% of the pairs augmented (as stored in the resumed run)" in lines


def test_cosine_warmup_schedule() -> None:
    f = cosine_warmup(1000, 0.05)
    assert f(0) == pytest.approx(1 / 50) and f(49) == pytest.approx(1.0)
    assert f(525) == pytest.approx(0.5) and f(1000) == pytest.approx(0.0)
    assert all(f(t) >= f(t + 1) for t in range(50, 999))
