"""What the hardware does fast: bfloat16 and ``torch.compile`` chosen by capability and measurement.

bfloat16 autocast only pays where the hardware multiplies bfloat16 natively. On a CPU without
bfloat16 instructions oneDNN emulates it and a training step runs several times *slower* than
float32 (see BENCHMARKS.md). The rule used by ``--precision auto`` (the default):

- CUDA: bf16 when ``torch.cuda.is_bf16_supported()``; otherwise float32.
- CPU: bf16 when the CPU has AMX tiles, or AVX512-BF16 *and* torch dispatches AVX-512 kernels
  (``torch.backends.cpu.get_cpu_capability()``) *and* oneDNN is not limited below AVX-512
  (``ONEDNN_MAX_CPU_ISA``); otherwise float32.
- Any other accelerator (MPS): float32.

Everything here is a pure function of a :class:`CPUInfo` (or of flags passed in), so the
decision is testable with the capability mocked, and none of it needs Lightning.

``torch.compile`` speeds up a GPU step but may slow a CPU step; :class:`CompileTrial` times
eager and compiled steps alternately after the compiler's warm-up and keeps the faster one.

Example:
    >>> cpu = CPUInfo(model="some CPU", capability="AVX2", avx512_bf16=False, amx=False)
    >>> choice = resolve_precision("auto", "cpu", cpu=cpu)
    >>> choice.resolved, choice.lightning
    ('32', '32-true')
    >>> resolve_precision("auto", "cpu", cpu=cpu.replace(amx=True, capability="AVX512")).resolved
    'bf16'
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "CPUInfo",
    "adam_options",
    "CompileTrial",
    "PrecisionChoice",
    "cpu_info",
    "cuda_bf16",
    "measure_bf16_ratio",
    "resolve_precision",
]

#: oneDNN ISA names (``ONEDNN_MAX_CPU_ISA``) that still include AVX-512 bfloat16 instructions.
_ONEDNN_BF16_ISAS = ("AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16",
                     "AVX10_1_512", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "AVX10_2_512",
                     "AVX10_2_512_AMX_2", "ALL", "DEFAULT")


@dataclass(frozen=True)
class CPUInfo:
    """The CPU facts the precision decision needs.

    Attributes:
        model: the CPU model name (``/proc/cpuinfo``, else ``platform.processor()``).
        capability: torch's dispatch level, ``torch.backends.cpu.get_cpu_capability()``
            (``DEFAULT``, ``AVX2``, ``AVX512``, ...); ``ATEN_CPU_CAPABILITY`` lowers it.
        avx512_bf16: the CPU has AVX512-BF16 instructions.
        amx: the CPU has AMX tiles (bfloat16 matrix units).
        onednn_max_isa: ``ONEDNN_MAX_CPU_ISA`` (or ``DNNL_MAX_CPU_ISA``) when set.

    Example:
        >>> CPUInfo("x", "AVX512", avx512_bf16=True, amx=False).bf16_native
        True
        >>> CPUInfo("x", "AVX512", True, False, onednn_max_isa="AVX2").bf16_native
        False
    """

    model: str
    capability: str
    avx512_bf16: bool
    amx: bool
    onednn_max_isa: str | None = None

    @property
    def onednn_bf16(self) -> bool:
        """oneDNN may use its bfloat16 kernels (no ``ONEDNN_MAX_CPU_ISA`` below AVX-512 BF16)."""
        return self.onednn_max_isa is None or self.onednn_max_isa.upper() in _ONEDNN_BF16_ISAS

    @property
    def bf16_native(self) -> bool:
        """bfloat16 matrix products run natively (AMX, or AVX512-BF16 with AVX-512 dispatch)."""
        if not self.onednn_bf16:
            return False
        if self.amx:
            return True
        return self.avx512_bf16 and self.capability.upper().startswith("AVX512")

    def describe(self) -> str:
        """One line: model, torch capability and the bfloat16 units found."""
        units = [name for name, ok in (("AMX", self.amx), ("AVX512-BF16", self.avx512_bf16)) if ok]
        text = f"CPU {self.model}, torch capability {self.capability}, "
        text += ("bf16 units: " + " + ".join(units)) if units else "no AVX512-BF16 or AMX"
        if units and not self.bf16_native:
            text += " (not used at this capability)"
        if self.onednn_max_isa:
            text += f", ONEDNN_MAX_CPU_ISA={self.onednn_max_isa}"
        return text

    def replace(self, **changes: Any) -> CPUInfo:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "bf16_native": self.bf16_native}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _torch_flag(name: str) -> bool:
    fn = getattr(torch.cpu, name, None)
    try:
        return bool(fn()) if callable(fn) else False
    except Exception:  # noqa: BLE001 - a missing or failing probe means "not known to be there"
        return False


def cpu_info() -> CPUInfo:
    """The :class:`CPUInfo` of this machine, as torch sees it."""
    return CPUInfo(
        model=_cpu_model(),
        capability=str(torch.backends.cpu.get_cpu_capability()),
        avx512_bf16=_torch_flag("_is_avx512_bf16_supported"),
        amx=_torch_flag("_is_amx_tile_supported"),
        onednn_max_isa=os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or None,
    )


def cuda_bf16() -> bool:
    """CUDA is available and its device supports bfloat16."""
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a run uses and why.

    Attributes:
        requested: what the configuration asked for (``auto``, ``32`` or ``bf16``).
        resolved: what the run uses (``32`` or ``bf16``).
        device: ``cpu``, ``cuda`` or the accelerator name.
        bf16_native: the device multiplies bfloat16 natively.
        reason: one sentence for the start-up line and ``run.json``.
    """

    requested: str
    resolved: str
    device: str
    bf16_native: bool
    reason: str

    @property
    def lightning(self) -> str:
        """Lightning's ``Trainer(precision=...)`` value."""
        return "bf16-mixed" if self.resolved == "bf16" else "32-true"

    @property
    def slow_bf16(self) -> bool:
        """bf16 was asked for explicitly on a device that only emulates it."""
        return self.resolved == "bf16" and not self.bf16_native

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _device(accelerator: str) -> str:
    if accelerator in ("gpu", "cuda"):
        return "cuda"
    if accelerator == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    return accelerator


def resolve_precision(requested: str, accelerator: str = "cpu", *, cpu: CPUInfo | None = None,
                      cuda_bf16_supported: bool | None = None) -> PrecisionChoice:
    """Resolve ``requested`` (``auto``, ``32``, ``bf16``) for ``accelerator``.

    ``cpu`` and ``cuda_bf16_supported`` default to this machine's; pass them to decide for
    another machine (or to test the rule).

    Example:
        >>> avx2 = CPUInfo("EPYC", "AVX2", avx512_bf16=False, amx=False)
        >>> resolve_precision("bf16", "cpu", cpu=avx2).slow_bf16
        True
        >>> resolve_precision("auto", "cuda", cuda_bf16_supported=True).resolved
        'bf16'
    """
    requested = str(requested)
    if requested not in ("auto", "32", "bf16"):
        raise ValueError(f"precision must be one of auto, 32, bf16; got {requested!r}")
    device = _device(accelerator)
    if device == "cuda":
        native = cuda_bf16() if cuda_bf16_supported is None else bool(cuda_bf16_supported)
        facts = "CUDA device " + ("supports bfloat16" if native else "without bfloat16 support")
    elif device == "cpu":
        info = cpu if cpu is not None else cpu_info()
        native = info.bf16_native
        facts = info.describe()
    else:
        native, facts = False, f"{device} device: bfloat16 autocast not used automatically"
    if requested == "auto":
        resolved = "bf16" if native else "32"
        why = "bfloat16 runs natively" if native else "bfloat16 would be emulated (slower than float32)"
        reason = f"auto -> {resolved}: {facts}; {why}"
    else:
        resolved = requested
        reason = f"{requested} as requested: {facts}"
    return PrecisionChoice(requested=requested, resolved=resolved, device=device, bf16_native=native,
                           reason=reason)


def measure_bf16_ratio(repeats: int = 3, batch: int = 256) -> float:
    """bf16-autocast time / float32 time of a small convolution + linear forward on this CPU.

    A few hundred milliseconds; > 1 means bfloat16 is slower here. Used to give the measured
    reason when bf16 is asked for on a CPU without bfloat16 units.

    Example:
        >>> measure_bf16_ratio(repeats=1, batch=8) > 0  # doctest: +SKIP
        True
    """
    gen = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(32, 64, 3)
    lin = torch.nn.Linear(64 * 9 * 9, 128)
    x = torch.rand(batch, 32, 11, 11, generator=gen)

    def run(bf16: bool) -> float:
        t0 = time.perf_counter()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            lin(conv(x).flatten(1))
        return time.perf_counter() - t0

    run(False), run(True)  # warm-up (kernel selection)
    fp32, bf16 = [], []
    for _ in range(max(1, repeats)):  # interleaved, so a load change hits both alike
        fp32.append(run(False))
        bf16.append(run(True))
    return statistics.median(bf16) / statistics.median(fp32)


def adam_options(params: Any) -> dict[str, Any]:
    """Keyword arguments for ``torch.optim.Adam``: ``fused=True`` (one kernel for all
    parameters) when every parameter is a floating-point CPU or CUDA tensor, else none.

    Example:
        >>> adam_options([torch.nn.Parameter(torch.zeros(2))])
        {'fused': True}
    """
    params = list(params)
    ok = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return {"fused": True} if ok else {}


class CompileTrial:
    """Decide between the eager and the compiled module from timed training steps.

    The first ``warmup`` steps run compiled (compilation, recompilation for a new shape); the
    next ``2 * trials`` steps alternate eager and compiled; then the mode with the smaller median
    step time is kept. Call :meth:`mode` before a step and :meth:`record` after it.

    Example:
        >>> trial = CompileTrial(warmup=1, trials=2)
        >>> for t_eager, t_comp in [(None, 9.0), (1.0, 2.0), (1.1, 2.1)]:
        ...     if t_eager is not None:
        ...         _ = trial.record(trial.mode(), t_eager)
        ...     _ = trial.record(trial.mode(), t_comp)
        >>> trial.decided, trial.mode(), round(trial.speedup, 2)
        (True, 'eager', 0.51)
    """

    def __init__(self, warmup: int = 3, trials: int = 3) -> None:
        if warmup < 1 or trials < 1:
            raise ValueError(f"warmup and trials must be >= 1; got warmup={warmup!r}, trials={trials!r}")
        self.warmup, self.trials = warmup, trials
        self.times: dict[str, list[float]] = {"eager": [], "compiled": []}
        self._steps = 0
        self.choice: str | None = None

    @property
    def decided(self) -> bool:
        return self.choice is not None

    def mode(self) -> str:
        """``compiled`` or ``eager``: which module the next step uses."""
        if self.choice is not None:
            return self.choice
        if self._steps < self.warmup:
            return "compiled"
        return "eager" if (self._steps - self.warmup) % 2 == 0 else "compiled"

    def record(self, mode: str, seconds: float) -> str | None:
        """Record the time of a step run in ``mode``; returns the choice once it is made."""
        if self.choice is not None:
            return None
        if self._steps >= self.warmup:
            self.times[mode].append(float(seconds))
        self._steps += 1
        if all(len(v) >= self.trials for v in self.times.values()):
            self.choice = "compiled" if self.speedup > 1.0 else "eager"
            return self.choice
        return None

    @property
    def speedup(self) -> float:
        """Median eager step time / median compiled step time (> 1: compile is faster)."""
        if not all(self.times.values()):
            return float("nan")
        return statistics.median(self.times["eager"]) / statistics.median(self.times["compiled"])

    def note(self) -> str:
        """One line for the log: the measured times and the choice."""
        e, c = (1e3 * statistics.median(self.times[k]) for k in ("eager", "compiled"))
        verdict = "kept" if self.choice == "compiled" else "skipped (slower here)"
        return (f"torch.compile {verdict}: median step {c:.0f} ms compiled vs {e:.0f} ms eager "
                f"over {self.trials} steps each ({self.speedup:.2f}x)")
