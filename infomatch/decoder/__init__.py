"""Decoders from a frozen, distribution-matched representation back to the input: train one,
generate by decoding prior samples, reconstruct given inputs.

Example:
    >>> import torch
    >>> from infomatch.decoder import make_decoder, decode
    >>> dec = make_decoder((1, 8, 8), "image", dim=4)
    >>> x = decode(dec, torch.randn(3, 4))
    >>> x.shape, bool(((x >= 0) & (x <= 1)).all())
    (torch.Size([3, 1, 8, 8]), True)
"""

from infomatch.decoder.fit import DecoderConfig, DecoderResult, decode, fit_decoder, load_decoder
from infomatch.decoder.grid import image_grid, reconstruction_grid
from infomatch.decoder.nets import DeconvDecoder, MLPDecoder, make_decoder
from infomatch.decoder.run import (
    TrainedRun,
    generate_from_run,
    open_run,
    reconstruct_with_run,
    run_decoder,
    sample_prior,
    train_run_decoder,
)

__all__ = [
    "DecoderConfig",
    "DecoderResult",
    "DeconvDecoder",
    "MLPDecoder",
    "TrainedRun",
    "decode",
    "fit_decoder",
    "generate_from_run",
    "image_grid",
    "load_decoder",
    "make_decoder",
    "open_run",
    "reconstruct_with_run",
    "reconstruction_grid",
    "run_decoder",
    "sample_prior",
    "train_run_decoder",
]
