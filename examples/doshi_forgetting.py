"""Doshi et al.'s forgetting phase: where it sits, and why decoupled weight decay matters.

    python examples/doshi_forgetting.py [--steps 1000] [--out figures/forgetting]

Their setup at label noise 0.35 (p 97, width 500, train fraction 0.5, x^2 activation, their
init, full-batch MSE, lr 1e-2, betas 0.9 / 0.98), their table: weight decay 20 -> train 0.9% /
test 1.1% ("forgetting"). Two batched ensembles side by side: AdamW (decoupled decay, theirs and
the library's default) at weight decay 0, 20, 30, 60, and Adam with the decay added to the
gradient as L2 (`TrainConfig(optimizer="adam")`) at 5 and 20. Prints test and clean-train
accuracy every 100 steps and the weights' rms at the end; `--out` draws test accuracy against
step, one line per run. About 4 minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import time

import torch

import interp
from interp.figures import lines, write_figures

RUNS = {"adamw": (0.0, 20.0, 30.0, 60.0), "adam": (5.0, 20.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", help="write the figure (test accuracy against step) here")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # decayed weights reach subnormal floats: slow on a CPU
    start = time.perf_counter()
    curves = {}  # label -> (steps [T], test [T], clean-train [T])
    for optimizer, decays in RUNS.items():
        n = len(decays)
        task = interp.modular_task(p=97, noise=0.35, seed=[0] * n)
        model = interp.MLP(interp.MLPConfig(p=97, width=500, models=n, seed=[0] * n))
        cfg = interp.TrainConfig(
            steps=args.steps, lr=1e-2, weight_decay=decays, optimizer=optimizer, log_every=25
        )
        result = interp.train(model, task, cfg, device="cpu", progress=False)
        m = result.metrics
        rms = result.model.weights()["U"].flatten(1).pow(2).mean(1).sqrt()
        for i, wd in enumerate(decays):
            label = f"{optimizer}, weight decay {wd:g}"
            curves[label] = (m["step"], m["test_acc"][:, i], m["train_clean_acc"][:, i])
            print(f"{label}: weights' rms at the end {rms[i]:.2g}")
    every = torch.arange(len(curves[label][0]))[curves[label][0] % 100 == 0]
    header = [int(s) for s in curves[label][0][every]]
    print("\ntest / clean-train accuracy at step")
    print("| run | " + " | ".join(str(s) for s in header) + " |")
    print("|---" * (len(header) + 1) + "|")
    for label, (_, test, clean) in curves.items():
        cells = (f"{test[j]:.2f} / {clean[j]:.2f}" for j in every)
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - start:.0f} s")
    if args.out:
        steps = curves[label][0]
        fig = lines(
            steps.tolist(),
            {name: test for name, (_, test, _) in curves.items()},
            "step",
            title="Test accuracy at label noise 0.35 (their forgetting row: 0.011)",
        )
        for path in write_figures({"forgetting": fig}, args.out):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
