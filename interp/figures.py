"""What every study's figures share: step axes, model colours, the two subnetworks' colours,
line plots of per-model curves, and writing figures as offline HTML.

Examples:
    >>> m = interp.load_run("checkpoints/doshi_p97_noise035_wd0").metrics
    >>> curves = {"test": m["test_acc"][:, 0], "train-noisy": m["train_noisy_acc"][:, 0]}
    >>> fig = lines(m["step"], curves, "step", ylabel="accuracy")
    >>> [trace.name for trace in fig.data], len(fig.data[0].x), fig.layout.title.text
    (['test', 'train-noisy'], 101, 'Accuracy against step')
    >>> [path.name for path in write_figures({"training": fig}, tmp / "figures")]
    ['training.html']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import plotly.graph_objects as go
import torch
from plotly.colors import qualitative
from torch import Tensor

__all__ = ["lines", "write_figures", "ACCURACY_AXIS", "SPLIT", "MODEL_COLORS"]

ACCURACY_AXIS = {"title": "accuracy", "range": [-0.02, 1.02]}
SPLIT = {"general": "#1f77b4", "memory": "#ff7f0e"}  # the two subnetworks, in every figure
MODEL_COLORS = qualitative.Plotly


def log_steps(steps: Tensor) -> bool:
    """Whether a step axis is logarithmic: the positive steps span more than two decades."""
    positive = steps[steps > 0]
    return bool(positive.numel()) and float(positive.max() / positive.min()) > 100


def step_x(steps: Tensor, log_x: bool) -> list[float]:
    """Steps as x positions. A log axis cannot show step 0 (the initialisation), so there it
    sits at 0.5, half a step before the first update; hover texts show the true step."""
    return (torch.where(steps == 0, 0.5, steps.double()) if log_x else steps).tolist()


def check_model(model: int, models: int) -> None:
    if not 0 <= model < models:
        raise ValueError(f"model={model} is out of range: there are {models} models")


def lines(
    x: Sequence[float],
    curves: dict[str, Sequence[float]],
    xlabel: str,
    ylabel: str = "test accuracy",
    title: str | None = None,
    log_x: bool | None = None,
) -> go.Figure:
    """Curves against one setting: e.g. the test accuracy of the raw network, each extraction
    method and the baselines against label noise or width (a frontier), or a difference of
    training curves against step.

    Args:
        x: the setting's values, `[X]`, ascending.
        curves: legend label -> value at each x, `[X]` each.
        xlabel: the setting's name, for the axis.
        ylabel: the y axis; a label containing "accuracy" fixes the range to [0, 1].
        title: figure title (default "<ylabel> against <xlabel>").
        log_x: log x axis; default when x is positive and spans more than a decade.

    Returns:
        A figure with one `go.Scatter` (lines and markers) per curve.

    Examples:
        >>> fig = lines([0.5, 0.8], {"raw": [0.9, 0.01], "neuron": [1.0, 0.99]}, "label noise")
        >>> [trace.name for trace in fig.data], fig.data[1].y, fig.layout.yaxis.range
        (['raw', 'neuron'], (1.0, 0.99), (-0.02, 1.02))
        >>> fig.layout.title.text, fig.layout.xaxis.type
        ('Test accuracy against label noise', 'linear')
        >>> lines([16, 64, 512], {"raw": [0.2, 0.6, 0.9]}, "width").layout.xaxis.type
        'log'
    """
    xs = [float(v) for v in x]
    for label, ys in curves.items():
        if len(ys) != len(xs):
            raise ValueError(f"curve {label!r} has {len(ys)} points; x has {len(xs)}")
    if log_x is None:
        log_x = bool(xs) and min(xs) > 0 and max(xs) / min(xs) > 10
    fig = go.Figure()
    for label, ys in curves.items():
        fig.add_scatter(
            x=xs,
            y=[float(v) for v in ys],
            name=label,
            mode="lines+markers" if len(xs) <= 50 else "lines",
            hovertemplate=f"{label}<br>{xlabel} %{{x}}<br>%{{y:.3f}}<extra></extra>",
        )
    yaxis = {**ACCURACY_AXIS, "title": ylabel} if "accuracy" in ylabel else {"title": ylabel}
    fig.update_layout(
        title=title or f"{ylabel[:1].upper()}{ylabel[1:]} against {xlabel}",
        xaxis={"title": xlabel, "type": "log" if log_x else "linear"},
        yaxis=yaxis,
    )
    return fig


def write_figures(figures: dict[str, go.Figure], out: str | Path) -> list[Path]:
    """Write each figure to `out/<name>.html`, creating `out` if needed.

    The pages load plotly.js from one shared `out/plotly.min.js` (written once, when missing),
    so a folder of figures works offline without a 4 MB copy of plotly.js in every page. A page
    of the same name is overwritten.

    Args:
        figures: file stem -> figure; stems must be plain file names.
        out: the folder.

    Returns:
        The paths of the HTML files, in the order of `figures`.

    Examples:
        >>> fig = lines([0.5, 0.8], {"raw": [0.9, 0.01]}, "label noise")
        >>> paths = write_figures({"raw": fig, "raw_again": fig}, tmp / "figures")
        >>> [path.name for path in paths]
        ['raw.html', 'raw_again.html']
        >>> sorted(f.name for f in (tmp / "figures").iterdir())    # one shared plotly.js
        ['plotly.min.js', 'raw.html', 'raw_again.html']
    """
    out = Path(out)
    for name in figures:
        if not name or Path(name).name != name or name in (".", ".."):
            raise ValueError(f"figure name {name!r} is not a plain file name")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        path = out / f"{name}.html"
        fig.write_html(path, include_plotlyjs="directory", auto_open=False)
        paths.append(path)
    return paths
