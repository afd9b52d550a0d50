"""Encoders: output shapes, the paper's ConvNet geometry, ResNet-18's size, gradients, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from infomatch.encoders import ConvNetEncoder, default_encoder, make_encoder


@pytest.fixture(autouse=True)
def _one_thread():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


@pytest.mark.parametrize(
    ("name", "shape"),
    [("mlp", (13,)), ("mlp", (1, 8, 8)), ("convnet", (1, 24, 24)), ("convnet", (1, 28, 28)),
     ("convnet", (3, 32, 32)), ("resnet18", (3, 16, 16)), ("resnet18", (1, 12, 12))],
)
def test_output_shape_and_gradients(name: str, shape: tuple) -> None:
    torch.manual_seed(0)
    enc = make_encoder(name, shape, dim=7)
    x = torch.rand(4, *shape)
    out = enc(x)
    assert out.shape == (4, 7) and out.dtype == torch.float32 and bool(torch.isfinite(out).all())
    out.pow(2).sum().backward()
    for pname, p in enc.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()), pname
    assert any(float(p.grad.abs().sum()) > 0 for p in enc.parameters())


def test_convnet_matches_the_paper_on_24x24() -> None:
    enc = ConvNetEncoder((1, 24, 24), dim=10)
    convs = [m for m in enc.features if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (1, 32, (3, 3), (0, 0)), (32, 64, (3, 3), (0, 0)), (64, 128, (3, 3), (0, 0))]
    kinds = [type(m).__name__ for m in enc.features[:12]]
    assert kinds == ["Conv2d", "MaxPool2d", "BatchNorm2d", "LeakyReLU"] * 3
    # 24 -> conv 22 -> pool 11 -> conv 9 -> pool 4 -> conv 2 -> pool 1: 128 x 1 x 1 before pooling.
    fmap = enc.features[:12](torch.rand(2, 1, 24, 24))
    assert fmap.shape == (2, 128, 1, 1)
    assert [m.out_features for m in enc.head if isinstance(m, nn.Linear)] == [128, 10]
    assert enc.features[3].negative_slope == 0.01


def test_resnet18_has_the_standard_size() -> None:
    # ResNet-18 with the CIFAR stem and a 10-way head has 11,173,962 parameters.
    enc = make_encoder("resnet18", (3, 32, 32), dim=10)
    assert sum(p.numel() for p in enc.parameters()) == 11_173_962
    assert not any(isinstance(m, nn.MaxPool2d) for m in enc.modules())
    stem = enc.stem[0]
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)


def test_mlp_hidden_sizes_and_eval_determinism() -> None:
    enc = make_encoder("mlp", (5,), dim=3, hidden=(16, 8, 4))
    widths = [m.out_features for m in enc.modules() if isinstance(m, nn.Linear)]
    assert widths == [16, 8, 4, 3]
    enc.eval()
    x = torch.randn(6, 5)
    assert torch.equal(enc(x), enc(x))
    # Rows are independent in evaluation mode (running BatchNorm statistics).
    assert torch.allclose(enc(x)[:2], enc(x[:2]), atol=1e-6)


def test_default_encoder() -> None:
    assert default_encoder((20,)) == "mlp"
    assert default_encoder((1, 8, 8)) == "mlp"
    assert default_encoder((1, 24, 24)) == "convnet"
    assert default_encoder((1, 28, 28)) == "convnet"
    assert default_encoder((3, 32, 32)) == "resnet18"
    assert default_encoder((3, 24, 24)) == "convnet"
    for shape in [(20,), (1, 8, 8), (1, 24, 24), (3, 32, 32)]:
        make_encoder(default_encoder(shape), shape, dim=2)  # the default always builds


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("vit", (1, 24, 24), 8), r"name must be one of"),
        (("mlp", (1, 24, 24), 0), r"dim must be a positive integer"),
        (("convnet", (1, 16, 16), 8), r"at least 22x22"),
        (("convnet", (10,), 8), r"input_shape must be \(C, H, W\)"),
        (("mlp", (1, 8), 8), r"input_shape must be \(F,\) or \(C, H, W\)"),
    ],
)
def test_bad_arguments(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_encoder(*args)
