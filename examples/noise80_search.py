"""The headline search: pull the rule out of networks trained with 80% wrong labels.

    python examples/noise80_search.py [--runs runs/noise80] [--out figures/noise80]
                                      [--only search|frontier] [--steps 1000]

Trains every configuration below as batched ensembles with the library's own trainer (one run
folder per ensemble under --runs; a finished run is reused, an interrupted one resumed), then
measures, at every saved step, the raw network, each extraction method and the labels-only
baseline (`interp.extraction_curve`). It prints markdown tables and writes two plotly figures:

- search: one axis at a time away from the base recipe (width, parameterization, init scale,
  learning rate, loss, weight decay, train fraction, p, operation, activation, optimizer);
- frontier: the base recipe against label noise 0.5 ... 0.95 and against width.

The base recipe: (a + b) mod 97, train fraction 0.5, label noise 0.8, width 500, x^2 activation,
Doshi init, full-batch AdamW (lr 1e-2, betas 0.9/0.98), no weight decay, MSE loss, 1000 steps.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

import interp
from interp.core.device import resolve_device
from interp.core.runs import Run
from interp.figures import lines, write_figures
from interp.studies import label_noise

BASE_MODEL = dict(p=97, width=500, act="square", init="doshi", init_scale=1.0)
BASE_TASK = dict(op="add", train_fraction=0.5, noise=0.8, seed=0)
BASE_TRAIN = dict(lr=1e-2, weight_decay=0.0, loss="mse", optimizer="adamw", batch_size=None)
PER_MODEL = ("train_fraction", "noise", "seed", "lr", "weight_decay")
SEEDS = (0, 1)


@dataclass
class Experiment:
    """One batched ensemble: shared settings plus one dict of per-model settings per model."""

    name: str
    axis: str
    shared: dict = field(default_factory=dict)
    models: list[dict] = field(default_factory=lambda: [{"seed": s} for s in SEEDS])

    def label(self, m: int) -> str:
        """What this model changes from the base recipe, for the table."""
        changes = {**self.shared, **{k: v for k, v in self.models[m].items() if k != "seed"}}
        text = ", ".join(f"{k}={v}" for k, v in changes.items()) or "base recipe"
        return f"{text} (seed {self.models[m].get('seed', 0)})"


def sweep(
    axis: str, key: str, values: list, shared: bool, seeds: tuple[int, ...] = SEEDS
) -> list[Experiment]:
    """One axis: a shared setting needs one ensemble per value; a per-model one fits in one."""
    if shared:
        return [
            Experiment(f"{axis}_{v}", axis, {key: v}, [{"seed": s} for s in seeds]) for v in values
        ]
    models = [{key: v, "seed": s} for v in values for s in seeds]
    return [Experiment(axis, axis, {}, models)]


# Width 4096 costs eight base models per seed on a CPU: one seed.
WIDTHS = [
    *sweep("width", "width", [64, 256, 1024], shared=True),
    *sweep("width", "width", [4096], shared=True, seeds=(0,)),
]


def search_experiments() -> list[Experiment]:
    return [
        Experiment("base", "base recipe"),
        *WIDTHS,
        *sweep("init", "init", ["standard", "mean_field"], shared=True),
        *sweep("init_scale", "init_scale", [0.25, 0.5, 2.0], shared=True),
        *sweep("lr", "lr", [1e-3, 3e-3, 3e-2], shared=False),
        Experiment("loss_ce", "loss", {"loss": "ce"}),
        Experiment("loss_ce_lr", "loss", {"loss": "ce"}, [{"lr": 1e-3, "seed": s} for s in SEEDS]),
        *sweep("wd", "weight_decay", [1.0, 5.0, 15.0], shared=False),
        *sweep("train_fraction", "train_fraction", [0.3, 0.7, 0.9], shared=False),
        *sweep("p", "p", [113], shared=True),
        *sweep("p", "p", [149], shared=True, seeds=(0,)),
        *sweep("op", "op", ["subtract", "multiply", "square_sum"], shared=True),
        Experiment("act_relu", "activation", {"act": "relu"}),
        Experiment(
            "sgd_minibatch",
            "optimizer",
            {"optimizer": "sgd", "batch_size": 512},
            [{"lr": lr, "seed": 0} for lr in (1.0, 10.0)],
        ),
    ]


NOISES = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]


def frontier_experiments() -> list[Experiment]:
    return [
        Experiment("noise", "noise", {}, [{"noise": n, "seed": s} for n in NOISES for s in SEEDS]),
        *WIDTHS,
        Experiment("base", "base recipe"),
    ]


def train_or_reuse(exp: Experiment, root: Path, steps: int) -> Run:
    """Train `exp` into root/name, or reuse (or resume) the same run already there."""
    path = root / exp.name
    shared = {**BASE_MODEL, **BASE_TASK, **BASE_TRAIN, **exp.shared}
    per_model = {k: [m.get(k, shared[k]) for m in exp.models] for k in PER_MODEL}
    task = interp.modular_task(
        p=shared["p"],
        op=shared["op"],
        train_fraction=per_model["train_fraction"],
        noise=per_model["noise"],
        seed=per_model["seed"],
    )
    model = interp.MLP(
        interp.MLPConfig(
            p=shared["p"],
            width=shared["width"],
            models=len(exp.models),
            act=shared["act"],
            init=shared["init"],
            init_scale=shared["init_scale"],
            seed=per_model["seed"],
        )
    )
    config = interp.TrainConfig(
        steps=steps,
        lr=per_model["lr"],
        weight_decay=per_model["weight_decay"],
        optimizer=shared["optimizer"],
        loss=shared["loss"],
        batch_size=shared["batch_size"],
        log_every=10,
        save_log=12,
        save_every=steps // 4,
    )
    if not (path / "config.json").exists():
        print(f"train {exp.name}: {len(exp.models)} models, {shared}")
    command = "examples/noise80_search.py"
    interp.train(model, task, config, out=path, command=command, reuse=True)
    return interp.load_run(path)


def measure(exp: Experiment, run: Run) -> list[dict]:
    """One row per model: final raw / extracted accuracies and the neuron curve over steps."""
    start = time.perf_counter()
    steps, curve = interp.extraction_curve(run, methods=label_noise.EXTRACTION_METHODS)
    seconds = (time.perf_counter() - start) / len(steps)
    rows = []
    for m in range(len(exp.models)):
        final = {
            name: {k: v[-1][m] for k, v in acc.to_dict().items()} for name, acc in curve.items()
        }
        rows.append(
            {
                "experiment": exp.name,
                "axis": exp.axis,
                "label": exp.label(m),
                "settings": {**exp.shared, **exp.models[m]},
                "steps": steps,
                "neuron_test": curve["neuron"].test[:, m].tolist(),
                "raw_test": curve["raw"].test[:, m].tolist(),
                "final": final,
                "extract_seconds_per_step": seconds,
            }
        )
    return rows


def at(row: dict, step: int) -> float:
    """Neuron-extracted test accuracy at the saved step nearest to `step`."""
    i = min(range(len(row["steps"])), key=lambda j: abs(row["steps"][j] - step))
    return row["neuron_test"][i]


def search_table(rows: list[dict]) -> str:
    head = (
        "| axis | setting | raw test | train-noisy | neuron @10 | neuron @100 | neuron (end) "
        "| key (end) | logits (end) | baseline | pooled baseline | best neuron (step) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    table = []
    for r in rows:
        f = r["final"]
        best = max(range(len(r["steps"])), key=lambda j: r["neuron_test"][j])
        table.append(
            f"| {r['axis']} | {r['label']} | {f['raw']['test']:.3f} "
            f"| {f['raw']['train_noisy']:.3f} | {at(r, 10):.3f} | {at(r, 100):.3f} "
            f"| {f['neuron']['test']:.3f} | {f['key']['test']:.3f} | {f['logits']['test']:.3f} "
            f"| {f['baseline']['test']:.3f} | {f['pooled baseline']['test']:.3f} "
            f"| {r['neuron_test'][best]:.3f} ({r['steps'][best]}) |"
        )
    return head + "\n".join(table)


def frontier(rows: list[dict], key: str) -> tuple[list, dict[str, list[float]], str]:
    """Mean over seeds of every method's final test accuracy against `key` (noise or width)."""
    groups: dict = {}
    for r in rows:
        groups.setdefault(r["settings"].get(key, {**BASE_MODEL, **BASE_TASK}[key]), []).append(r)
    xs = sorted(groups)
    names = ["raw", "neuron", "key", "logits", "baseline", "pooled baseline"]
    curves = {
        n: [sum(r["final"][n]["test"] for r in groups[x]) / len(groups[x]) for x in xs]
        for n in names
    }
    noisy = [sum(r["final"]["raw"]["train_noisy"] for r in groups[x]) / len(groups[x]) for x in xs]
    head = f"| {key} | raw train-noisy | " + " | ".join(f"{n} test" for n in names) + " |\n"
    head += "|---" * (len(names) + 2) + "|\n"
    body = "\n".join(
        f"| {x} | {noisy[i]:.3f} | " + " | ".join(f"{curves[n][i]:.3f}" for n in names) + " |"
        for i, x in enumerate(xs)
    )
    return xs, curves, head + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/noise80"))
    parser.add_argument("--out", type=Path, default=Path("figures/noise80"))
    parser.add_argument("--only", choices=["search", "frontier"], default=None)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    device = resolve_device("auto")
    print(
        f"device {device}" + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else "")
    )

    parts = [args.only] if args.only else ["search", "frontier"]
    experiments = {"search": search_experiments, "frontier": frontier_experiments}
    results: dict[str, list[dict]] = {}
    for part in parts:
        rows = []
        for exp in experiments[part]():
            start = time.perf_counter()
            run = train_or_reuse(exp, args.runs, args.steps)
            rows += measure(exp, run)
            print(f"  {exp.name}: {time.perf_counter() - start:.0f} s")
        results[part] = rows
    args.runs.mkdir(parents=True, exist_ok=True)
    (args.runs / "results.json").write_text(json.dumps(results, indent=1))

    figures = {}
    if "search" in results:
        print("\n## Search\n\n" + search_table(results["search"]))
    if "frontier" in results:
        rows = results["frontier"]
        noise_rows = [r for r in rows if r["experiment"] == "noise"]
        width_rows = [r for r in rows if r["axis"] in ("width", "base recipe")]
        for key, subset in (("noise", noise_rows), ("width", width_rows)):
            xs, curves, table = frontier(subset, key)
            print(f"\n## Frontier against {key}\n\n{table}")
            figures[f"frontier_{key}"] = lines(xs, curves, xlabel=key)
    if figures:
        paths = write_figures(figures, args.out)
        print(f"\nwrote {len(paths)} figures to {args.out}/")


if __name__ == "__main__":
    main()
