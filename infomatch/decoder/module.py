"""The Lightning module that trains a decoder on frozen representations: ``(z, x)`` pairs in,
reconstruction loss out (binary cross-entropy for images, standardized squared error for arrays).

Example:
    >>> m = DecoderModule((1, 8, 8), "image", dim=4)
    >>> sum(p.numel() for p in m.parameters()) > 0
    True
"""

from __future__ import annotations

import lightning as L
import torch

from .nets import make_decoder


class DecoderModule(L.LightningModule):
    """Trains ``make_decoder(input_shape, kind, dim)`` with Adam on ``(z, x)`` batches."""

    def __init__(self, input_shape: tuple[int, ...] | list[int], kind: str, dim: int, lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters({"input_shape": list(input_shape), "kind": kind, "dim": int(dim), "lr": float(lr)})
        self.decoder = make_decoder(tuple(input_shape), kind, int(dim))
        self.lr = float(lr)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decoded inputs (pixels in [0, 1] or features on the data's scale)."""
        return self.decoder.to_output(self.decoder(z))

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        z, x = batch
        return self.decoder.loss(self.decoder(z), x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("loss", loss.detach(), prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.log("val_loss", self._loss(batch), prog_bar=True, on_step=False, on_epoch=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)
