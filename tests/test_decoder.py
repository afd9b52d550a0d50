"""Decoder nets, their losses against numpy references, Lightning fitting, resume, safe loading."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from infomatch.decoder import DecoderConfig, decode, fit_decoder, load_decoder, make_decoder
from infomatch.decoder.grid import grid_png, image_grid, reconstruction_grid
from infomatch.decoder.nets import DeconvDecoder, MLPDecoder


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 24, 24), (1, 8, 8), (3, 7, 9)])
def test_deconv_output_shape_and_range(shape: tuple[int, ...]) -> None:
    dec = make_decoder(shape, "image", dim=5)
    assert isinstance(dec, DeconvDecoder)
    x = decode(dec, torch.randn(6, 5) * 3)
    assert x.shape == (6, *shape) and float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_losses_match_numpy() -> None:
    rng = np.random.default_rng(0)
    logits, target = rng.normal(size=(4, 1, 3, 3)), rng.uniform(size=(4, 1, 3, 3))
    p = 1 / (1 + np.exp(-logits))
    ref = -(target * np.log(p) + (1 - target) * np.log(1 - p)).sum() / 4
    got = DeconvDecoder.loss(torch.tensor(logits), torch.tensor(target))
    assert float(got) == pytest.approx(ref, rel=1e-9)
    dec = MLPDecoder((3,), dim=2)
    x = torch.tensor(rng.normal(loc=[0, 5, -2], scale=[1, 10, 0.1], size=(50, 3)))
    dec.set_scale(x.float())
    raw = torch.tensor(rng.normal(size=(50, 3))).float()
    xs = (x.numpy() - x.numpy().mean(0)) / x.numpy().std(0)
    assert float(dec.loss(raw, x.float())) == pytest.approx(((raw.numpy() - xs) ** 2).sum() / 50, rel=1e-4)
    np.testing.assert_allclose(dec.to_output(raw).numpy(), raw.numpy() * x.numpy().std(0) + x.numpy().mean(0), rtol=1e-4)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="kind"):
        make_decoder((4,), "audio", 2)
    with pytest.raises(ValueError, match="input_shape"):
        make_decoder((4,), "image", 2)
    with pytest.raises(ValueError, match="epochs"):
        DecoderConfig(epochs=0)
    with pytest.raises(ValueError, match=r"z must have shape \(N, 2\)"):
        decode(make_decoder((4,), "tabular", 2), torch.zeros(3, 5))


def _linear_pairs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 3, generator=g)
    a = torch.tensor([[1.0, -2.0, 0.5, 0.0, 3.0, 1.0], [0.0, 1.0, 1.0, -1.0, 0.0, 2.0], [2.0, 0.0, 0.0, 1.0, 1.0, -1.0]])
    return z, z @ a + 10.0 + 0.01 * torch.randn(n, 6, generator=g)


def test_fit_tabular_learns_and_writes_its_folder(tmp_path: Path) -> None:
    z, x = _linear_pairs(320, 0)
    zv, xv = _linear_pairs(128, 1)
    res = fit_decoder(z, x, zv, xv, "tabular", DecoderConfig(epochs=5, batch_size=16, lr=3e-3), tmp_path / "dec")
    assert res.metrics["heldout_mse"] < 0.05 * float(xv.var(0).mean())
    for name in ("config.json", "run.json", "metrics.json", "decoder.safetensors", "checkpoints/last.ckpt",
                 "checkpoints/best.ckpt"):
        assert (tmp_path / "dec" / name).is_file(), name
    dec, meta = load_decoder(tmp_path / "dec")
    assert meta["kind"] == "tabular" and meta["dim"] == 3
    assert torch.allclose(decode(dec, zv), decode(res.decoder, zv))


def test_fit_images_beats_the_mean_image(tmp_path: Path) -> None:
    from sklearn.decomposition import PCA

    from infomatch.data import load_dataset

    ds = load_dataset("digits")
    flat = ds.x.reshape(len(ds), -1).numpy()
    z = torch.from_numpy(PCA(8, random_state=0).fit_transform(flat)).float()
    z = (z - z.mean(0)) / z.std(0)
    tr, va = slice(0, 1400), slice(1400, None)
    res = fit_decoder(z[tr], ds.x[tr], z[va], ds.x[va], "image", DecoderConfig(epochs=2, batch_size=32, lr=3e-3),
                      tmp_path / "dec")
    baseline = float(((ds.x[va] - ds.x[tr].mean(0)) ** 2).mean())
    assert res.metrics["heldout_mse"] < 0.7 * baseline


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_resume_continues_and_refusals_keep_files(tmp_path: Path) -> None:
    z, x = _linear_pairs(256, 0)
    out = tmp_path / "dec"
    first = fit_decoder(z, x, z[:64], x[:64], "tabular", DecoderConfig(epochs=1, batch_size=64), out)
    assert first.metrics["epochs_completed"] == 1 and first.metrics["optimizer_steps"] == 4
    before = _digest(out)
    with pytest.raises(FileExistsError, match="already holds a decoder"):
        fit_decoder(z, x, z[:64], x[:64], "tabular", DecoderConfig(epochs=1, batch_size=64), out)
    with pytest.raises(ValueError, match="different config"):
        fit_decoder(z, x, z[:64], x[:64], "tabular", DecoderConfig(epochs=2, batch_size=32), out, resume=True)
    assert _digest(out) == before
    second = fit_decoder(z, x, z[:64], x[:64], "tabular", DecoderConfig(epochs=3, batch_size=64), out, resume=True)
    assert second.metrics["epochs_completed"] == 3 and second.metrics["optimizer_steps"] == 12


def test_corrupt_decoder_file_is_one_line_error(tmp_path: Path) -> None:
    z, x = _linear_pairs(128, 0)
    fit_decoder(z, x, z, x, "tabular", DecoderConfig(epochs=1, batch_size=64), tmp_path / "dec")
    (tmp_path / "dec" / "decoder.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(ValueError, match="not a valid safetensors file") as err:
        load_decoder(tmp_path / "dec")
    assert "\n" not in str(err.value)
    with pytest.raises(FileNotFoundError, match="no decoder"):
        load_decoder(tmp_path / "missing")


def test_grids() -> None:
    imgs = np.random.default_rng(0).uniform(size=(10, 1, 4, 5))
    g = image_grid(imgs, cols=4, pad=1)
    assert g.shape == (3 * 5 + 1, 4 * 6 + 1)
    np.testing.assert_allclose(g[1:5, 1:6], imgs[0, 0])
    np.testing.assert_allclose(g[6:10, 7:12], imgs[5, 0])
    r = reconstruction_grid(imgs[:3], 1 - imgs[:3], cols=3)
    np.testing.assert_allclose(r[6:10, 1:6], 1 - imgs[0, 0])  # second row: reconstructions
    assert grid_png(imgs, title="t")[:8] == b"\x89PNG\r\n\x1a\n"
