"""Figures of the EdgeBank study: how much of a link scorer's score is memory. Each takes numbers
already computed (`memory_split`) and returns a plotly `Figure`; none computes science.

Examples:
    >>> from interp.studies.edgebank.evaluation import LinkScores, MemorySplit
    >>> scores = LinkScores(ap=0.76, auc=0.77, p_pos=0.58, p_neg=0.03, batches=45)
    >>> bank = MemorySplit(scores, repeats=0.58, negatives_in_memory=0.03, auc_repeat=0.985,
    ...                    ap_repeat=0.9, auc_new=0.485, ap_new=0.3, memory_auc=1.0)
    >>> fig = memory_bars({"EdgeBank": {"random": bank}})
    >>> [(t.x, t.y) for t in fig.data]                       # one bar per panel
    [(('random',), (0.985,)), (('random',), (0.485,)), (('random',), (1.0,))]
    >>> [a.text for a in fig.layout.annotations]
    ['AUC on repeats (pairs seen before)', 'AUC on new pairs', 'memory AUC (repeats above new)']
"""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from interp.figures import MODEL_COLORS
from interp.studies.edgebank.evaluation import MemorySplit

__all__ = ["memory_bars"]

_PANELS = (
    ("auc_repeat", "AUC on repeats (pairs seen before)"),
    ("auc_new", "AUC on new pairs"),
    ("memory_auc", "memory AUC (repeats above new)"),
)


def memory_bars(
    splits: Mapping[str, Mapping[str, MemorySplit]],
    title: str = "How much of each scorer's AUC is memory",
) -> go.Figure:
    """Grouped bars, one panel per measure (AUC on repeats, AUC on new pairs, memory AUC), one
    group per negative sampler and one bar per scorer: `splits[scorer][negatives]`. A dotted line
    marks chance (0.5)."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=[t for _, t in _PANELS])
    for k, (scorer, by_negatives) in enumerate(splits.items()):
        for col, (field, _) in enumerate(_PANELS, start=1):
            fig.add_trace(
                go.Bar(
                    x=list(by_negatives), y=[getattr(s, field) for s in by_negatives.values()],
                    name=scorer, legendgroup=scorer, showlegend=col == 1,
                    marker={"color": MODEL_COLORS[k % len(MODEL_COLORS)]},
                ),
                row=1, col=col,
            )  # fmt: skip
    for col in range(1, 4):
        fig.add_hline(y=0.5, line={"dash": "dot", "color": "gray"}, row=1, col=col)
    fig.update_yaxes(range=[0, 1])
    fig.update_layout(title=title, barmode="group", template="plotly_white", width=1100, height=420)
    return fig
