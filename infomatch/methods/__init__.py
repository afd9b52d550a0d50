"""Training objectives beside NINE, on the same encoder, views, batches and evaluation.

``method`` in a training config picks the objective:

- ``nine`` (default): normalize, inject noise, maximize the MI bound (:class:`infomatch.NINE`);
- ``plain``: the same without noise (:mod:`infomatch.methods.plain`);
- ``vicreg``: VICReg (:mod:`infomatch.methods.vicreg`);
- ``sigreg``: InfoNCE + LeJEPA's SIGReg (:mod:`infomatch.methods.sigreg`);
- ``dim-adv``: InfoNCE + DIM's adversarial prior matching (:mod:`infomatch.methods.dim_adv`).

Post-hoc transforms (:mod:`infomatch.methods.posthoc`: PCA whitening, RBIG, a flow) are fitted
after training on a ``plain`` run's embeddings; a sweep names them ``plain+pca``, ``plain+rbig``
and ``plain+flow``.

Example:
    >>> import torch
    >>> from infomatch.model import NINE
    >>> objective = make_objective("sigreg", dim=4, weight=0.5)
    >>> out = objective(NINE(dim=4, sigma=0.0), torch.randn(16, 4), torch.randn(16, 4))
    >>> out.loss.requires_grad, sorted(out.terms)
    (True, ['sigreg'])
"""

from __future__ import annotations

from typing import Any

from torch import nn

from infomatch.methods._common import ObjectiveOutput
from infomatch.methods.posthoc import POSTHOC

__all__ = ["METHODS", "POSTHOC", "POSTHOC_METHODS", "ObjectiveOutput", "make_objective", "split_method"]

METHODS = ("nine", "plain", "vicreg", "sigreg", "dim-adv")
POSTHOC_METHODS = tuple(f"plain+{name}" for name in POSTHOC)


def make_objective(method: str, dim: int, **params: Any) -> nn.Module | None:
    """The objective module of ``method`` (``None`` for ``nine``: the NINE head itself).

    ``params`` are the method's options (e.g. ``weight`` for ``sigreg`` and ``dim-adv``); an
    unknown option is a ``ValueError`` naming it.
    """
    from infomatch.methods.dim_adv import DIMAdversarialObjective
    from infomatch.methods.plain import PlainObjective
    from infomatch.methods.sigreg import SIGRegObjective
    from infomatch.methods.vicreg import VICRegObjective

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if method == "nine" or method == "plain":
        if params:
            raise ValueError(f"method {method!r} takes no method_params; got {sorted(params)}")
        return None if method == "nine" else PlainObjective()
    factory: Any = {"vicreg": VICRegObjective, "sigreg": SIGRegObjective,
                    "dim-adv": lambda **kw: DIMAdversarialObjective(dim, **kw)}[method]
    try:
        return factory(**params)
    except TypeError:
        import inspect

        target = DIMAdversarialObjective if method == "dim-adv" else factory
        known = [p for p in inspect.signature(target).parameters if p != "dim"]
        bad = sorted(set(params) - set(known))
        raise ValueError(f"unknown method_params {bad} for method {method!r} (known: {', '.join(known)})") from None


def split_method(name: str) -> tuple[str, str | None]:
    """``"plain+rbig"`` -> ``("plain", "rbig")``; ``"vicreg"`` -> ``("vicreg", None)``."""
    if name in METHODS:
        return name, None
    if name in POSTHOC_METHODS:
        return "plain", name.split("+", 1)[1]
    raise ValueError(f"method must be one of {', '.join(METHODS + POSTHOC_METHODS)}; got {name!r}")
