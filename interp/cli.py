"""The `interp` command line: a thin layer over the library (every line of science lives there).

    interp train modular --out runs/sweep --width 500 --noise 0.35 0.6 --wd 0 5 --epochs 1000
    interp train rules --rule parity --d 12 --N 16 32 64 128 --model dit --out runs/parity_N
    interp resume runs/sweep
    interp evaluate runs/sweep [--step 200] [--json]
    interp extract runs/sweep [--method neuron|key|logits] [--step 200] [--json] [--out DIR]
    interp spectrum runs/sweep --out figures/ [--step 200]
    interp report runs/sweep --out reports/sweep [--model 0]
    interp clocks runs/parity_N [--samples 512] [--json] [--out DIR]
    interp basins runs/parity_N [--step 4000 | --over-training] [--targets 16] [--out DIR]

`train modular` sweeps the cartesian product seed x noise x lr x wd x train-fraction as ONE
batched ensemble (a run); several widths give one run per width, at OUT/width_<w>. `train rules`
with a DiT trains the product seed x N as one ensemble; a GPT is one model per run, at
OUT/N<n>_seed<s>. A bad argument or a library error prints one line, `interp: error: <message>`,
to stderr and exits with status 2.

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
from interp.clocks import MEM_THRESHOLD, measure_clocks, threshold_above_chance
from interp.device import resolve_device
from interp.extraction import EXTRACTION_METHODS, extract, symmetry_baseline
from interp.fourier import extract_frequencies
from interp.metrics import Accuracies, evaluate
from interp.models.mlp import ACTIVATIONS, INITS, MLP, MLPConfig
from interp.plots import (
    basin_radii,
    clocks_figure,
    dominant_share,
    ipr_histogram,
    spectrum_heatmap,
    tau_against,
    write_figures,
)
from interp.tasks.modular import OPS, make_task, modular_config
from interp.tasks.rules import RULES, RuleTask, rule_config, rule_task
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

    rules = tasks.add_parser(
        "rules",
        help="a diffusion transformer or a GPT on strings of a binary rule (two clocks)",
        description="Train generative models on N valid strings of a rule. A DiT ensemble "
        "trains the product seed x N as one batched run (model m has its own N and seed); a "
        "GPT is one model per run, at OUT/N<n>_seed<s> (OUT itself when there is one).",
    )
    rules.add_argument("--out", required=True, type=Path, help="new run folder")
    rules.add_argument("--rule", choices=list(RULES), default="parity")
    rules.add_argument("--group", type=int, help="group size of group_parity (divides d)")
    rules.add_argument("--d", type=int, help="string length (default 16; 32 for puzzles)")
    rules.add_argument("--model", choices=["dit", "gpt"], default="dit")
    grid = rules.add_argument_group("sweep (each takes one or more values)")
    grid.add_argument("--N", type=int, nargs="+", default=[256], help="training strings")
    grid.add_argument(
        "--seed", "--seeds", type=int, nargs="+", default=[0], help="data and init seed"
    )
    rules.add_argument("--d-model", type=int, default=64, help="residual width")
    rules.add_argument("--layers", type=int, default=2, help="transformer blocks")
    rules.add_argument("--heads", type=int, default=4, help="attention heads")
    rules.add_argument("--steps", type=int, default=4000, help="optimizer steps")
    rules.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate")
    rules.add_argument("--wd", type=float, default=0.0, help="weight decay")
    rules.add_argument("--batch", type=int, default=256, help="strings per model per step")
    rules.add_argument("--log-every", type=int, default=50, help="steps between losses")
    rules.add_argument("--save-every", type=int, default=0, help="checkpoint every k steps")
    rules.add_argument("--save-log", type=int, default=30, help="log-spaced checkpoints")
    _device_options(rules)

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

    clocks = commands.add_parser(
        "clocks",
        help="tau_rule, tau_mem and the innovation window of a rule-task run",
        description="Generate from every saved step of a rule-task run and report when the "
        "samples become rule-valid (tau_rule) and when they copy training strings (tau_mem).",
    )
    clocks.add_argument("run", type=Path)
    clocks.add_argument("--samples", type=int, default=512, help="strings per model and step")
    clocks.add_argument(
        "--rule-threshold",
        type=float,
        help="valid fraction that sets tau_rule (default: 80%% of the way from the rule's "
        "chance rate to 1, 0.9 for parity)",
    )
    clocks.add_argument(
        "--mem-threshold",
        type=float,
        default=MEM_THRESHOLD,
        help=f"memorized fraction that sets tau_mem (default {MEM_THRESHOLD})",
    )
    clocks.add_argument("--json", action="store_true", help="print a JSON object")
    clocks.add_argument("--out", type=Path, help="folder for the figures")

    basins = commands.add_parser(
        "basins",
        help="score-basin radii of training vs unseen valid strings (diffusion runs)",
        description="Start the probability-flow sampler at target + sigma noise and find the "
        "largest sigma from which it returns to the target, for training strings and for "
        "rule-valid strings the model never saw.",
    )
    basins.add_argument("run", type=Path)
    when = basins.add_mutually_exclusive_group()
    when.add_argument("--step", type=int, help="saved step (default: the last)")
    when.add_argument("--over-training", action="store_true", help="every saved step")
    basins.add_argument("--targets", type=int, default=16, help="targets per group and model")
    basins.add_argument(
        "--sigmas", type=float, nargs="+", help="starting noise levels (default 0.05 ... 1.0)"
    )
    basins.add_argument("--repeats", type=int, default=16, help="starts per target and sigma")
    basins.add_argument("--json", action="store_true", help="print a JSON object")
    basins.add_argument("--out", type=Path, help="folder for the figures")
    return parser


def _device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda:1")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


# ---------------------------------------------------------------------------------------------
# commands


def _train_modular(args: argparse.Namespace, command: str) -> None:
    _no_repeats(args, ("width", "seed", "noise", "lr", "wd", "train_fraction"))
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


def _train_rules(args: argparse.Namespace, command: str) -> None:
    from interp.generative import GENERATIVE_LOSSES, train_generative  # loads transformer-lens
    from interp.models.dit import DiTConfig
    from interp.models.gpt import GPTConfig

    _no_repeats(args, ("N", "seed"))
    grid = list(itertools.product(args.seed, args.N))
    seeds, ns = [seed for seed, _ in grid], [n for _, n in grid]
    # Validate everything and claim no folder before the first model trains.
    device = resolve_device(args.device)
    d = rule_config(args.rule, args.d, ns, args.group, seeds).d
    shape = {"d": d, "d_model": args.d_model, "n_layers": args.layers, "n_heads": args.heads}
    train_config = TrainConfig(
        steps=args.steps,
        lr=args.lr,
        weight_decay=args.wd,
        loss=GENERATIVE_LOSSES[args.model],
        batch_size=args.batch,
        log_every=args.log_every,
        save_every=args.save_every,
        save_log=args.save_log,
    )
    if args.model == "dit":
        task = rule_task(args.rule, d, ns, args.group, seeds)
        jobs = {args.out: (DiTConfig(**shape, models=len(grid), seed=tuple(seeds)), task)}
    else:
        jobs = {
            args.out if len(grid) == 1 else args.out / f"N{n}_seed{seed}": (
                GPTConfig(**shape, d_mlp=4 * args.d_model, seed=seed),
                rule_task(args.rule, d, n, args.group, seed),
            )
            for seed, n in grid
        }
    for out in jobs:
        check_new_folder(out)

    print(f"rule {args.rule}, d {d}" + (f", group {args.group}" if args.group else ""))
    print("model  seed       N" if args.model == "dit" else "run  seed       N  folder")
    for i, (seed, n) in enumerate(grid):
        if args.model == "dit":
            print(f"{i:>5}  {seed:>4}  {n:>6}")
        else:
            print(f"{i:>3}  {seed:>4}  {n:>6}  {list(jobs)[i]}")
    for out, (model_config, task) in jobs.items():
        print(f"\ntraining {args.model} -> {out}")
        result = train_generative(
            model_config,
            task,
            train_config,
            out=out,
            device=device,
            progress=not args.no_progress,
            command=command,
        )
        print(_final_loss(result.metrics))


def _resume(args: argparse.Namespace) -> None:
    device = resolve_device(args.device)
    result = resume(args.run, device=device, progress=not args.no_progress)
    print(f"{args.run}: trained to step {int(result.metrics['step'][-1])}")
    task = load_run(args.run).task
    print(
        _final_loss(result.metrics) if isinstance(task, RuleTask) else evaluate(result.model, task)
    )


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


def _clocks(args: argparse.Namespace) -> None:
    from interp.generative import generation_curve  # loads transformer-lens: only here

    if args.samples < 1:
        raise ValueError(f"--samples {args.samples}: must be >= 1")
    run = load_run(args.run)
    task = _rule_task(run)
    rule_threshold = args.rule_threshold
    if rule_threshold is None:
        rule_threshold = threshold_above_chance(task.chance_rate)
    steps, stats = generation_curve(run, samples=args.samples)
    clocks = measure_clocks(stats, steps, rule_threshold, args.mem_threshold)
    seeds = list(task.config.seed)
    if args.out is not None:
        labels = _model_labels(task)
        figures = {"clocks": clocks_figure(steps, stats, clocks, labels=labels)}
        if task.models > 1:
            for m in range(task.models):
                figures[f"clocks_model{m}"] = clocks_figure(steps, stats, clocks, m, labels)
        if len(set(task.N)) > 1:  # the clocks against N, one curve per seed
            sizes = sorted(set(task.N))
            taus = {}
            for seed in sorted(set(seeds)):
                named = "" if len(set(seeds)) == 1 else f", seed {seed}"
                model_of = {n: m for m, (n, s) in enumerate(zip(task.N, seeds)) if s == seed}
                for clock in ("tau_mem", "tau_rule"):
                    tau = getattr(clocks, clock).tolist()
                    taus[clock + named] = [tau[model_of[n]] if n in model_of else -1 for n in sizes]
            figures["clocks_against_N"] = tau_against(sizes, taus, "N (training strings)")
        paths = write_figures(figures, args.out)
    if args.json:
        record: dict[str, Any] = {
            "run": str(run.path),
            "samples": args.samples,
            "rule_threshold": rule_threshold,
            "mem_threshold": args.mem_threshold,
            "N": list(task.N),
            "seed": seeds,
            "tau_rule": clocks.tau_rule.tolist(),
            "tau_mem": clocks.tau_mem.tolist(),
            "window": clocks.width.tolist(),
            "steps": steps,
            **stats.to_dict(),
        }
        if args.out is not None:
            record["figures"] = [str(p) for p in paths]
        _print_json(record)
        return
    print(f"{run.path}: {args.samples} samples per model at each of {len(steps)} saved steps")
    print(
        f"tau_rule: valid >= {rule_threshold:.3g}, tau_mem: memorized >= "
        f"{args.mem_threshold:.3g} (-1: never)"
    )
    print("model       N  seed  tau_rule   tau_mem    window")
    columns = (task.N, seeds, *(t.tolist() for t in (clocks.tau_rule, clocks.tau_mem)))
    for m, (n, seed, rule, mem) in enumerate(zip(*columns)):
        print(f"{m:>5}  {n:>6}  {seed:>4}  {rule:>8}  {mem:>8}  {int(clocks.width[m]):>8}")
    print("\nfractions of generated strings")
    print("   step  model  valid  memorized  novel-valid")
    for i, step in enumerate(steps):
        for m in range(task.models):
            values = [float(getattr(stats, f)[i, m]) for f in ("valid", "memorized", "novel_valid")]
            print(f"{step:>7}  {m:>5}  {values[0]:>5.3f}  {values[1]:>9.3f}  {values[2]:>11.3f}")
    if args.out is not None:
        print("\n" + "\n".join(str(p) for p in paths))


def _basins(args: argparse.Namespace) -> None:
    from interp.basins import DEFAULT_SIGMAS, basin_curve, basin_targets, empirical_basins

    for flag, value in (("--targets", args.targets), ("--repeats", args.repeats)):
        if value < 1:
            raise ValueError(f"{flag} {value}: must be >= 1")
    run = load_run(args.run)
    kind = run.config["model"].get("kind")
    if kind != "dit":
        raise ValueError(f"{run.path} holds a {kind!r} model; basins need a diffusion (dit) run")
    task = _rule_task(run)
    sigmas = list(DEFAULT_SIGMAS if args.sigmas is None else args.sigmas)
    targets = basin_targets(task, n=args.targets)  # {"training": ..., "novel": ...}
    chosen = None if args.over_training else [run.steps[-1] if args.step is None else args.step]
    steps, radii = basin_curve(run, targets, sigmas, args.repeats, chosen)
    train, novel = radii["training"], radii["novel"]  # [steps, models, targets]
    # the same targets and noise under each model's memorizing optimum
    optimum = {
        k: v.mean(-1) for k, v in empirical_basins(task, targets, sigmas, args.repeats).items()
    }
    if args.out is not None:
        if args.over_training:
            figures = {
                f"basins_model{m}": basin_radii(
                    steps,
                    train[:, m],
                    novel[:, m],
                    title=f"Basin radius, {label}",
                    reference=(float(optimum["training"][m]), float(optimum["novel"][m])),
                )
                for m, label in enumerate(_model_labels(task))
            }
        else:
            by_n = len(set(task.N)) == task.models
            x = list(task.N) if by_n else list(range(task.models))
            order = sorted(range(task.models), key=lambda m: x[m])
            figures = {
                "basins": basin_radii(
                    [x[m] for m in order],
                    train[0, order],
                    novel[0, order],
                    xlabel="N (training strings)" if by_n else "model",
                    title=f"Basin radius at step {steps[0]}",
                )
            }
        paths = write_figures(figures, args.out)
    if args.json:
        record: dict[str, Any] = {
            "run": str(run.path),
            "steps": steps,
            "sigmas": sigmas,
            "repeats": args.repeats,
            "N": list(task.N),
            "seed": list(task.config.seed),
            "mean_radius": {k: v.mean(-1).tolist() for k, v in radii.items()},
            "radius": {k: v.tolist() for k, v in radii.items()},
            "optimal_denoiser_mean_radius": {k: v.tolist() for k, v in optimum.items()},
        }
        if args.out is not None:
            record["figures"] = [str(p) for p in paths]
        _print_json(record)
        return
    print(
        f"{run.path}: mean basin radius of {train.shape[-1]} training and {novel.shape[-1]} "
        f"unseen valid strings per model ({args.repeats} starts at each sigma in "
        f"{' '.join(f'{s:g}' for s in sigmas)})"
    )
    print("   step  model       N  seed  training     novel")
    for i, step in enumerate(steps):
        for m, (n, seed) in enumerate(zip(task.N, task.config.seed)):
            means = float(train[i, m].mean()), float(novel[i, m].mean())
            print(f"{step:>7}  {m:>5}  {n:>6}  {seed:>4}  {means[0]:>8.3f}  {means[1]:>8.3f}")
    for m, (n, seed) in enumerate(zip(task.N, task.config.seed)):  # the reference
        means = float(optimum["training"][m]), float(optimum["novel"][m])
        print(f"optimum  {m:>5}  {n:>6}  {seed:>4}  {means[0]:>8.3f}  {means[1]:>8.3f}")
    print("(optimum: the empirical optimal denoiser of each model's training strings)")
    if args.out is not None:
        print("\n" + "\n".join(str(p) for p in paths))


# ---------------------------------------------------------------------------------------------
# helpers


def _no_repeats(args: argparse.Namespace, names: Sequence[str]) -> None:
    """Refuse a sweep list that names a value twice (it would train the same model twice)."""
    for name in names:
        values = getattr(args, name)
        if len(set(values)) != len(values):
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} {' '.join(map(str, values))} repeats a value")


def _rule_task(run: Run) -> RuleTask:
    """The run's rule task; a modular run has no generations to score."""
    if "task" not in run.config:
        raise ValueError(f"{run.path} has no task; this command needs a rule-task run")
    kind = run.config["task"].get("kind", "modular")
    if kind != "rules":
        raise ValueError(f"{run.path} is a {kind!r} run; this command needs a rule-task run")
    return run.task


def _model_labels(task: RuleTask) -> list[str]:
    """A legend name per model: its N, and its seed when the seeds differ."""
    seeds = task.config.seed
    if len(set(seeds)) == 1:
        return [f"N={n}" for n in task.N]
    return [f"N={n}, seed {s}" for n, s in zip(task.N, seeds)]


def _final_loss(metrics: dict) -> str:
    """The last logged training loss of every model."""
    loss = metrics["train_loss"][-1]
    rows = [f"final loss, step {int(metrics['step'][-1])}", "model      loss"]
    rows += [f"{m:>5}  {float(v):>8.4f}" for m, v in enumerate(loss)]
    return "\n".join(rows)


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
        if args.command == "train" and args.task == "rules":
            _train_rules(args, shlex.join([PROG, *argv]))
        elif args.command == "train":
            _train_modular(args, shlex.join([PROG, *argv]))
        elif args.command == "resume":
            _resume(args)
        elif args.command == "evaluate":
            _evaluate(args)
        elif args.command == "extract":
            _extract(args)
        elif args.command == "spectrum":
            _spectrum(args)
        elif args.command == "clocks":
            _clocks(args)
        elif args.command == "basins":
            _basins(args)
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
