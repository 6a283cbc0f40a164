"""Figures of fact capacity: facts stored against the size of the fact base (the capacity curve)
and against the cap M of a selection (the inverted U), each beside the line of every fact.

Examples:
    >>> fig = capacity_figure([250, 1000, 4000], {"FactNet, flat": [250, 1000, 501]})
    >>> [trace.name for trace in fig.data], fig.layout.xaxis.type
    (['FactNet, flat', 'every fact'], 'log')
    >>> fig = selection_figure(
    ...     [800, 1600, 2000],
    ...     {"lowest loss": [817, 1256, 853], "random": [835, 854, 606]},
    ...     controls={"flat over all 4000": 501, "Zipf over all 4000": 588},
    ... )
    >>> [trace.name for trace in fig.data]
    ['lowest loss', 'random', 'every kept fact', 'flat over all 4000', 'Zipf over all 4000']
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from interp.figures import lines

__all__ = ["capacity_figure", "selection_figure"]

GUIDE = {"dash": "dot", "color": "gray"}


def _guide(fig: go.Figure, x: Sequence[float], y: Sequence[float], name: str) -> None:
    fig.add_scatter(
        x=[float(v) for v in x], y=[float(v) for v in y], name=name, mode="lines", line=GUIDE
    )


def capacity_figure(
    names: Sequence[int], known: dict[str, Sequence[float]], title: str | None = None
) -> go.Figure:
    """Facts stored (exact match) against the number of names N, one curve per model or
    frequency distribution (`known`: label -> facts known at each N), beside "every fact"
    (y = N): a curve leaves that line where the fact base outgrows the network."""
    fig = lines(
        names,
        known,
        "names N",
        ylabel="facts stored",
        title=title or "Facts stored against the size of the fact base",
    )
    _guide(fig, names, names, "every fact")
    return fig


def selection_figure(
    keep: Sequence[int],
    known: dict[str, Sequence[float]],
    controls: dict[str, float] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Facts stored of the whole base against the cap M of a selection, one curve per way of
    choosing the M names (`known`: "lowest loss", "random", ...), beside "every kept fact"
    (y = M) and a horizontal line per control trained on every name (`controls`: label ->
    facts stored, e.g. flat or Zipf frequencies over all N)."""
    fig = lines(
        keep,
        known,
        "names kept M",
        ylabel="facts stored",
        title=title or "Facts stored against the names kept by selection",
        log_x=False,
    )
    _guide(fig, keep, keep, "every kept fact")
    for i, (label, value) in enumerate((controls or {}).items()):
        fig.add_scatter(
            x=[float(keep[0]), float(keep[-1])],
            y=[float(value)] * 2,
            name=label,
            mode="lines",
            line={"dash": "dash" if i % 2 == 0 else "dashdot"},
        )
    return fig
