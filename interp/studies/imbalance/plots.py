"""Figures of the imbalance study: each class's U-turn return probability against the diffusion
time with its speciation time t_S marked (and the closed form's), and each class's share of
generated samples over training against its weight rho_c. Each takes what an analysis returned
and returns a plotly `Figure`; none of them computes science.

Examples:
    >>> times = [0.25, 1.0, 4.0]
    >>> returns = torch.tensor([[1.0, 0.95, 0.9], [0.9, 0.6, 0.2]])
    >>> t_s = torch.tensor([float("inf"), 1.333])
    >>> fig = return_curves(times, returns, t_s, ["majority", "minority"], closed_form=1.339)
    >>> [trace.name for trace in fig.data], fig.layout.xaxis.type
    (['majority', 'minority', 'minority t_S', 'closed-form t_S'], 'log')
    >>> shares = torch.tensor([[[0.5, 0.5]], [[0.8, 0.2]], [[0.88, 0.12]]])  # [steps, 1, classes]
    >>> fig = class_shares([0, 100, 1000], shares, [0.9, 0.1], ["digit 3", "digit 8"])
    >>> [trace.name for trace in fig.data]
    ['digit 3', 'digit 8', 'digit 3 weight', 'digit 8 weight']
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go
import torch
from torch import Tensor

from interp.figures import ACCURACY_AXIS, MODEL_COLORS, log_steps, step_x
from interp.studies.imbalance.digits import ClassGeneration

__all__ = ["return_curves", "class_shares"]


def return_curves(
    times: Sequence[float],
    returns: Tensor,
    t_s: Tensor | Sequence[float],
    labels: Sequence[str],
    closed_form: float | None = None,
    title: str | None = None,
) -> go.Figure:
    """The return probability `returns [classes, T]` of each class against the times `[T]` (log
    x axis when they span more than a decade), a dotted line at 1/2, a marker at each class's
    t_S `[classes]` on that line (none for a class that never falls below it: inf), and the
    closed form's t_S as a dashed vertical line when given."""
    xs = [float(t) for t in times]
    if returns.dim() != 2 or returns.shape != (len(labels), len(xs)):
        raise ValueError(
            f"returns of shape {tuple(returns.shape)}: need [{len(labels)} classes, {len(xs)}]"
        )
    log_x = min(xs) > 0 and max(xs) / min(xs) > 10
    fig = go.Figure()
    for c, label in enumerate(labels):
        fig.add_scatter(
            x=xs,
            y=returns[c].tolist(),
            name=label,
            mode="lines+markers",
            line={"color": MODEL_COLORS[c % len(MODEL_COLORS)]},
        )
    for c, label in enumerate(labels):
        t = float(t_s[c])
        if math.isfinite(t):
            fig.add_scatter(
                x=[t],
                y=[0.5],
                name=f"{label} t_S",
                mode="markers",
                marker={"color": MODEL_COLORS[c % len(MODEL_COLORS)], "symbol": "x", "size": 12},
            )
    fig.add_hline(y=0.5, line={"dash": "dot", "color": "gray"})
    if closed_form is not None:
        fig.add_scatter(
            x=[closed_form, closed_form],
            y=[0, 1],
            name="closed-form t_S",
            mode="lines",
            line={"dash": "dash", "color": "black"},
        )
    fig.update_layout(
        title=title or "U-turns: probability of coming back to the class against t",
        xaxis={"title": "diffusion time t", "type": "log" if log_x else "linear"},
        yaxis={**ACCURACY_AXIS, "title": "return probability"},
    )
    return fig


def class_shares(
    steps: Sequence[int] | Tensor,
    shares: Tensor | Sequence[ClassGeneration],
    weights: Sequence[float],
    labels: Sequence[str],
    title: str | None = None,
) -> go.Figure:
    """Each class's share of generated samples over training, `shares [steps, models, classes]`
    (or one `class_generation` result per step), one colour per class (dashes per model when
    several), against its training weight rho_c as a dashed horizontal line."""
    if not isinstance(shares, Tensor):
        shares = torch.stack([g.share for g in shares])
    steps = torch.as_tensor(steps)
    if shares.dim() != 3 or shares.shape[0] != len(steps) or shares.shape[2] != len(labels):
        raise ValueError(
            f"shares of shape {tuple(shares.shape)}: need [{len(steps)} steps, models, "
            f"{len(labels)} classes]"
        )
    if len(weights) != len(labels):
        raise ValueError(f"{len(weights)} weights for {len(labels)} classes")
    log_x = log_steps(steps)
    x = step_x(steps, log_x)
    models = shares.shape[1]
    dashes = ("solid", "dot", "dashdot", "longdash")
    fig = go.Figure()
    for m in range(models):
        for c, label in enumerate(labels):
            fig.add_scatter(
                x=x,
                y=shares[:, m, c].tolist(),
                name=label if models == 1 else f"{label}, model {m}",
                mode="lines+markers",
                line={"color": MODEL_COLORS[c % len(MODEL_COLORS)], "dash": dashes[m % 4]},
            )
    for c, label in enumerate(labels):
        fig.add_scatter(
            x=[x[0], x[-1]],
            y=[float(weights[c])] * 2,
            name=f"{label} weight",
            mode="lines",
            line={"color": MODEL_COLORS[c % len(MODEL_COLORS)], "dash": "dash", "width": 1},
        )
    fig.update_layout(
        title=title or "Share of generated samples per class against its weight rho_c",
        xaxis={"title": "step", "type": "log" if log_x else "linear"},
        yaxis={**ACCURACY_AXIS, "title": "share of samples"},
    )
    return fig
