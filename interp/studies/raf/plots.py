"""Figures of the Rules-and-Facts study: the two errors against a swept parameter (alpha, or the
random features' kappa), the theory as lines and the simulations as markers of the same colour.
The functions take numbers already computed (`theory.state_evolution`, `learners.measure`) and
return a plotly `Figure`; none of them computes science.

Examples:
    >>> theory = {"ridge": ([0.31, 0.25, 0.17], [0.12, 0.22, 0.37])}
    >>> simulated = {"ridge": ([2.0], [0.247], [0.221])}
    >>> fig = errors_against([1.0, 2.0, 5.0], theory, simulated, bayes=[0.308, 0.243, 0.147])
    >>> [(t.name, t.mode) for t in fig.data][::2]       # E_gen and E_mem of each, then Bayes
    [('ridge', 'lines'), ('ridge', 'markers'), ('Bayes-optimal', 'lines')]
    >>> fig.layout.xaxis.type, fig.layout.yaxis.type, fig.layout.yaxis.title.text
    ('log', 'log', 'E_gen (rule error, fresh points)')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from interp.figures import MODEL_COLORS

__all__ = ["errors_against"]


def errors_against(
    x: Sequence[float],
    theory: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    simulated: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]] | None = None,
    *,
    bayes: Sequence[float] | None = None,
    x_title: str = "alpha = n / d",
    log_errors: bool = True,
    title: str = "Rules and facts: theory (lines) and simulation (markers)",
) -> go.Figure:
    """E_gen (left) and E_mem (right) against `x [k]`: per learner, `theory[name] = (e_gen [k],
    e_mem [k])` drawn as lines, `simulated[name] = (x [j], e_gen [j], e_mem [j])` as markers of
    the same colour, and the Bayes-optimal E_gen `bayes [k]` dashed on the left. E_gen on a log
    scale by default (power laws are straight lines); E_mem always linear (it reaches 0)."""
    simulated = simulated or {}
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1)
    names = list(dict.fromkeys([*theory, *simulated]))
    for k, name in enumerate(names):
        color = MODEL_COLORS[k % len(MODEL_COLORS)]
        if name in theory:
            for col, ys in enumerate(theory[name], start=1):
                fig.add_trace(
                    go.Scatter(
                        x=list(x), y=list(ys), mode="lines", name=name, legendgroup=name,
                        line={"color": color}, showlegend=col == 1,
                    ),
                    row=1, col=col,
                )  # fmt: skip
        if name in simulated:
            xs, gen, mem = simulated[name]
            for col, ys in ((1, gen), (2, mem)):
                fig.add_trace(
                    go.Scatter(
                        x=list(xs), y=list(ys), mode="markers", name=name, legendgroup=name,
                        marker={"color": color, "size": 9, "symbol": "circle-open"},
                        showlegend=name not in theory and col == 1,
                    ),
                    row=1, col=col,
                )  # fmt: skip
    if bayes is not None:
        fig.add_trace(
            go.Scatter(
                x=list(x), y=list(bayes), mode="lines", name="Bayes-optimal",
                line={"color": "black", "dash": "dash"},
            ),
            row=1, col=1,
        )  # fmt: skip
    fig.update_xaxes(type="log", title_text=x_title)
    fig.update_yaxes(title_text="E_gen (rule error, fresh points)", row=1, col=1)
    fig.update_yaxes(title_text="E_mem (facts not reproduced)", row=1, col=2)
    if log_errors:
        fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(title=title, template="plotly_white", width=1000, height=450)
    return fig
