"""Figures of the label-noise study: Fourier spectra and phases of the neurons, the logit
circuit, partitions, probes, training curves and the extraction table. Each takes what an
analysis returned and returns a plotly `Figure`; none of them computes science.

Example:
    >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
    >>> spectrum = interp.extract_frequencies(run.model())
    >>> figures = {"spectrum": spectrum_heatmap(spectrum), "ipr": ipr_histogram(spectrum)}
    >>> sorted(figures)
    ['ipr', 'spectrum']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import Tensor

from interp.core.metrics import Accuracies
from interp.figures import (
    ACCURACY_AXIS,
    SPLIT,
    check_model,
    log_steps,
    step_x,
)
from interp.fourier import Spectrum
from interp.studies.label_noise.circuit import Circuit

if TYPE_CHECKING:  # a plot reads a Partition; importing it would load the models
    from interp.studies.label_noise.partition import Partition

__all__ = [
    "spectrum_heatmap",
    "neuron_phase_map",
    "dominant_share",
    "ipr_histogram",
    "logit_circuit",
    "partition_scores",
    "probe_r2",
    "training_curves",
    "extraction_bars",
    "CURVES",
    "BARS",
]

# metric name in `interp.train` metrics -> legend label
CURVES = {
    "train_clean_acc": "train clean",
    "train_noisy_acc": "train noisy (fit to noisy label)",
    "test_acc": "test",
}
# `Accuracies` field -> bar label
BARS = {"train_clean": "train clean", "train_noisy": "train noisy", "test": "test"}
# Partition method -> (x, y) effects of its scatter: score = y - x, general above the diagonal.
EFFECT_AXES = {"heldout": ("train", "heldout"), "labels": ("noisy", "clean")}
KEY_COLORS = {"key": "#d62728", "other": "#7f7f7f"}


def _spectrum_of(spectrum: Spectrum, model: int) -> tuple[Tensor, Tensor, Tensor]:
    """One model's (power `[neurons, F]`, dominant `[neurons]`, key `[F]`) on the CPU; a
    spectrum without a models axis (power `[neurons, F]`) counts as one model."""
    fields = (spectrum.power, spectrum.dominant, spectrum.key)
    if spectrum.power.dim() == 2:
        fields = tuple(f[None] for f in fields)
    elif spectrum.power.dim() != 3:
        shape = tuple(spectrum.power.shape)
        raise ValueError(f"spectrum power has shape {shape}; expected [models, neurons, F]")
    check_model(model, fields[0].shape[0])
    power, dominant, key = (f[model].detach().cpu() for f in fields)
    return power, dominant, key


def _power_shares(power: Tensor, dominant: Tensor) -> tuple[Tensor, Tensor]:
    """Each neuron's power as shares summing to 1 (`[neurons, F]`; 0 for a dead neuron) and
    the share on its dominant frequency (`[neurons]`), from power `[neurons, F]`."""
    share = power / power.sum(-1, keepdim=True).clamp_min(torch.finfo(power.dtype).tiny)
    return share, share.gather(-1, (dominant - 1)[:, None]).squeeze(-1)


def _frequency_bars(freqs: list[int], values: list[float], key: Sequence[int] | None) -> go.Figure:
    """Bars of `values` `[F]` over `freqs` `[F]`: traces "key" and "other" splitting them by
    `key`, or one trace "value" without it. Each bar is 0.8 wide: overlaid traces would
    otherwise size their bars by their own gaps between frequencies."""
    fig = go.Figure()
    if key is None:
        groups = {"value": list(zip(freqs, values))}
    else:
        keys = {int(f) for f in key}
        pairs = list(zip(freqs, values))
        groups = {
            "key": [(f, v) for f, v in pairs if f in keys],
            "other": [(f, v) for f, v in pairs if f not in keys],
        }
    for name, chosen in groups.items():
        fig.add_bar(
            x=[f for f, _ in chosen],
            y=[v for _, v in chosen],
            name=name,
            width=0.8,
            marker_color=KEY_COLORS.get(name, KEY_COLORS["other"]),
        )
    fig.update_layout(xaxis_title="frequency f", barmode="overlay")
    return fig


def spectrum_heatmap(spectrum: Spectrum, model: int = 0, title: str | None = None) -> go.Figure:
    """Heatmap of every neuron's power over frequencies 1..F, for one model.

    Each row is a neuron's power normalised to sum 1 (a dead neuron's row stays 0); rows are
    sorted by dominant frequency, then by the share of power on it (largest first), so a
    generalizing network shows a staircase of bright blocks and a memorizing one a grey smear.

    Args:
        spectrum: a `Spectrum` with power `[models, neurons, F]` (or `[neurons, F]`).
        model: which model of the ensemble.
        title: figure title (default names the model).

    Returns:
        A figure with one `go.Heatmap`: z `[neurons, F]`, x = frequencies 1..F, y = neuron rank;
        hovering shows the neuron's index in the model.

    Example:
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
        >>> fig = spectrum_heatmap(interp.extract_frequencies(run.model()), model=0)
        >>> fig.data[0].z.shape                       # [neurons, F]
        (500, 48)
    """
    power, dominant, _ = _spectrum_of(spectrum, model)
    share, on_dominant = _power_shares(power, dominant)
    # Two stable sorts: by share (descending), then by dominant frequency.
    by_share = torch.argsort(-on_dominant, stable=True)
    order = by_share[torch.argsort(dominant[by_share], stable=True)]
    z = share[order]
    neurons, n_freq = z.shape
    fig = go.Figure(
        go.Heatmap(
            z=z.numpy(),
            x=list(range(1, n_freq + 1)),
            y=list(range(neurons)),
            customdata=order[:, None].expand(-1, n_freq).numpy(),
            colorscale="Viridis",
            zmin=0,
            zmax=1,
            colorbar={"title": "power share"},
            hovertemplate="neuron %{customdata}<br>f = %{x}<br>share %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title or f"Neuron spectra, model {model}",
        xaxis_title="frequency f",
        yaxis_title="neuron (sorted by dominant frequency)",
    )
    return fig


def neuron_phase_map(spectrum: Spectrum, model: int = 0, title: str | None = None) -> go.Figure:
    """Every neuron at (dominant frequency, phase), one panel per matrix (U, V, W for a model),
    marker size and colour by the share of the neuron's power on that frequency.

    A generalizing network puts its neurons in a few columns (its key frequencies), large and
    bright; within a column the phases show how the neurons tile the circle. A memorizing one
    scatters small, dim markers over every frequency.

    Args:
        spectrum: a `Spectrum` with phase `[models, M, neurons]`, power `[models, neurons, F]`
            (or without the models axis).
        model: which model of the ensemble.
        title: figure title (default names the model).

    Returns:
        A figure with M panels (`spectrum.matrices`), one `go.Scatter` each with `neurons`
        points: x = dominant frequency, y = phase in (-pi, pi]; hovering shows the neuron,
        its amplitude and its share.

    Example:
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
        >>> fig = neuron_phase_map(interp.extract_frequencies(run.model()))
        >>> [(trace.name, len(trace.x)) for trace in fig.data]          # one point per neuron
        [('U', 500), ('V', 500), ('W', 500)]
    """
    power, dominant, _ = _spectrum_of(spectrum, model)
    phase, amplitude = spectrum.phase, spectrum.amplitude
    if phase.dim() == 2:  # no models axis
        phase, amplitude = phase[None], amplitude[None]
    phase, amplitude = (t[model].detach().cpu() for t in (phase, amplitude))  # [M, neurons]
    _, share = _power_shares(power, dominant)  # [neurons]
    names = spectrum.matrices
    fig = make_subplots(rows=1, cols=len(names), shared_yaxes=True, subplot_titles=list(names))
    neuron = torch.arange(len(dominant))
    for i, name in enumerate(names):
        fig.add_scatter(
            x=dominant.numpy(),
            y=phase[i].numpy(),
            mode="markers",
            name=name,
            showlegend=False,
            customdata=torch.stack([neuron, amplitude[i], share], -1).numpy(),
            marker={
                "size": (4 + 12 * share).numpy(),
                "color": share.numpy(),
                "coloraxis": "coloraxis",
                "opacity": 0.7,
            },
            hovertemplate=f"{name}: neuron %{{customdata[0]:.0f}}<br>f = %{{x}}<br>phase "
            "%{y:.2f}<br>amplitude %{customdata[1]:.3g}<br>share %{customdata[2]:.2f}"
            "<extra></extra>",
            row=1,
            col=i + 1,
        )
        fig.update_xaxes(
            title_text="dominant frequency f", range=[0, power.shape[-1] + 1], col=i + 1
        )
    fig.update_yaxes(title_text="phase (rad)", range=[-math.pi - 0.2, math.pi + 0.2], row=1, col=1)
    fig.update_layout(
        title=title or f"Neuron frequencies and phases, model {model}",
        coloraxis={
            "colorscale": "Viridis",
            "cmin": 0,
            "cmax": 1,
            "colorbar": {"title": "power share"},
        },
    )
    return fig


def dominant_share(spectrum: Spectrum, model: int = 0, title: str | None = None) -> go.Figure:
    """Bar chart of `Spectrum.dominant_share()` for one model: how much of the network each
    frequency dominates, key frequencies (`spectrum.key`) in their own colour.

    Args:
        spectrum: a `Spectrum` with power `[models, neurons, F]` (or `[neurons, F]`).
        model: which model of the ensemble.
        title: figure title (default names the model and its key frequencies).

    Returns:
        A figure with two `go.Bar` traces, "key" and "other", whose x (frequencies) partition
        1..F and whose y (shares) sum to 1 over both traces.

    Example:
        >>> run = interp.load_run("checkpoints/add_p97_noise080")
        >>> fig = dominant_share(interp.extract_frequencies(run.model()))
        >>> [(trace.name, len(trace.x)) for trace in fig.data]          # 46 of 48 are key
        [('key', 46), ('other', 2)]
        >>> round(sum(fig.data[0].y) + sum(fig.data[1].y), 6)
        1.0
    """
    shares = spectrum.dominant_share()
    if shares.dim() == 1:
        shares = shares[None]
    _, _, key = _spectrum_of(spectrum, model)
    share = shares[model].detach().cpu()
    freqs = torch.arange(1, len(share) + 1)
    keys = freqs[key].tolist()
    fig = _frequency_bars(freqs.tolist(), share.tolist(), keys)
    fig.update_layout(
        title=title or f"Share of dominant power per frequency, model {model} (key: {keys})",
        yaxis_title="share of dominant power",
    )
    return fig


def ipr_histogram(spectrum: Spectrum, models: Sequence[int] | None = None) -> go.Figure:
    """Histogram of per-neuron IPR (1: one pure frequency, ~1/(F+1): white noise), one trace
    per model, on shared bins over [0, 1] so models compare directly.

    Args:
        spectrum: a `Spectrum` with ipr `[models, neurons]` (or `[neurons]`).
        models: model indices to show (default: all).

    Returns:
        A figure with one `go.Histogram` per model, x = that model's `[neurons]` IPRs.

    Example:
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
        >>> fig = ipr_histogram(interp.extract_frequencies(run.model()), models=[0])
        >>> [(trace.name, len(trace.x)) for trace in fig.data]
        [('model 0', 500)]
    """
    ipr = spectrum.ipr.detach().cpu()
    if ipr.dim() == 1:
        ipr = ipr[None]
    chosen = range(ipr.shape[0]) if models is None else models
    fig = go.Figure()
    for m in chosen:
        check_model(m, ipr.shape[0])
        fig.add_histogram(
            x=ipr[m].tolist(), name=f"model {m}", xbins={"start": 0, "end": 1, "size": 0.02}
        )
    fig.update_layout(
        title="Inverse participation ratio per neuron",
        xaxis={"title": "IPR", "range": [0, 1]},
        yaxis_title="neurons",
        barmode="overlay",
    )
    fig.update_traces(opacity=0.6)
    return fig


def logit_circuit(circuit: Circuit, model: int = 0, title: str | None = None) -> go.Figure:
    """Heatmap of the logit circuit: what each frequency's group of neurons writes to each
    output residue c, for one model.

    Rows are the frequencies that dominate at least one neuron, the largest groups on top; a
    generalizing network's rows are clean waves over c, each at its own frequency.

    Args:
        circuit: a `Circuit` (`label_noise.logit_circuit(model)`), neurons `[models, F]`, readout
            `[models, F, p]`.
        model: which model of the ensemble.
        title: figure title (default names the model).

    Returns:
        A figure with one `go.Heatmap`: z `[groups, p]` the groups' summed read-outs,
        x = output residues 0..p-1, y = "f = <frequency>" per group; hovering shows the
        group's neuron count.

    Example:
        >>> from interp.studies import label_noise
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
        >>> fig = logit_circuit(label_noise.logit_circuit(run.model()))
        >>> fig.data[0].y[:3], fig.data[0].z.shape        # the largest groups, [groups, p]
        (('f = 14', 'f = 34', 'f = 22'), (48, 97))
    """
    neurons, readout = circuit.neurons, circuit.readout
    if neurons.dim() != 2 or readout.dim() != 3:
        shapes = (tuple(neurons.shape), tuple(readout.shape))
        raise ValueError(f"circuit has shapes {shapes}; expected [models, F] and [models, F, p]")
    check_model(model, neurons.shape[0])
    count, z = neurons[model].detach().cpu(), readout[model].detach().cpu()
    order = torch.argsort(-count, stable=True)
    order = order[count[order] > 0]  # frequencies with neurons, the largest group first
    rows = [f"f = {f}" for f in (order + 1).tolist()]
    fig = go.Figure(
        go.Heatmap(
            z=z[order].numpy(),
            x=list(range(z.shape[-1])),
            y=rows,
            customdata=count[order][:, None].expand(-1, z.shape[-1]).numpy(),
            colorscale="RdBu",
            zmid=0,
            colorbar={"title": "read-out"},
            hovertemplate="%{y} (%{customdata} neurons)<br>c = %{x}<br>%{z:.3g}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title or f"Logit circuit: neurons grouped by frequency, model {model}",
        xaxis_title="output residue c",
        yaxis={
            "title": "dominant frequency of the group",
            "autorange": "reversed",
            "type": "category",
        },
    )
    return fig


def partition_scores(part: Partition, model: int = 0, title: str | None = None) -> go.Figure:
    """How a partition split the neurons of one model into general and memory.

    For the ablation methods, a scatter of the two ablation effects behind the score (x: the
    memory side, "train" / "noisy"; y: the rule side, "heldout" / "clean"), one trace per
    subnetwork, with the diagonal where the score is 0. For "ipr" (no effects), a histogram of
    the scores, one trace per subnetwork.

    Args:
        part: a `label_noise.Partition` (scores, general `[models, neurons]`, effects
            name -> `[models, neurons]`).
        model: which model of the ensemble.
        title: figure title (default names the method, the model and the split).

    Returns:
        Ablation methods: `go.Scatter` traces "general", "memory" and "score 0" (the diagonal);
        "ipr": `go.Histogram` traces "general" and "memory". The general and memory traces hold
        the neurons of each side (hovering shows the neuron).

    Example:
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
        >>> part = interp.partition_neurons(run.model(), run.task, "labels", loss="mse")
        >>> [trace.name for trace in partition_scores(part).data]
        ['general (143)', 'memory (357)', 'score 0']
    """
    check_model(model, part.scores.shape[0])
    general = part.general[model].detach().cpu()
    sides = {"general": general, "memory": ~general}
    neuron = torch.arange(len(general))
    fig = go.Figure()
    if part.method in EFFECT_AXES:
        x_name, y_name = EFFECT_AXES[part.method]
        x, y = (part.effects[n][model].detach().cpu() for n in (x_name, y_name))
        for side, mask in sides.items():
            fig.add_scatter(
                x=x[mask].numpy(),
                y=y[mask].numpy(),
                mode="markers",
                name=f"{side} ({int(mask.sum())})",
                marker={"color": SPLIT[side], "opacity": 0.6},
                customdata=neuron[mask].numpy(),
                hovertemplate=f"{side}: neuron %{{customdata}}<br>{x_name} %{{x:.3g}}<br>"
                f"{y_name} %{{y:.3g}}<extra></extra>",
            )
        both = torch.cat([x, y])
        ends = [float(both.min()), float(both.max())] if both.numel() else [0.0, 0.0]
        fig.add_scatter(
            x=ends, y=ends, mode="lines", name="score 0", line={"color": "black", "dash": "dot"}
        )
        axes = {
            "xaxis_title": f"loss rise on {x_name} examples when removed",
            "yaxis_title": f"loss rise on {y_name} examples when removed",
        }
    else:
        scores = part.scores[model].detach().cpu()
        for side, mask in sides.items():
            fig.add_histogram(
                x=scores[mask].numpy(),
                name=f"{side} ({int(mask.sum())})",
                marker_color=SPLIT[side],
                nbinsx=50,
                bingroup="scores",
            )
        axes = {"xaxis_title": f"score ({part.method})", "yaxis_title": "neurons"}
        fig.update_layout(barmode="overlay")
        fig.update_traces(opacity=0.7)
    split = f"{int(general.sum())} general / {int((~general).sum())} memory"
    fig.update_layout(
        title=title or f"Partition by {part.method!r}, model {model}: {split}", **axes
    )
    return fig


def probe_r2(
    frequencies: Sequence[int] | Tensor,
    r2: Sequence[float] | Tensor,
    key: Sequence[int] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Bars of a frequency probe's R^2 per frequency: how well cos/sin of each frequency of the
    answer can be read off the activations; key frequencies in their own colour.

    Args:
        frequencies: the probed frequencies, `[F]`.
        r2: the probe's R^2 at each, `[F]` (held-out; can be negative).
        key: the key frequencies (e.g. `spectrum.key_frequencies(0)`); default: no colouring.
        title: figure title.

    Returns:
        A figure with `go.Bar` traces "key" and "other" (just "value" without `key`) whose x
        partition `frequencies`.

    Example:
        >>> import probes
        >>> from interp.core.hooks import cache_activations
        >>> run = interp.load_run("checkpoints/add_p97_noise080")
        >>> model, task = run.model(), run.task
        >>> features = cache_activations(model, task, "hook_post")["hook_post"][0].numpy()
        >>> train = task.train[0].numpy()
        >>> result = probes.frequency_probe(features, task.labels.numpy(), task.p, train)
        >>> key = interp.extract_frequencies(model).key_frequencies(0)
        >>> fig = probe_r2(result.frequencies, result.r2, key=key)
        >>> [(trace.name, len(trace.x)) for trace in fig.data]          # F = 48 bars in all
        [('key', 46), ('other', 2)]
    """
    freqs, values = [int(f) for f in frequencies], [float(v) for v in r2]
    if len(freqs) != len(values):
        raise ValueError(f"r2 has {len(values)} values; frequencies has {len(freqs)}")
    fig = _frequency_bars(freqs, values, key)
    low = min([0.0, *values])
    fig.update_layout(
        title=title or "Frequency probe: R^2 of cos/sin of each frequency of the answer",
        yaxis={"title": "held-out R^2", "range": [low - 0.02, 1.02]},
    )
    return fig


def training_curves(
    metrics: dict[str, Tensor],
    model: int = 0,
    extracted: tuple[Tensor, Tensor] | None = None,
) -> go.Figure:
    """Accuracy against training step for one model: train clean, train noisy (fit to the noisy
    labels), test, and optionally the test accuracy of an extracted network.

    The step axis is logarithmic when the logged steps span more than two decades. A log axis
    cannot show step 0 (the initialisation), so there it is drawn at x = 0.5, half a step before
    the first update; hovering always shows the true step. A metric that is nan at every step
    (train noisy without label noise) is left out.

    Args:
        metrics: as returned by `interp.train` or `Run.metrics`: "step" `[T]` and each metric of
            `CURVES` `[T, models]`.
        model: which model of the ensemble.
        extracted: `(steps [S], test accuracy [S])` of the extracted network, at its own steps
            (usually the saved checkpoints), drawn with markers.

    Returns:
        A figure with one `go.Scatter` line per curve, each with T points.

    Example:
        >>> run = interp.load_run("checkpoints/add_p97_noise080")     # logged every step
        >>> fig = training_curves(run.metrics, model=0)
        >>> [(trace.name, len(trace.x)) for trace in fig.data], fig.layout.xaxis.type
        ([('train clean', 1001), ('train noisy (fit to noisy label)', 1001), ('test', 1001)],
         'log')
    """
    steps = metrics["step"].detach().cpu()
    log_x = log_steps(steps)
    curves = {label: metrics[name].detach().cpu() for name, label in CURVES.items()}
    for name, values in zip(CURVES, curves.values()):
        if values.dim() != 2 or values.shape[0] != len(steps):
            shape = tuple(values.shape)
            raise ValueError(f"{name} has shape {shape}; expected [{len(steps)}, models]")
        check_model(model, values.shape[1])
    lines = {label: (steps, values[:, model]) for label, values in curves.items()}
    if extracted is not None:
        at, acc = (t.detach().cpu() for t in extracted)
        if at.dim() != 1 or tuple(acc.shape) != tuple(at.shape):
            shapes = (tuple(at.shape), tuple(acc.shape))
            raise ValueError(f"extracted (steps, accuracy) have shapes {shapes}; need [S] and [S]")
        lines["extracted test"] = (at, acc)
    fig = go.Figure()
    for label, (at, values) in lines.items():
        if values.isnan().all():
            continue
        fig.add_scatter(
            x=step_x(at, log_x),
            y=values.tolist(),
            name=label,
            mode="lines+markers" if label == "extracted test" else "lines",
            customdata=at.tolist(),
            hovertemplate=f"{label}<br>step %{{customdata}}<br>%{{y:.3f}}<extra></extra>",
        )
    fig.update_layout(
        title=f"Training, model {model}",
        xaxis={"title": "step", "type": "log" if log_x else "linear"},
        yaxis=ACCURACY_AXIS,
    )
    return fig


def extraction_bars(results: dict[str, Accuracies], model: int = 0) -> go.Figure:
    """Grouped bars of accuracies, one group per method (e.g. "raw", "neuron", "key", "logits",
    "labels-only baseline"), bars for train clean, train noisy and test.

    Args:
        results: method name -> `Accuracies` (fields `[models]`) of that method.
        model: which model of the ensemble.

    Returns:
        A figure with three `go.Bar` traces (train clean, train noisy, test), each with one bar
        per method, x = the method names in the order given.

    Example:
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
        >>> model, task = run.model(), run.task
        >>> raw, key = interp.evaluate(model, task), interp.evaluate(interp.extract(model), task)
        >>> fig = extraction_bars({"raw": raw, "neuron": key})
        >>> [(trace.name, [round(y, 3) for y in trace.y]) for trace in fig.data]
        [('train clean', [1.0, 1.0]), ('train noisy', [0.94, 0.0]), ('test', [0.983, 1.0])]
    """
    names = list(results)
    fig = go.Figure()
    for field, label in BARS.items():
        values = []
        for acc in results.values():
            column = getattr(acc, field).detach().cpu()
            check_model(model, len(column))
            values.append(float(column[model]))
        fig.add_bar(x=names, y=values, name=label)
    fig.update_layout(
        title=f"Accuracy by extraction method, model {model}",
        xaxis_title="method",
        yaxis=ACCURACY_AXIS,
        barmode="group",
    )
    return fig

