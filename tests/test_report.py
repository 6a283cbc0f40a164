import importlib.util
from pathlib import Path

import plotly.offline
import pytest
import torch

from interp.core.metrics import evaluate
from interp.core.runs import load_run, save_model
from interp.core.training import TrainConfig, train
from interp.models.mlp import MLP, MLPConfig
from interp.studies.label_noise import report as report_module
from interp.studies.label_noise.extraction import compare_extraction
from interp.studies.label_noise.partition import KEPT_FRACTIONS, PARTITION_METHODS
from interp.studies.label_noise.report import (
    PROBE_STEPS,
    Report,
    build_report,
    png_browser,
    write_report,
)
from interp.tasks.modular import modular_task

P, WIDTH, STEPS = 23, 64, 200
FIGURES = [
    "training",
    "extraction",
    "spectrum",
    "phases",
    "dominant_share",
    "ipr",
    "circuit",
    "circuit_periodic",
    *(f"partition_{method}" for method in PARTITION_METHODS),
    "kept_fraction",
    "frequency_probe",
    "rule_probe",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two models at 20% noise, saved at log-spaced steps 0, 1, 3, 8, 24, 69, 200."""
    task = modular_task(p=P, train_fraction=0.6, noise=0.2, seed=[0, 1])
    model = MLP(MLPConfig(p=P, width=WIDTH, models=2, seed=(0, 1)))
    out = tmp_path_factory.mktemp("report") / "run"
    config = TrainConfig(steps=STEPS, lr=1e-2, log_every=10, save_log=6)
    train(model, task, config, out=out, device="cpu", progress=False)
    return load_run(out)


@pytest.fixture(scope="module")
def report(run) -> Report:
    return build_report(run, model=1)


def figures(report: Report) -> dict:
    return {s.id: s.figure for s in report.sections}


def test_page_embeds_every_figure_and_loads_plotly_once(report, tmp_path):
    page = report.write(tmp_path / "new" / "report", png=False)
    assert page == tmp_path / "new" / "report" / "report.html"
    assert sorted(p.name for p in page.parent.iterdir()) == ["plotly.min.js", "report.html"]
    text = page.read_text()
    assert text.count("plotly.min.js") == 1 and '<script src="plotly.min.js"></script>' in text
    assert "cdn.plot.ly" not in text  # opens offline
    assert (page.parent / "plotly.min.js").read_text() == plotly.offline.get_plotlyjs()
    for name in FIGURES:
        assert text.count(f'<div id="figure-{name}"') == 1, name
        assert f'<section id="{name}">' in text and f'href="#{name}"' in text
    assert "<title>interp report: run, model 1</title>" in text
    for method in ("raw", "neuron", "key", "logits", "baseline", "pooled baseline"):
        assert f"<td>{method}</td>" in text  # the accuracy table
    assert page.stat().st_size < 1_000_000  # plotly.js is not inlined


def test_sections_show_the_analyses_of_the_chosen_model(report, run):
    assert [s.id for s in report.sections] == FIGURES
    assert all(s.heading and s.text.endswith(".") for s in report.sections)
    task, net = run.task.select([1]), run.model().select([1])
    table = compare_extraction(net, task)
    assert set(report.table) == set(table)
    for name, acc in table.items():
        torch.testing.assert_close(report.table[name].test, acc.test, equal_nan=True)
    fig = figures(report)
    # training curves of model 1, with the extracted test accuracy at every saved step
    extracted = next(t for t in fig["training"].data if t.name == "extracted test")
    assert list(extracted.customdata) == run.steps
    metrics_test = next(t for t in fig["training"].data if t.name == "test")
    assert list(metrics_test.y) == pytest.approx(run.metrics["test_acc"][:, 1].tolist())
    # every partition's figure, and one test and one train-noisy curve per method
    assert [t.name for t in fig["kept_fraction"].data] == [
        f"{m}: {metric}" for m in PARTITION_METHODS for metric in ("test", "train noisy")
    ]
    assert all(list(t.x) == list(KEPT_FRACTIONS) for t in fig["kept_fraction"].data)
    assert len(fig["partition_heldout"].data) == 3 and len(fig["partition_ipr"].data) == 2
    # the frequency probe covers every frequency; the rule probe sits beside the raw network
    probe_bars = [f for t in fig["frequency_probe"].data for f in t.x]
    assert sorted(probe_bars) == list(range(1, (P - 1) // 2 + 1))
    rule, network = fig["rule_probe"].data
    assert (rule.name, network.name) == ("rule probe (held-out)", "network test")
    assert list(rule.x) == [1, 3, 8, 69, 200] and len(rule.x) == PROBE_STEPS  # spread, last in
    for step, y in zip(network.x, network.y):
        assert y == pytest.approx(float(evaluate(run.model(int(step)).select([1]), task).test))
    assert all(0 <= y <= 1 for y in rule.y)


def test_png_skipped_in_one_line(report, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report_module, "png_browser", lambda: "kaleido is not installed")
    page = report.write(tmp_path / "r")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("png: skipped (kaleido is not installed)")
    assert "pip install kaleido" in out and "apt-get install -y chromium" in out
    assert page.exists() and not (tmp_path / "r" / "png").exists()


def test_png_browser_names_what_is_missing(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert png_browser() == "kaleido is not installed"


@pytest.mark.skipif(not isinstance(png_browser(), Path), reason="needs kaleido and a browser")
def test_png_per_figure(report, tmp_path, capsys):
    two = Report(report.run, report.model, report.table, report.sections[:2])
    two.write(tmp_path / "r")
    assert capsys.readouterr().out == ""
    pngs = sorted((tmp_path / "r" / "png").iterdir())
    assert [p.name for p in pngs] == ["extraction.png", "training.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_bad_arguments(run, tmp_path):
    with pytest.raises(ValueError, match=r"model=2 is out of range: .* holds models 0\.\.1"):
        build_report(run, model=2)
    with pytest.raises(ValueError, match="probe_steps=0 must be >= 1"):
        build_report(run, probe_steps=0)
    bare = save_model(MLP(MLPConfig(p=P, width=8)), tmp_path / "bare", modular_task(p=P))
    with pytest.raises(ValueError, match="no logged metrics"):
        build_report(bare)
    taken = tmp_path / "file"
    taken.write_text("not a folder")
    with pytest.raises(ValueError, match="is a file; the report needs a folder"):
        write_report(run, taken)


def test_a_multiplicative_run_is_read_over_the_discrete_log(tmp_path):
    """For multiply, the spectra, the circuit and the frequency probe all live on Z_(p-1)."""
    task = modular_task(p=13, op="multiply", noise=0.1, seed=0)
    model = MLP(MLPConfig(p=13, width=24, seed=0))
    train(model, task, TrainConfig(steps=30, log_every=10), out=tmp_path / "run", progress=False)
    report = build_report(tmp_path / "run", device="cpu")
    sections = {s.id: s for s in report.sections}
    circuit = sections["circuit"].figure
    assert max(len(trace.x) for trace in circuit.data if trace.x is not None) <= 12
    probe = sections["frequency_probe"].figure.data
    assert sorted(x for trace in probe for x in trace.x) == [1, 2, 3, 4, 5]  # (12 - 1) // 2
