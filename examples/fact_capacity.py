"""Fact capacity of a two-layer network (Ye, Feldman, Talwar 2026; Allen-Zhu & Li): how many
random name -> 2-digit facts a fixed network stores as the fact base grows past its capacity.

    python examples/fact_capacity.py [--threads 2] [--figures figures/fact_capacity]

One `FactNet` per fact base size (fixed random name codes of 32 dimensions, 64 hidden neurons,
3412 trainable parameters), N = 250 ... 4000 names as one ensemble, 3000 full-batch AdamW steps
on the expected cross-entropy under flat (exponent 0) or Zipf (exponent 1) frequencies. Prints
the facts recalled exactly and the bits stored per parameter.

Then selection at N = 4000 (Zipf 1), the same 3000 steps in all: 300 steps on the base as it
comes, then 2700 on a cap of M names, flat over them, chosen by the warmed-up network's lowest
loss (`select_by_loss`) or at random (`random_subset`, the control). Writes the capacity curve
and the selection's inverted U (beside training on all N names, flat or Zipf) as HTML to
figures/fact_capacity/. About two minutes on two threads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import plotly.graph_objects as go
import torch

import interp
from interp.figures import write_figures
from interp.models.factnet import FactNet, FactNetConfig
from interp.studies.facts import random_subset, select_by_loss
from interp.studies.facts.plots import capacity_figure, selection_figure
from interp.tasks.facts import bits_stored, fact_task, facts_known

NAMES = [250, 500, 1000, 2000, 4000]
KEEP = [800, 1000, 1200, 1600, 2000]


def selection(controls: dict[str, float]) -> go.Figure:
    """Loss-based selection against a random cap, at N = 4000, one model per cap; the figure
    shows them beside `controls` (facts stored trained on all N names)."""
    n = NAMES[-1]
    task = fact_task(names=[n] * len(KEEP), digits=2, exponent=1.0, seed=0)
    cfg = FactNetConfig(names=n, digits=2, width=64, embed=32, models=len(KEEP))
    warm = interp.TrainConfig(steps=300, lr=3e-3, loss="ce", log_every=300)
    rest = interp.TrainConfig(steps=2700, lr=3e-3, loss="ce", log_every=2700)
    print(f"\n| N = {n}, Zipf 1 | " + " | ".join(f"keep {k}" for k in KEEP) + " |")
    print("|---|" + "---|" * len(KEEP))
    curves = {}
    for name in ("lowest loss", "random"):
        model = interp.train(FactNet(cfg), task, warm, progress=False).model
        chosen = (
            select_by_loss(model, task, KEEP)
            if name == "lowest loss"
            else random_subset(task, KEEP)
        )
        model = interp.train(model, chosen, rest, progress=False).model
        known = facts_known(model.recall(n), task)
        print(f"| {name} | " + " | ".join(str(int(k)) for k in known.tolist()) + " |")
        curves[name] = known.tolist()
    return selection_figure(KEEP, curves, controls, title=f"Selection at N = {n}, Zipf 1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--figures", type=Path, default=Path("figures/fact_capacity"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| frequencies | " + " | ".join(f"N = {n}" for n in NAMES) + " |")
    print("|---|" + "---|" * len(NAMES))
    curves = {}
    for exponent in (0.0, 1.0):
        task = fact_task(names=NAMES, digits=2, exponent=exponent, seed=0)
        cfg = FactNetConfig(names=max(NAMES), digits=2, width=64, embed=32, models=len(NAMES))
        config = interp.TrainConfig(steps=3000, lr=3e-3, loss="ce", log_every=1000)
        known = interp.train(FactNet(cfg), task, config, progress=False).metrics["facts_known"][-1]
        bits = bits_stored(known, task, cfg.parameters)
        cells = [f"{int(k)} ({b:.2f} bits/param)" for k, b in zip(known.tolist(), bits.tolist())]
        name = "flat" if exponent == 0 else f"Zipf {exponent:g}"
        print(f"| {name} | " + " | ".join(cells) + " |")
        curves[f"FactNet, {name}"] = known.tolist()
    n = NAMES[-1]
    controls = {f"{name.split(', ')[1]} over all {n}": c[-1] for name, c in curves.items()}
    figures = {"capacity": capacity_figure(NAMES, curves), "selection": selection(controls)}
    for path in write_figures(figures, args.figures):
        print(f"figure: {path}")


if __name__ == "__main__":
    main()
