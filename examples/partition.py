"""Partition versus extraction: where does the rule live, and where does the memory live?

    python examples/partition.py [--runs runs] [--out figures/partition]

For the four-noise-level run (runs/noise_levels: p 97, noise 0.2/0.4/0.6/0.8; train it first
with `python examples/noise_levels.py`) and the shipped 80%-noise run
(checkpoints/add_p97_noise080), splits every network into a generalization and a memorization
subnetwork with each method of `interp.partition_neurons` (task-agnostic "heldout", labels-known
"labels", Fourier-aware "ipr"), evaluates both sides, and compares with per-neuron frequency
extraction. Then asks how spread the rule is: test accuracy as the kept fraction of neurons
(ranked by each method's score) grows, for the raw network and for the extracted one. Prints
markdown tables and writes plotly figures (kept_fraction_<method>.html).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import interp
from interp.figures import lines, write_figures
from interp.models.mlp import MLP
from interp.studies import label_noise
from interp.studies.label_noise.partition import KEPT_FRACTIONS
from interp.tasks.modular import ModularTask

SHIPPED = Path("checkpoints/add_p97_noise080")


def networks(runs: Path) -> list[tuple[str, MLP, ModularTask]]:
    """(label, one-model MLP, its task) for noise 0.2, 0.4, 0.6 and the shipped run at 0.8.

    The 0.8 model of runs/noise_levels has the shipped run's recipe and seeds (and, trained in a
    batch of four, the same accuracies), so the shipped run stands in for it."""
    run = interp.load_run(runs / "noise_levels")  # examples/noise_levels.py trains it
    model, task = run.model(), run.task
    levels = [m for m in range(task.models) if task.config.noise[m] < 0.8]
    out = [(f"{task.config.noise[m]:.1f}", model.select(m), task.select(m)) for m in levels]
    shipped = interp.load_run(SHIPPED)
    return [*out, ("0.8 (shipped run)", shipped.model(), shipped.task)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("figures/partition"))
    args = parser.parse_args()

    rows, curves = [], {method: {} for method in label_noise.PARTITION_METHODS}
    for label, model, task in networks(args.runs):
        raw = interp.evaluate(model, task)
        extracted = interp.extract(model)
        neuron = interp.evaluate(extracted, task)
        cells = [label, f"{raw.test.item():.3f}", f"{raw.train_noisy.item():.3f}"]
        for method in label_noise.PARTITION_METHODS:
            part = interp.partition_neurons(model, task, method)
            general, memory = part.subnetworks(model)
            g = interp.evaluate(general, task, test=part.evaluation)
            m = interp.evaluate(memory, task, test=part.evaluation)
            share = part.general.float().mean().item()
            cells += [f"{g.test.item():.3f} / {g.train_noisy.item():.3f} ({share:.0%})"]
            cells += [f"{m.train_noisy.item():.3f}"]
            kept = label_noise.kept_fraction_curve(model, task, part)
            kept_extracted = label_noise.kept_fraction_curve(extracted, task, part)
            curves[method][f"raw, noise {label}"] = kept.test[:, 0].tolist()
            curves[method][f"extracted, noise {label}"] = kept_extracted.test[:, 0].tolist()
        cells += [f"{neuron.test.item():.3f} / {neuron.train_noisy.item():.3f}"]
        rows.append("| " + " | ".join(cells) + " |")
        print(f"noise {label}: done")

    methods = label_noise.PARTITION_METHODS
    head = "| noise | raw test | raw train-noisy | "
    head += " | ".join(f"{m}: general test / noisy (share) | {m}: memory noisy" for m in methods)
    head += " | neuron extraction test / noisy |\n"
    head += "|---" * (4 + 2 * len(methods)) + "|\n"
    print("\n## Subnetworks vs extraction\n\n" + head + "\n".join(rows))

    for method, by_run in curves.items():
        fractions = " | ".join(f"{f:g}" for f in KEPT_FRACTIONS)
        table = f"| network | {fractions} |\n" + "|---" * (len(KEPT_FRACTIONS) + 1) + "|\n"
        table += "\n".join(
            f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + " |"
            for name, values in by_run.items()
        )
        print(f"\n## Test accuracy against kept fraction, neurons ranked by {method}\n\n{table}")
    figures = {
        f"kept_fraction_{method}": lines(
            KEPT_FRACTIONS,
            by_run,
            xlabel="kept fraction of neurons",
            title=f"Test accuracy of the top neurons by {method} score",
            log_x=True,
        )
        for method, by_run in curves.items()
    }
    paths = write_figures(figures, args.out)
    print(f"\nwrote {len(paths)} figures to {args.out}/")


if __name__ == "__main__":
    main()
