"""What :class:`~infomatch.normalize.Normalize` and :class:`~infomatch.whiten.Whiten` share.

Both normalize with the batch's statistics in training and with running statistics in
evaluation, update the running ones with the unbiased second moment, compute in float32 or wider,
refuse a training batch of one row, and squash into [0, 1] in uniform mode. They differ in the
second moment they keep (a variance per coordinate or a covariance matrix) and in how they apply
it; a subclass names its second-moment buffer and provides :meth:`RunningNormalization._identity`,
:meth:`RunningNormalization._batch_stats` and :meth:`RunningNormalization._normalize`. Either
can end with :class:`~infomatch.gaussianize.Gaussianize` (``gaussianize=True``), which maps each
normalized coordinate to N(0, 1) through its empirical CDF, and then with
:class:`~infomatch.radialize.Radialize` (``radialize=True``), which maps each row's norm to the
chi(d) law and keeps its direction, and then with a :class:`~infomatch.whiten.Whiten`
(``final_whiten=True``; Cholesky or ZCA, ``final_whiten_method``) of the stages' output, whose
covariance they leave near but not at ``I``.
Their distributed twins add :class:`~infomatch.distributed.collectives.GlobalBatchStats`.

Example:
    >>> import torch
    >>> from infomatch.normalize import Normalize
    >>> isinstance(Normalize(3), RunningNormalization)
    True
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from infomatch._checks import (
    check_choice,
    check_matrix,
    check_momentum,
    check_positive,
    check_positive_int,
)
from infomatch._precision import widened
from infomatch.gaussianize import Gaussianize
from infomatch.radialize import Radialize

MODES = ("gaussian", "uniform")
SQUASHES = ("ndtr", "sigmoid")


def apply_eval_maps(stages: Iterable[nn.Module], s: Tensor) -> Tensor:
    """``s`` through the evaluation maps (running statistics) of the ``stages``, in order."""
    for stage in stages:
        s = stage._eval_map(s)
    return s


class RunningNormalization(nn.Module):
    """Batch statistics in training, running statistics in evaluation, optional squash.

    Subclasses set ``second_moment`` (the buffer's name) and implement ``_identity`` (the
    second moment of a standardized law), ``_batch_stats`` (mean, *biased* second moment, row
    count; differentiable) and ``_normalize`` (apply a mean and second moment).
    """

    second_moment = ""
    running_mean: Tensor
    num_batches_tracked: Tensor

    def __init__(self, dim: int, mode: str = "gaussian", squash: str = "ndtr",
                 momentum: float | None = 0.1, eps: float = 1e-5, gaussianize: bool = False,
                 radialize: bool = False, final_whiten: bool = False,
                 final_whiten_method: str = "cholesky") -> None:
        super().__init__()
        for name, flag in (("gaussianize", gaussianize), ("radialize", radialize), ("final_whiten", final_whiten)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False; got {flag!r}")
        self.dim = check_positive_int("dim", dim)
        self.mode = check_choice("mode", mode, MODES)
        self.squash = check_choice("squash", squash, SQUASHES)
        self.momentum = check_momentum(momentum)
        self.eps = check_positive("eps", eps)
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer(self.second_moment, self._identity())
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        # optional last stage: each coordinate mapped to N(0, 1) through its empirical CDF
        self.marginal = Gaussianize(dim, momentum=momentum) if gaussianize else None
        # optional stage after it: each row's norm mapped to chi(d), its direction kept
        self.radial = Radialize(dim, momentum=momentum) if radialize else None
        # optional last stage: the stages' output whitened again (they keep each variance at 1 but
        # move the correlations); Cholesky or ZCA, batch statistics in training, running ones in evaluation
        from infomatch.whiten import WHITEN_METHODS, Whiten  # whiten.py builds on this module

        check_choice("final_whiten_method", final_whiten_method, WHITEN_METHODS)
        self.final = Whiten(dim, momentum=momentum, method=final_whiten_method) if final_whiten else None

    def _identity(self) -> Tensor:
        raise NotImplementedError

    def _batch_stats(self, h: Tensor) -> tuple[Tensor, Tensor, int]:
        raise NotImplementedError

    def _normalize(self, work: Tensor, mean: Tensor, second: Tensor) -> Tensor:
        raise NotImplementedError

    def reset_running_stats(self) -> None:
        """Back to mean 0, the identity second moment and no batches tracked."""
        self.running_mean.zero_()
        getattr(self, self.second_moment).copy_(self._identity())
        self.num_batches_tracked.zero_()
        for stage in self.stages():
            stage.reset_running_stats()

    def stages(self) -> list[nn.Module]:
        """The stages that follow the normalization, in order (marginal, radial, final whitening);
        each has ``forward(s, update)``, ``_eval_map(s)``, ``calibrate(s)`` and ``reset_running_stats()``."""
        return [m for m in (self.marginal, self.radial, self.final) if m is not None]

    def stages_eval(self, s: Tensor) -> Tensor:
        """The stages' evaluation maps (running statistics) applied to a normalized ``s``."""
        return apply_eval_maps(self.stages(), s)

    def _update_running(self, mean: Tensor, second: Tensor, count: int) -> None:
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            w = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
            self._move_running(mean, second, count, w)

    def _move_running(self, mean: Tensor, second: Tensor, count: int, weight: float) -> None:
        """Move the running statistics a fraction ``weight`` towards a batch's mean and *unbiased*
        second moment (``second`` is the biased one of ``count`` rows); ``weight = 1`` sets them."""
        running = getattr(self, self.second_moment)
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), weight)
        running.lerp_((second * (count / (count - 1))).to(running.dtype), weight)

    def _running_normalize(self, work: Tensor) -> Tensor:
        """``work`` normalized with the running mean and second moment (the evaluation map)."""
        return self._normalize(work, self.running_mean.to(work.dtype), getattr(self, self.second_moment).to(work.dtype))

    def _normalized(self, h: Tensor, update: bool = True) -> Tensor:
        """The normalized value in the working precision (float32 for half-precision input)."""
        check_matrix("h", h, dim=self.dim)
        work = widened(h)
        if not self.training:
            out = self._running_normalize(work)
        else:
            mean, second, count = self._batch_stats(work)
            if count < 2:
                raise ValueError(f"batch size must be at least 2 in training mode (batch statistics); got {count}")
            if update:
                self._update_running(mean.detach(), second.detach(), count)
            out = self._normalize(work, mean, second)
        return self._rank_stages(out, update) if self.stages() else out

    @torch.no_grad()
    def calibrate(self, h: Tensor) -> None:
        """Set the running statistics from all of ``h (N, d)`` at once: the mean and the *unbiased*
        second moment (over the global batch for the distributed twins), then each stage's from its
        input, ``h`` normalized and passed through the stages before it (the recalibration on clean
        training outputs; also what a stage does when it is a :class:`~infomatch.whiten.Whiten`).

        Example:
            >>> import torch
            >>> from infomatch.whiten import Whiten
            >>> w = Whiten(2)
            >>> w.calibrate(torch.tensor([[1.0, 0.0], [3.0, 2.0], [2.0, 1.0]]))
            >>> w.running_mean.tolist(), w.running_cov.tolist()
            ([2.0, 1.0], [[1.0, 1.0], [1.0, 1.0]])
        """
        check_matrix("h", h, dim=self.dim)
        work = widened(h)
        mean, second, count = self._batch_stats(work)
        if count < 2:
            raise ValueError(f"calibration needs at least 2 rows; got {count}")
        self._move_running(mean, second, count, 1.0)
        self.num_batches_tracked.fill_(1)
        if self.stages():
            s = self._running_normalize(work).to(h.dtype)
            for stage in self.stages():
                stage.calibrate(s)
                s = stage._eval_map(s)

    def _rank_stages(self, s: Tensor, update: bool) -> Tensor:
        """The stages on the normalized batch (the distributed twins run them on the global batch)."""
        for stage in self.stages():
            s = stage(s, update)
        return s

    def standardize(self, h: Tensor, update: bool = True) -> Tensor:
        """The normalized value before any squashing, in ``h``'s dtype."""
        return self._normalized(h, update).to(h.dtype)

    def forward(self, h: Tensor, update: bool = True) -> Tensor:
        """Normalize ``h`` ``(B, d)``; ``update=False`` uses the batch statistics in training
        without updating the running ones."""
        s = self._normalized(h, update)
        if self.mode == "uniform":
            s = torch.special.ndtr(s) if self.squash == "ndtr" else torch.sigmoid(s)
        return s.to(h.dtype)
