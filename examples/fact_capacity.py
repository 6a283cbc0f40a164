"""Fact capacity of a two-layer network (Ye, Feldman, Talwar 2026; Allen-Zhu & Li): how many
random name -> 2-digit facts a fixed network stores as the fact base grows past its capacity.

    python examples/fact_capacity.py

One `FactNet` per fact base size (fixed random name codes of 32 dimensions, 64 hidden neurons,
3412 trainable parameters), N = 250 ... 4000 names as one ensemble, 3000 full-batch AdamW steps
on the expected cross-entropy under flat (exponent 0) or Zipf (exponent 1) frequencies. Prints
the facts recalled exactly and the bits stored per parameter.

Then selection at N = 4000 (Zipf 1), the same 3000 steps in all: 300 steps on the base as it
comes, then 2700 on a cap of M names, flat over them, chosen by the warmed-up network's lowest
loss (`select_by_loss`) or at random (`random_subset`, the control). About two minutes.
"""

from __future__ import annotations

import torch

import interp
from interp.models.factnet import FactNet, FactNetConfig
from interp.studies.facts import random_subset, select_by_loss
from interp.tasks.facts import bits_stored, fact_task, facts_known

NAMES = [250, 500, 1000, 2000, 4000]
KEEP = [800, 1000, 1200, 1600, 2000]


def selection() -> None:
    """Loss-based selection against a random cap, at N = 4000, one model per cap."""
    n = NAMES[-1]
    task = fact_task(names=[n] * len(KEEP), digits=2, exponent=1.0, seed=0)
    cfg = FactNetConfig(names=n, digits=2, width=64, embed=32, models=len(KEEP))
    warm = interp.TrainConfig(steps=300, lr=3e-3, loss="ce", log_every=300)
    rest = interp.TrainConfig(steps=2700, lr=3e-3, loss="ce", log_every=2700)
    print(f"\n| N = {n}, Zipf 1 | " + " | ".join(f"keep {k}" for k in KEEP) + " |")
    print("|---|" + "---|" * len(KEEP))
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


def main() -> None:
    torch.set_num_threads(2)
    print("| frequencies | " + " | ".join(f"N = {n}" for n in NAMES) + " |")
    print("|---|" + "---|" * len(NAMES))
    for exponent in (0.0, 1.0):
        task = fact_task(names=NAMES, digits=2, exponent=exponent, seed=0)
        cfg = FactNetConfig(names=max(NAMES), digits=2, width=64, embed=32, models=len(NAMES))
        config = interp.TrainConfig(steps=3000, lr=3e-3, loss="ce", log_every=1000)
        known = interp.train(FactNet(cfg), task, config, progress=False).metrics["facts_known"][-1]
        bits = bits_stored(known, task, cfg.parameters)
        cells = [f"{int(k)} ({b:.2f} bits/param)" for k, b in zip(known.tolist(), bits.tolist())]
        name = "flat" if exponent == 0 else f"Zipf {exponent:g}"
        print(f"| {name} | " + " | ".join(cells) + " |")
    selection()


if __name__ == "__main__":
    main()
