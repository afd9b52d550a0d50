"""The training configuration: one flat, typed, validated record.

A run directory stores the resolved configuration as ``config.yaml``; the CLI builds it from
defaults, an optional YAML file and command-line overrides, in that order.

Example:
    >>> cfg = TrainConfig(dim=8, sigma=1.0)
    >>> cfg = cfg.replace(epochs=5)
    >>> TrainConfig.from_dict(cfg.to_dict()) == cfg
    True
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .._checks import (
    check_choice,
    check_nonnegative,
    check_nonnegative_int,
    check_positive,
    check_positive_int,
    check_probability,
)
from ..advisor import advise_noise
from ..bounds import make_bound
from ..methods import METHODS
from ..model import NORMALIZATIONS
from ..priors import BASES, PRIOR_NAMES

PRIORS = tuple(PRIOR_NAMES)
BOUNDS = ("infonce", "jsd", "dv", "nwj")
CRITICS = ("separable", "bilinear", "concat")
ENCODERS = ("auto", "mlp", "convnet", "resnet18")
VIEWS = ("auto", "mnist", "cifar", "digits", "image", "tabular", "none")
PRECISIONS = ("auto", "32", "bf16")
WHITEN_METHODS = ("cholesky", "zca")
MATCHED_VIEWS = ("clean", "augmented")
LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.

    ``sigma`` is the Gaussian noise std (priors whose base is Gaussian), ``eps`` the half-width
    of the uniform noise (uniform base). The base is ``prior_params["base"]`` when given, else
    ``uniform`` when ``eps`` is given (not for the Gaussian prior), else ``gaussian``: every
    prior, uniform and the inverse-CDF ones included, is learned as a Gaussian representation
    mapped through ``F^{-1}(Phi(.))`` unless asked otherwise (measured in BENCHMARKS.md,
    "Priors through the Gaussian base").
    Leave the one that does not apply as ``None``; the one that applies is chosen by the noise
    advisor (:func:`infomatch.advisor.advise_noise`) so that the capacity is
    ``capacity_fraction`` of ``log(batch_size + queue)``.

    Distribution-matching options (measured in BENCHMARKS.md, "Reaching the prior"):
    ``normalization`` (``whiten``: full-covariance batch whitening; ``standardize``: the
    paper's per-coordinate standardization), ``gaussianize`` (end the normalization by mapping
    each coordinate to N(0, 1) through its empirical CDF, :mod:`infomatch.gaussianize`),
    ``radialize`` (then map each row's norm to the chi(d) law, keeping its direction,
    :mod:`infomatch.radialize`), ``final_whiten`` (then whiten the stages' output again; ``final_whiten_method``: cholesky or zca),
    ``matched_view`` (``clean``: the noised branch
    sees the clean input, so the law that is matched is the law of the embeddings a user
    gets; ``augmented``: both branches see augmented views, the paper's protocol),
    ``view_strength`` (the accuracy / matching dial: 1 keeps the augmentation preset, 0
    removes it), ``view_fraction`` (the dial's second axis: the fraction of each batch's pairs
    whose first view is augmented; the other pairs see the clean input in both branches, so
    the bound is asked to tell that very input from the rest; ``None``, the default, takes the
    views preset's fraction, :func:`~infomatch.data.views.default_view_fraction`: a quarter
    for ``digits``, every pair for the others; 1 is the usual self-supervised recipe),
    ``symmetric`` (score both directions), ``queue`` (past negatives), ``lr_schedule`` /
    ``warmup`` (fraction of the steps) and ``noise_warmup`` (fraction of the steps over which
    the noise grows from 0 to its target).
    ``bound_params`` are options of the bound (``self_weight`` of ``infonce``, see
    :class:`~infomatch.bounds.InfoNCEBound`), as ``critic_params`` are the critic's.
    ``encoder_width`` multiplies every layer width of the encoder
    (:func:`~infomatch.encoders.width_kwargs`; 1 = the encoder's defaults).
    ``method`` picks the objective (:mod:`infomatch.methods`; ``nine`` by default); the other
    methods train without noise (their noise scale resolves to 0) and take ``method_params``.
    """

    data: str = "digits"
    held_out: float = 0.2
    split_seed: int = 0
    encoder: str = "auto"
    encoder_width: float = 1.0
    dim: int = 16
    prior: str = "gaussian"
    prior_params: dict[str, Any] = field(default_factory=dict)
    sigma: float | None = None
    eps: float | None = None
    bound: str = "infonce"
    critic: str = "separable"
    critic_params: dict[str, Any] = field(default_factory=dict)
    bound_params: dict[str, Any] = field(default_factory=dict)
    views: str = "auto"
    view_strength: float = 1.0
    view_fraction: float | None = None
    normalization: str = "whiten"
    whiten_method: str = "cholesky"
    gaussianize: bool | None = None
    radialize: bool | None = None
    final_whiten: bool | None = None
    final_whiten_method: str = "cholesky"
    matched_view: str = "clean"
    symmetric: bool = False
    queue: int = 0
    capacity_fraction: float | None = None
    batch_size: int = 256
    epochs: int = 500
    max_time: float | None = None
    lr: float = 3e-3
    lr_schedule: str = "cosine"
    warmup: float = 0.05
    noise_warmup: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0
    precision: str = "auto"
    compile: bool = False
    threads: int | None = None
    accelerator: str = "cpu"
    devices: int = 1
    num_nodes: int = 1
    recalibrate: bool = True
    tensorboard: bool = False
    progress: str = "auto"
    method: str = "nine"
    method_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and its value."""
        if not isinstance(self.data, str) or not self.data:
            raise ValueError(f"data must be a dataset name or path; got {self.data!r}")
        check_probability("held_out", self.held_out)
        _check_int("split_seed", self.split_seed)
        _check_seed("split_seed", self.split_seed)
        check_choice("encoder", self.encoder, ENCODERS)
        if (isinstance(self.encoder_width, bool) or not isinstance(self.encoder_width, (int, float))
                or not math.isfinite(self.encoder_width) or self.encoder_width <= 0):
            raise ValueError(f"encoder_width must be a positive number; got {self.encoder_width!r}")
        check_positive_int("dim", self.dim)
        check_choice("prior", self.prior, PRIORS)
        if not isinstance(self.prior_params, dict):
            raise ValueError(f"prior_params must be a mapping; got {self.prior_params!r}")
        if "base" in self.prior_params:
            check_choice("base", self.prior_params["base"], BASES)
        if self.sigma is not None:
            check_nonnegative("sigma", self.sigma)
        if self.eps is not None:
            check_nonnegative("eps", self.eps)
        if self.base == "gaussian" and self.eps is not None:
            raise ValueError(f"eps applies to a uniform base; prior {self.prior!r} is learned on the gaussian base here, "
                             f"which takes sigma (got eps={self.eps!r})")
        if self.base == "uniform" and self.sigma is not None:
            raise ValueError(f"sigma applies to a Gaussian base; prior {self.prior!r} is learned on the uniform base here, "
                             f"which takes eps (got sigma={self.sigma!r})")
        check_choice("bound", self.bound, BOUNDS)
        check_choice("critic", self.critic, CRITICS)
        if not isinstance(self.critic_params, dict):
            raise ValueError(f"critic_params must be a mapping; got {self.critic_params!r}")
        if not isinstance(self.bound_params, dict):
            raise ValueError(f"bound_params must be a mapping; got {self.bound_params!r}")
        make_bound(self.bound, **self.bound_params)  # names the first bad option or value
        check_choice("views", self.views, VIEWS)
        for name in ("view_strength", "view_fraction"):  # the dial's two axes
            value = getattr(self, name)
            if name == "view_fraction" and value is None:  # the views preset's own fraction
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}")
        check_choice("normalization", self.normalization, NORMALIZATIONS)
        check_choice("whiten_method", self.whiten_method, WHITEN_METHODS)
        check_choice("final_whiten_method", self.final_whiten_method, WHITEN_METHODS)
        check_choice("matched_view", self.matched_view, MATCHED_VIEWS)
        if self.gaussianize is not None and not isinstance(self.gaussianize, bool):
            raise ValueError(f"gaussianize must be true, false or null (auto); got {self.gaussianize!r}")
        if self.radialize is not None and not isinstance(self.radialize, bool):
            raise ValueError(f"radialize must be true, false or null (auto); got {self.radialize!r}")
        if self.final_whiten is not None and not isinstance(self.final_whiten, bool):
            raise ValueError(f"final_whiten must be true, false or null (auto); got {self.final_whiten!r}")
        if not isinstance(self.symmetric, bool):
            raise ValueError(f"symmetric must be true or false; got {self.symmetric!r}")
        check_nonnegative_int("queue", self.queue)
        if self.capacity_fraction is not None:
            check_probability("capacity_fraction", self.capacity_fraction)
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_probability("warmup", self.warmup, open_left=False)
        check_probability("noise_warmup", self.noise_warmup, open_left=False)
        check_positive_int("batch_size", self.batch_size)
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (a contrastive bound needs negatives); got {self.batch_size!r}")
        check_positive_int("epochs", self.epochs)
        if self.max_time is not None:
            check_positive("max_time", self.max_time)
        check_positive("lr", self.lr)
        check_nonnegative("weight_decay", self.weight_decay)
        _check_int("seed", self.seed)
        _check_seed("seed", self.seed)
        check_choice("precision", str(self.precision), PRECISIONS)
        if not isinstance(self.compile, bool):
            raise ValueError(f"compile must be true or false; got {self.compile!r}")
        if self.threads is not None:
            check_positive_int("threads", self.threads)
        check_choice("accelerator", self.accelerator, ("cpu", "gpu", "cuda", "mps", "auto"))
        check_positive_int("devices", self.devices)
        check_positive_int("num_nodes", self.num_nodes)
        if not isinstance(self.recalibrate, bool):
            raise ValueError(f"recalibrate must be true or false; got {self.recalibrate!r}")
        check_choice("progress", self.progress, ("auto", "bar", "epoch", "none"))
        self._validate_method()

    def _validate_method(self) -> None:
        check_choice("method", self.method, METHODS)
        if not isinstance(self.method_params, dict):
            raise ValueError(f"method_params must be a mapping; got {self.method_params!r}")
        if self.method != "nine":
            for key in ("sigma", "eps"):
                value = getattr(self, key)
                if value not in (None, 0, 0.0):
                    raise ValueError(f"{key} applies to method 'nine'; method {self.method!r} trains without noise (got {key}={value!r})")
        from ..methods import make_objective

        make_objective(self.method, self.dim, **self.method_params)

    # ------------------------------------------------------------------ derived values
    @property
    def base(self) -> str:
        """Which representation the network learns: ``gaussian`` or ``uniform`` (the prior
        parameter ``base`` when given, else ``uniform`` when only ``eps`` is given and the prior
        is not Gaussian, else ``gaussian``)."""
        if "base" in self.prior_params:  # validate() checks prior_params is a mapping before any use of base
            return str(self.prior_params["base"])
        if self.prior == "gaussian":
            return "gaussian"
        return "uniform" if self.eps is not None and self.sigma is None else "gaussian"

    @property
    def negatives(self) -> int:
        """Candidates each row of the bound is scored against: the batch plus the queue."""
        return self.batch_size + self.queue

    @property
    def noise_scale(self) -> float:
        """The resolved noise scale: sigma or eps as given, else the advisor's choice for
        ``capacity_fraction`` of ``log(batch_size + queue)``; 0 for methods other than ``nine``."""
        if self.method != "nine":
            return 0.0
        given = self.sigma if self.base == "gaussian" else self.eps
        if given is not None:
            return float(given)
        return advise_noise(self.base, self.dim, self.negatives, self.capacity_fraction)

    @property
    def uses_gaussianize(self) -> bool:
        """Whether the normalization ends with marginal Gaussianization: as given, else on
        (uniform-base marginals fail without it; for the Gaussian base it comes with the radial
        stage; measured in BENCHMARKS.md, "Marginal Gaussianization" and "Radial Gaussianization")."""
        return True if self.gaussianize is None else self.gaussianize

    @property
    def uses_radialize(self) -> bool:
        """Whether the normalization then maps each row's norm to chi(d): as given, else on for
        the Gaussian base (every prior's default) and off for the uniform base (it breaks its
        uniform marginals; BENCHMARKS.md, "Radial Gaussianization")."""
        return self.base == "gaussian" if self.radialize is None else self.radialize

    @property
    def uses_final_whiten(self) -> bool:
        """Whether the normalization ends by whitening the stages' output again: as given, else off."""
        return False if self.final_whiten is None else self.final_whiten

    def view_fraction_for(self, preset: str) -> float:
        """The fraction of pairs augmented with the views ``preset``: as given, else the preset's.

        Example:
            >>> TrainConfig().view_fraction_for("digits"), TrainConfig(view_fraction=0.5).view_fraction_for("digits")
            (0.25, 0.5)
        """
        from ..data.views import default_view_fraction

        return default_view_fraction(preset) if self.view_fraction is None else float(self.view_fraction)

    def resolved(self) -> TrainConfig:
        """The same config with the noise and stage defaults made explicit (what a run stores)."""
        stages = {"gaussianize": self.uses_gaussianize, "radialize": self.uses_radialize,
                  "final_whiten": self.uses_final_whiten}
        if self.prior != "gaussian":  # the base is stored, so the run's prior can be rebuilt from its name and params
            stages["prior_params"] = {**self.prior_params, "base": self.base}
        if self.base == "gaussian":
            return self.replace(sigma=self.noise_scale, **stages)
        return self.replace(eps=self.noise_scale, **stages)

    # ------------------------------------------------------------------ (de)serialisation
    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied and validated."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, base: TrainConfig | None = None) -> TrainConfig:
        """Build a config from ``values`` on top of ``base``; unknown keys are an error."""
        if not isinstance(values, dict):
            raise ValueError(f"a config must be a mapping of option names to values; got {type(values).__name__}")
        known = set(cls.field_names())
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config key {unknown[0]!r} (known keys: {', '.join(sorted(known))})")
        start = (base or cls()).to_dict()
        start.update(values)
        try:
            return cls(**_coerce(start))
        except TypeError as exc:  # pragma: no cover - dataclass signature errors
            raise ValueError(str(exc)) from None

    @classmethod
    def from_stored(cls, values: dict[str, Any]) -> TrainConfig:
        """The config a run stored (resolved). Runs written before the ``gaussianize``,
        ``radialize`` or ``final_whiten`` option existed trained without it, so a missing key
        means false, not auto; runs written before ``view_fraction`` existed augmented every pair,
        and those written before ``final_whiten_method`` existed whitened with Cholesky."""
        if not isinstance(values, dict):
            raise ValueError(f"a config must be a mapping of option names to values; got {type(values).__name__}")
        return cls.from_dict({"gaussianize": False, "radialize": False, "final_whiten": False, "view_fraction": 1.0,
                              "final_whiten_method": "cholesky", **values})

    @classmethod
    def from_stored_yaml(cls, path: str | Path) -> TrainConfig:
        """:meth:`from_stored` of a run's ``config.yaml``."""
        return cls.from_stored(_read_yaml(path))

    @classmethod
    def from_yaml(cls, path: str | Path, *, base: TrainConfig | None = None) -> TrainConfig:
        """Read a YAML config file (safe loader only)."""
        return cls.from_dict(_read_yaml(path), base=base)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _read_yaml(path: str | Path) -> Any:
    """The mapping in a YAML config file (safe loader only); one-line errors."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"config file {p} is a directory; expected a YAML file")
    if not p.is_file():
        raise FileNotFoundError(f"config file not found: {p}")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise ValueError(f"config file {p} is not UTF-8 text (a binary file?)") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"config file {p} is not valid YAML: {str(exc).splitlines()[0]}") from None


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    return value


def _check_seed(name: str, value: int) -> None:
    if not 0 <= value < 2**32:
        raise ValueError(f"{name} must be an integer in [0, 2**32); got {value!r}")


_FLOATS = {"held_out", "sigma", "eps", "max_time", "lr", "weight_decay", "view_strength", "view_fraction",
           "capacity_fraction", "warmup", "noise_warmup"}
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def number_or_text(value: Any) -> Any:
    """A string that spells a number becomes that number: YAML 1.1 reads ``3e-4`` (no dot) as a string.

    Example:
        >>> number_or_text("3e-4"), number_or_text("5"), number_or_text("gaussian")
        (0.0003, 5, 'gaussian')
    """
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        text = value.strip()
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    return value


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    """Turn YAML ints into floats where a float is expected (``lr: 1`` is fine)."""
    out = dict(values)
    for key in ("prior_params", "critic_params", "bound_params"):
        if isinstance(out.get(key), dict):
            out[key] = {k: number_or_text(v) for k, v in out[key].items()}
    for key in _FLOATS:
        out[key] = v = number_or_text(out.get(key))
        if isinstance(v, int) and not isinstance(v, bool):
            out[key] = float(v)
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{key} must be finite; got {v!r}")
    if isinstance(out.get("precision"), int):
        out["precision"] = str(out["precision"])
    return out
