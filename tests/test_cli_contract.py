"""The CLI contract under bad input, table-driven: every case exits 2 with exactly one line
``infomatch: error: ...`` naming the problem, prints no traceback, and leaves every file that
existed before byte-for-byte unchanged (and creates none)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from infomatch.cli import main
from infomatch.training.config import TrainConfig
from infomatch.training.rundir import RunLock


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with the hash of its bytes (directories as 'dir')."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_fifo():
            out[rel] = "fifo"
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace: a finished tiny run, copies of it in broken states, and bad input files."""
    from infomatch.training.engine import train

    root = tmp_path_factory.mktemp("ws")
    run = root / "run"
    train(TrainConfig(data="digits", dim=2, epochs=1, batch_size=128, progress="none", threads=1), run,
          log=lambda msg: None)
    (run / ".lock").unlink()  # a finished run, nobody training in it

    def broken(name: str, status: str = "interrupted") -> Path:
        d = root / name
        shutil.copytree(run, d, ignore=shutil.ignore_patterns("model.safetensors", "metrics.json", "embeddings"))
        payload = json.loads((d / "run.json").read_text())
        payload["status"] = status
        (d / "run.json").write_text(json.dumps(payload))
        return d

    ckpt = (run / "checkpoints" / "last.ckpt").read_bytes()
    (broken("trunc") / "checkpoints" / "last.ckpt").write_bytes(ckpt[: len(ckpt) // 2])
    (broken("empty") / "checkpoints" / "last.ckpt").write_bytes(b"")
    (broken("textckpt") / "checkpoints" / "last.ckpt").write_text("epoch: 3\n")
    badcfg = root / "badcfg"
    shutil.copytree(run, badcfg)
    (badcfg / "config.yaml").write_text("prior: [gaussian\n  dim: : 2\n")

    rng = np.random.default_rng(0)
    np.save(root / "z.npy", rng.standard_normal((200, 2)).astype(np.float32))
    np.save(root / "y.npy", rng.integers(0, 2, 200))
    np.save(root / "y_short.npy", rng.integers(0, 2, 10))
    np.save(root / "z_nan.npy", np.full((50, 2), np.nan))
    np.save(root / "one_row.npy", rng.standard_normal((1, 5)))
    np.save(root / "constant.npy", np.ones((300, 5)))
    np.save(root / "huge.npy", rng.standard_normal((300, 5)) * 1e30)
    np.save(root / "nan_data.npy", np.where(rng.random((300, 5)) < 0.01, np.nan, 1.0))
    np.save(root / "strings.npy", np.array([["a", "b"]] * 10))
    np.save(root / "rank1.npy", rng.standard_normal(300))
    np.save(root / "tab.npy", rng.standard_normal((300, 5)).astype(np.float32))
    np.savez(root / "good.npz", x=rng.standard_normal((300, 5)))
    (root / "corrupt.npz").write_bytes((root / "good.npz").read_bytes()[:100])
    (root / "notes.txt").write_text("plain text\n")
    (root / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (root / "broken.yaml").write_text("dim: [4\nsigma: 1\n")
    (root / "list.yaml").write_text("- dim\n- 4\n")
    (root / "unknown.yaml").write_text("dim: 4\nnot_an_option: 3\n")
    (root / "badlr.yaml").write_text("lr: fast\n")
    (root / "cfgdir").mkdir()
    (root / "emptydir").mkdir()
    (root / "foreign").mkdir()
    (root / "foreign" / "keep.txt").write_text("keep me")
    (root / "existing.json").write_text("{}\n")
    (root / "existing.npy").write_bytes((root / "z.npy").read_bytes())
    (root / "dir.npy").mkdir()
    (root / "dir.html").mkdir()
    os.mkfifo(root / "fifo.json")
    try:
        from PIL import Image

        mixed = root / "mixed"
        mixed.mkdir()
        Image.new("L", (8, 8)).save(mixed / "a.png")
        Image.new("L", (9, 7)).save(mixed / "b.png")
    except ImportError:  # pragma: no cover - Pillow is a dependency
        pass
    return root


TB = importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None
NEW = "{ws}/new_out"  # a train --out that must not be created
T = ["train", "--out", NEW, "--epochs", "1", "--progress", "none"]

# (id, argv, text the one line must contain)
CASES: list[tuple[str, list[str], str]] = [
    # train: options
    ("data-missing", [*T, "--data", "/nonexistent/data"], "/nonexistent/data"),
    ("unknown-option", [*T, "--no-such-option"], "--no-such-option"),
    ("sigma-negative", [*T, "--sigma", "-1"], "sigma"),
    ("dim-zero", [*T, "--dim", "0"], "dim"),
    ("dim-huge", [*T, "--dim", "100000"], "100000"),
    ("batch-zero", [*T, "--batch-size", "0"], "batch_size"),
    ("batch-one", [*T, "--batch-size", "1"], "batch_size"),
    ("batch-too-large", [*T, "--batch-size", "5000"], "5000"),
    ("epochs-text", [*T, "--epochs", "abc"], "--epochs"),
    ("epochs-zero", [*T, "--epochs", "0"], "epochs"),
    ("prior-unknown", [*T, "--prior", "cauchy"], "cauchy"),
    ("seed-negative", [*T, "--seed", "-1"], "seed must be"),
    ("split-seed-negative", [*T, "--split-seed", "-1"], "split_seed"),
    ("held-out-above-1", [*T, "--held-out", "1.5"], "held_out"),
    ("held-out-zero", [*T, "--held-out", "0"], "held_out"),
    ("lr-zero", [*T, "--lr", "0"], "lr"),
    ("lr-text", [*T, "--lr", "fast"], "--lr"),
    ("weight-decay-negative", [*T, "--weight-decay", "-1"], "weight_decay"),
    ("max-time-zero", [*T, "--max-time", "0"], "max_time"),
    ("eps-with-gaussian", [*T, "--eps", "0.1"], "eps"),
    ("sigma-with-uniform", [*T, "--prior", "uniform", "--prior-param", "base=uniform", "--sigma", "1"], "sigma"),
    ("eps-with-gaussian-base", [*T, "--prior", "laplace", "--prior-param", "base=gaussian", "--eps", "0.3"], "eps=0.3"),
    ("encoder-width-zero", [*T, "--encoder-width", "0"], "encoder_width must be a positive number; got 0.0"),
    ("view-fraction-above-one", [*T, "--view-fraction", "1.5"], "view_fraction must be a number in [0, 1]; got 1.5"),
    ("prior-param-no-equals", [*T, "--prior-param", "df"], "KEY=VALUE"),
    ("prior-param-bad-value", [*T, "--prior", "student_t", "--prior-param", "df=-1"], "df"),
    ("prior-param-unknown", [*T, "--prior-param", "bogus=3"], "bogus"),
    ("critic-param-unknown", [*T, "--critic-param", "bogus=1"], "bogus"),
    ("critic-param-negative", [*T, "--critic-param", "temperature=-1"], "temperature"),
    ("views-encoder-mismatch", [*T, "--encoder", "resnet18", "--views", "tabular"], "tabular"),
    ("views-too-small", [*T, "--views", "mnist"], "mnist"),
    ("accelerator-gpu", [*T, "--accelerator", "gpu"], "gpu"),
    ("accelerator-mps", [*T, "--accelerator", "mps"], "mps"),
    ("accelerator-unknown", [*T, "--accelerator", "tpu"], "tpu"),
    ("num-nodes-without-launcher", [*T, "--num-nodes", "2"], "num_nodes"),
    ("devices-zero", [*T, "--devices", "0"], "devices"),
    ("threads-zero", [*T, "--threads", "0"], "threads"),
    ("precision-unknown", [*T, "--precision", "16"], "precision"),
    # train: config files
    ("config-missing", [*T, "--config", "{ws}/missing.yaml"], "missing.yaml"),
    ("config-folder", [*T, "--config", "{ws}/cfgdir"], "directory"),
    ("config-binary", [*T, "--config", "{ws}/binary.yaml"], "binary.yaml"),
    ("config-broken-yaml", [*T, "--config", "{ws}/broken.yaml"], "broken.yaml"),
    ("config-not-mapping", [*T, "--config", "{ws}/list.yaml"], "mapping"),
    ("config-unknown-key", [*T, "--config", "{ws}/unknown.yaml"], "not_an_option"),
    ("config-lr-text", [*T, "--config", "{ws}/badlr.yaml"], "lr"),
    # train: data
    ("data-corrupt-npz", [*T, "--data", "{ws}/corrupt.npz"], "corrupt.npz"),
    ("data-text-file", [*T, "--data", "{ws}/notes.txt"], "notes.txt"),
    ("data-one-row", [*T, "--data", "{ws}/one_row.npy"], "1 example"),
    ("data-constant", [*T, "--data", "{ws}/constant.npy"], "identical"),
    ("data-huge-values", [*T, "--data", "{ws}/huge.npy"], "rescale"),
    ("data-nan", [*T, "--data", "{ws}/nan_data.npy"], "NaN"),
    ("data-strings", [*T, "--data", "{ws}/strings.npy"], "numeric"),
    ("data-rank-1", [*T, "--data", "{ws}/rank1.npy"], "rank"),
    ("data-empty-folder", [*T, "--data", "{ws}/emptydir"], "emptydir"),
    ("data-mixed-image-sizes", [*T, "--data", "{ws}/mixed"], "resize the images"),
    # train: the output directory
    ("out-is-a-file", ["train", "--out", "{ws}/notes.txt", "--epochs", "1"], "not a directory"),
    ("out-foreign-folder", ["train", "--out", "{ws}/foreign", "--epochs", "1"], "not empty"),
    ("out-holds-a-run", ["train", "--out", "{ws}/run", "--epochs", "1"], "already holds a run"),
    ("resume-without-out", ["train", "--resume"], "--out"),
    ("resume-no-run", ["train", "--resume", "--out", "{ws}/emptydir"], "no run"),
    ("resume-finished", ["train", "--resume", "--out", "{ws}/run"], "finished"),
    ("resume-other-config", ["train", "--resume", "--out", "{ws}/trunc", "--dim", "8"], "different config"),
    ("resume-truncated-ckpt", ["train", "--resume", "--out", "{ws}/trunc"], "last.ckpt"),
    ("resume-empty-ckpt", ["train", "--resume", "--out", "{ws}/empty"], "empty"),
    ("resume-text-ckpt", ["train", "--resume", "--out", "{ws}/textckpt"], "not a PyTorch checkpoint"),
    # embed
    ("embed-no-run", ["embed", "/nonexistent/run", "--out", "{ws}/e.npy"], "/nonexistent/run"),
    ("embed-out-not-npy", ["embed", "{ws}/run", "--out", "{ws}/e.txt"], ".npy"),
    ("embed-out-exists", ["embed", "{ws}/run", "--out", "{ws}/existing.npy"], "--force"),
    ("embed-out-is-run-file", ["embed", "{ws}/run", "--out", "{ws}/run/embeddings/train.npy", "--force"], "inputs"),
    ("embed-out-is-folder", ["embed", "{ws}/run", "--out", "{ws}/dir.npy", "--force"], "directory"),
    ("embed-out-parent-missing", ["embed", "{ws}/run", "--out", "{ws}/nope/e.npy"], "does not exist"),
    ("embed-data-corrupt", ["embed", "{ws}/run", "--data", "{ws}/corrupt.npz", "--out", "{ws}/e.npy"], "corrupt.npz"),
    ("embed-data-other-shape", ["embed", "{ws}/run", "--data", "{ws}/tab.npy", "--out", "{ws}/e.npy"], "shape"),
    ("embed-text-ckpt", ["embed", "{ws}/run", "--checkpoint", "{ws}/notes.txt", "--out", "{ws}/e.npy"], "notes.txt"),
    ("embed-missing-ckpt", ["embed", "{ws}/run", "--checkpoint", "{ws}/missing.ckpt", "--out", "{ws}/e.npy"], "missing.ckpt"),
    ("embed-batch-zero", ["embed", "{ws}/run", "--batch-size", "0", "--out", "{ws}/e.npy"], "batch-size"),
    ("embed-not-a-run", ["embed", "{ws}/foreign", "--out", "{ws}/e.npy"], "foreign"),
    ("embed-unfinished-run", ["embed", "{ws}/trunc", "--out", "{ws}/e.npy"], "not finished"),
    # evaluate
    ("eval-npy-no-prior", ["evaluate", "{ws}/z.npy"], "--prior"),
    ("eval-json-exists", ["evaluate", "{ws}/z.npy", "--prior", "gaussian", "--json", "{ws}/existing.json"], "--force"),
    ("eval-json-run-metrics", ["evaluate", "{ws}/run", "--json", "{ws}/run/metrics.json"], "metrics.json"),
    ("eval-json-run-metrics-force", ["evaluate", "{ws}/run", "--json", "{ws}/run/metrics.json", "--force"], "inputs"),
    ("eval-json-fifo", ["evaluate", "{ws}/z.npy", "--prior", "gaussian", "--json", "{ws}/fifo.json", "--force"], "regular"),
    ("eval-json-not-json", ["evaluate", "{ws}/z.npy", "--prior", "gaussian", "--json", "/dev/full", "--force"], ".json"),
    ("eval-split-on-npy", ["evaluate", "{ws}/z.npy", "--prior", "gaussian", "--split", "train"], "--split"),
    ("eval-knn-zero", ["evaluate", "{ws}/z.npy", "--prior", "gaussian", "--knn-k", "0"], "--knn-k"),
    ("eval-seeds-one", ["evaluate", "{ws}/z.npy", "--prior", "gaussian", "--seeds", "1"], "--seeds"),
    ("eval-max-n-small", ["evaluate", "{ws}/z.npy", "--prior", "gaussian", "--max-n", "5"], "--max-n"),
    ("eval-missing", ["evaluate", "{ws}/missing.npy", "--prior", "gaussian"], "missing.npy"),
    ("eval-text-file", ["evaluate", "{ws}/notes.txt", "--prior", "gaussian"], "notes.txt"),
    ("eval-unknown-prior", ["evaluate", "{ws}/z.npy", "--prior", "cauchy"], "cauchy"),
    ("eval-labels-corrupt", ["evaluate", "{ws}/z.npy", "--prior", "gaussian", "--labels", "{ws}/corrupt.npz"], "corrupt.npz"),
    ("eval-labels-length", ["evaluate", "{ws}/z.npy", "--prior", "gaussian", "--labels", "{ws}/y_short.npy"], "label"),
    ("eval-nan-embeddings", ["evaluate", "{ws}/z_nan.npy", "--prior", "gaussian"], "NaN"),
    ("eval-run-with-labels", ["evaluate", "{ws}/run", "--labels", "{ws}/y.npy"], "--labels"),
    ("eval-corrupt-config", ["evaluate", "{ws}/badcfg"], "config.yaml"),
    ("eval-prior-param-bad", ["evaluate", "{ws}/z.npy", "--prior", "student_t", "--prior-param", "df=abc"], "df"),
    # report
    ("report-missing", ["report", "/nonexistent/run"], "/nonexistent/run"),
    ("report-out-not-html", ["report", "{ws}/run", "--out", "{ws}/r.txt"], ".html"),
    ("report-corrupt-config", ["report", "{ws}/badcfg", "--out", "{ws}/r.html"], "config.yaml"),
    ("report-seeds-one", ["report", "{ws}/run", "--seeds", "1", "--out", "{ws}/r.html"], "--seeds"),
    ("report-max-dims-zero", ["report", "{ws}/run", "--max-dims", "0", "--out", "{ws}/r.html"], "--max-dims"),
    ("report-out-is-folder", ["report", "{ws}/run", "--out", "{ws}/dir.html", "--force"], "directory"),
    ("report-out-parent-missing", ["report", "{ws}/run", "--out", "{ws}/nope/r.html"], "does not exist"),
    # the command line itself
    ("unknown-command", ["bogus-command"], "bogus-command"),
    ("no-command", [], "required"),
]
if TB:
    CASES.append(("tensorboard-missing", [*T, "--tensorboard"], "tensorboard"))


@pytest.mark.parametrize(("argv", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(argv: list[str], needle: str, ws: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ws)
    monkeypatch.delenv("INFOMATCH_DEBUG", raising=False)
    before = _snapshot(ws)
    args = [a.format(ws=ws) for a in argv]
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("infomatch: error: ")
    assert "Traceback" not in captured.err + captured.out
    assert needle in lines[0], lines[0]
    assert _snapshot(ws) == before  # nothing pre-existing changed, nothing created


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 60


def test_locked_out_is_refused_at_once(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A training into a directory another process is training into fails with one line."""
    target = ws / "busy"
    target.mkdir()
    try:
        with RunLock(target):
            before = _snapshot(ws)
            assert main(["train", "--out", str(target), "--epochs", "1"]) == 2
            assert main(["train", "--out", str(target), "--resume"]) == 2
            assert _snapshot(ws) == before
    finally:
        shutil.rmtree(target)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all("in use by another training" in line for line in lines), lines


def test_debug_shows_the_traceback(ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("INFOMATCH_DEBUG", "1")
    assert main(["evaluate", str(ws / "z.npy")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("infomatch: error: ")


def test_a_bug_keeps_its_traceback(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    """A ValueError from inside the code (not from input checks) is a bug: traceback, status 1."""
    import infomatch.commands.evaluate as ev

    def broken(result):  # stands in for an internal error after the inputs were accepted
        raise ValueError("internal inconsistency")

    monkeypatch.setattr(ev, "format_table", broken)
    rng = np.random.default_rng(0)
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bug-{os.getpid()}.npy"
    np.save(path, rng.standard_normal((100, 2)))
    try:
        assert main(["evaluate", str(path), "--prior", "gaussian", "--seeds", "2"]) == 1
    finally:
        path.unlink()
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal inconsistency" in err and "bug" in err.strip().splitlines()[-1]


def test_numeric_strings_are_numbers(tmp_path: Path) -> None:
    """YAML 1.1 reads ``3e-4`` as a string; the config and ``--critic-param`` take it as a number."""
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("lr: 3e-4\nweight_decay: 1e-5\ncritic_params:\n  temperature: 1e-3\n")
    cfg = TrainConfig.from_yaml(cfg_file)
    assert cfg.lr == 3e-4 and cfg.weight_decay == 1e-5 and cfg.critic_params == {"temperature": 1e-3}
    from infomatch.cli import build_parser
    from infomatch.commands.train import config_from_args

    args = build_parser().parse_args(["train", "--critic-param", "temperature=1e-3", "--out", str(tmp_path / "r")])
    assert config_from_args(args)[0].critic_params == {"temperature": 1e-3}
