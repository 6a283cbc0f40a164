import math

import numpy as np
import pytest
import torch

from interp.fourier import extract_frequencies
from interp.metrics import evaluate
from interp.models.mlp import MLP, MLPConfig
from interp.plots import (
    dominant_share,
    extraction_bars,
    ipr_histogram,
    lines,
    spectrum_heatmap,
    training_curves,
    write_figures,
)
from interp.tasks.modular import modular_task
from interp.training import TrainConfig, train

P, WIDTH, STEPS = 11, 16, 30
F = (P - 1) // 2


@pytest.fixture(scope="module")
def trained():
    """Two models (noise 0 and 0.3), trained for a few steps in memory."""
    task = modular_task(p=P, noise=[0.0, 0.3], seed=[0, 1])
    model = MLP(MLPConfig(p=P, width=WIDTH, models=2, seed=(0, 1)))
    result = train(model, task, TrainConfig(steps=STEPS, log_every=1), device="cpu", progress=False)
    return result, task, extract_frequencies(result.model)


@pytest.mark.parametrize("model", [0, 1])
def test_spectrum_heatmap_rows_are_normalised_and_sorted(trained, model):
    _, _, spectrum = trained
    (heatmap,) = spectrum_heatmap(spectrum, model).data
    z = np.asarray(heatmap.z)
    assert z.shape == (WIDTH, F)
    np.testing.assert_allclose(z.sum(1), 1, rtol=1e-5)
    neuron = np.asarray(heatmap.customdata)[:, 0]
    assert sorted(neuron) == list(range(WIDTH))  # a permutation of the neurons
    dominant = spectrum.dominant[model].numpy()[neuron]
    np.testing.assert_array_equal(z.argmax(1) + 1, dominant)
    assert (np.diff(dominant) >= 0).all()
    on_dominant = z.max(1)
    for f in np.unique(dominant):  # within a frequency, the purest neurons first
        assert (np.diff(on_dominant[dominant == f]) <= 1e-7).all()
    assert list(heatmap.x) == list(range(1, F + 1))


def test_spectrum_heatmap_of_pure_cosines():
    x = torch.arange(P)
    freqs = torch.tensor([4, 1, 3, 1])
    rows = torch.cos(2 * math.pi * freqs[:, None] * x / P)  # [neurons=4, p]
    (heatmap,) = spectrum_heatmap(extract_frequencies(rows)).data  # no models axis: one model
    z = np.asarray(heatmap.z)
    np.testing.assert_allclose(z, np.eye(F)[[0, 0, 2, 3]], atol=1e-6)
    with pytest.raises(ValueError, match="model=1"):
        spectrum_heatmap(extract_frequencies(rows), model=1)


def test_dominant_share_marks_key_frequencies(trained):
    _, _, spectrum = trained
    fig = dominant_share(spectrum, model=1)
    key, other = fig.data
    assert (key.name, other.name) == ("key", "other")
    assert sorted([*key.x, *other.x]) == list(range(1, F + 1))
    assert list(key.x) == spectrum.key_frequencies(1)
    assert sum(key.y) + sum(other.y) == pytest.approx(1)


def test_ipr_histogram_one_trace_per_model(trained):
    _, _, spectrum = trained
    assert [len(trace.x) for trace in ipr_histogram(spectrum).data] == [WIDTH, WIDTH]
    (only,) = ipr_histogram(spectrum, models=[1]).data
    np.testing.assert_allclose(only.x, spectrum.ipr[1].numpy())
    with pytest.raises(ValueError, match="model=2"):
        ipr_histogram(spectrum, models=[2])


def test_training_curves(trained):
    result, _, _ = trained
    metrics = result.metrics
    fig = training_curves(metrics, model=1, extracted=(metrics["step"], metrics["test_acc"][:, 0]))
    assert [t.name for t in fig.data] == [
        "train clean",
        "train noisy (fit to noisy label)",
        "test",
        "extracted test",
    ]
    assert all(len(t.x) == len(t.y) == STEPS + 1 for t in fig.data)
    assert fig.layout.xaxis.type == "linear" and fig.data[0].x[0] == 0
    np.testing.assert_allclose(fig.data[2].y, metrics["test_acc"][:, 1].numpy())
    # model 0 has no noisy labels: its train-noisy curve (all nan) is left out
    assert "train noisy (fit to noisy label)" not in [t.name for t in training_curves(metrics).data]
    with pytest.raises(ValueError, match="extracted"):
        training_curves(metrics, extracted=(torch.arange(3), torch.zeros(4)))


def test_training_curves_log_axis_puts_step_zero_at_half():
    steps = torch.tensor([0, 1, 10, 100, 1000])
    acc = torch.linspace(0, 1, 5)[:, None].expand(-1, 2)
    metrics = {"step": steps, "train_clean_acc": acc, "train_noisy_acc": acc, "test_acc": acc}
    fig = training_curves(metrics)
    assert fig.layout.xaxis.type == "log"
    assert list(fig.data[0].x) == [0.5, 1, 10, 100, 1000]
    assert list(fig.data[0].customdata) == [0, 1, 10, 100, 1000]  # hover shows the true step


def test_extraction_bars(trained):
    result, task, _ = trained
    raw = evaluate(result.model, task)
    fig = extraction_bars({"raw": raw, "copy": raw}, model=1)
    assert [t.name for t in fig.data] == ["train clean", "train noisy", "test"]
    assert all(list(t.x) == ["raw", "copy"] for t in fig.data)
    assert list(fig.data[2].y) == [pytest.approx(float(raw.test[1]))] * 2


def test_write_figures_shares_one_plotly_js(trained, tmp_path):
    _, _, spectrum = trained
    figures = {"spectrum": spectrum_heatmap(spectrum), "ipr": ipr_histogram(spectrum)}
    out = tmp_path / "new" / "figures"
    paths = write_figures(figures, out)
    assert paths == [out / "spectrum.html", out / "ipr.html"]
    assert sorted(p.name for p in out.iterdir()) == ["ipr.html", "plotly.min.js", "spectrum.html"]
    page = paths[0].read_text()
    assert 'src="plotly.min.js"' in page and "cdn.plot.ly" not in page  # works offline
    assert paths[0].stat().st_size < 100_000  # plotly.js is not inlined
    with pytest.raises(ValueError, match="plain file name"):
        write_figures({"../escape": figures["ipr"]}, out)


def test_lines_one_curve_per_method():
    curves = {"raw": [0.9, 0.5, 0.01], "neuron": [1.0, 1.0, 0.99]}
    fig = lines([0.5, 0.7, 0.8], curves, xlabel="label noise")
    assert [t.name for t in fig.data] == ["raw", "neuron"]
    assert list(fig.data[1].y) == [1.0, 1.0, 0.99]
    assert fig.layout.xaxis.type == "linear" and fig.layout.xaxis.title.text == "label noise"
    assert tuple(fig.layout.yaxis.range) == (-0.02, 1.02)
    assert fig.layout.title.text == "Test accuracy against label noise"
    wide = lines([64, 512, 4096], curves, xlabel="width")
    assert wide.layout.xaxis.type == "log"
    gap = lines([0, 1, 2], {"gap": [0.0, -0.5, 2.0]}, xlabel="step", ylabel="difference")
    assert gap.layout.yaxis.range is None
    with pytest.raises(ValueError, match="curve 'raw' has 2 points; x has 3"):
        lines([1, 2, 3], {"raw": [0.1, 0.2]}, xlabel="width")
