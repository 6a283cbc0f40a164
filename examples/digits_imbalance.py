"""Class imbalance on a real data set: DiTs on scikit-learn's 8x8 digits 0 and 1.

    python examples/digits_imbalance.py [--out runs/digits_imbalance] [--steps 6000]

One ensemble of five DiTs (d_model 32, 2 layers, 4 heads, EDM loss, batches of 64, AdamW lr
3e-3), each on 150 training images of digits 0 and 1 drawn at its own weights rho_0 / rho_1:
0.5 / 0.5, 0.9 / 0.1, 0.98 / 0.02 and the two mirrored ones (digit 1, the more varied class,
as the majority). The run is trained into --out, or reused when it is there and resumed when
it was cut (a checkpoint every 250 steps, and 16 log-spaced ones), so a slow machine can train
it in several sittings.

Prints two markdown tables (`interp.studies.imbalance`):
1. per-class clocks: each class's denoising loss on its 28 held-out images at every saved step
   (shown at LOSS_STEPS), read with the rf_clocks thresholds: tau_gen (within 5% of the drop to
   the minimum), the step of the minimum, tau_mem (20% above the minimum after it; -1: not yet).
2. samples at SAMPLE_STEPS: 256 Heun samples per model (18 steps, one seed for every step), the
   share classified as digit 1 (nearest of the two digits' centroids) against rho_1, each
   class's memorized fraction (d1 / d2 < 1/3 to the model's own images), the lowest d1 / d2 of
   the model's samples, and each class's denoising loss on its training and held-out images.
"""

from __future__ import annotations

import argparse

import torch

import interp
from interp.studies.imbalance import class_denoising_loss, class_generation, class_loss_curve
from interp.studies.rf_clocks import score_clocks
from interp.tasks.digits import SIGMA_DATA, digits_task

WEIGHTS = [(0.5, 0.5), (0.9, 0.1), (0.98, 0.02), (0.1, 0.9), (0.02, 0.98)]
SAMPLE_STEPS = (250, 1000, 3000, 6000)
LOSS_STEPS = (0, 18, 32, 58, 104, 250, 1000, 3000, 6000)  # saved at 6000 steps (16 log-spaced)


def cell(x: torch.Tensor) -> str:
    return "-" if x.isnan() else f"{float(x):.2f}"


def trained(out: str, steps: int) -> interp.core.runs.Run:
    task = digits_task(classes=(0, 1), weights=WEIGHTS, n=150, seed=0)
    config = interp.DiTConfig(
        d=64, d_model=32, n_heads=4, models=len(WEIGHTS), seed=0, sigma_data=SIGMA_DATA
    )
    cfg = interp.TrainConfig(
        steps=steps, lr=3e-3, loss="edm", batch_size=64, log_every=250, save_every=250, save_log=16
    )
    interp.train(interp.DiT(config), task, cfg, out=out, reuse=True, device="cpu", progress=False)
    return interp.load_run(out)


def clocks_table(run: interp.core.runs.Run) -> None:
    steps, loss = class_loss_curve(run)  # [steps, models, classes]
    clocks = score_clocks(loss.flatten(1), steps)  # [models * classes]
    shown = [steps.index(s) for s in LOSS_STEPS if s in steps]
    print(
        "| rho_0 / rho_1 | digit | rho | "
        + " | ".join(f"step {steps[i]}" for i in shown)
        + " | tau_gen | best step | tau_mem |"
    )
    print("|" + "---|" * (len(shown) + 6))
    for m, rho in enumerate(WEIGHTS):
        for c in range(2):
            k = m * 2 + c
            cells = [f"{float(loss[i, m, c]):.2f}" for i in shown]
            cells += [str(int(t[k])) for t in (clocks.tau_gen, clocks.best_step, clocks.tau_mem)]
            print(f"| {rho[0]:g} / {rho[1]:g} | {c} | {rho[c]:g} | " + " | ".join(cells) + " |")


def samples_table(run: interp.core.runs.Run, samples: int) -> None:
    print(
        "| rho_0 / rho_1 | step | share of 1 | f_mem 0 | f_mem 1 | lowest d1/d2 | train loss 0 |"
        " train loss 1 | test loss 0 | test loss 1 |"
    )
    print("|" + "---|" * 10)
    rows = {}
    for step in [s for s in SAMPLE_STEPS if s in run.steps]:
        model = run.model(step)
        gen = torch.Generator().manual_seed(0)
        x = interp.diffusion.sample(model, (len(WEIGHTS), samples, 64), generator=gen)
        g = class_generation(run.task, x)
        train = class_denoising_loss(model, run.task, "train")
        test = class_denoising_loss(model, run.task, "test")
        for m in range(len(WEIGHTS)):
            cells = [g.share[m, 1], *g.memorized_fraction[m], g.ratio[m].min(), *train[m], *test[m]]
            rows[m, step] = " | ".join(cell(c) for c in cells)
    for (m, step), line in sorted(rows.items()):
        print(f"| {WEIGHTS[m][0]:g} / {WEIGHTS[m][1]:g} | {step} | {line} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/digits_imbalance")
    parser.add_argument("--steps", type=int, default=SAMPLE_STEPS[-1])
    parser.add_argument("--samples", type=int, default=256)
    args = parser.parse_args()
    run = trained(args.out, args.steps)
    clocks_table(run)
    print()
    samples_table(run, args.samples)
