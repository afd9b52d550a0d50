"""Precision and compile decisions: the capability mocked both ways, and end to end in a run."""

from __future__ import annotations

import json

import pytest
import torch

from infomatch.training import hardware
from infomatch.training.hardware import (
    CompileTrial,
    CPUInfo,
    adam_options,
    cpu_info,
    measure_bf16_ratio,
    resolve_precision,
)

AVX2 = CPUInfo(model="AMD EPYC 7B12", capability="AVX2", avx512_bf16=False, amx=False)
ZEN4 = CPUInfo(model="AMD EPYC 9B14", capability="AVX512", avx512_bf16=True, amx=False)
SPR = CPUInfo(model="Intel Xeon Platinum 8481C", capability="AVX512", avx512_bf16=True, amx=True)


@pytest.mark.parametrize(
    ("cpu", "native"),
    [
        (AVX2, False),
        (ZEN4, True),
        (SPR, True),
        # AVX512-BF16 present, but torch dispatches AVX2 kernels (ATEN_CPU_CAPABILITY=avx2)
        (ZEN4.replace(capability="AVX2"), False),
        # oneDNN limited below its bf16 ISA (ONEDNN_MAX_CPU_ISA=AVX2): emulated, even with AMX
        (SPR.replace(onednn_max_isa="AVX2"), False),
        (ZEN4.replace(onednn_max_isa="avx512_core_bf16"), True),
        (CPUInfo("old", "DEFAULT", False, False), False),
    ],
)
def test_bf16_native_rule(cpu: CPUInfo, native: bool) -> None:
    assert cpu.bf16_native is native
    choice = resolve_precision("auto", "cpu", cpu=cpu)
    assert choice.resolved == ("bf16" if native else "32")
    assert choice.lightning == ("bf16-mixed" if native else "32-true")
    assert choice.bf16_native is native and choice.requested == "auto" and choice.device == "cpu"
    assert cpu.capability in choice.reason and cpu.model in choice.reason
    assert ("emulated" in choice.reason) is (not native)


def test_explicit_choices_are_kept_and_flag_slow_bf16() -> None:
    slow = resolve_precision("bf16", "cpu", cpu=AVX2)
    assert slow.resolved == "bf16" and slow.slow_bf16 and "as requested" in slow.reason
    assert not resolve_precision("bf16", "cpu", cpu=SPR).slow_bf16
    for cpu in (AVX2, SPR):
        fp32 = resolve_precision("32", "cpu", cpu=cpu)
        assert fp32.resolved == "32" and not fp32.slow_bf16 and fp32.lightning == "32-true"


@pytest.mark.parametrize("supported", [True, False])
def test_cuda_rule(supported: bool) -> None:
    for acc in ("gpu", "cuda"):
        choice = resolve_precision("auto", acc, cpu=AVX2, cuda_bf16_supported=supported)
        assert choice.device == "cuda" and choice.resolved == ("bf16" if supported else "32")


def test_bad_precision_is_named() -> None:
    with pytest.raises(ValueError, match="precision must be one of auto, 32, bf16; got '16'"):
        resolve_precision("16", "cpu", cpu=AVX2)


def test_cpu_info_reads_torch_both_ways(monkeypatch) -> None:
    """cpu_info() follows torch's probes and oneDNN's ISA limit (mocked both ways)."""
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    for bf16, amx, cap, native in ((True, False, "AVX512", True), (False, False, "AVX2", False),
                                   (False, True, "AVX512", True), (True, False, "AVX2", False)):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=bf16: v)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda v=cap: v)
        info = cpu_info()
        assert (info.avx512_bf16, info.amx, info.capability) == (bf16, amx, cap)
        assert info.bf16_native is native
        assert info.to_dict()["bf16_native"] is native
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert cpu_info().onednn_max_isa == "AVX2" and not cpu_info().bf16_native


def test_cpu_info_survives_missing_probe(monkeypatch) -> None:
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: (_ for _ in ()).throw(RuntimeError("x")))
    info = cpu_info()
    assert info.amx is False and info.avx512_bf16 is False


def test_measure_bf16_ratio_is_a_positive_ratio() -> None:
    r = measure_bf16_ratio(repeats=1, batch=4)
    assert 0 < r < float("inf")


def test_adam_options() -> None:
    assert adam_options([torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))]) == {"fused": True}
    assert adam_options([]) == {}


def test_fused_adam_matches_foreach_adam() -> None:
    """The fused optimizer the trainer now uses takes the same steps as the default one."""
    torch.manual_seed(0)
    a = torch.nn.Linear(5, 3).double()
    b = torch.nn.Linear(5, 3).double()
    b.load_state_dict(a.state_dict())
    oa = torch.optim.Adam(a.parameters(), lr=1e-2, weight_decay=1e-3)
    ob = torch.optim.Adam(b.parameters(), lr=1e-2, weight_decay=1e-3, **adam_options(b.parameters()))
    x = torch.randn(16, 5, dtype=torch.float64)
    for _ in range(20):
        for m, o in ((a, oa), (b, ob)):
            o.zero_grad()
            m(x).square().sum().backward()
            o.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-10, atol=1e-12)


def _feed(trial: CompileTrial, eager: float, compiled: float, warm: float = 30.0) -> list[str]:
    modes = []
    while not trial.decided:
        mode = trial.mode()
        modes.append(mode)
        steps = len(modes)
        t = warm if steps <= trial.warmup else (eager if mode == "eager" else compiled)
        trial.record(mode, t)
    return modes


@pytest.mark.parametrize(("eager", "compiled", "choice"), [(1.0, 0.6, "compiled"), (0.4, 0.5, "eager")])
def test_compile_trial_keeps_the_faster(eager: float, compiled: float, choice: str) -> None:
    trial = CompileTrial(warmup=2, trials=3)
    modes = _feed(trial, eager, compiled)
    # warm-up steps compiled and not timed, then alternating eager / compiled
    assert modes == ["compiled", "compiled", "eager", "compiled", "eager", "compiled", "eager", "compiled"]
    assert trial.choice == choice and trial.mode() == choice
    assert trial.speedup == pytest.approx(eager / compiled)
    assert ("kept" in trial.note()) is (choice == "compiled")
    assert trial.record("eager", 1.0) is None  # decided: later steps are not recorded
    assert len(trial.times["eager"]) == 3


def test_compile_trial_validates() -> None:
    with pytest.raises(ValueError, match="warmup=0"):
        CompileTrial(warmup=0)


@pytest.mark.parametrize(("cpu", "expected"), [(AVX2, "32"), (ZEN4, "bf16")])
def test_train_default_precision_follows_capability(tmp_path, monkeypatch, cpu: CPUInfo, expected: str) -> None:
    """`infomatch train` with no precision option: the mocked capability decides, the start-up
    line says why, run.json records the choice and the CPU."""
    from infomatch.training import TrainConfig
    from infomatch.training.engine import train

    monkeypatch.setattr(hardware, "cpu_info", lambda: cpu)
    lines: list[str] = []
    cfg = TrainConfig(dim=4, epochs=1, batch_size=256, progress="none")
    assert cfg.precision == "auto"
    result = train(cfg, tmp_path / "run", log=lines.append)
    start = [m for m in lines if m.startswith("precision:")]
    assert start == [f"precision: {expected} ({resolve_precision('auto', 'cpu', cpu=cpu).reason})"]
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["precision"]["resolved"] == expected and info["precision"]["requested"] == "auto"
    assert info["cpu"]["model"] == cpu.model and info["cpu"]["capability"] == cpu.capability
    assert info["cpu"]["bf16_native"] is cpu.bf16_native
    assert not any("warning" in m and "bfloat16" in m for m in lines)


def test_explicit_bf16_without_units_warns_once_with_measurement(tmp_path, monkeypatch) -> None:
    from infomatch.training import TrainConfig
    from infomatch.training.engine import train

    monkeypatch.setattr(hardware, "cpu_info", lambda: AVX2)
    monkeypatch.setattr("infomatch.training.engine.measure_bf16_ratio", lambda: 7.8)
    lines: list[str] = []
    train(TrainConfig(dim=4, epochs=1, batch_size=256, progress="none", precision="bf16"), tmp_path / "r",
          log=lines.append)
    warnings = [m for m in lines if "bfloat16" in m and m.startswith("warning")]
    assert len(warnings) == 1 and "7.8x the float32 time" in warnings[0] and "without native bfloat16" in warnings[0]
    assert json.loads((tmp_path / "r" / "run.json").read_text())["precision"]["resolved"] == "bf16"
