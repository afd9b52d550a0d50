"""An image folder: class subfolders (labels by sorted folder name) or flat (no labels).

Files with an image extension must decode (else an error names the file); files with other
extensions (README, .DS_Store, ...) are skipped, but a folder without any image is an error.
All images must share one size unless ``image_size=(H, W)`` asks for resizing. Grey images give
one channel; any colour image turns the whole set into RGB (3 channels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infomatch.data.dataset import ArrayDataset, image_dataset

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")


def _visible(p: Path) -> list[Path]:
    return [c for c in sorted(p.iterdir()) if not c.name.startswith(".")]


def _read_image(path: Path, size: tuple[int, int] | None):  # -> PIL.Image.Image
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            mode = "L" if im.mode in ("1", "L", "I", "I;16", "F") else "RGB"
            im = im.convert(mode)
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return im
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"{path}: not a readable image ({type(err).__name__}: {err})") from None


def is_image_folder(root: Path) -> bool:
    """True if ``root`` or one of its subfolders holds a file with an image extension."""
    if not root.is_dir():
        return False
    for c in _visible(root):
        if _is_image(c) or (c.is_dir() and any(_is_image(g) for g in c.iterdir())):
            return True
    return False


def load_image_folder(root: str | Path, image_size: tuple[int, int] | None = None) -> ArrayDataset:
    """Load every image under ``root``: class subfolders give labels, a flat folder gives none.

    Example:
        >>> ds = load_image_folder("my_images/")  # doctest: +SKIP
        >>> ds.x.shape, ds.labels  # doctest: +SKIP
        (torch.Size([120, 3, 32, 32]), tensor([0, 0, ..., 2]))
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such directory")
    entries = _visible(root)
    classes = [c for c in entries if c.is_dir()]
    flat = [c for c in entries if _is_image(c)]
    files: list[Path] = []
    labels: list[int] = []
    if classes and not flat:
        for k, c in enumerate(classes):
            imgs = [g for g in _visible(c) if _is_image(g)]
            files += imgs
            labels += [k] * len(imgs)
    else:
        files = flat
    if not files:
        others = [c.name for c in entries][:3]
        raise ValueError(
            f"{root}: no images (looked for {', '.join(IMAGE_EXTENSIONS[:4])}, ...; "
            f"found {len(entries)} other entries{': ' + ', '.join(others) if others else ''})"
        )
    arrays = []
    first = None
    for f in files:
        im = _read_image(f, image_size)
        if first is None:
            first = (f, im.size)
        elif im.size != first[1]:
            raise ValueError(
                f"{f}: size {im.size[0]}x{im.size[1]} differs from {first[0].name} "
                f"({first[1][0]}x{first[1][1]}); resize the images to one size "
                "(or load them with infomatch.data.load_dataset(path, image_size=(H, W)))"
            )
        arrays.append(np.asarray(im))
    if any(a.ndim == 3 for a in arrays):
        arrays = [np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a for a in arrays]
        images = np.stack(arrays).transpose(0, 3, 1, 2)
    else:
        images = np.stack(arrays)[:, None]
    y = np.asarray(labels, dtype=np.int64) if classes and not flat else None
    names = tuple(c.name for c in classes) if y is not None else None
    return image_dataset(images, y, root.name, str(root), classes=names)
