"""Four label-noise levels as one batched ensemble, the run the partition and probe examples share.

    python examples/noise_levels.py [--runs runs]

Trains (or reuses) runs/noise_levels: (a + b) mod 97, train fraction 0.5, label noise 0.2, 0.4,
0.6 and 0.8 (one model each, seed 0), width 500, Doshi init, full-batch AdamW lr 1e-2, no
weight decay, MSE, 1000 steps (the headline recipe at four noise levels). A few minutes on
2 CPU cores. Prints each model's accuracies and what per-neuron extraction pulls out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import interp
from interp.core.runs import Run

NOISES = (0.2, 0.4, 0.6, 0.8)
STEPS = 1000


def noise_levels_run(root: str | Path = "runs") -> Run:
    """The four-noise-level run under `root`, trained first if it is not there (resumed if cut):
    the headline recipe (examples/noise80_search.py's base) with one model per noise, seed 0."""
    models = len(NOISES)
    task = interp.modular_task(p=97, op="add", train_fraction=0.5, noise=NOISES, seed=[0] * models)
    model = interp.MLP(interp.MLPConfig(p=97, width=500, models=models, seed=[0] * models))
    config = interp.TrainConfig(
        steps=STEPS,
        lr=[1e-2] * models,
        weight_decay=[0.0] * models,
        log_every=10,
        save_log=12,
        save_every=STEPS // 4,
    )
    path = Path(root) / "noise_levels"
    interp.train(model, task, config, out=path, command="examples/noise_levels.py", reuse=True)
    return interp.load_run(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    args = parser.parse_args()
    run = noise_levels_run(args.runs)
    table = interp.compare_extraction(run.model(), run.task, methods=["neuron"])
    print(f"noise levels {list(NOISES)} (one model each), step {run.steps[-1]}")
    for name in ("raw", "neuron"):
        print(f"\n{name}\n{table[name]}")


if __name__ == "__main__":
    main()
