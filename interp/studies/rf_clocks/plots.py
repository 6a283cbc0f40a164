"""Figures of the random-features clocks: train and test loss over training with both times
marked, and the times against n on log-log axes. Each takes what an analysis returned and
returns a plotly `Figure`; none of them computes science.

Examples:
    >>> steps = torch.tensor([0, 10, 100, 1000])
    >>> metrics = {"step": steps, "train_loss": torch.tensor([[1.0], [0.9], [0.7], [0.5]]),
    ...            "test_loss": torch.tensor([[1.0], [0.85], [0.9], [1.2]])}
    >>> from interp.studies.rf_clocks.clocks import score_clocks
    >>> fig = loss_curves(metrics, score_clocks(metrics["test_loss"], steps), ["n=100"])
    >>> [trace.name for trace in fig.data]
    ['n=100 train', 'n=100 test', 'n=100 tau_gen', 'n=100 tau_mem']
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go
from torch import Tensor

from interp.figures import MODEL_COLORS, lines, log_steps, step_x
from interp.studies.rf_clocks.clocks import ScoreClocks

__all__ = ["loss_curves", "times_against_n"]


def loss_curves(
    metrics: dict[str, Tensor], clocks: ScoreClocks, labels: Sequence[str], title: str | None = None
) -> go.Figure:
    """Train (dashed) and test (solid) loss of every model over training, one colour per model,
    with a marker at tau_gen (circle) and tau_mem (cross) on the test curve."""
    steps = metrics["step"]
    log_x = log_steps(steps)
    x = step_x(steps, log_x)
    fig = go.Figure()
    for m, label in enumerate(labels):
        color = MODEL_COLORS[m % len(MODEL_COLORS)]
        for name, dash in (("train_loss", "dash"), ("test_loss", "solid")):
            fig.add_scatter(
                x=x,
                y=metrics[name][:, m].tolist(),
                name=f"{label} {name.split('_')[0]}",
                mode="lines",
                line={"color": color, "dash": dash},
            )
        test = metrics["test_loss"][:, m]
        for clock, symbol in (("tau_gen", "circle"), ("tau_mem", "x")):
            tau = int(getattr(clocks, clock)[m])
            at = [i for i, s in enumerate(steps.tolist()) if s == tau]
            fig.add_scatter(
                x=[x[i] for i in at],
                y=[float(test[i]) for i in at],
                name=f"{label} {clock}",
                mode="markers",
                marker={"color": color, "symbol": symbol, "size": 11},
            )
    fig.update_layout(
        title=title or "Loss over training: tau_gen (circle) and tau_mem (cross)",
        xaxis={"title": "step", "type": "log" if log_x else "linear"},
        yaxis={"title": "denoising loss"},
    )
    return fig


def times_against_n(
    n: Sequence[int], clocks: ScoreClocks, slope: float, seeds: Sequence[int] | None = None
) -> go.Figure:
    """tau_gen and tau_mem against n on log-log axes, one curve per clock and seed (clocks that
    never rang left out), with tau_mem's fitted log-log slope in the title."""
    seeds = [0] * len(n) if seeds is None else list(seeds)
    sizes = sorted(set(n))
    curves = {}
    for seed in sorted(set(seeds)):
        named = "" if len(set(seeds)) == 1 else f", seed {seed}"
        model_of = {size: m for m, (size, s) in enumerate(zip(n, seeds)) if s == seed}
        for clock in ("tau_gen", "tau_mem"):
            tau = getattr(clocks, clock).tolist()
            curves[clock + named] = [
                float(tau[model_of[k]]) if k in model_of and tau[model_of[k]] > 0 else math.nan
                for k in sizes
            ]
    fig = lines(sizes, curves, "n (training points)", "step", log_x=True)
    fig.update_layout(yaxis_type="log", title=f"The two times against n (tau_mem ~ n^{slope:.2f})")
    return fig
