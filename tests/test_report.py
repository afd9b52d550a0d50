"""The HTML report: structure, embedded plots that decode, tables, overwrite policy, CLI."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from test_metrics_runs import make_run

from infomatch.cli import main
from infomatch.report import PLOT_CAPTIONS, build_report, figure_to_png, plot_tradeoff


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: dict[str, str] = {}
        self.tables: dict[str, int] = {}
        self._table: str | None = None
        self.cells: dict[str, list[str]] = {}
        self._in_td = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images[a.get("id", "")] = a.get("src", "")
        elif tag == "table":
            self._table = a.get("id", "")
            self.tables[self._table] = 0
            self.cells[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table] += 1
        elif tag == "td":
            self._in_td = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "td":
            self._in_td = False

    def handle_data(self, data):
        if self._in_td and self._table is not None and data.strip():
            self.cells[self._table].append(data.strip())


def _decode_png(src: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    return mpimg.imread(io.BytesIO(base64.b64decode(src[len(prefix):], validate=True)), format="png")


def _parse(path: Path) -> _Collect:
    p = _Collect()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One report built through the CLI for a two-run sweep: (report path, runs)."""
    base = tmp_path_factory.mktemp("runs")
    runs = [make_run(base / "s0.5", sigma=0.5, seed=0), make_run(base / "s2", sigma=2.0, seed=1)]
    out = base / "report.html"
    assert main(["report", str(runs[0]), "--sweep", str(runs[1]), "--out", str(out), "--seeds", "2"]) == 0
    return out, runs


def test_report_contains_every_plot_and_table(built):
    out, _ = built
    page = _parse(out)
    assert set(page.images) == {f"plot-{k}" for k in PLOT_CAPTIONS}
    for pid, src in page.images.items():
        img = _decode_png(src)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100, pid
        assert img[..., :3].std() > 0.01, pid                 # not a blank canvas
    assert {"summary", "families", "battery", "probes"} <= set(page.tables)
    assert page.tables["families"] == 1 + 4                  # header + one row per family
    assert "moments.frechet" in page.cells["battery"] and "joint.hz_p" in page.cells["battery"]
    assert any(c.startswith("0.") for c in page.cells["probes"])   # accuracies are printed
    text = out.read_text()
    assert "http://" not in text and "https://" not in text  # self-contained: nothing to fetch


@pytest.mark.slow
def test_report_overwrite_policy(built, capsys):
    out, runs = built
    first = out.read_bytes()
    argv = ["report", str(runs[0]), "--sweep", str(runs[1]), "--out", str(out), "--seeds", "2"]
    assert main(argv) == 0                                   # same content: nothing to refuse
    assert out.read_bytes() == first
    out.write_text("<html>something else</html>")
    assert main(argv) == 2
    assert "exists and differs" in capsys.readouterr().err
    assert out.read_text() == "<html>something else</html>"
    assert main(argv + ["--force"]) == 0
    assert out.read_bytes() == first


def test_report_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "run directory not found" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "--out", "x.pdf"]) == 2
    assert "--out must be an .html file" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no config.yaml"):
        build_report(tmp_path)


def test_tradeoff_orders_by_noise_scale():
    def ev(scale, acc, w2):
        return {"sigma": scale, "linear_probe_accuracy": acc,
                "dm": {"statistics": {"slices.sliced_w2": {"value": w2, "reference": 0.05}}}}

    fig = plot_tradeoff([ev(2.0, 0.8, 0.06), ev(0.1, 0.97, 0.5), ev(0.5, 0.9, 0.2)])
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [0.5, 0.2, 0.06]
    assert list(line.get_ydata()) == [0.97, 0.9, 0.8]
    assert figure_to_png(fig)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="at least one run"):
        plot_tradeoff([])
