"""Figures of the distillation study. Each takes what an analysis returned and returns a plotly
`Figure`; none of them computes science.

Examples:
    >>> eigenvalues, teacher = torch.tensor([10.0, 1.0, 0.1, 0.01]), torch.ones(4)
    >>> student, closed_form = torch.tensor([1.0, 0.9, 0.2, 0.01]), torch.tensor([1, 0.8, 0.1, 0])
    >>> fig = kept_directions(eigenvalues, teacher, student, closed_form)
    >>> [trace.name for trace in fig.data]
    ['teacher', 'student', 'student / teacher', 'closed form']
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots
from torch import Tensor

from interp.figures import SPLIT

__all__ = ["kept_directions"]


def kept_directions(
    eigenvalues: Tensor,
    teacher: Tensor,
    student: Tensor,
    kept: Tensor | None = None,
    title: str | None = None,
) -> go.Figure:
    """Two panels against the eigenvalue of each eigenvector of the feature covariance, log-log:
    the read-outs' energy along it (teacher, student), and the share the student keeps, with
    (optionally) its closed form `kept` (`kept_fraction`). All `[p]`, one model."""
    x = eigenvalues.tolist()
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    dots = {"mode": "markers", "marker": {"size": 4}}
    fig.add_scatter(
        x=x,
        y=teacher.tolist(),
        name="teacher",
        row=1,
        col=1,
        **dots | {"marker": {"size": 4, "color": SPLIT["memory"]}},
    )
    fig.add_scatter(
        x=x,
        y=student.tolist(),
        name="student",
        row=1,
        col=1,
        **dots | {"marker": {"size": 4, "color": SPLIT["general"]}},
    )
    fig.add_scatter(
        x=x,
        y=(student / teacher).tolist(),
        name="student / teacher",
        row=2,
        col=1,
        **dots | {"marker": {"size": 4, "color": "#555555"}},
    )
    if kept is not None:
        fig.add_scatter(
            x=x,
            y=kept.tolist(),
            name="closed form",
            mode="lines",
            row=2,
            col=1,
            line={"color": "#d62728", "width": 2},
        )
    fig.update_xaxes(type="log", exponentformat="power")
    fig.update_xaxes(title_text="eigenvalue of the feature covariance", row=2, col=1)
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_yaxes(title_text="energy ||A u_k||^2", row=1, col=1)
    fig.update_yaxes(title_text="kept by the student", range=[-4, 0.3], row=2, col=1)
    fig.update_layout(
        title=title or "Which feature directions a distilled student keeps",
        template="plotly_white",
        height=700,
        legend={"x": 1.02, "y": 1},
    )
    return fig
