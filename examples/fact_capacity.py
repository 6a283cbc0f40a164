"""Fact capacity of a two-layer network (Ye, Feldman, Talwar 2026; Allen-Zhu & Li): how many
random name -> 2-digit facts a fixed network stores as the fact base grows past its capacity.

    python examples/fact_capacity.py

One `FactNet` per fact base size (fixed random name codes of 32 dimensions, 64 hidden neurons,
3412 trainable parameters), N = 250 ... 4000 names as one ensemble, 3000 full-batch AdamW steps
on the expected cross-entropy under flat (exponent 0) or Zipf (exponent 1) frequencies. Prints
the facts recalled exactly and the bits stored per parameter. About a minute on the CPU.
"""

from __future__ import annotations

import torch

import interp
from interp.models.factnet import FactNet, FactNetConfig
from interp.tasks.facts import bits_stored, fact_task

NAMES = [250, 500, 1000, 2000, 4000]


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


if __name__ == "__main__":
    main()
