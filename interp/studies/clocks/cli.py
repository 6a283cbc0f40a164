"""The two-clocks study's commands: `train rules`, `clocks`, `basins`.

`train rules` trains the product seed x N as one ensemble run (model m has its own N and seed),
a DiT (EDM loss) or a GPT (next-bit cross-entropy). Figures go into a new (or empty) folder;
`--force` writes into a folder that has files.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

from interp.cli import device_options, loggers, no_repeats, print_json, tracking_options
from interp.core.device import resolve_device
from interp.core.runs import Run, check_new_folder, load_run
from interp.core.training import TrainConfig
from interp.core.training import train as train_ensemble
from interp.figures import write_figures
from interp.studies.clocks.basins import (
    DEFAULT_SIGMAS,
    basin_curve,
    basin_targets,
    empirical_basins,
    population_basins,
)
from interp.studies.clocks.clocks import (
    MEM_THRESHOLD,
    clocks_by_n,
    measure_clocks,
    threshold_above_chance,
)
from interp.studies.clocks.generation import generation_curve
from interp.studies.clocks.plots import basin_radii, clocks_figure, tau_against
from interp.tasks.bitrules import RULES
from interp.tasks.rules import RuleTask, rule_task

__all__ = ["add_train_arguments", "train", "add_arguments", "run"]

LOSS = {"dit": "edm", "gpt": "ce"}  # what each generative kind trains with


def add_train_arguments(rules: argparse.ArgumentParser) -> None:
    rules.description = (
        "Train generative models on N valid strings of a rule: the product seed x N is one "
        "batched run (model m has its own N and seed), a DiT ensemble or a GPT ensemble."
    )
    rules.add_argument("--out", required=True, type=Path, help="new run folder")
    rules.add_argument("--rule", choices=list(RULES), default="parity")
    rules.add_argument("--group", type=int, help="group size of group_parity (divides d)")
    rules.add_argument("--d", type=int, help="string length (default 16; 32 for puzzles)")
    rules.add_argument("--model", choices=list(LOSS), default="dit")
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
    device_options(rules)
    tracking_options(rules)


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path)
    if command == "clocks":
        parser.description = (
            "Generate from every saved step of a rule-task run and report when the samples "
            "become rule-valid (tau_rule) and when they copy training strings (tau_mem)."
        )
        parser.add_argument("--samples", type=int, default=512, help="strings per model and step")
        parser.add_argument(
            "--rule-threshold",
            type=float,
            help="valid fraction that sets tau_rule (default: 80%% of the way from the rule's "
            "chance rate to 1, 0.9 for parity)",
        )
        parser.add_argument(
            "--mem-threshold",
            type=float,
            default=MEM_THRESHOLD,
            help=f"memorized fraction that sets tau_mem (default {MEM_THRESHOLD})",
        )
    else:
        parser.description = (
            "Start the probability-flow sampler at target + sigma noise and find the largest "
            "sigma from which it returns to the target, for training strings and for "
            "rule-valid strings the model never saw."
        )
        when = parser.add_mutually_exclusive_group()
        when.add_argument("--step", type=int, help="saved step (default: the last)")
        when.add_argument("--over-training", action="store_true", help="every saved step")
        parser.add_argument("--targets", type=int, default=16, help="targets per group and model")
        parser.add_argument(
            "--sigmas", type=float, nargs="+", help="starting noise levels (default 0.05 ... 1.0)"
        )
        parser.add_argument("--repeats", type=int, default=16, help="starts per target and sigma")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--out", type=Path, help="folder for the figures")
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda")


def run(args: argparse.Namespace, command: str) -> None:
    (_clocks if args.command == "clocks" else _basins)(args)


def train(args: argparse.Namespace, command: str) -> None:
    from interp.models.dit import DiT, DiTConfig
    from interp.models.gpt import GPT, GPTConfig

    no_repeats(args, ("N", "seed"))
    grid = list(itertools.product(args.seed, args.N))
    seeds, ns = [seed for seed, _ in grid], [n for _, n in grid]
    # Validate everything and claim no folder before the first model trains.
    device = resolve_device(args.device)
    task = rule_task(args.rule, args.d, ns, args.group, seeds)
    shape = {"d": task.d, "d_model": args.d_model, "n_layers": args.layers, "n_heads": args.heads}
    if args.model == "dit":
        model = DiT(DiTConfig(**shape, models=len(grid), seed=tuple(seeds)))
    else:
        model = GPT(GPTConfig(**shape, d_mlp=4 * args.d_model, models=len(grid), seed=tuple(seeds)))
    train_config = TrainConfig(
        steps=args.steps,
        lr=args.lr,
        weight_decay=args.wd,
        loss=LOSS[args.model],
        batch_size=args.batch,
        log_every=args.log_every,
        save_every=args.save_every,
        save_log=args.save_log,
    )
    trackers = loggers(args)
    check_new_folder(args.out, "choose a new folder (or `interp resume` the run there)")
    print(f"rule {args.rule}, d {task.d}" + (f", group {args.group}" if args.group else ""))
    print("model  seed       N")
    for i, (seed, n) in enumerate(grid):
        print(f"{i:>5}  {seed:>4}  {n:>6}")
    print(f"\ntraining {args.model} -> {args.out}")
    result = train_ensemble(
        model,
        task,
        train_config,
        out=args.out,
        device=device,
        progress=not args.no_progress,
        command=command,
        loggers=trackers,
    )
    loss = result.metrics["train_loss"][-1]
    print(f"final loss, step {int(result.metrics['step'][-1])}")
    print("model      loss")
    print("\n".join(f"{m:>5}  {float(v):>8.4f}" for m, v in enumerate(loss)))


def _clocks(args: argparse.Namespace) -> None:
    if args.samples < 1:
        raise ValueError(f"--samples {args.samples}: must be >= 1")
    if args.out is not None and not args.force:
        check_new_folder(args.out, "pass --force to write into it")
    run = load_run(args.run)
    task = _rule_task(run)
    rule_threshold = args.rule_threshold
    if rule_threshold is None:
        rule_threshold = threshold_above_chance(task.chance_rate)
    steps, stats = generation_curve(run, samples=args.samples, device=args.device)
    clocks = measure_clocks(stats, steps, rule_threshold, args.mem_threshold)
    seeds = list(task.config.seed)
    if args.out is not None:
        labels = _model_labels(task)
        figures = {"clocks": clocks_figure(steps, stats, clocks, labels=labels)}
        if task.models > 1:
            for m in range(task.models):
                figures[f"clocks_model{m}"] = clocks_figure(steps, stats, clocks, m, labels)
        if len(set(task.N)) > 1:  # the clocks against N, one curve per seed
            sizes, taus = clocks_by_n(clocks, task)
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
        print_json(record)
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
    for flag, value in (("--targets", args.targets), ("--repeats", args.repeats)):
        if value < 1:
            raise ValueError(f"{flag} {value}: must be >= 1")
    if args.out is not None and not args.force:
        check_new_folder(args.out, "pass --force to write into it")
    run = load_run(args.run)
    if run.kind != "dit":
        raise ValueError(f"{run.path} holds a {run.kind!r} model; basins need a diffusion run")
    task = _rule_task(run)
    sigmas = list(DEFAULT_SIGMAS if args.sigmas is None else args.sigmas)
    targets = basin_targets(task, n=args.targets)  # {"training": ..., "novel": ...}
    chosen = None if args.over_training else [run.steps[-1] if args.step is None else args.step]
    steps, radii = basin_curve(run, targets, sigmas, args.repeats, chosen, device=args.device)
    train, novel = radii["training"], radii["novel"]  # [steps, models, targets]
    # the same targets and noise under each model's memorizing optimum
    optimum = {
        k: v.mean(-1) for k, v in empirical_basins(task, targets, sigmas, args.repeats).items()
    }
    # ... and under the rule's exact population denoiser (the generalizing optimum)
    population = None
    if task.config.rule in ("parity", "group_parity"):
        found = population_basins(task, targets, sigmas, args.repeats)
        population = {k: v.mean(-1) for k, v in found.items()}
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
            order = sorted(range(task.models), key=lambda m: x[m])  # left to right in N
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
            "population_denoiser_mean_radius": (
                None if population is None else {k: v.tolist() for k, v in population.items()}
            ),
        }
        if args.out is not None:
            record["figures"] = [str(p) for p in paths]
        print_json(record)
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
    if population is not None:
        for m, (n, seed) in enumerate(zip(task.N, task.config.seed)):
            means = float(population["training"][m]), float(population["novel"][m])
            print(f"population {m:>2}  {n:>6}  {seed:>4}  {means[0]:>8.3f}  {means[1]:>8.3f}")
    print("(optimum: the empirical optimal denoiser of each model's training strings, which")
    print(" memorizes; population: the rule's exact denoiser, which generalizes)")
    if args.out is not None:
        print("\n" + "\n".join(str(p) for p in paths))


# ---------------------------------------------------------------------------------------------
# helpers


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
