"""The `interp` command line: a thin layer over the library (every line of science lives there).

    interp train modular --out runs/sweep --width 500 --noise 0.35 0.6 --wd 0 5 --epochs 1000
    interp resume runs/sweep
    interp evaluate runs/sweep [--step 200] [--json]
    interp extract runs/sweep [--method neuron|key|logits] [--step 200] [--json] [--out DIR]
    interp spectrum runs/sweep --out figures/ [--step 200]
    interp report runs/sweep --out reports/sweep [--model 0]

`train` sweeps the cartesian product seed x noise x lr x wd x train-fraction as ONE batched
ensemble (a run); several widths give one run per width, at OUT/width_<w>. A bad argument or a
library error prints one line, `interp: error: <message>`, to stderr and exits with status 2.

Example:
    >>> from interp.cli import main
    >>> main(["evaluate", "runs/sweep", "--json"])
    0
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, NoReturn

from interp.checkpoints import Run, check_new_folder, load_run, save_model
from interp.device import resolve_device
from interp.extraction import EXTRACTION_METHODS, extract, symmetry_baseline
from interp.fourier import extract_frequencies
from interp.metrics import Accuracies, evaluate
from interp.models.mlp import ACTIVATIONS, INITS, MLP, MLPConfig
from interp.plots import dominant_share, ipr_histogram, spectrum_heatmap, write_figures
from interp.tasks.modular import OPS, make_task, modular_config
from interp.training import LOSSES, OPTIMIZERS, TrainConfig, resume, train

__all__ = ["main"]

PROG = "interp"
SYMMETRY_NOTE = (
    "note: 'logits' averages the network's outputs over each class of pairs with the same "
    "a op b, which alone recovers each class's majority training label; read it against the "
    "labels-only baseline, which does that from the labels with no network."
)


class UsageError(Exception):
    """A bad command line, raised by the parser instead of printing usage and exiting."""


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line (no usage dump); `--help` still works."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="Train networks on noisy tasks, evaluate them and extract the rule they "
        "learned. `interp COMMAND --help` lists a command's options.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train_ = commands.add_parser("train", help="train a new run")
    tasks = train_.add_subparsers(dest="task", required=True, metavar="TASK")
    modular = tasks.add_parser(
        "modular",
        help="two-layer networks on modular arithmetic with label noise",
        description="Train an ensemble on (a op b) mod p. Lists sweep: the cartesian product "
        "seed x noise x lr x wd x train-fraction is one batched ensemble; one run per width.",
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
    modular.add_argument("--loss", choices=LOSSES, default="mse")
    modular.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw")
    modular.add_argument("--act", choices=ACTIVATIONS, default="square")
    modular.add_argument("--init", choices=INITS, default="doshi")
    modular.add_argument("--init-scale", type=float, default=1.0)
    modular.add_argument("--bias", action="store_true", help="add input and output biases")
    modular.add_argument("--log-every", type=int, default=10, help="steps between metrics")
    modular.add_argument("--save-every", type=int, default=0, help="checkpoint every k steps")
    modular.add_argument("--save-log", type=int, default=10, help="log-spaced checkpoints")
    _device_options(modular)

    resume_ = commands.add_parser("resume", help="continue an interrupted run")
    resume_.add_argument("run", type=Path)
    _device_options(resume_)

    evaluate_ = commands.add_parser("evaluate", help="accuracies of a run, per model")
    evaluate_.add_argument("run", type=Path)
    evaluate_.add_argument("--step", type=int, help="saved step (default: the last)")
    evaluate_.add_argument("--json", action="store_true", help="print a JSON object")

    extract_ = commands.add_parser("extract", help="extract the rule by frequency")
    extract_.add_argument("run", type=Path)
    extract_.add_argument("--method", choices=EXTRACTION_METHODS, default="neuron")
    extract_.add_argument("--step", type=int, help="saved step (default: the last)")
    extract_.add_argument("--json", action="store_true", help="print a JSON object")
    extract_.add_argument("--out", type=Path, help="save the extracted model as a new run")

    spectrum = commands.add_parser("spectrum", help="Fourier spectra as HTML figures")
    spectrum.add_argument("run", type=Path)
    spectrum.add_argument("--out", required=True, type=Path, help="folder for the figures")
    spectrum.add_argument("--step", type=int, help="saved step (default: the last)")

    report = commands.add_parser(
        "report",
        help="one HTML page with every figure of one model",
        description="Write OUT/report.html (and OUT/plotly.min.js, and OUT/png/ with kaleido "
        "and Chromium): training, extraction, Fourier spectra and phases, the logit circuit, "
        "partitions and probes of one model at the run's last saved step.",
    )
    report.add_argument("run", type=Path)
    report.add_argument("--out", required=True, type=Path, help="folder for the report")
    report.add_argument("--model", type=int, default=0, help="model of the ensemble (default 0)")
    return parser


def _device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda:1")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


# ---------------------------------------------------------------------------------------------
# commands


def _train_modular(args: argparse.Namespace, command: str) -> None:
    for name in ("width", "seed", "noise", "lr", "wd", "train_fraction"):
        values = getattr(args, name)
        if len(set(values)) != len(values):
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} {' '.join(map(str, values))} repeats a value")
    grid = list(itertools.product(args.seed, args.noise, args.lr, args.wd, args.train_fraction))
    seeds, noises, lrs, wds, fractions = (list(column) for column in zip(*grid))
    # Validate everything and claim no folder before the first model trains.
    device = resolve_device(args.device)
    task_config = modular_config(args.p, args.op, fractions, noises, seeds)
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
    outs = {w: args.out if len(args.width) == 1 else args.out / f"width_{w}" for w in args.width}
    for out in outs.values():
        check_new_folder(out)

    print("model  seed  noise        lr        wd  train-fraction")
    for i, row in enumerate(grid):
        seed, noise, lr, wd, fraction = row
        print(f"{i:>5}  {seed:>4}  {noise:>5.3f}  {lr:>8.2g}  {wd:>8.3g}  {fraction:>14.3f}")
    task = make_task(task_config)
    for width, out in outs.items():
        print(f"\ntraining width {width} -> {out}")
        result = train(
            MLP(model_configs[width]),
            task,
            train_config,
            out=out,
            device=device,
            progress=not args.no_progress,
            command=command,
        )
        print(f"final accuracies, width {width}, step {args.epochs}")
        print(evaluate(result.model, task))


def _resume(args: argparse.Namespace) -> None:
    device = resolve_device(args.device)
    result = resume(args.run, device=device, progress=not args.no_progress)
    print(f"{args.run}: trained to step {int(result.metrics['step'][-1])}")
    print(evaluate(result.model, load_run(args.run).task))


def _evaluate(args: argparse.Namespace) -> None:
    run = load_run(args.run)
    model = run.model(args.step)
    step = run.steps[-1] if args.step is None else args.step
    acc = evaluate(model, run.task)
    if args.json:
        _print_json({"run": str(run.path), "step": step, **acc.to_dict()})
    else:
        print(f"{run.path}, step {step}")
        print(acc)


def _extract(args: argparse.Namespace) -> None:
    run = load_run(args.run)
    if args.out is not None:
        check_new_folder(args.out)
    model = _trained_mlp(run, args.step)
    step = run.steps[-1] if args.step is None else args.step
    extracted = extract(model, args.method, op=run.task.config.op)
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
        _print_json(record)
        return
    print(f"{run.path}, step {step}, method {args.method}")
    print(_table(results))
    if args.method == "logits":
        print(SYMMETRY_NOTE)
    if args.out is not None:
        print(f"saved the extracted model to {args.out}")


def _spectrum(args: argparse.Namespace) -> None:
    model = _trained_mlp(load_run(args.run), args.step)
    spectrum = extract_frequencies(model)
    figures = {}
    for m in range(model.cfg.models):
        figures[f"spectrum_model{m}"] = spectrum_heatmap(spectrum, m)
        figures[f"dominant_share_model{m}"] = dominant_share(spectrum, m)
    figures["ipr"] = ipr_histogram(spectrum)
    for path in write_figures(figures, args.out):
        print(path)


def _report(args: argparse.Namespace) -> None:
    from interp.report import write_report  # loads the probes and scikit-learn: only here

    print(write_report(args.run, args.out, model=args.model))


# ---------------------------------------------------------------------------------------------
# helpers


def _trained_mlp(run: Run, step: int | None) -> MLP:
    """The run's `MLP`; an extracted run (restricted logits) has no weights to analyse."""
    model = run.model(step)
    if not isinstance(model, MLP):
        kind = run.config["model"].get("kind")
        raise ValueError(f"{run.path} holds a {kind!r} model; this command needs an MLP run")
    return model


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


def _print_json(record: dict) -> None:
    """Print strict JSON: nan (a model with no noisy examples) becomes null."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and math.isnan(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    print(json.dumps(clean(record), indent=2, allow_nan=False))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `interp` command line; returns the exit status (0 ok, 2 error, 130 interrupt)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
        if args.command == "train":
            _train_modular(args, shlex.join([PROG, *argv]))
        elif args.command == "resume":
            _resume(args)
        elif args.command == "evaluate":
            _evaluate(args)
        elif args.command == "extract":
            _extract(args)
        elif args.command == "spectrum":
            _spectrum(args)
        else:
            _report(args)
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except BrokenPipeError:  # the reader left (`interp evaluate RUN --json | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (UsageError, ValueError, OSError) as e:
        message = " ".join(str(e).split())  # one line, whatever the message
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
