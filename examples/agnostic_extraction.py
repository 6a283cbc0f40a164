"""The task-agnostic extraction beside the methods that are told more, on memorizing networks.

    python examples/agnostic_extraction.py [--p 31] [--noise 0.5 0.8] [--ops add subtract multiply]
        [--width 256] [--steps 1000] [--seeds 0 1] [--train-fraction 0.5] [--beam 1000]
        [--starts 16] [--confirm 2] [--widen BEAM:STARTS ...] [--run RUN ...]

Trains, per op, one batched ensemble (one model per noise level, train fraction and seed) of the
headline recipe (x^2 activation, Doshi init, full-batch AdamW lr 1e-2, MSE), or reads the
given runs, and prints for every model the test accuracy of: the raw network; "agnostic"
(`interp.extract(model, "agnostic")`: a group law found in the weights alone, then per-neuron
projection over it), with the law it found (group order n, output axis, score J in standard
deviations, and the share of the task's table it gets right); "neuron" and "key" (Fourier
projection, told the op's group); the generalization subnetwork of each partition method
("heldout" looks at half the test labels, "labels" at the noisy mask, "ipr" at the Fourier
spectrum); and the two labels-only baselines (per class, pooled), which need no network at all.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import interp
from interp.models.mlp import MLP
from interp.studies import label_noise
from interp.tasks.modular import ModularTask


def report(model: MLP, task: ModularTask, names: list[str], search: dict) -> None:
    op = task.config.op
    start = time.perf_counter()
    law = label_noise.find_group_law(model, **search, progress=True)
    seconds = (time.perf_counter() - start) / model.cfg.models
    table = {"raw": interp.evaluate(model, task)}
    table["agnostic"] = interp.evaluate(label_noise.project_over_law(model, law), task)
    for method in ("neuron", "key"):
        table[method] = interp.evaluate(interp.extract(model, method, op=op), task)
    for method in label_noise.PARTITION_METHODS:
        general = interp.partition_neurons(model, task, method).subnetworks(model)[0]
        table[f"{method} subnetwork"] = interp.evaluate(general, task)
    table["labels, per class"] = label_noise.symmetry_baseline(task)
    table["labels, pooled"] = label_noise.symmetry_baseline(task, pooled=True)
    print(f"\n{op}, p {task.p}, width {model.cfg.width}: test accuracy")
    print("| model | train-noisy fit | " + " | ".join(table) + " | law: n, output, J, right |")
    print("|---" * (len(table) + 3) + "|")
    for m, name in enumerate(names):
        cells = " | ".join(f"{acc.test[m]:.3f}" for acc in table.values())
        found = f"{int(law.n[m])}, {'abc'[int(law.output[m])]}, {law.score[m]:.1f}"
        print(
            f"| {name} | {table['raw'].train_noisy[m]:.3f} | {cells} "
            f"| {found}, {float(law.right_on(task)[m]):.3f} |"
        )
    print(f"(the law's search: {seconds:.0f} s per model)")


def beam_and_starts(text: str) -> tuple[int, int]:
    """One --widen value, BEAM:STARTS (an argparse type: a bad one is one line, exit 2)."""
    try:
        beam, starts = (int(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not BEAM:STARTS, e.g. 5000:96") from None
    return beam, starts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--p", type=int, default=31)
    parser.add_argument("--noise", type=float, nargs="+", default=[0.5, 0.8])
    parser.add_argument("--ops", nargs="+", default=["add", "subtract", "multiply"])
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--train-fraction", type=float, nargs="+", default=[0.5])
    parser.add_argument("--beam", type=int, default=1000, help="the law search's beam width")
    parser.add_argument("--starts", type=int, default=16, help="the law search's starts at most")
    parser.add_argument(
        "--confirm", type=int, default=2, help="stop once this many agree (0: never)"
    )
    parser.add_argument(
        "--widen", nargs="+", default=[], type=beam_and_starts, metavar="BEAM:STARTS",
        help="wider searches, each run only where no law is confirmed yet (e.g. 5000:96)",
    )  # fmt: skip
    parser.add_argument("--run", type=Path, nargs="+", help="read these runs instead of training")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    search = {"beam": args.beam, "starts": args.starts, "confirm": args.confirm or None}
    search["widen"] = tuple(args.widen)
    if args.run:
        for path in args.run:
            run = interp.load_run(path)
            names = [f"{path.name}[{m}]" for m in range(run.task.models)]
            report(run.model(), run.task, names, search)
        return
    grid = [(n, f, s) for n in args.noise for f in args.train_fraction for s in args.seeds]
    noise, fraction, seeds = (list(x) for x in zip(*grid))
    for op in args.ops:
        task = interp.modular_task(
            p=args.p, op=op, noise=noise, train_fraction=fraction, seed=seeds
        )
        model = interp.MLP(
            interp.MLPConfig(p=args.p, width=args.width, models=len(grid), seed=seeds)
        )
        cfg = interp.TrainConfig(steps=args.steps, log_every=args.steps)
        interp.train(model, task, cfg, device="cpu", progress=False)
        names = [f"noise {n}, f {f}, seed {s}" for n, f, s in grid]
        report(model, task, names, search)


if __name__ == "__main__":
    main()
