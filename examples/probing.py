"""Linear probes on hidden activations and gradients: is the rule readable from what the network
computes, and can one tell its noisy labels apart?

    python examples/probing.py [--run checkpoints/add_p97_noise080] [--runs runs]
                               [--out figures/probes]

Part 1, over every saved step of the 80%-noise run: the network's own test accuracy, the held-out
accuracy of a linear probe of the clean result on `hook_post` (`probes.rule_probe`), the best
held-out R^2 of a Fourier feature of it (`probes.frequency_probe`), and the test accuracy of
per-neuron extraction from the weights (`interp.extract`).
Part 2, across label noise 0.2 / 0.4 / 0.6 / 0.8 (runs/noise_levels: train it first with
`python examples/noise_levels.py`): the same rule probe, the noisy-label probe's cross-validated
AUC on activations, gradient magnitudes and both, and the most readable frequencies.
Prints markdown tables and writes plotly figures. About two minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import interp
import probes
from interp.core.hooks import activation_gradients, cache_activations
from interp.core.runs import Run
from interp.figures import lines, write_figures

DEFAULT_RUN = Path(__file__).resolve().parent.parent / "checkpoints" / "add_p97_noise080"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    head = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    return "\n".join(head + ["| " + " | ".join(row) + " |" for row in rows])


def over_training(run: Run, out: dict) -> None:
    """Part 1: probes and extraction at every saved step of a one-model run."""
    task = run.task
    s, train = task.labels.numpy(), task.train[0].numpy()
    rows, curves = [], {"network": [], "rule probe (hook_post)": [], "extracted": []}
    for step in run.steps:
        model = run.model(step)
        acts = cache_activations(model, task, "hook_post")["hook_post"][0].numpy()
        network = interp.evaluate(model, task).test[0].item()
        rule = probes.rule_probe(acts, s, train).score
        best = probes.frequency_probe(acts, s, task.p, train).top(1)[0]
        extracted = interp.evaluate(interp.extract(model), task).test[0].item()
        rows.append(
            [str(step), f"{network:.3f}", f"{rule:.3f}", f"{best[1]:.3f} (f {best[0]})"]
            + [f"{extracted:.3f}"]
        )
        for name, value in zip(curves, (network, rule, extracted)):
            curves[name].append(value)
    header = ["step", "network test", "rule probe", "best frequency R^2", "extracted test"]
    print(table(header, rows))
    out["over_training"] = lines(
        run.steps,
        curves,
        xlabel="step",
        ylabel="test accuracy",
        title=f"{run.path.name}: the rule in the weights, not in the hidden layer",
        log_x=False,
    )


def across_noise(run: Run, out: dict) -> None:
    """Part 2: probes of each model of the noise-levels run (one model per noise level)."""
    task, model = run.task, run.model()
    acts = cache_activations(model, task, "hook_post")["hook_post"].numpy()
    grads = np.abs(activation_gradients(model, task)["hook_post"].numpy())
    network = interp.evaluate(model, task)
    s = task.labels.numpy()
    acc_rows, auc_rows = [], []
    accuracy = {"network test": [], "rule probe (hook_post)": []}
    auc = {"activations": [], "gradient magnitudes": [], "both": []}
    r2 = {}
    noises = run.task.config.noise
    for m, noise in enumerate(noises):
        train, noisy = task.train[m].numpy(), task.noisy[m].numpy()
        rule = probes.rule_probe(acts[m], s, train)
        frequency = probes.frequency_probe(acts[m], s, task.p, train)
        inputs = {
            "activations": acts[m][train],
            "gradient magnitudes": grads[m][train],
            "both": np.concatenate([acts[m][train], grads[m][train]], axis=1),
        }
        aucs = {k: probes.noisy_label_probe(x, noisy[train]).score for k, x in inputs.items()}
        top = ", ".join(f"{f}: {v:.3f}" for f, v in frequency.top(3))
        acc_rows.append(
            [f"{noise:.1f}", f"{network.test[m]:.3f}", f"{network.train_noisy[m]:.3f}"]
            + [f"{rule.score:.3f}", f"{rule.chance:.3f}", top]
        )
        auc_rows.append([f"{noise:.1f}"] + [f"{v:.3f}" for v in aucs.values()])
        accuracy["network test"].append(network.test[m].item())
        accuracy["rule probe (hook_post)"].append(rule.score)
        for k, v in aucs.items():
            auc[k].append(v)
        r2[f"noise {noise:.1f}"] = frequency.r2.tolist()
    header = ["noise", "network test", "train-noisy fit", "rule probe", "chance"]
    print(table(header + ["top frequency R^2 (f: R^2)"], acc_rows))
    print("\nnoisy-label probe, cross-validated ROC AUC over the training examples\n")
    print(table(["noise", *auc], auc_rows))
    out["noise_accuracy"] = lines(noises, accuracy, "label noise", "test accuracy")
    out["noise_auc"] = lines(
        noises,
        auc,
        "label noise",
        "ROC AUC, noisy vs clean",
        title="Can a linear probe tell which training labels are noisy?",
    )
    out["frequency_r2"] = lines(
        frequency.frequencies.tolist(),  # 1..F, the same for every model
        r2,
        "frequency",
        "held-out R^2",
        title="How linearly readable cos / sin(2 pi f (a + b) / p) is from hook_post",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN, help="one-model run to follow")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where noise_levels is")
    parser.add_argument("--out", type=Path, default=Path("figures/probes"), help="figures")
    args = parser.parse_args()
    figures: dict = {}

    start = time.perf_counter()
    run = interp.load_run(args.run)
    print(f"## {run.path.name}: probes over training\n")
    over_training(run, figures)
    print(f"\n({time.perf_counter() - start:.0f} s)\n")

    start = time.perf_counter()
    run = interp.load_run(args.runs / "noise_levels")  # examples/noise_levels.py
    print(f"## {run.path.name}, step {run.steps[-1]}: probes across label noise\n")
    across_noise(run, figures)
    print(f"\n({time.perf_counter() - start:.0f} s)")

    paths = write_figures(figures, args.out)
    print(f"\nwrote {len(paths)} figures to {args.out}/")


if __name__ == "__main__":
    main()
