import math

import numpy as np
import pytest
import torch

from interp.core.metrics import evaluate
from interp.core.training import TrainConfig, train
from interp.figures import lines, write_figures
from interp.fourier import extract_frequencies
from interp.models.mlp import MLP, MLPConfig
from interp.studies import label_noise
from interp.studies.clocks.clocks import GenerationStats, measure_clocks
from interp.studies.clocks.plots import basin_radii, clocks_figure, tau_against
from interp.studies.label_noise.fourier_plots import (
    dominant_share,
    ipr_histogram,
    neuron_phase_map,
    spectrum_heatmap,
)
from interp.studies.label_noise.partition import PARTITION_METHODS, partition_neurons
from interp.studies.label_noise.plots import (
    extraction_bars,
    logit_circuit,
    partition_scores,
    probe_r2,
    training_curves,
)
from interp.tasks.modular import modular_task

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


@pytest.mark.parametrize("model", [0, 1])
def test_neuron_phase_map_places_each_neuron_at_its_frequency_and_phase(generalizing, model):
    spectrum = extract_frequencies(generalizing.model)
    fig = neuron_phase_map(spectrum, model)
    assert [a.text for a in fig.layout.annotations] == ["U", "V", "W"]  # one panel per matrix
    assert [t.xaxis for t in fig.data] == ["x", "x2", "x3"]
    power = spectrum.power[model]
    share = power.max(-1).values / power.sum(-1)  # on the dominant frequency
    for i, trace in enumerate(fig.data):
        assert len(trace.x) == generalizing.model.cfg.width
        np.testing.assert_array_equal(trace.x, spectrum.dominant[model].numpy())
        np.testing.assert_allclose(trace.y, spectrum.phase[model, i].numpy(), rtol=1e-6)
        np.testing.assert_allclose(trace.marker.color, share.numpy(), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(trace.customdata)[:, 0], np.arange(len(trace.x)))
    assert tuple(fig.layout.yaxis.range) == pytest.approx((-math.pi - 0.2, math.pi + 0.2))
    with pytest.raises(ValueError, match="model=2"):
        neuron_phase_map(spectrum, model=2)


def test_neuron_phase_map_of_pure_cosines():
    x = torch.arange(P)
    freqs, phases = torch.tensor([2, 5, 2]), torch.tensor([0.5, -1.0, 3.0])
    rows = torch.cos(2 * math.pi * freqs[:, None] * x / P + phases[:, None])  # no models axis
    (trace,) = neuron_phase_map(extract_frequencies(rows)).data
    assert list(trace.x) == [2, 5, 2]
    np.testing.assert_allclose(trace.y, phases.numpy(), atol=1e-5)
    np.testing.assert_allclose(trace.marker.color, 1, atol=1e-5)  # all power on one frequency


@pytest.mark.parametrize("model", [0, 1])
def test_logit_circuit_rows_are_the_frequency_groups(generalizing, model):
    circuit = label_noise.logit_circuit(generalizing.model)
    (heatmap,) = logit_circuit(circuit, model).data
    count = circuit.neurons[model]
    freqs = [int(r.removeprefix("f = ")) for r in heatmap.y]
    assert sorted(freqs) == (torch.nonzero(count).flatten() + 1).tolist()  # the groups, each once
    counts = [int(count[f - 1]) for f in freqs]
    assert counts == sorted(counts, reverse=True)  # the largest group first
    assert sum(counts) == generalizing.model.cfg.width
    assert list(heatmap.x) == list(range(23))  # columns: output residues c
    z = np.asarray(heatmap.z)
    np.testing.assert_allclose(z, circuit.readout[model, [f - 1 for f in freqs]].numpy())
    np.testing.assert_array_equal(np.asarray(heatmap.customdata)[:, 0], counts)
    # a generalizing network's groups write waves at their own frequency
    assert extract_frequencies(torch.as_tensor(z)).dominant.tolist() == freqs


@pytest.mark.parametrize("method", PARTITION_METHODS)
def test_partition_scores_show_both_subnetworks(memorizing, method):
    part = partition_neurons(memorizing.model, memorizing.task, method)
    fig = partition_scores(part, model=1)
    general = part.general[1]
    names = [t.name for t in fig.data]
    assert names[:2] == [f"general ({int(general.sum())})", f"memory ({int((~general).sum())})"]
    assert method in fig.layout.title.text
    if method == "ipr":
        assert len(fig.data) == 2 and all(t.type == "histogram" for t in fig.data)
        np.testing.assert_allclose(fig.data[0].x, part.scores[1][general].numpy())
        np.testing.assert_allclose(fig.data[1].x, part.scores[1][~general].numpy())
        return
    assert len(fig.data) == 3 and names[2] == "score 0"
    x_name, y_name = {"heldout": ("train", "heldout"), "labels": ("noisy", "clean")}[method]
    for trace, mask in zip(fig.data, (general, ~general)):
        np.testing.assert_allclose(trace.x, part.effects[x_name][1][mask].numpy())
        np.testing.assert_allclose(trace.y, part.effects[y_name][1][mask].numpy())
        np.testing.assert_array_equal(trace.customdata, torch.nonzero(mask).flatten().numpy())
    # general neurons lie above the diagonal (score = y - x > 0), memory ones on or below it
    assert (np.asarray(fig.data[0].y) > np.asarray(fig.data[0].x)).all()
    assert (np.asarray(fig.data[1].y) <= np.asarray(fig.data[1].x)).all()
    assert fig.data[2].x == fig.data[2].y
    assert x_name in fig.layout.xaxis.title.text and y_name in fig.layout.yaxis.title.text


def test_probe_r2_colours_key_frequencies():
    freqs, r2 = np.arange(1, 12), np.linspace(-0.1, 0.9, 11)
    fig = probe_r2(freqs, r2, key=[3, 7])
    key, other = fig.data
    assert (key.name, other.name) == ("key", "other")
    assert list(key.x) == [3, 7] and list(key.y) == pytest.approx([r2[2], r2[6]])
    assert sorted([*key.x, *other.x]) == list(range(1, 12))
    assert fig.layout.yaxis.range[0] < -0.1  # a negative R^2 stays in view
    assert all(bar.width == 0.8 for bar in fig.data)  # not as wide as the gaps between keys
    (only,) = probe_r2(torch.arange(1, 4), [0.2, 0.5, 1.0]).data
    assert list(only.x) == [1, 2, 3] and list(only.y) == [0.2, 0.5, 1.0]
    with pytest.raises(ValueError, match="r2 has 2 values; frequencies has 3"):
        probe_r2([1, 2, 3], [0.1, 0.2])


CLOCK_STEPS = [0, 1, 100, 1000]
# two models: model 0 learns the rule by step 1 and memorizes at 100, model 1 never memorizes
VALID = torch.tensor([[0.5, 0.5], [0.95, 0.6], [1.0, 0.92], [1.0, 1.0]])
MEMORIZED = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.6, 0.1], [1.0, 0.2]])
CLOCK_STATS = GenerationStats(VALID, MEMORIZED, VALID - MEMORIZED)


def test_clocks_figure_draws_every_model_and_quantity():
    clocks = measure_clocks(CLOCK_STATS, CLOCK_STEPS)
    assert clocks.tau_rule.tolist() == [1, 100] and clocks.tau_mem.tolist() == [100, -1]
    fig = clocks_figure(CLOCK_STEPS, CLOCK_STATS, clocks, labels=["N=16", "N=64"])
    assert [t.name for t in fig.data] == [
        "N=16: valid",
        "N=16: memorized",
        "N=16: novel valid",
        "N=16: tau_rule = 1",
        "N=16: tau_mem = 100",
        "N=64: valid",
        "N=64: memorized",
        "N=64: novel valid",
        "N=64: tau_rule = 100",  # model 1 never memorizes: no tau_mem marker
    ]
    assert fig.layout.xaxis.type == "log"
    valid, memorized, novel = fig.data[5:8]
    assert list(valid.x) == [0.5, 1, 100, 1000] and list(valid.customdata) == CLOCK_STEPS
    np.testing.assert_allclose(valid.y, VALID[:, 1].numpy())
    np.testing.assert_allclose(novel.y, (VALID - MEMORIZED)[:, 1].numpy())
    assert [t.line.dash for t in fig.data[5:8]] == ["solid", "dash", "dot"]
    assert len({t.line.color for t in fig.data[:5]} | {t.line.color for t in fig.data[5:]}) == 2
    assert list(fig.data[3].x) == [1, 1] and list(fig.data[3].y) == [0, 1]
    assert not any(t.fill for t in fig.data)  # no window shaded over several models


def test_clocks_figure_shades_the_window_of_one_model():
    clocks = measure_clocks(CLOCK_STATS, CLOCK_STEPS)
    fig = clocks_figure(CLOCK_STEPS, CLOCK_STATS, clocks, model=0)
    window = fig.data[0]
    assert window.name == "innovation window [1, 100]" and window.fill == "toself"
    assert (min(window.x), max(window.x)) == (1, 100)
    assert [t.name for t in fig.data[1:4]] == [
        "model 0: valid",
        "model 0: memorized",
        "model 0: novel valid",
    ]
    assert "model 0" in fig.layout.title.text and "0.9" in fig.layout.title.text
    # model 1 never memorizes: no window; without clocks only the three curves
    assert not any(t.fill for t in clocks_figure(CLOCK_STEPS, CLOCK_STATS, clocks, model=1).data)
    assert len(clocks_figure(CLOCK_STEPS, CLOCK_STATS).data) == 6
    linear = clocks_figure([0, 1, 2, 3], CLOCK_STATS, model=1)
    assert linear.layout.xaxis.type == "linear" and list(linear.data[0].x) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="model=2"):
        clocks_figure(CLOCK_STEPS, CLOCK_STATS, model=2)
    with pytest.raises(ValueError, match="labels has 1 names"):
        clocks_figure(CLOCK_STEPS, CLOCK_STATS, labels=["N=16"])
    with pytest.raises(ValueError, match=r"stats.valid has shape \(4, 2\); expected \[3"):
        clocks_figure(CLOCK_STEPS[:3], CLOCK_STATS)


def test_basin_radii_mean_and_spread_over_targets():
    steps = [0, 1, 1000]
    train = torch.tensor([[0.1, 0.3], [0.5, 0.7], [1.0, 1.0]])  # [steps, targets]
    novel = torch.tensor([[0.1, 0.1, 0.1], [0.0, 0.0, 0.6], [0.0, 0.0, 0.0]])  # 3 targets
    fig = basin_radii(steps, train, novel)
    assert [t.name for t in fig.data] == [
        "training strings",
        "training strings +- std",
        "novel valid strings",
        "novel valid strings +- std",
    ]
    mean, band = fig.data[0], fig.data[1]
    assert list(mean.x) == [0.5, 1, 1000] and list(mean.customdata) == steps
    np.testing.assert_allclose(mean.y, [0.2, 0.6, 1.0])
    np.testing.assert_allclose(band.y, [0.3, 0.7, 1.0, 1.0, 0.5, 0.1])  # upper, lower reversed
    assert band.fill == "toself" and len(band.x) == 6
    np.testing.assert_allclose(fig.data[3].y[3:], [0.0, 0.0, 0.1], atol=1e-7)  # 0, not -0.08
    assert fig.layout.xaxis.type == "log"
    (train_line, novel_line) = basin_radii(
        [8, 16], torch.tensor([0.4, 0.6]), torch.tensor([0.0, 0.1]), xlabel="N"
    ).data
    assert list(train_line.y) == pytest.approx([0.4, 0.6]) and list(novel_line.x) == [
        8,
        16,
    ]  # no band
    with pytest.raises(ValueError, match="novel valid strings radii have shape"):
        basin_radii(steps, train, novel[:2])


def test_basin_radii_reference_lines_of_the_optimal_denoiser():
    fig = basin_radii([0, 1, 1000], torch.zeros(3), torch.zeros(3), reference=(0.8, 0.0))
    ref_train, ref_novel = fig.data[-2:]
    assert ref_train.name == "training strings, optimal denoiser" and ref_train.line.dash == "dash"
    assert list(ref_train.y) == [0.8, 0.8] and list(ref_novel.y) == [0.0, 0.0]
    assert list(ref_train.x) == [0.5, 1000]  # spans the curves' x axis (0 drawn at 0.5)


def test_tau_against_leaves_a_gap_where_a_clock_never_rang():
    taus = {"tau_mem": torch.tensor([100, 200, -1]), "tau_rule": [30, 30, 40]}
    fig = tau_against([16, 32, 64], taus, xlabel="N")
    assert [t.name for t in fig.data] == ["tau_mem", "tau_rule"]
    assert list(fig.data[0].y[:2]) == [100, 200] and math.isnan(fig.data[0].y[2])
    assert list(fig.data[1].x) == [16, 32, 64] and list(fig.data[1].y) == [30, 30, 40]
    assert fig.layout.title.text == "Clocks against N" and fig.layout.yaxis.title.text == "step"
    assert fig.layout.yaxis.range is None and fig.layout.yaxis.rangemode == "tozero"
    assert "%{y:.0f}" in fig.data[0].hovertemplate
