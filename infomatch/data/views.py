"""Batched, seeded views (augmentations) for images (kornia) and tabular data (torch).

Every transform works on a whole batch ``(B, C, H, W)`` at once with per-sample random
parameters; there is no per-image Python loop. The geometric part (a crop's offset, rotation,
scale, shear) is one resampling per batch (:class:`~infomatch.data.warp.RandomWarp`, kornia's
``warp_affine``); flips and colour jitter are kornia.augmentation modules.

Presets (``make_views(kind, preset, input_shape)``):

- ``"mnist"``: the paper's protocol. A random 24x24 crop (of 28x28), a small affine warp
  (rotation up to 10 degrees, scale 0.9-1.1, shear up to 5 degrees), additive Gaussian noise
  with std 0.2. Evaluation: the center 24x24 crop.
- ``"cifar"``: random resized crop back to the input size (area 0.2-1), horizontal flip,
  colour jitter (brightness, contrast, saturation 0.4, hue 0.1, with probability 0.8), random
  grayscale (0.2), Gaussian noise std 0.02. Evaluation: identity.
- ``"digits"`` (8x8): translation by up to one pixel (pad 1 + random crop 8), small rotation
  (10 degrees), Gaussian noise std 0.1. Evaluation: identity.
- ``"image"`` (generic; any other image size): random crop of 0.85 of each side, small affine,
  brightness/contrast 0.2, horizontal flip and saturation/hue jitter for 3-channel images only,
  noise std 0.1. Evaluation: the center crop of the same size.
- ``"tabular"``: Gaussian noise of std 0.1 times each feature's spread (the batch standard
  deviation, or ``feature_scale`` when given), then random feature masking (probability 0.1:
  the masked feature is replaced by its batch mean). Evaluation: identity.
- ``"none"``: identity for training and evaluation.

Value range: image views are clamped to [0, 1] after the noise (``clamp=True``, the default),
so every view is a valid image; ``clamp=False`` keeps the additive noise untruncated (pixels
then leave [0, 1], as in a pure "X + N(0, s^2)" reading of the protocol).

Seeding: kornia draws its random parameters from torch's global RNG. A ``ViewMaker`` built with
``seed=s`` owns a ``torch.Generator`` seeded with ``s``; each call draws a fresh 63-bit seed from
it and runs the augmentation inside ``torch.random.fork_rng`` with ``torch.manual_seed`` set to
that seed, so the global RNG is left untouched and two ViewMakers with the same seed produce the
same sequence of views. ``forward(x, generator=g)`` does the same with a caller's generator.
Without a seed or generator the global RNG is used (so ``torch.manual_seed`` /
Lightning's ``seed_everything`` control it).

Example:
    >>> import torch
    >>> vm = make_views("image", "mnist", (1, 28, 28), seed=0)
    >>> v1, v2 = vm.pair(torch.rand(8, 1, 28, 28))
    >>> v1.shape, vm.output_shape, bool((v1 != v2).any())
    (torch.Size([8, 1, 24, 24]), (1, 24, 24), True)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import kornia.augmentation as K
import torch
from torch import nn

from infomatch._checks import check_choice, check_nonnegative, check_positive_int, check_probability
from infomatch.data.warp import RandomWarp

KINDS = ("image", "tabular")
PRESETS = ("mnist", "cifar", "digits", "image", "tabular", "none")


@dataclass(frozen=True)
class ViewConfig:
    """All knobs of a view pipeline; presets fill them, ``make_views(**overrides)`` replaces them.

    Image fields: ``crop`` output ``(h, w)`` (None keeps the size); ``crop_mode`` ``"random"``
    (plain random crop, after ``padding`` pixels of zero padding), ``"affine"`` (the crop's
    random offset folded into the affine warp as a continuous translation of up to the same
    number of pixels, then the center crop: one resampling instead of a crop and a warp),
    ``"resized"`` (random resized crop with area fraction ``resized_scale``) or ``"none"``; ``degrees``, ``scale``, ``shear``
    for a random affine warp (all zero: no warp); ``flip`` (horizontal, probability 0.5);
    ``crop_slack`` in [0, 1] limits the ``"affine"`` crop's offset to that fraction of the margin;
    ``brightness``, ``contrast``, ``saturation``, ``hue`` jitter applied with probability
    ``jitter_p``; ``grayscale_p``; ``noise_std`` of the additive Gaussian noise; ``clamp`` to [0, 1].
    Tabular fields: ``noise_std`` (relative to the feature scale), ``mask_prob``, ``feature_scale``.
    """

    crop: tuple[int, int] | None = None
    crop_mode: str = "none"
    padding: int = 0
    resized_scale: tuple[float, float] = (0.2, 1.0)
    degrees: float = 0.0
    scale: tuple[float, float] | None = None
    shear: float = 0.0
    flip: bool = False
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    jitter_p: float = 1.0
    grayscale_p: float = 0.0
    noise_std: float = 0.0
    clamp: bool = True
    mask_prob: float = 0.0
    feature_scale: float | None = None
    crop_slack: float = 1.0


def _center(h: int, w: int, frac: float) -> tuple[int, int]:
    return max(1, round(frac * h)), max(1, round(frac * w))


def preset_config(preset: str, input_shape: Sequence[int]) -> ViewConfig:
    """The ``ViewConfig`` of ``preset`` for inputs of ``input_shape``.

    Example:
        >>> preset_config("mnist", (1, 28, 28)).crop
        (24, 24)
    """
    check_choice("preset", preset, PRESETS)
    if preset == "none":
        return ViewConfig()
    if preset == "tabular":
        return ViewConfig(noise_std=0.1, mask_prob=0.1)
    c, h, w = input_shape
    if preset == "mnist":
        if h < 24 or w < 24:
            raise ValueError(f"input_shape must be at least 24x24 for preset 'mnist'; got {tuple(input_shape)}")
        return ViewConfig(crop=(24, 24), crop_mode="random", degrees=10.0, scale=(0.9, 1.1),
                          shear=5.0, noise_std=0.2)
    if preset == "cifar":
        color = c == 3
        return ViewConfig(crop=(h, w), crop_mode="resized", flip=True, brightness=0.4,
                          contrast=0.4, saturation=0.4 if color else 0.0, hue=0.1 if color else 0.0,
                          jitter_p=0.8, grayscale_p=0.2 if color else 0.0, noise_std=0.02)
    if preset == "digits":
        return ViewConfig(crop=(h, w), crop_mode="random", padding=1, degrees=10.0, noise_std=0.1)
    color = c == 3
    return ViewConfig(crop=_center(h, w, 0.85), crop_mode="random", degrees=5.0, scale=(0.95, 1.05),
                      flip=color, brightness=0.2, contrast=0.2, saturation=0.2 if color else 0.0,
                      hue=0.05 if color else 0.0, jitter_p=0.8, noise_std=0.1)


def scale_strength(cfg: ViewConfig, strength: float, input_shape: Sequence[int] | None = None) -> ViewConfig:
    """Scale every random transform of ``cfg`` by ``strength`` in [0, 1]: the one dial between
    augmentation invariance (1: the preset as defined) and distribution matching (0: no
    augmentation). Rotation, shear, jitter, noise, masking and probabilities scale linearly;
    the affine scale range shrinks towards 1; a random crop's slack (padding, or the margin
    between input and crop) shrinks towards the center crop; a resized crop's area range
    shrinks towards the whole image. The evaluation transform is unchanged.

    Example:
        >>> half = scale_strength(preset_config("mnist", (1, 28, 28)), 0.5, (1, 28, 28))
        >>> half.degrees, half.noise_std, half.scale
        (5.0, 0.1, (0.95, 1.05))
    """
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 <= strength <= 1.0:
        raise ValueError(f"view strength must be a number in [0, 1]; got {strength!r}")
    s = float(strength)
    if s == 1.0:
        return cfg
    changes: dict[str, Any] = {}
    for name in ("degrees", "shear", "brightness", "contrast", "saturation", "hue", "noise_std", "mask_prob",
                 "grayscale_p"):
        changes[name] = getattr(cfg, name) * s
    if cfg.scale is not None:
        lo, hi = cfg.scale
        changes["scale"] = (1.0 - (1.0 - lo) * s, 1.0 + (hi - 1.0) * s)
    changes["padding"] = int(round(cfg.padding * s))
    if cfg.flip and s < 0.5:
        changes["flip"] = False
    lo_area, hi_area = cfg.resized_scale
    changes["resized_scale"] = (1.0 - (1.0 - lo_area) * s, hi_area)
    if cfg.crop_mode == "random" and cfg.crop is not None and input_shape is not None and not cfg.padding:
        _, h, w = input_shape
        if tuple(cfg.crop) != (h, w):
            # same crop size (the encoder's input), offset limited to s times the slack: the
            # crop's offset becomes a continuous translation folded into the affine warp
            changes["crop_mode"] = "affine"
            changes["crop_slack"] = s
    elif cfg.crop_mode == "affine":
        changes["crop_slack"] = cfg.crop_slack * s
    out = replace(cfg, **changes)
    return out


def default_preset(kind: str, input_shape: Sequence[int]) -> str:
    """The preset chosen when ``preset=None``: by kind and input shape.

    Example:
        >>> default_preset("image", (1, 28, 28)), default_preset("image", (3, 32, 32))
        ('mnist', 'cifar')
    """
    if kind == "tabular":
        return "tabular"
    c, h, w = input_shape
    if (c, h, w) == (1, 28, 28):
        return "mnist"
    if c == 3 and (h, w) == (32, 32):
        return "cifar"
    if (h, w) == (8, 8):
        return "digits"
    return "image"


#: Presets that augment only a fraction of the pairs by default (``--view-fraction`` unset); every
#: other preset augments every pair. Measured in BENCHMARKS.md ("Today's defaults"): on the
#: bundled digits a quarter of the pairs keeps a linear probe of 0.94-0.97 at d = 16 and passes
#: three of the battery's four families in most seeds; on MNIST a quarter costs 0.07 of probe
#: (0.86 against 0.935) and passes no more families, so the mnist preset keeps every pair.
VIEW_FRACTIONS: dict[str, float] = {"digits": 0.25}


def default_view_fraction(preset: str) -> float:
    """The fraction of each batch's pairs a preset augments when ``--view-fraction`` is not given.

    Example:
        >>> default_view_fraction("digits"), default_view_fraction("mnist")
        (0.25, 1.0)
    """
    check_choice("preset", preset, PRESETS)
    return VIEW_FRACTIONS.get(preset, 1.0)


def _check_config(cfg: ViewConfig, kind: str, input_shape: tuple[int, ...]) -> None:
    check_choice("crop_mode", cfg.crop_mode, ("none", "random", "affine", "resized"))
    for name in ("degrees", "shear", "brightness", "contrast", "saturation", "noise_std"):
        check_nonnegative(name, getattr(cfg, name))
    check_nonnegative("padding", cfg.padding)
    for name in ("jitter_p", "grayscale_p", "mask_prob"):
        check_probability(name, getattr(cfg, name), open_left=False, open_right=False)
    if not 0 <= cfg.hue <= 0.5:
        raise ValueError(f"hue must lie in [0, 0.5]; got {cfg.hue!r}")
    if cfg.feature_scale is not None:
        check_nonnegative("feature_scale", cfg.feature_scale)
    if kind == "image":
        c, h, w = input_shape
        if c != 3 and (cfg.saturation or cfg.hue or cfg.grayscale_p):
            raise ValueError(
                f"saturation, hue and grayscale_p need 3 channels; got input_shape {input_shape}"
            )
        if cfg.crop is not None:
            ch, cw = cfg.crop
            if not (1 <= ch <= h + 2 * cfg.padding and 1 <= cw <= w + 2 * cfg.padding):
                raise ValueError(f"crop must fit inside the (padded) input {h}x{w}; got {cfg.crop}")
            if cfg.crop_mode == "none" and (ch, cw) != (h, w):
                raise ValueError(f"crop_mode must be 'random', 'affine' or 'resized' when crop differs from the input; got {cfg.crop_mode!r}")
            if cfg.crop_mode == "affine" and (cfg.padding or ch > h or cw > w):
                raise ValueError(f"crop_mode 'affine' needs a crop inside the unpadded input; got crop {cfg.crop}, padding {cfg.padding}")


class CenterCrop(nn.Module):
    """Deterministic center crop by slicing (no resampling): ``(B, C, H, W) -> (B, C, h, w)``.

    Example:
        >>> CenterCrop((28, 28), (24, 24))(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 1, 24, 24])
    """

    def __init__(self, input_hw: tuple[int, int], crop_hw: tuple[int, int]) -> None:
        super().__init__()
        self.top = (input_hw[0] - crop_hw[0]) // 2
        self.left = (input_hw[1] - crop_hw[1]) // 2
        self.crop_hw = crop_hw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.crop_hw
        return x[..., self.top: self.top + h, self.left: self.left + w]


def _build_image_pipeline(cfg: ViewConfig, input_shape: tuple[int, ...]) -> nn.Sequential:
    c, h, w = input_shape
    ops: list[nn.Module] = []
    crop = cfg.crop or (h, w)
    scale = cfg.scale if cfg.scale is not None and cfg.scale != (1.0, 1.0) else None
    affine = bool(cfg.degrees or cfg.shear or scale)

    def warp(src: tuple[int, int], out: tuple[int, int], **where: Any) -> RandomWarp:
        return RandomWarp(src, out, degrees=cfg.degrees, scale=scale, shear=cfg.shear, **where)

    if cfg.crop_mode == "resized":
        ops.append(K.RandomResizedCrop(crop, scale=cfg.resized_scale, p=1.0))
        if affine:
            ops.append(warp(crop, crop))
    elif cfg.crop_mode == "affine" and crop != (h, w):
        # the crop's offset is a continuous translation: one warp, whatever the jitter
        ops.append(warp((h, w), crop, offset="affine", slack=cfg.crop_slack))
    elif cfg.crop_mode == "random" and (cfg.padding or crop != (h, w)):
        if affine:  # the integer window and the jitter in one resampling
            ops.append(warp((h, w), crop, padding=cfg.padding, offset="random"))
        else:  # an exact window, no resampling
            ops.append(K.RandomCrop(crop, padding=cfg.padding or None, p=1.0))
    elif affine:
        ops.append(warp((h, w), (h, w)))
    if cfg.flip:
        ops.append(K.RandomHorizontalFlip(p=0.5))
    if cfg.brightness or cfg.contrast or cfg.saturation or cfg.hue:
        ops.append(K.ColorJitter(brightness=cfg.brightness, contrast=cfg.contrast,
                                 saturation=cfg.saturation, hue=cfg.hue, p=cfg.jitter_p))
    if cfg.grayscale_p:
        ops.append(K.RandomGrayscale(p=cfg.grayscale_p))
    return nn.Sequential(*ops)


class ViewMaker(nn.Module):
    """Makes random views of a batch; ``eval_transform`` gives the clean deterministic input.

    Build it with :func:`make_views`. ``forward`` is random in training and evaluation mode
    alike (views are a data operation, not a layer). See the module docstring for seeding.

    Example:
        >>> import torch
        >>> vm = make_views("tabular", None, (5,), seed=1)
        >>> vm(torch.randn(16, 5)).shape, vm.output_shape
        (torch.Size([16, 5]), (5,))
    """

    def __init__(self, kind: str, input_shape: Sequence[int], config: ViewConfig,
                 preset: str = "none", seed: int | None = None, num_threads: int | None = None) -> None:
        super().__init__()
        check_choice("kind", kind, KINDS)
        self.kind = kind
        self.preset = preset
        self.input_shape = tuple(int(s) for s in input_shape)
        want = 3 if kind == "image" else 1
        if len(self.input_shape) != want or min(self.input_shape) < 1:
            raise ValueError(
                f"input_shape must be {'(C, H, W)' if want == 3 else '(F,)'} for kind {kind!r}; got {tuple(input_shape)}"
            )
        _check_config(config, kind, self.input_shape)
        self.config = config
        self.pipeline = _build_image_pipeline(config, self.input_shape) if kind == "image" else nn.Sequential()
        self.seed = seed
        self._generator: torch.Generator | None = None
        self.reseed(seed)
        if num_threads is not None:
            check_positive_int("num_threads", num_threads)
        self.num_threads = num_threads

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of one view: ``(C, h, w)`` or ``(F,)``."""
        if self.kind == "tabular" or self.config.crop is None:
            return self.input_shape
        return (self.input_shape[0], *self.config.crop)

    def reseed(self, seed: int | None) -> None:
        """Restart the view sequence from ``seed`` (None: use torch's global RNG)."""
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None; got {seed!r}")
        self.seed = seed
        self._generator = None if seed is None else torch.Generator().manual_seed(seed)

    @contextlib.contextmanager
    def _rng(self, x: torch.Tensor, generator: torch.Generator | None) -> Iterator[None]:
        gen = generator if generator is not None else self._generator
        if gen is None:
            yield
            return
        sub_seed = int(torch.randint(0, 2**63 - 1, (1,), generator=gen))
        accel = x.device.type != "cpu"
        devices = [x.device.index or 0] if accel else []
        with torch.random.fork_rng(devices=devices, device_type=x.device.type if accel else "cuda"):
            torch.manual_seed(sub_seed)
            yield

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        if self.num_threads is None or self.num_threads == torch.get_num_threads():
            yield
            return
        previous = torch.get_num_threads()
        torch.set_num_threads(self.num_threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def _check_input(self, x: Any) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise ValueError(f"x must be a floating-point torch.Tensor; got {getattr(x, 'dtype', type(x).__name__)}")
        if tuple(x.shape[1:]) != self.input_shape or x.ndim != len(self.input_shape) + 1:
            raise ValueError(f"x must have shape (B, {', '.join(map(str, self.input_shape))}); got {tuple(x.shape)}")
        return x

    def _tabular(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        out = x
        if cfg.noise_std:
            if cfg.feature_scale is not None:
                spread: torch.Tensor | float = cfg.feature_scale
            elif x.shape[0] > 1:
                spread = x.std(dim=0, unbiased=False, keepdim=True)
            else:
                spread = 1.0
            out = out + cfg.noise_std * spread * torch.randn_like(x)
        if cfg.mask_prob:
            mask = torch.rand_like(x) < cfg.mask_prob
            out = torch.where(mask, x.mean(dim=0, keepdim=True).expand_as(x), out)
        return out

    def _views(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "tabular":
            return self._tabular(x)
        v = self.pipeline(x) if len(self.pipeline) else x
        if self.config.noise_std:
            v = v + self.config.noise_std * torch.randn_like(v)
        if self.config.clamp:
            v = v.clamp(0.0, 1.0)
        return v

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One random view per row of ``x``: ``(B, *input_shape)`` -> ``(B, *output_shape)``."""
        x = self._check_input(x)
        with torch.no_grad(), self._threads(), self._rng(x, generator):
            return self._views(x)

    def pair(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independent views of each row of ``x`` (one batched call on ``2B`` rows)."""
        x = self._check_input(x)
        with torch.no_grad(), self._threads(), self._rng(x, generator):
            v = self._views(torch.cat([x, x]))
        return v[: x.shape[0]], v[x.shape[0]:]

    def eval_transform(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic clean input for embeddings: a center crop to ``output_shape`` (images
        whose views are smaller than the input), otherwise ``x`` itself."""
        x = self._check_input(x)
        if self.kind == "tabular" or self.output_shape == self.input_shape:
            return x
        (_, h, w), (_, ch, cw) = self.input_shape, self.output_shape
        return CenterCrop((h, w), (ch, cw))(x)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, preset={self.preset!r}, input_shape={self.input_shape}, output_shape={self.output_shape}, seed={self.seed}"


def make_views(kind: str, preset: str | None, input_shape: Sequence[int], seed: int | None = None,
               num_threads: int | None = None, strength: float = 1.0, **overrides: Any) -> ViewMaker:
    """Build the :class:`ViewMaker` for ``kind`` (``"image"``/``"tabular"``) and ``preset``.

    ``preset=None`` picks one from the input shape (28x28 grey: ``mnist``, 32x32 colour: ``cifar``,
    8x8: ``digits``, other images: ``image``, tabular: ``tabular``). ``overrides`` replace fields
    of :class:`ViewConfig` (e.g. ``noise_std=0.3``, ``clamp=False``, ``crop=(20, 20)``) after
    the preset is scaled by ``strength`` in [0, 1] (:func:`scale_strength`).
    ``num_threads`` runs the views with that many torch threads (restored afterwards); on a
    contended CPU, one thread avoids the severalfold slow-down of small multi-threaded kernels
    (see BENCHMARKS.md). None leaves torch's setting alone.

    Example:
        >>> vm = make_views("image", None, (1, 8, 8), noise_std=0.05, seed=0)
        >>> vm.preset, vm.config.noise_std, vm.output_shape
        ('digits', 0.05, (1, 8, 8))
    """
    check_choice("kind", kind, KINDS)
    shape = tuple(input_shape)
    if kind == "image" and len(shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W) for kind 'image'; got {shape}")
    if kind == "tabular" and len(shape) != 1:
        raise ValueError(f"input_shape must be (F,) for kind 'tabular'; got {shape}")
    if preset is None:
        preset = default_preset(kind, shape)
    check_choice("preset", preset, PRESETS)
    if kind == "tabular" and preset not in ("tabular", "none"):
        raise ValueError(f"preset must be 'tabular' or 'none' for tabular data; got {preset!r}")
    if kind == "image" and preset == "tabular":
        raise ValueError(f"preset must be an image preset for image data; got {preset!r}")
    cfg = preset_config(preset, shape)
    names = {f.name for f in fields(ViewConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"overrides must be ViewConfig fields ({', '.join(sorted(names))}); got {unknown}")
    if "crop" in overrides and overrides["crop"] is not None:
        crop = overrides["crop"]
        overrides["crop"] = (crop, crop) if isinstance(crop, int) else tuple(crop)
        if "crop_mode" not in overrides and cfg.crop_mode == "none":
            overrides["crop_mode"] = "random"
    cfg = scale_strength(cfg, strength, shape if kind == "image" else None)
    cfg = replace(cfg, **overrides)
    return ViewMaker(kind, shape, cfg, preset=preset, seed=seed, num_threads=num_threads)
