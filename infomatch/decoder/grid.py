"""Image grids of decoded samples and reconstructions, as arrays and PNG bytes (matplotlib Agg).

Example:
    >>> import numpy as np
    >>> image_grid(np.zeros((6, 1, 8, 8)), cols=3).shape
    (19, 28)
    >>> grid_png(np.zeros((4, 1, 8, 8)))[:4] == b"\\x89PNG"
    True
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np


def _as_images(x: Any) -> np.ndarray:
    arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float32)
    if arr.ndim == 2:  # tabular rows: one image of the matrix itself
        return arr
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape (N, C, H, W) with C in (1, 3); got {arr.shape}")
    return arr


def image_grid(images: Any, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile ``(N, C, H, W)`` images into one ``(rows*(H+pad)+pad, cols*(W+pad)+pad[, 3])`` array;
    padding is white (1.0). ``cols`` defaults to ``ceil(sqrt(N))``."""
    arr = _as_images(images)
    if arr.ndim == 2:
        raise ValueError("image_grid needs images (N, C, H, W); got a 2-D array of rows")
    n, c, h, w = arr.shape
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    out = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.float32)
    for i in range(n):
        r, k = divmod(i, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = \
            arr[i].transpose(1, 2, 0)
    out = np.clip(out, 0.0, 1.0)
    return out[..., 0] if c == 1 else out


def reconstruction_grid(inputs: Any, outputs: Any, cols: int = 8) -> np.ndarray:
    """Rows of ``cols`` inputs, each followed by the row of their reconstructions."""
    a, b = _as_images(inputs), _as_images(outputs)
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"inputs and outputs must be images of one shape; got {a.shape} and {b.shape}")
    blocks = []
    for start in range(0, len(a), cols):
        row_in, row_out = a[start:start + cols], b[start:start + cols]
        if len(row_in) < cols:  # pad the last block with white images
            fill = np.ones((cols - len(row_in), *a.shape[1:]), dtype=np.float32)
            row_in, row_out = np.concatenate([row_in, fill]), np.concatenate([row_out, fill])
        blocks += [row_in, row_out]
    return image_grid(np.concatenate(blocks), cols=cols)


def grid_png(images: Any, *, cols: int | None = None, title: str | None = None, pairs: Any = None,
             scale: float = 0.28) -> bytes:
    """PNG bytes of the grid of ``images`` (or, with ``pairs``, of inputs ``images`` above their
    reconstructions ``pairs``). Tabular rows ``(N, F)`` are drawn as a heat map of the matrix."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    arr = _as_images(images)
    if arr.ndim == 2:
        grid, cmap = (arr if pairs is None else np.concatenate([arr, _as_images(pairs)], axis=1)), "viridis"
    else:
        grid = image_grid(arr, cols) if pairs is None else reconstruction_grid(arr, pairs, cols or 8)
        cmap = "gray"
    h, w = grid.shape[:2]
    fig = Figure(figsize=(max(2.0, min(12.0, w * scale / 3)), max(2.0, min(12.0, h * scale / 3)) + (0.3 if title else 0)),
                 dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98 - (0.3 / fig.get_figheight() if title else 0)))
    ax.imshow(grid, cmap=cmap, vmin=0.0 if cmap == "gray" else None, vmax=1.0 if cmap == "gray" else None,
              interpolation="nearest", aspect="auto" if arr.ndim == 2 else "equal")
    ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9, y=0.995)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
