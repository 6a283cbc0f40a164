"""Figures of the label-noise study: the logit circuit, partitions, probes, training curves and
the extraction table (the neurons' spectra are in `fourier_plots`). Each takes what an analysis
returned and returns a plotly `Figure`; none of them computes science.

Examples:
    >>> run = interp.load_run("checkpoints/add_p97_noise080")
    >>> table = interp.compare_extraction(run.model(), run.task, methods=["neuron"])
    >>> fig = extraction_bars(table)
    >>> [trace.name for trace in fig.data]
    ['train clean', 'train noisy', 'test']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import plotly.graph_objects as go
import torch
from torch import Tensor

from interp.core.metrics import Accuracies
from interp.figures import (
    ACCURACY_AXIS,
    SPLIT,
    check_model,
    log_steps,
    step_x,
)
from interp.studies.label_noise.circuit import Circuit
from interp.studies.label_noise.fourier_plots import frequency_bars

if TYPE_CHECKING:  # a plot reads a Partition; importing it would load the models
    from interp.studies.label_noise.partition import Partition

__all__ = [
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

    Examples:
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

    Examples:
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

    Examples:
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
    fig = frequency_bars(freqs, values, key)
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

    Examples:
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

    Examples:
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
