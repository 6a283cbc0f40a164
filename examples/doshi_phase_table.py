"""Reproduce Doshi et al. (2024)'s phase table at label noise 0.35 as ONE batched ensemble.

    python examples/doshi_phase_table.py [--epochs 1000] [--device auto] [--out runs/doshi_table]

Setup (theirs): (a + b) mod 97, train fraction 0.5, 35% of training labels replaced by wrong ones,
two-layer x^2 network of width 500 without biases, init N(0, sqrt(.25)/(2 width)^(1/3)), full-batch
MSE on one-hot targets, AdamW lr 1e-2, betas (0.9, 0.98). Only the weight decay differs between the
four models, which train side by side in one forward/backward pass.

Printed: the measured train / test accuracy next to theirs, then what is left after pruning the
70% least periodic (lowest-IPR) neurons and after projecting every neuron onto its dominant
frequency. Takes about 5 minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import interp
from interp.studies import label_noise

WEIGHT_DECAYS = (0.0, 5.0, 15.0, 20.0)
# Doshi et al. 2024, xi = 0.35: weight decay -> (train %, test %, phase)
THEIRS = {
    0.0: (97.8, 98.3, "coexistence"),
    5.0: (78.6, 100.0, "partial inversion"),
    15.0: (65.4, 100.0, "full inversion"),
    20.0: (0.9, 1.1, "forgetting"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=None, help="also save the run here")
    parser.add_argument("--prune", type=float, default=0.7, help="fraction of neurons to prune")
    args = parser.parse_args()

    models = len(WEIGHT_DECAYS)
    task = interp.modular_task(p=97, op="add", train_fraction=0.5, noise=0.35, seed=[0] * models)
    model = interp.MLP(interp.MLPConfig(p=97, width=500, models=models, seed=[0] * models))
    config = interp.TrainConfig(
        steps=args.epochs, lr=1e-2, weight_decay=WEIGHT_DECAYS, log_every=50
    )
    start = time.perf_counter()
    trained = interp.train(model, task, config, out=args.out, device=args.device).model
    minutes = (time.perf_counter() - start) / 60
    print(
        f"\ntrained {models} models x {args.epochs} epochs batched in {minutes:.1f} min "
        f"on {trained.device}\n"
    )

    raw = interp.evaluate(trained, task)
    ipr = interp.extract_frequencies(trained).ipr  # [models, neurons]
    keep = ipr >= ipr.quantile(args.prune, dim=1, keepdim=True)
    pruned = interp.evaluate(label_noise.prune(trained, keep), task)
    projected = interp.evaluate(interp.extract(trained), task)

    print(
        f"{'weight decay':>12} | {'theirs: train  test':>19} {'phase':<18}| "
        f"{'ours: train  test  noisy-fit':>28} | {'IPR-pruned: test noisy':>22} | "
        f"{'projected: test noisy':>21}"
    )
    for i, wd in enumerate(WEIGHT_DECAYS):
        tr, te, phase = THEIRS[wd]
        print(
            f"{wd:>12g} | {tr:>12.1f} {te:>5.1f} {phase:<18}| "
            f"{100 * raw.train[i]:>11.1f} {100 * raw.test[i]:>5.1f} "
            f"{100 * raw.train_noisy[i]:>10.1f} | "
            f"{100 * pruned.test[i]:>16.1f} {100 * pruned.train_noisy[i]:>5.1f} | "
            f"{100 * projected.test[i]:>15.1f} {100 * projected.train_noisy[i]:>5.1f}"
        )
    print("\ntrain: accuracy on the training labels as given (noisy ones included); noisy-fit: on")
    print(
        "the noisy ones only. Median IPR per model: "
        + ", ".join(f"{v:.3f}" for v in ipr.median(dim=1).values.tolist())
    )


if __name__ == "__main__":
    main()
