"""The label-noise study's commands: `train modular`, `sweep`, `evaluate`, `extract`, `spectrum`,
`report`.

`train modular` sweeps the cartesian product seed x noise x lr x wd x train-fraction as ONE
batched ensemble (a run); several widths give one run per width, at OUT/width_<w>. `sweep` takes
the same grid, cut into shards of at most --shard-size models (one run each, under OUT), in
process or on Ray (`--ray [ADDRESS]`), and prints one table of every model. Figures and
reports are written into a new (or empty) folder; `--force` writes into a folder that has files.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import fields
from pathlib import Path
from typing import Any

from interp.cli import device_options, loggers, no_repeats, print_json, tracking_options
from interp.core.device import resolve_device
from interp.core.metrics import Accuracies, evaluate
from interp.core.runs import Run, check_new_folder, load_run, parse_step_file, save_model
from interp.core.training import OPTIMIZERS, TrainConfig
from interp.core.training import train as train_ensemble
from interp.models.mlp import ACTIVATIONS, INITS, MLP, MLPConfig
from interp.tasks.modular import OPS, modular_task

__all__ = ["add_train_arguments", "train", "add_arguments", "run"]

EXTRACTION_METHODS = ("neuron", "key", "logits", "agnostic")  # interp.extract's methods
SYMMETRY_NOTE = (
    "note: 'logits' averages the network's outputs over each class of pairs with the same "
    "a op b, which alone recovers each class's majority training label; read it against the "
    "labels-only baseline, which does that from the labels with no network."
)


def add_train_arguments(modular: argparse.ArgumentParser) -> None:
    modular.description = (
        "Train an ensemble on (a op b) mod p. Lists sweep: the cartesian product "
        "seed x noise x lr x wd x train-fraction is one batched ensemble; one run per width."
    )
    modular.add_argument("--out", required=True, type=Path, help="new run folder")
    modular.add_argument("--p", type=int, default=97, help="modulus (default 97)")
    modular.add_argument("--op", choices=list(OPS), default="add")
    sweep = modular.add_argument_group("sweep (each takes one or more values)")
    sweep.add_argument("--width", type=int, nargs="+", default=[500], help="hidden neurons")
    sweep.add_argument("--seed", type=int, nargs="+", default=[0], help="init and split seed")
    sweep.add_argument("--noise", type=float, nargs="+", default=[0.0], help="label-noise rate")
    sweep.add_argument("--lr", type=float, nargs="+", default=[1e-2], help="learning rate")
    sweep.add_argument("--wd", type=float, nargs="+", default=[0.0], help="weight decay")
    sweep.add_argument(
        "--train-fraction", type=float, nargs="+", default=[0.5], help="share of pairs to train on"
    )
    modular.add_argument("--epochs", type=int, default=1000, help="steps (epochs at full batch)")
    modular.add_argument("--batch-size", type=int, help="examples per step (default: full)")
    modular.add_argument("--loss", choices=["mse", "ce"], default="mse")
    modular.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw")
    modular.add_argument("--act", choices=ACTIVATIONS, default="square")
    modular.add_argument("--init", choices=INITS, default="doshi")
    modular.add_argument("--init-scale", type=float, default=1.0)
    modular.add_argument("--bias", action="store_true", help="add input and output biases")
    modular.add_argument("--log-every", type=int, default=10, help="steps between metrics")
    modular.add_argument("--save-every", type=int, default=0, help="checkpoint every k steps")
    modular.add_argument("--save-log", type=int, default=10, help="log-spaced checkpoints")
    device_options(modular)
    tracking_options(modular)


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    if command == "sweep":
        add_train_arguments(parser)
        parser.description = (
            "Train the grid of `interp train modular` as shards of at most --shard-size models "
            "(each one batched ensemble, one run folder under --out), in this process or on a "
            "Ray cluster; a rerun skips finished shards and resumes cut ones."
        )
        parser.add_argument("--shard-size", type=int, default=64, help="models per shard")
        parser.add_argument(
            "--ray", nargs="?", const=True, default=False, metavar="ADDRESS",
            help="run the shards on Ray: a local cluster, or the one at ADDRESS",
        )  # fmt: skip
        parser.add_argument("--retries", type=int, default=1, help="tries after a failure")
        parser.add_argument("--json", action="store_true", help="print a JSON object")
        return
    parser.add_argument("run", type=Path, help="a run folder (or one of its step files)")
    if command in ("evaluate", "extract", "spectrum"):
        parser.add_argument("--step", type=int, help="saved step (default: the last)")
    if command in ("evaluate", "extract"):
        parser.add_argument("--json", action="store_true", help="print a JSON object")
    if command == "extract":
        parser.add_argument("--method", choices=EXTRACTION_METHODS, default="neuron")
        parser.add_argument(
            "--no-progress", action="store_true", help="hide the agnostic search's progress bar"
        )
        parser.add_argument("--out", type=Path, help="save the extracted model as a new run")
    if command in ("spectrum", "report"):
        what = "figures" if command == "spectrum" else "report"
        parser.add_argument("--out", required=True, type=Path, help=f"folder for the {what}")
        parser.add_argument("--force", action="store_true", help="write into a non-empty --out")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda")
    if command == "report":
        parser.description = (
            "Write OUT/report.html (and OUT/plotly.min.js, and OUT/png/ with kaleido and "
            "Chromium): training, extraction, Fourier spectra and phases, the logit circuit, "
            "partitions and probes of one model at the run's last saved step."
        )
        parser.add_argument("--model", type=int, default=0, help="model of the ensemble")


def run(args: argparse.Namespace, command: str) -> None:
    {
        "evaluate": _evaluate,
        "extract": _extract,
        "spectrum": _spectrum,
        "report": _report,
        "sweep": _sweep,
    }[args.command](args)


def _sweep(args: argparse.Namespace) -> None:
    from interp.core.sweep import plan_modular, sweep

    no_repeats(args, ("width", "seed", "noise", "lr", "wd", "train_fraction"))
    shards = plan_modular(
        args.p, args.width, args.seed, args.noise, args.lr, args.wd, args.train_fraction,
        op=args.op, steps=args.epochs, shard_size=args.shard_size,
        model={"act": args.act, "init": args.init, "init_scale": args.init_scale,
               "bias": args.bias},
        train={"optimizer": args.optimizer, "loss": args.loss, "batch_size": args.batch_size,
               "log_every": args.log_every, "save_every": args.save_every,
               "save_log": args.save_log},
    )  # fmt: skip
    result = sweep(shards, args.out, ray=args.ray, retries=args.retries, device=args.device,
                   progress=not args.no_progress, loggers=loggers(args))  # fmt: skip
    if args.json:
        print_json({"root": str(args.out), "table": result.table, "failed": result.failed,
                    "seconds": result.seconds})  # fmt: skip
    else:
        print(f"{len(shards)} shards -> {args.out}")
        print("shard      model  width  seed  noise        lr        wd  frac  train  test")
        for r in result.table:
            print(
                f"{r['shard']:<10} {r['model']:>5}  {r['width']:>5}  {r['seed']:>4}  "
                f"{r['noise']:>5.3f}  {r['lr']:>8.2g}  {r['wd']:>8.3g}  "
                f"{r['train_fraction']:>4.2f}  {r['train_clean_acc']:>5.3f}  {r['test_acc']:.3f}"
            )
    if result.failed:
        failures = "; ".join(f"{name}: {error}" for name, error in result.failed.items())
        raise ValueError(
            f"{len(result.failed)} shard(s) failed ({failures}); rerun the same command to "
            "resume them"
        )


def train(args: argparse.Namespace, command: str) -> None:
    no_repeats(args, ("width", "seed", "noise", "lr", "wd", "train_fraction"))
    grid = list(itertools.product(args.seed, args.noise, args.lr, args.wd, args.train_fraction))
    seeds, noises, lrs, wds, fractions = (list(column) for column in zip(*grid))
    # Validate everything and claim no folder before the first model trains.
    device = resolve_device(args.device)
    task = modular_task(args.p, args.op, fractions, noises, seeds)
    model_configs = {
        w: MLPConfig(
            p=args.p,
            width=w,
            models=len(grid),
            act=args.act,
            bias=args.bias,
            init=args.init,
            init_scale=args.init_scale,
            seed=tuple(seeds),
        )
        for w in args.width
    }
    train_config = TrainConfig(
        steps=args.epochs,
        lr=tuple(lrs),
        weight_decay=tuple(wds),
        optimizer=args.optimizer,
        loss=args.loss,
        batch_size=args.batch_size,
        log_every=args.log_every,
        save_every=args.save_every,
        save_log=args.save_log,
    )
    trackers = loggers(args)
    outs = {w: args.out if len(args.width) == 1 else args.out / f"width_{w}" for w in args.width}
    for out in outs.values():
        check_new_folder(out, "choose a new folder (or `interp resume` the run there)")

    print("model  seed  noise        lr        wd  train-fraction")
    for i, row in enumerate(grid):
        seed, noise, lr, wd, fraction = row
        print(f"{i:>5}  {seed:>4}  {noise:>5.3f}  {lr:>8.2g}  {wd:>8.3g}  {fraction:>14.3f}")
    for width, out in outs.items():
        print(f"\ntraining width {width} -> {out}")
        result = train_ensemble(
            MLP(model_configs[width]),
            task,
            train_config,
            out=out,
            device=device,
            progress=not args.no_progress,
            command=command,
            loggers=trackers,
        )
        print(f"final accuracies, width {width}, step {args.epochs}")
        print(evaluate(result.model, task))


def _run_and_step(args: argparse.Namespace) -> tuple[Run, int]:
    """The run and the step a command reads: `--step`, else the step file given, else the last."""
    folder, file_step = parse_step_file(args.run)
    run = load_run(folder)
    step = getattr(args, "step", None)
    if step is not None and file_step is not None and step != file_step:
        raise ValueError(f"--step {step} disagrees with the step file {args.run}")
    step = step if step is not None else file_step
    return run, run.steps[-1] if step is None and run.steps else step


def _evaluate(args: argparse.Namespace) -> None:
    run, step = _run_and_step(args)
    acc = evaluate(run.model(step, device=resolve_device(args.device)), run.task)
    if args.json:
        print_json({"run": str(run.path), "step": step, **acc.to_dict()})
    else:
        print(f"{run.path}, step {step}")
        print(acc)


def _extract(args: argparse.Namespace) -> None:
    from interp.studies.label_noise.extraction import extract, symmetry_baseline

    run, step = _run_and_step(args)
    if args.out is not None:
        check_new_folder(args.out)
    model = _trained_mlp(run, step, args.device)
    extracted = extract(model, args.method, op=run.task.config.op, progress=not args.no_progress)
    results = {"raw": evaluate(model, run.task), args.method: evaluate(extracted, run.task)}
    if args.method == "logits":
        results["labels-only"] = symmetry_baseline(run.task)
        results["labels-only pooled"] = symmetry_baseline(run.task, pooled=True)
    if args.out is not None:
        save_model(extracted, args.out, run.task)
    if args.json:
        record: dict[str, Any] = {"run": str(run.path), "step": step, "method": args.method}
        record |= {name: acc.to_dict() for name, acc in results.items()}
        if args.out is not None:
            record["out"] = str(args.out)
        print_json(record)
        return
    print(f"{run.path}, step {step}, method {args.method}")
    print(_table(results))
    if args.method == "logits":
        print(SYMMETRY_NOTE)
    if args.out is not None:
        print(f"saved the extracted model to {args.out}")


def _spectrum(args: argparse.Namespace) -> None:
    from interp.figures import write_figures
    from interp.fourier import extract_frequencies
    from interp.studies.label_noise.fourier_plots import (
        dominant_share,
        ipr_histogram,
        spectrum_heatmap,
    )

    run, step = _run_and_step(args)
    if not args.force:
        check_new_folder(args.out, "pass --force to write into it")
    model = _trained_mlp(run, step, args.device)
    spectrum = extract_frequencies(model, op=run.task.config.op)
    figures = {}
    for m in range(model.cfg.models):
        figures[f"spectrum_model{m}"] = spectrum_heatmap(spectrum, m)
        figures[f"dominant_share_model{m}"] = dominant_share(spectrum, m)
    figures["ipr"] = ipr_histogram(spectrum)
    for path in write_figures(figures, args.out):
        print(path)


def _report(args: argparse.Namespace) -> None:
    from interp.studies.label_noise.report import write_report  # loads the probes: only here

    if not args.force:
        check_new_folder(args.out, "pass --force to write into it")
    print(write_report(args.run, args.out, model=args.model, device=args.device))


# ---------------------------------------------------------------------------------------------
# helpers


def _trained_mlp(run: Run, step: int | None, device: str) -> MLP:
    """The run's `MLP` on `device`; an extracted run (restricted logits) has no weights to
    analyse."""
    if run.kind != "mlp":
        raise ValueError(f"{run.path} holds a {run.kind!r} model; this command needs an MLP run")
    return run.model(step, device=resolve_device(device))


def _table(results: dict[str, Accuracies]) -> str:
    """Rows (model, variant) of every `Accuracies` field, variants grouped under each model."""
    names = [f.name for f in fields(Accuracies)]
    variant = max(len("variant"), *(len(name) for name in results))
    header = "".join(f"  {name.replace('_', '-'):>11}" for name in names)
    rows = [f"model  {'variant':<{variant}}{header}"]
    for m in range(len(next(iter(results.values())).test)):
        for label, acc in results.items():
            values = "".join(f"  {float(getattr(acc, name)[m]):>11.3f}" for name in names)
            rows.append(f"{m:>5}  {label:<{variant}}{values}")
    return "\n".join(rows)
