"""Figures of the two-clocks study: generation fractions over training with both clocks, basin
radii over training, and the clocks against N. Each takes what an analysis returned and returns
a plotly `Figure`; none of them computes science.

Examples:
    >>> fig = tau_against([16, 32], {"tau_mem": [100, 200]}, "N (training strings)")
    >>> [trace.name for trace in fig.data]
    ['tau_mem']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import plotly.graph_objects as go
import torch
from torch import Tensor

from interp.figures import (
    ACCURACY_AXIS,
    MODEL_COLORS,
    SPLIT,
    check_model,
    lines,
    log_steps,
    step_x,
)

if TYPE_CHECKING:
    from interp.studies.clocks.clocks import Clocks, GenerationStats

__all__ = ["clocks_figure", "basin_radii", "tau_against", "CLOCK_CURVES"]

# `GenerationStats` field -> (legend label, line dash): one colour per model, one dash per field
CLOCK_CURVES = {
    "valid": ("valid", "solid"),
    "memorized": ("memorized", "dash"),
    "novel_valid": ("novel valid", "dot"),
}
# basin targets: the training strings take the memory colour, unseen valid strings the rule's
BASIN_GROUPS = {"training strings": SPLIT["memory"], "novel valid strings": SPLIT["general"]}


def clocks_figure(
    steps: Sequence[int] | Tensor,
    stats: GenerationStats,
    clocks: Clocks | None = None,
    model: int | None = None,
    labels: Sequence[str] | None = None,
) -> go.Figure:
    """The two clocks: the valid, memorized and novel-valid fractions of generated strings
    against training step, one colour per model and one line style per quantity (valid solid,
    memorized dashed, novel valid dotted).

    With `clocks`, thin vertical lines in the model's colour mark tau_rule (solid) and tau_mem
    (dashed) where they ring; for a single model (`model` given, or an ensemble of one) the
    innovation window [tau_rule, tau_mem] is shaded. The step axis is logarithmic as in
    `training_curves` (step 0 at x = 0.5, hovering shows the true step).

    Args:
        steps: the saved steps, `[S]` ascending (`interp.generation_curve`).
        stats: `GenerationStats` with fields `[S, models]`.
        clocks: `interp.measure_clocks(stats, steps)` (fields `[models]`), or None.
        model: show only this model (default: all).
        labels: a legend name per model, `[models]` (default "model <m>"), e.g. "N=64".

    Returns:
        A figure with, per model shown: the shaded window (one model only, when it is open
        and not empty), three `go.Scatter` lines "<label>: valid", "<label>: memorized",
        "<label>: novel valid" with S points each, then "<label>: tau_rule = <step>" and
        "<label>: tau_mem = <step>" (two points each, from y = 0 to 1) when given and rung.

    Examples:
        >>> from interp.studies.clocks import GenerationStats
        >>> steps = [0, 100, 1000, 3000]                      # two models, four saved steps
        >>> valid = torch.tensor([[0.0, 0.0], [0.5, 0.3], [0.95, 0.9], [0.97, 0.98]])
        >>> memorized = torch.tensor([[0.0, 0.0], [0.05, 0.0], [0.2, 0.1], [0.7, 0.3]])
        >>> stats = GenerationStats(valid, memorized, novel_valid=valid - memorized)
        >>> fig = clocks_figure(steps, stats, interp.measure_clocks(stats, steps), model=0)
        >>> [trace.name for trace in fig.data]
        ['innovation window [1000, 3000]', 'model 0: valid', 'model 0: memorized',
         'model 0: novel valid', 'model 0: tau_rule = 1000', 'model 0: tau_mem = 3000']
    """
    at = torch.as_tensor(steps).detach().cpu()
    curves = {name: getattr(stats, name).detach().cpu() for name in CLOCK_CURVES}
    for name, values in curves.items():
        if at.dim() != 1 or values.dim() != 2 or values.shape[0] != len(at):
            shape = tuple(values.shape)
            raise ValueError(f"stats.{name} has shape {shape}; expected [{len(at)}, models]")
    models = curves["valid"].shape[1]
    names = [f"model {m}" for m in range(models)] if labels is None else list(labels)
    if len(names) != models:
        raise ValueError(f"labels has {len(names)} names; there are {models} models")
    if clocks is not None and len(clocks.tau_rule) != models:
        raise ValueError(f"clocks has {len(clocks.tau_rule)} models; stats has {models}")
    if model is not None:
        check_model(model, models)
    shown = range(models) if model is None else [model]
    log_x = log_steps(at)
    x = step_x(at, log_x)
    fig = go.Figure()
    for m in shown:
        name, color = names[m], MODEL_COLORS[m % len(MODEL_COLORS)]
        taus = {}
        if clocks is not None:
            taus = {"tau_rule": int(clocks.tau_rule[m]), "tau_mem": int(clocks.tau_mem[m])}
        rule, mem = taus.get("tau_rule", -1), taus.get("tau_mem", -1)
        if len(shown) == 1 and 0 <= rule < mem:
            left, right = step_x(torch.tensor([rule, mem]), log_x)
            fig.add_scatter(
                x=[left, right, right, left, left],
                y=[0, 0, 1, 1, 0],
                name=f"innovation window [{rule}, {mem}]",
                mode="lines",
                fill="toself",
                fillcolor=color,
                opacity=0.15,
                line={"width": 0},
                hoverinfo="name",
            )
        for field, (quantity, dash) in CLOCK_CURVES.items():
            fig.add_scatter(
                x=x,
                y=curves[field][:, m].tolist(),
                name=f"{name}: {quantity}",
                mode="lines",
                legendgroup=name,
                line={"color": color, "dash": dash},
                customdata=at.tolist(),
                hovertemplate=f"{name}: {quantity}<br>step %{{customdata}}<br>%{{y:.3f}}"
                "<extra></extra>",
            )
        for clock, dash in zip(taus, ("solid", "dash")):
            if taus[clock] < 0:  # never rang
                continue
            position = step_x(torch.tensor([taus[clock]]), log_x) * 2
            fig.add_scatter(
                x=position,
                y=[0, 1],
                name=f"{name}: {clock} = {taus[clock]}",
                mode="lines",
                legendgroup=name,
                line={"color": color, "dash": dash, "width": 1},
                hoverinfo="name",
            )
    title = "Two clocks: valid, memorized and novel generations"
    if len(shown) == 1:
        title += f", {names[shown[0]]}"
    if clocks is not None:
        title += (
            f"<br><sup>tau_rule: valid >= {clocks.rule_threshold:.3g}, "
            f"tau_mem: memorized >= {clocks.mem_threshold:.3g}</sup>"
        )
    fig.update_layout(
        title=title,
        xaxis={"title": "step", "type": "log" if log_x else "linear"},
        yaxis={**ACCURACY_AXIS, "title": "fraction of generated strings"},
    )
    return fig


def basin_radii(
    x: Sequence[float] | Tensor,
    train_radius: Tensor,
    novel_radius: Tensor,
    xlabel: str = "step",
    title: str | None = None,
    reference: tuple[float, float] | None = None,
) -> go.Figure:
    """Mean basin radius of training strings and of unseen rule-valid strings against a setting
    (training step, or N across models), with a band of +- one standard deviation over the
    targets when there are several (cut at 0). A memorizing model holds wide basins around its
    training strings and none around unseen ones; a generalizing one gives both alike.

    The x axis is logarithmic when its positive values span more than two decades, with 0 at
    x = 0.5 as in `training_curves` (hovering shows the true value).

    Args:
        x: the setting, `[X]` ascending (e.g. the steps of `interp.basin_curve`).
        train_radius: `[X]` or `[X, targets...]` basin radii of training strings.
        novel_radius: `[X]` or `[X, targets...]` basin radii of unseen valid strings.
        xlabel: the axis title.
        title: figure title.
        reference: mean radii (training, novel) under the empirical optimal denoiser
            (`interp.studies.clocks.empirical_basins`), drawn as dashed lines
            "<name>, optimal denoiser".

    Returns:
        A figure with `go.Scatter` traces "training strings" and "novel valid strings" (the
        means, X points each), each followed by its band "<name> +- std" (a closed outline of
        2 X points) when there are two or more targets, then the reference lines if given.

    Examples:
        >>> steps = [97, 3000]                                 # radii [steps, targets]
        >>> training = torch.tensor([[0.4, 0.3, 0.5], [0.7, 0.6, 0.8]])
        >>> novel = torch.tensor([[0.35, 0.3, 0.4], [0.0, 0.0, 0.1]])
        >>> fig = basin_radii(steps, training, novel, reference=(0.8, 0.0))
        >>> [trace.name for trace in fig.data]
        ['training strings', 'training strings +- std', 'novel valid strings',
         'novel valid strings +- std', 'training strings, optimal denoiser',
         'novel valid strings, optimal denoiser']
        >>> [round(y, 3) for y in fig.data[2].y]      # mean radius of the novel strings per step
        [0.35, 0.033]
    """
    at = torch.as_tensor(x).detach().cpu()
    groups = dict(zip(BASIN_GROUPS, (train_radius, novel_radius)))
    log_x = log_steps(at)
    xs = step_x(at, log_x)
    fig = go.Figure()
    for name, radius in groups.items():
        radius = torch.as_tensor(radius).detach().cpu().double()
        if at.dim() != 1 or radius.dim() < 1 or radius.shape[0] != len(at):
            shape = tuple(radius.shape)
            raise ValueError(f"{name} radii have shape {shape}; expected [{len(at)}, ...]")
        radius = radius.reshape(len(at), -1)
        mean = radius.mean(-1)
        fig.add_scatter(
            x=xs,
            y=mean.tolist(),
            name=name,
            mode="lines+markers" if len(xs) <= 50 else "lines",
            legendgroup=name,
            line={"color": BASIN_GROUPS[name]},
            customdata=at.tolist(),
            hovertemplate=f"{name}<br>{xlabel} %{{customdata}}<br>mean radius %{{y:.3g}}"
            "<extra></extra>",
        )
        if radius.shape[1] > 1:
            spread = radius.std(-1, correction=0)
            fig.add_scatter(
                x=xs + xs[::-1],
                y=(mean + spread).tolist() + (mean - spread).clamp_min(0).flip(0).tolist(),
                name=f"{name} +- std",
                mode="lines",
                fill="toself",
                fillcolor=BASIN_GROUPS[name],
                opacity=0.2,
                line={"width": 0},
                legendgroup=name,
                showlegend=False,
                hoverinfo="skip",
            )
    for name, value in zip(BASIN_GROUPS, reference or ()):
        fig.add_scatter(
            x=[xs[0], xs[-1]],
            y=[float(value)] * 2,
            name=f"{name}, optimal denoiser",
            mode="lines",
            legendgroup=name,
            line={"color": BASIN_GROUPS[name], "dash": "dash"},
            hovertemplate=f"{name}, empirical optimal denoiser<br>radius %{{y:.3g}}<extra></extra>",
        )
    fig.update_layout(
        title=title or f"Basin radius of training and unseen valid strings against {xlabel}",
        xaxis={"title": xlabel, "type": "log" if log_x else "linear"},
        yaxis={"title": "basin radius (starting sigma)", "rangemode": "tozero"},
    )
    return fig


def tau_against(
    x: Sequence[float],
    taus: dict[str, Sequence[float] | Tensor],
    xlabel: str,
    ylabel: str = "step",
    title: str | None = None,
    log_x: bool | None = None,
) -> go.Figure:
    """Clocks against a setting: tau_mem against the dataset size N, tau_rule against the
    rule's complexity (`lines`, with the clocks' conventions). A clock that never rang (-1) is
    a gap in its curve.

    Args:
        x: the setting, `[X]` ascending.
        taus: legend label -> the clock at each x, `[X]` each (e.g. `Clocks.tau_mem` of models
            sorted by N), -1 where it never rang.
        xlabel: the setting's name.
        ylabel: the y axis.
        title: figure title (default "Clocks against <xlabel>").
        log_x: as in `lines`.

    Returns:
        A figure with one `go.Scatter` per clock, nan where it never rang.

    Examples:
        >>> tau_mem, tau_rule = torch.tensor([3000, -1]), torch.tensor([305, 305])  # [models]
        >>> fig = tau_against([16, 64], {"tau_mem": tau_mem, "tau_rule": tau_rule}, "N")
        >>> [(trace.name, trace.y) for trace in fig.data]     # -1: never rang, a gap
        [('tau_mem', (3000.0, nan)), ('tau_rule', (305.0, 305.0))]
    """
    curves = {
        label: [float(v) if float(v) >= 0 else math.nan for v in values]
        for label, values in taus.items()
    }
    fig = lines(x, curves, xlabel, ylabel, title or f"Clocks against {xlabel}", log_x)
    fig.update_layout(yaxis_rangemode="tozero")  # tau_mem ~ N: a line through the origin
    for trace in fig.data:
        trace.hovertemplate = (
            f"{trace.name}<br>{xlabel} %{{x}}<br>{ylabel} %{{y:.0f}}<extra></extra>"
        )
    return fig
