"""The working precision of the layers' statistics: float32 or wider.

Example:
    >>> import torch
    >>> widened(torch.ones(2, dtype=torch.bfloat16)).dtype, widened(torch.ones(2, dtype=torch.float64)).dtype
    (torch.float32, torch.float64)
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["widened"]


def widened(x: Tensor) -> Tensor:
    """``x`` as float32 if it is half precision (float16, bfloat16), otherwise ``x`` itself."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
