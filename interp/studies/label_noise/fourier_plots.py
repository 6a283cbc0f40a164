"""Figures of the neurons' Fourier spectra: power per frequency, dominant frequencies and their
phases, the share of power on the dominant frequency, and the IPR. Each takes a `Spectrum`
(`interp.extract_frequencies`) and returns a plotly `Figure`; none of them computes science.

Examples:
    >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
    >>> spectrum = interp.extract_frequencies(run.model())
    >>> figures = {"spectrum": spectrum_heatmap(spectrum), "ipr": ipr_histogram(spectrum)}
    >>> sorted(figures)
    ['ipr', 'spectrum']
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import Tensor

from interp.figures import check_model
from interp.fourier import Spectrum

__all__ = [
    "spectrum_heatmap",
    "neuron_phase_map",
    "dominant_share",
    "ipr_histogram",
    "frequency_bars",
]

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


def frequency_bars(freqs: list[int], values: list[float], key: Sequence[int] | None) -> go.Figure:
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

    Examples:
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

    Examples:
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

    Examples:
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
    fig = frequency_bars(freqs.tolist(), share.tolist(), keys)
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

    Examples:
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
