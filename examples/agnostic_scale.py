"""Where the task-agnostic extraction finds the group law: against the share of clean entries.

A memorizing network holds its training table and nothing more (`rule_spread.py`), so finding
the group law from its weights is solving noisy planted equations s(a) + s(b) = s(c) of three
variables: m = f p^2 equations (f the train fraction), a share 1 - noise of them true, over
n ~ p unknowns; R is the signal-to-noise scale of spectral methods for such equations
(docs/noise_frontier.md). This sweeps p, noise and train fraction, trains one batched ensemble
of memorizing networks per p (the headline recipe: x^2, Doshi init, AdamW lr 1e-2, MSE, 1000
full-batch steps), and prints for every model R, how well it fits its wrong labels, its own test
accuracy, the agnostic extraction's (`interp.extract(model, "agnostic")`), the share of the
task's table the found law gets right, its score J, and the "neuron" extraction told the
group; then a figure of agnostic test accuracy against the share of all p^2 pairs that are
clean training entries, f (1 - noise), one colour per p (`--out`).

About four minutes on a 2-core CPU with the defaults (2026-12-02, before the consensus step;
with it the search takes 1-5 s a model).

Usage:
    python examples/agnostic_scale.py [--p 23 31 43 61] [--noise 0.5 0.6 0.7 0.8]
        [--fractions 0.3 0.5 0.7 0.9] [--seeds 0] [--op add] [--width 256] [--steps 1000]
        [--out figures/agnostic_scale]
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import plotly.graph_objects as go
import torch

import interp
from interp.figures import ACCURACY_AXIS, write_figures
from interp.studies import label_noise


def sweep(p: int, grid: list[tuple[float, float, int]], args: argparse.Namespace) -> list[dict]:
    """Train one ensemble over `grid` (noise, train fraction, seed) at `p`; one row per model."""
    noise, fraction, seed = (list(v) for v in zip(*grid, strict=True))
    task = interp.modular_task(p=p, op=args.op, noise=noise, train_fraction=fraction, seed=seed)
    model = interp.MLP(interp.MLPConfig(p=p, width=args.width, models=len(grid), seed=tuple(seed)))
    config = interp.TrainConfig(steps=args.steps, log_every=args.steps)
    interp.train(model, task, config, progress=False)
    raw = interp.evaluate(model, task)
    told = interp.evaluate(interp.extract(model, op=args.op), task)
    start = time.perf_counter()
    law = label_noise.find_group_law(model, progress=True)
    seconds = (time.perf_counter() - start) / len(grid)
    agnostic = interp.evaluate(label_noise.project_over_law(model, law), task)
    return [
        {
            "p": p,
            "noise": eta,
            "fraction": f,
            "seed": s,
            "R": f * (1 - eta) ** 2 * math.sqrt(p),
            "clean": f * (1 - eta),
            "fit": float(raw.train_noisy[m]),
            "raw": float(raw.test[m]),
            "agnostic": float(agnostic.test[m]),
            "J": float(law.score[m]),
            "right": float(law.right_on(task)[m]),
            "told": float(told.test[m]),
            "seconds": seconds,
        }
        for m, (eta, f, s) in enumerate(grid)
    ]


def figure(rows: list[dict]) -> go.Figure:
    fig = go.Figure()
    for p in sorted({r["p"] for r in rows}):
        mine = sorted((r for r in rows if r["p"] == p), key=lambda r: r["clean"])
        fig.add_scatter(
            x=[r["clean"] for r in mine],
            y=[r["agnostic"] for r in mine],
            mode="markers",
            name=f"p {p}",
            text=[f"noise {r['noise']}, f {r['fraction']}, R {r['R']:.2f}" for r in mine],
            hovertemplate="clean share %{x:.2f}<br>%{y:.3f}<br>%{text}<extra></extra>",
        )
    fig.update_layout(
        title="Task-agnostic extraction against the share of pairs that are clean training entries",
        xaxis={"title": "clean share f (1 - noise)"},
        yaxis={**ACCURACY_AXIS, "title": "test accuracy after agnostic extraction"},
    )
    return fig


def listed(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--p", type=int, nargs="+", default=[23, 31, 43, 61])
    parser.add_argument("--noise", type=float, nargs="+", default=[0.5, 0.6, 0.7, 0.8])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--op", default="add", choices=("add", "subtract", "multiply"))
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", default="figures/agnostic_scale")
    args = parser.parse_args()
    torch.set_flush_denormal(True)  # decaying weights reach subnormal floats on a CPU
    grid = list(itertools.product(args.noise, args.fractions, args.seeds))
    rows = [row for p in args.p for row in sweep(p, grid, args)]
    print(f"\n{args.op}, width {args.width}: test accuracy")
    head = "p | noise | f | seed | clean | R | wrong fit | raw | agnostic | law right; J | neuron"
    print(f"| {head} (told) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["p"], r["clean"], r["R"])):
        print(
            f"| {r['p']} | {r['noise']} | {r['fraction']} | {r['seed']} | {r['clean']:.2f} | "
            f"{r['R']:.2f} | "
            f"{r['fit']:.3f} | {r['raw']:.3f} | {r['agnostic']:.3f} | "
            f"{r['right']:.3f}; {r['J']:.1f} | {r['told']:.3f} |"
        )
    for p in args.p:
        seconds = next(r["seconds"] for r in rows if r["p"] == p)
        found = sorted(r["clean"] for r in rows if r["p"] == p and r["right"] >= 0.99)
        lost = sorted(r["clean"] for r in rows if r["p"] == p and r["right"] < 0.99)
        print(
            f"p {p}: the law found (right on >= 0.99 of the table) at clean shares "
            f"{listed(found)}; not at {listed(lost)} ({seconds:.0f} s of search a model)"
        )
    for path in write_figures({"agnostic_scale": figure(rows)}, args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
