"""Figures of the posterior under a memorized prior: the posterior weight of each training point
per method as grouped bars, and the effective number of modes against the prior's width. Each
takes what an analysis returned (`limiting_weights`, `exact_weights`, `linearized_posterior`,
`nearest_fractions`, `modes_curve`, `critical_sigma`) and returns a plotly `Figure`; none of
them computes science. A method keeps its colour in both figures.

Examples:
    >>> points = torch.tensor([[-0.4], [0.4], [1.2]])
    >>> columns = {"limiting": torch.tensor([0.5, 0.5, 0.0]),
    ...            "exact": torch.tensor([0.46, 0.46, 0.08]),
    ...            "DPS": torch.tensor([0.4, 0.5, 0.1])}
    >>> fig = weight_bars(points, columns)
    >>> [trace.name for trace in fig.data], fig.data[1].x, fig.data[1].y
    (['limiting', 'exact', 'DPS'], ('-0.4', '0.4', '1.2'), (0.46, 0.46, 0.08))
    >>> sigmas = torch.tensor([0.1, 0.5, 1.0])
    >>> curve = {"limiting": torch.tensor([2.0, 2.0, 2.0]), "exact": torch.tensor([2.0, 2.6, 4.0])}
    >>> fig = modes_against_sigma(sigmas, curve, sigma_crit=0.318)
    >>> [trace.name for trace in fig.data], fig.layout.xaxis.type
    (['limiting', 'exact', 'sigma_crit 0.318'], 'log')
    >>> fig.data[2].x, fig.data[2].line.dash
    ((0.318, 0.318), 'dash')
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
from torch import Tensor

from interp.figures import MODEL_COLORS

__all__ = ["METHOD_COLORS", "weight_bars", "modes_against_sigma"]

# one colour per method in every figure (a name's part before a comma picks it: "DPS, zeta 0.1"
# is DPS); other names take the following colours in turn
METHOD_COLORS = {
    "limiting": MODEL_COLORS[0],
    "exact": MODEL_COLORS[1],
    "linearized": MODEL_COLORS[2],
    "linearized without log det": MODEL_COLORS[3],
    "DPS": MODEL_COLORS[4],
}


def _color(name: str, k: int) -> str:
    others = MODEL_COLORS[len(METHOD_COLORS) :]
    return METHOD_COLORS.get(name.split(",")[0], others[k % len(others)])


def _point_labels(points: Tensor) -> list[str]:
    rows = points.reshape(len(points), -1).tolist()
    if all(len(p) == 1 for p in rows):
        return [f"{p[0]:g}" for p in rows]
    return ["(" + ", ".join(f"{v:g}" for v in p) + ")" for p in rows]


def weight_bars(points: Tensor, columns: dict[str, Tensor], title: str | None = None) -> go.Figure:
    """The posterior weight of each training point, one group of bars per point and one bar per
    method (e.g. limiting, exact, linearized, linearized without log det, and a DPS histogram
    from `nearest_fractions`).

    Args:
        points: the training points, `[N, D]` (or `[N]`); they label the groups.
        columns: legend label -> weight of each point, `[N]` each.
        title: figure title (default "Posterior weight of each training point").

    Returns:
        A figure with one `go.Bar` per column, grouped.
    """
    labels = _point_labels(points)
    for name, w in columns.items():
        if w.shape != (len(labels),):
            raise ValueError(f"column {name!r} of shape {tuple(w.shape)}: need [{len(labels)}]")
    fig = go.Figure()
    for k, (name, w) in enumerate(columns.items()):
        fig.add_bar(
            x=labels,
            y=[float(v) for v in w],
            name=name,
            marker_color=_color(name, k),
            hovertemplate=f"{name}<br>x = %{{x}}<br>weight %{{y:.3f}}<extra></extra>",
        )
    fig.update_layout(
        title=title or "Posterior weight of each training point",
        barmode="group",
        xaxis={"title": "training point x_n", "type": "category"},
        yaxis={"title": "posterior weight", "rangemode": "tozero"},
        legend={"title": "method"},
    )
    return fig


def modes_against_sigma(
    sigmas: Tensor,
    curve: dict[str, Tensor],
    sigma_crit: float | None = None,
    title: str | None = None,
) -> go.Figure:
    """The effective number of modes against the prior width sigma (log axis), one line per
    method (the dict `modes_curve` returns), with a dashed vertical line at `sigma_crit` when
    given and finite.

    Args:
        sigmas: the prior widths, `[S]`, positive and ascending.
        curve: legend label -> effective modes at each sigma, `[S]` each.
        sigma_crit: where to draw the dashed line (None or inf: no line).
        title: figure title (default "Effective modes against the prior width").

    Returns:
        A figure with one `go.Scatter` per method, then the sigma_crit line's.
    """
    xs = [float(s) for s in sigmas]
    for name, modes in curve.items():
        if len(modes) != len(xs):
            raise ValueError(f"curve {name!r} has {len(modes)} points; sigmas has {len(xs)}")
    fig = go.Figure()
    values = []
    for k, (name, modes) in enumerate(curve.items()):
        ys = [float(v) for v in modes]
        values += ys
        fig.add_scatter(
            x=xs,
            y=ys,
            name=name,
            mode="lines+markers" if len(xs) <= 12 else "lines",
            line={"color": _color(name, k), "dash": "dot" if name == "limiting" else "solid"},
            hovertemplate=f"{name}<br>sigma %{{x:.3g}}<br>%{{y:.2f}} modes<extra></extra>",
        )
    if sigma_crit is not None and math.isfinite(sigma_crit) and values:
        fig.add_scatter(
            x=[sigma_crit, sigma_crit],
            y=[min(values), max(values)],
            name=f"sigma_crit {sigma_crit:.3g}",
            mode="lines",
            line={"color": "black", "dash": "dash", "width": 1},
            hovertemplate=f"sigma_crit {sigma_crit:.3g}<extra></extra>",
        )
    fig.update_layout(
        title=title or "Effective modes against the prior width",
        xaxis={"title": "prior width sigma", "type": "log"},
        yaxis={"title": "effective modes exp(H(w))"},
    )
    return fig
