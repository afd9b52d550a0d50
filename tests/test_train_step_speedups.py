"""The throughput changes (channels_last ConvNet input, fused Adam) leave training unchanged:
50 steps in float64 on real MNIST, the loss curve of the previous step vs the current one."""

from __future__ import annotations

import torch

from infomatch.data import load_dataset, make_views
from infomatch.encoders import make_encoder
from infomatch.model import NINE
from infomatch.training.hardware import adam_options

STEPS = 50


def _loss_curve(x: torch.Tensor, *, channels_last: bool, fused: bool) -> torch.Tensor:
    torch.manual_seed(0)
    views = make_views("image", "mnist", tuple(x.shape[1:]))
    encoder = make_encoder("convnet", views.output_shape, 4, channels_last=channels_last).double()
    nine = NINE(dim=4, sigma=1.0).double()
    params = [*encoder.parameters(), *nine.parameters()]
    opt = torch.optim.Adam(params, lr=3e-3, **(adam_options(params) if fused else {}))
    losses = []
    for _ in range(STEPS):
        v1, v2 = views.pair(x)
        h = encoder(torch.cat([v1, v2]))
        out = nine(h[: len(x)], h[len(x):])
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
        losses.append(out.loss.detach())
    return torch.stack(losses)


def test_loss_curve_unchanged_in_float64(mnist_dir) -> None:
    x = load_dataset(str(mnist_dir)).x[:16].double()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small float64 kernels: one thread is fastest, also on a busy machine
    try:
        before = _loss_curve(x, channels_last=False, fused=False)
        now = _loss_curve(x, channels_last=True, fused=True)
    finally:
        torch.set_num_threads(threads)
    assert torch.isfinite(before).all() and before[-1] < before[0]  # it trains
    assert (now - before).abs().max() <= 1e-3
    # and the channels_last forward is the same function
    enc = make_encoder("convnet", (1, 24, 24), 8, channels_last=False).double()
    x24 = x[:8, :, 2:26, 2:26]
    y = enc(x24)
    enc.channels_last = True
    torch.testing.assert_close(enc(x24), y, rtol=1e-12, atol=1e-12)


def test_channels_last_reaches_the_first_convolution() -> None:
    """One input channel: the plain ``contiguous(memory_format=channels_last)`` is a no-op and the
    convolutions would stay NCHW; the encoder's conversion makes them channels-last."""
    from infomatch.encoders import _channels_last

    x = torch.rand(4, 1, 24, 24)
    assert not torch.nn.Conv2d(1, 8, 3)(x.contiguous(memory_format=torch.channels_last)).is_contiguous(
        memory_format=torch.channels_last)
    enc = make_encoder("convnet", (1, 24, 24), 4)
    y = enc.features[0](_channels_last(x))
    assert y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()
    assert torch.equal(_channels_last(x), x)
