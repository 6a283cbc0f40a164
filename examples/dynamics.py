"""The dynamics of memorization at 80% label noise: which labels does the network fit first, and
when does the rule become extractable from its weights?

    python examples/dynamics.py [--run checkpoints/add_p97_noise080] [--out figures/dynamics]

For every logged step of the run it reads train-clean, train-noisy (fit to the wrong labels) and
raw test accuracy; at every saved checkpoint it extracts the rule (per-neuron dominant-frequency
projection, `interp.extraction_curve`). It prints the step at which the noisy and the clean
training labels are each 50 / 90 / 99% fit, and when the extracted network first reaches 95% test
accuracy, and writes the curves as plotly figures. Runs in seconds on a CPU: it trains nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import interp
from interp.figures import lines, write_figures
from interp.studies.label_noise.plots import training_curves

DEFAULT_RUN = Path(__file__).resolve().parent.parent / "checkpoints" / "add_p97_noise080"
THRESHOLDS = (0.5, 0.9, 0.99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN, help="run folder to analyse")
    parser.add_argument("--out", type=Path, default=Path("figures/dynamics"), help="figures")
    parser.add_argument("--model", type=int, default=0, help="model of the ensemble")
    args = parser.parse_args()
    start = time.perf_counter()

    run = interp.load_run(args.run)
    metrics, m = run.metrics, args.model
    if not metrics:
        raise SystemExit(f"{run.path}: no logged metrics")
    logged = metrics["step"]
    print(f"run {run.path}: {len(logged)} logged steps, {len(run.steps)} checkpoints")
    print(f"command {run.config.get('command')}\n")

    print(f"{'first step at which':<36}" + "".join(f"{t:>8.0%}" for t in THRESHOLDS))
    curves = {
        "train-noisy (wrong labels) fit": "train_noisy_acc",
        "train-clean fit": "train_clean_acc",
    }
    for label, name in curves.items():
        firsts = [interp.first_step(metrics[name], logged, t)[m].item() for t in THRESHOLDS]
        print(f"{label:<36}" + "".join(f"{s:>8}" for s in firsts))

    # Who leads while the labels are being fit: the logged steps before both reach 99%.
    noisy, clean = metrics["train_noisy_acc"][:, m], metrics["train_clean_acc"][:, m]
    done = max(interp.first_step(metrics[n], logged, 0.99)[m].item() for n in curves.values())
    race = (logged > 0) & ((logged <= done) if done >= 0 else True)
    ahead = int((noisy[race] > clean[race]).sum())
    print(
        f"train-noisy fit ahead of train-clean at {ahead} of {int(race.sum())} steps in 1..{done}"
    )

    steps, curve = interp.extraction_curve(run, methods=["neuron"])
    extracted = curve["neuron"]
    reach = interp.first_step(extracted.test, steps, 0.95)[m].item()
    print(f"extracted test accuracy first >= 95% at checkpoint step {reach}\n")

    print(
        f"{'step':>6}{'train-clean':>13}{'train-noisy':>13}{'raw test':>10}{'extracted test':>16}"
    )
    for i, s in enumerate(steps):
        raw = curve["raw"]
        print(
            f"{s:>6}{raw.train_clean[i, m]:>13.3f}{raw.train_noisy[i, m]:>13.3f}"
            f"{raw.test[i, m]:>10.3f}{extracted.test[i, m]:>16.3f}"
        )

    figure = training_curves(
        metrics, model=m, extracted=(torch.tensor(steps), extracted.test[:, m])
    )
    figure.update_layout(title="Memorizing 80% wrong labels while the weights learn the rule")
    difference = noisy - clean
    gap = lines(
        logged.tolist(),
        {"train-noisy fit minus train-clean fit": difference.tolist()},
        xlabel="step",
        ylabel="difference in fit",
        title="Which labels are fit first: positive = the wrong ones",
        log_x=False,
    )
    paths = write_figures({"dynamics": figure, "noisy_minus_clean": gap}, args.out)
    print(f"\nwrote {len(paths)} figures to {args.out}/ in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
