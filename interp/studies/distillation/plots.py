"""Figures of the distillation study. Each takes what an analysis returned and returns a plotly
`Figure`; none of them computes science.

Example:
    >>> eigenvalues, teacher = torch.tensor([10.0, 1.0, 0.1, 0.01]), torch.ones(4)
    >>> student, closed_form = torch.tensor([1.0, 0.9, 0.2, 0.01]), torch.tensor([1, 0.8, 0.1, 0])
    >>> fig = kept_directions(eigenvalues, teacher, student, closed_form)
    >>> [trace.name for trace in fig.data]
    ['teacher', 'student', 'student, closed form']
"""

from __future__ import annotations

import plotly.graph_objects as go
from torch import Tensor

from interp.figures import SPLIT

__all__ = ["kept_directions"]


def kept_directions(
    eigenvalues: Tensor,
    teacher: Tensor,
    student: Tensor,
    predicted: Tensor | None = None,
    title: str | None = None,
) -> go.Figure:
    """The read-outs' energy along each eigenvector of the feature covariance against its
    eigenvalue, log-log: the teacher's, the student's and (optionally) the student's in closed
    form (the teacher's times `kept_fraction`). All `[p]`, one model."""
    x = eigenvalues.tolist()
    fig = go.Figure()
    fig.add_scatter(
        x=x,
        y=teacher.tolist(),
        name="teacher",
        mode="markers",
        marker={"color": SPLIT["memory"], "size": 5},
    )
    fig.add_scatter(
        x=x,
        y=student.tolist(),
        name="student",
        mode="markers",
        marker={"color": SPLIT["general"], "size": 5},
    )
    if predicted is not None:
        fig.add_scatter(
            x=x,
            y=(teacher * predicted).tolist(),
            name="student, closed form",
            mode="lines",
            line={"color": SPLIT["general"], "dash": "dot"},
        )
    fig.update_layout(
        title=title or "Energy of the read-out along each feature direction",
        xaxis={"title": "eigenvalue of the feature covariance", "type": "log"},
        yaxis={"title": "||A u_k||^2", "type": "log", "exponentformat": "power"},
        template="plotly_white",
        legend={"x": 0.01, "y": 0.01},
    )
    return fig
