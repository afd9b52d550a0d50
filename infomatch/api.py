"""A scikit-learn style estimator around the training engine.

Example:
    >>> import numpy as np
    >>> from infomatch import NINEEstimator
    >>> X = np.random.default_rng(0).normal(size=(600, 10)).astype("float32")
    >>> model = NINEEstimator(dim=4, sigma=1.0, epochs=2, batch_size=128).fit(X)  # doctest: +SKIP
    >>> model.transform(X).shape  # doctest: +SKIP
    (600, 4)
    >>> model.save("model.safetensors"); model2 = load("model.safetensors")  # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from .data import ArrayDataset, load_dataset
from .data.arrays import arrays_to_dataset
from .training.checkpoint import save_weights
from .training.components import Embedder, build_prior, embed_array
from .training.config import TrainConfig


def _as_dataset(X: Any, y: Any = None, *, name: str = "array", min_samples: int = 1) -> ArrayDataset:
    if isinstance(X, ArrayDataset):
        return X
    if isinstance(X, (str, Path)):
        return load_dataset(str(X))
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    # scikit-learn's own checks and messages: sparse, complex, 1-D, empty, too few rows
    X = check_array(X, dtype="numeric", allow_nd=True, ensure_min_samples=min_samples, ensure_all_finite=False)
    if y is not None:
        from sklearn.utils.multiclass import type_of_target

        type_of_target(y, input_name="y", raise_unknown=True)
    return arrays_to_dataset(X, None if y is None else np.asarray(y), name, "X")


# constructor arguments that are TrainConfig fields of the same name
_FIELDS = ("dim", "prior", "sigma", "eps", "prior_params", "bound", "critic", "critic_params", "encoder", "views",
           "batch_size", "epochs", "lr", "weight_decay", "held_out", "seed", "threads")


class NINEEstimator(TransformerMixin, BaseEstimator):
    """Train an encoder whose clean representation follows ``prior``: fit / transform / save.

    A scikit-learn estimator: the constructor only stores its arguments (checked at ``fit``),
    ``get_params`` / ``set_params`` / ``clone`` work, so it fits in a ``Pipeline`` and a
    ``GridSearchCV`` (e.g. over ``sigma``). Arguments are the options of ``infomatch train``
    (see :class:`TrainConfig`, same defaults); any other config field goes in ``options``.
    Learned state ends with ``_``: ``model_`` (the trained :class:`Embedder`), ``config_``,
    ``metrics_``, ``input_shape_``, ``kind_`` and, for 2-D arrays, ``n_features_in_``.

    Example:
        >>> from sklearn.pipeline import make_pipeline
        >>> from sklearn.linear_model import LogisticRegression
        >>> est = NINEEstimator(dim=8, prior="uniform", eps=0.1)
        >>> est.get_params()["prior"]
        'uniform'
        >>> pipe = make_pipeline(NINEEstimator(epochs=5), LogisticRegression())  # doctest: +SKIP
        >>> pipe.set_params(nineestimator__sigma=2.0).fit(X, y).score(X, y)  # doctest: +SKIP
    """

    def __init__(self, dim: int = 16, prior: str = "gaussian", sigma: float | None = None, eps: float | None = None,
                 prior_params: dict[str, Any] | None = None, bound: str = "infonce", critic: str = "separable",
                 critic_params: dict[str, Any] | None = None, encoder: str = "auto", views: str = "auto",
                 batch_size: int = 256, epochs: int = 200, lr: float = 3e-3, weight_decay: float = 0.0,
                 held_out: float = 0.2, seed: int = 0, threads: int | None = None,
                 options: dict[str, Any] | None = None) -> None:
        self.dim, self.prior, self.sigma, self.eps = dim, prior, sigma, eps
        self.prior_params, self.bound, self.critic, self.critic_params = prior_params, bound, critic, critic_params
        self.encoder, self.views, self.batch_size, self.epochs = encoder, views, batch_size, epochs
        self.lr, self.weight_decay, self.held_out, self.seed, self.threads = lr, weight_decay, held_out, seed, threads
        self.options = options

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = ["float32"]  # representations are float32
        return tags

    def _config(self, data: str = "array") -> TrainConfig:
        values: dict[str, Any] = {k: getattr(self, k) for k in _FIELDS}
        values["prior_params"] = dict(self.prior_params or {})
        values["critic_params"] = dict(self.critic_params or {})
        values.update({"data": data, "progress": "none", **(self.options or {})})
        return TrainConfig.from_dict(values)

    def fit(self, X: Any, y: Any = None, *, run_dir: str | Path | None = None) -> NINEEstimator:
        """Train on ``X``: an array ``(N, F)`` / ``(N, H, W)`` / ``(N, C, H, W)``, an
        :class:`ArrayDataset`, or a dataset spec (``"digits"``, a path). ``y`` is only used for
        the final linear-probe figure. ``run_dir`` keeps the run directory (else a temporary one)."""
        from .training.engine import train

        cfg = self._config()  # bad arguments fail here, naming the value
        ds = _as_dataset(X, y, min_samples=4)
        cfg = cfg.replace(data=str(X) if isinstance(X, (str, Path)) else ds.name)
        tmp = None if run_dir is not None else tempfile.mkdtemp(prefix="infomatch-")
        try:
            result = train(cfg, run_dir or Path(tmp) / "run", dataset=ds, log=lambda msg: None)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        self.model_: Embedder = result.model.eval()
        self.config_ = cfg.resolved()
        self.metrics_ = result.metrics
        self.input_shape_, self.kind_ = tuple(ds.input_shape), ds.kind
        if ds.kind == "tabular":
            self.n_features_in_ = int(ds.input_shape[0])
        return self

    def _check_fitted(self) -> None:
        check_is_fitted(self, "model_")  # NotFittedError (a ValueError) naming the estimator

    def transform(self, X: Any, *, space: str = "prior") -> np.ndarray:
        """Clean representations of ``X`` (no noise): in the prior's space, or ``space="representation"``."""
        self._check_fitted()
        if space not in ("prior", "representation"):
            raise ValueError(f"space must be 'prior' or 'representation'; got {space!r}")
        ds = _as_dataset(X)
        if ds.kind == "tabular" and hasattr(self, "n_features_in_") and ds.input_shape[0] != self.n_features_in_:
            raise ValueError(f"X has {ds.input_shape[0]} features, but NINEEstimator is expecting "
                             f"{self.n_features_in_} features as input (X has inputs of shape {tuple(ds.input_shape)})")
        if tuple(ds.input_shape) != tuple(self.input_shape_):
            raise ValueError(f"X has inputs of shape {tuple(ds.input_shape)}; the model was fitted on {self.input_shape_}")
        z = embed_array(self.model_, ds.x)
        if space == "prior":
            z = build_prior(self.config_).from_representation(z)
        return z.numpy().astype(np.float32)

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        return self.fit(X, y, **fit_params).transform(X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``nineestimator0 .. nineestimator{dim-1}``: the representation's coordinates."""
        self._check_fitted()
        return np.asarray([f"nineestimator{i}" for i in range(self.config_.dim)], dtype=object)

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """Draw ``n`` points from the prior the representation was trained to follow."""
        self._check_fitted()
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        return build_prior(self.config_).sample(n, self.config_.dim, generator=g).numpy()

    def save(self, path: str | Path) -> None:
        """Write weights and config to one ``.safetensors`` file (no pickle)."""
        self._check_fitted()
        meta = {"config": self.config_.to_dict(), "input_shape": list(self.input_shape_), "kind": self.kind_}
        save_weights(path, self.model_.state_dict(), meta)

    def export_encoder(self, path: str | Path) -> None:
        """Save encoder + normalization as a ``torch.export`` program: ``torch.export.load(path).module()``."""
        from .training.engine import export_encoder

        self._check_fitted()
        example = torch.zeros((2, *self.input_shape_))
        if not export_encoder(self.model_, example, path):
            raise ValueError(f"the encoder could not be exported to {path}")

    # ---------------------------------------------------------------- generation (decoder)
    def fit_decoder(self, X: Any, *, epochs: int = 40, batch_size: int = 256, lr: float = 1e-3, seed: int = 0,
                    held_out: float = 0.1, out: str | Path | None = None) -> NINEEstimator:
        """Train a decoder from the frozen representation of ``X`` back to ``X`` (learned state:
        ``decoder_``, ``decoder_metrics_``). A seeded ``held_out`` fraction picks the best
        checkpoint; ``out`` keeps the decoder folder (checkpoints, weights), else a temporary one.

        Example:
            >>> est = NINEEstimator(dim=4, epochs=2).fit("digits")  # doctest: +SKIP
            >>> est.fit_decoder("digits", epochs=5).generate(16, seed=0).shape  # doctest: +SKIP
            (16, 1, 8, 8)
        """
        from .data.split import split_indices
        from .decoder import DecoderConfig, fit_decoder

        self._check_fitted()
        ds = _as_dataset(X)
        if tuple(ds.input_shape) != tuple(self.input_shape_):
            raise ValueError(f"X has inputs of shape {tuple(ds.input_shape)}; the model was fitted on {self.input_shape_}")
        cfg = DecoderConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
        tr_idx, val_idx = split_indices(len(ds), held_out=held_out, seed=seed)
        z = torch.from_numpy(self.transform(ds))
        tmp = None if out is not None else tempfile.mkdtemp(prefix="infomatch-decoder-")
        try:
            res = fit_decoder(z[tr_idx], ds.x[tr_idx], z[val_idx], ds.x[val_idx], ds.kind, cfg,
                              out if out is not None else Path(tmp) / "decoder")
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        self.decoder_, self.decoder_metrics_ = res.decoder, res.metrics
        return self

    def _check_decoder(self) -> None:
        self._check_fitted()
        if not hasattr(self, "decoder_"):
            raise ValueError("this NINEEstimator has no decoder yet; call fit_decoder(X) first")

    def generate(self, n: int, seed: int | None = None) -> np.ndarray:
        """Decode ``n`` draws from the prior: images ``(n, C, H, W)`` in [0, 1] or rows ``(n, F)``."""
        from .decoder import decode, sample_prior

        self._check_decoder()
        return decode(self.decoder_, sample_prior(build_prior(self.config_), n, self.config_.dim, seed)).numpy()

    def reconstruct(self, X: Any) -> np.ndarray:
        """Decode the representations of ``X`` (the conditional use: input -> f(x) -> decoder)."""
        from .decoder import decode

        self._check_decoder()
        return decode(self.decoder_, torch.from_numpy(self.transform(X))).numpy()


def load(path: str | Path) -> NINEEstimator:
    """Load an estimator saved by :meth:`NINEEstimator.save` or a run's ``model.safetensors``."""
    from .training.engine import load_model

    cfg, model, meta = load_model(path)
    d = cfg.to_dict()
    rest = {k: v for k, v in d.items() if k not in _FIELDS and k not in ("data", "progress")}
    est = NINEEstimator(**{k: d[k] for k in _FIELDS}, options=rest or None)
    est.model_, est.config_, est.metrics_ = model, cfg, {}
    est.input_shape_, est.kind_ = tuple(meta["input_shape"]), meta["kind"]
    return est
