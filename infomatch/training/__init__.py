"""Training engine (Lightning): configuration, run directories, checkpoints.

Example:
    >>> from infomatch.training import TrainConfig
    >>> TrainConfig(dim=8).dim
    8
"""

from .config import TrainConfig

__all__ = ["TrainConfig", "train", "load_model"]


def __getattr__(name: str):  # lazy: importing the config must not import Lightning
    if name in ("train", "load_model", "TrainResult"):
        from . import engine

        return getattr(engine, name)
    raise AttributeError(name)
