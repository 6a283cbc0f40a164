"""The random-features clocks' commands: `train mixture` and `score-clocks`.

`train mixture` trains the product seed x n as one ensemble of random-features score models
(Bonnaire et al. 2025) on points of a Gaussian (one class at the origin, identity covariance by
default), full-batch gradient descent at learning rate `--lr-scale` x d / Delta_t.
`score-clocks RUN` reads tau_gen and tau_mem from the run's test loss and fits tau_mem ~ n^k.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from interp.cli import device_options, loggers, no_repeats, print_json, tracking_options
from interp.core.device import resolve_device
from interp.core.runs import check_new_folder, load_run
from interp.core.training import TrainConfig
from interp.core.training import train as train_ensemble
from interp.figures import write_figures
from interp.models.random_features import ACTIVATIONS, RandomFeatures, RandomFeaturesConfig
from interp.studies.rf_clocks.clocks import GEN_TOL, MEM_RISE, loglog_slope, score_clocks
from interp.studies.rf_clocks.plots import loss_curves, times_against_n
from interp.tasks.mixtures import mixture_task, ou_coefficients

__all__ = ["add_train_arguments", "train", "add_arguments", "run"]


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train random-features score models s_A(x) = A tanh(W x / sqrt d) on n points of a "
        "Gaussian at one diffusion time t; the product seed x n is one batched ensemble."
    )
    parser.add_argument("--out", required=True, type=Path, help="new run folder")
    parser.add_argument("--d", type=int, default=50, help="dimension (default 50)")
    parser.add_argument("--p", type=int, default=2000, help="random features (default 2000)")
    parser.add_argument("--t", type=float, default=0.1, help="diffusion time (default 0.1)")
    parser.add_argument("--act", choices=list(ACTIVATIONS), default="tanh")
    classes = parser.add_argument_group("classes (default: one Gaussian N(0, I))")
    classes.add_argument(
        "--centroid-norm", type=float, help="two classes at +-m e_1 with |m| = this norm"
    )
    classes.add_argument("--weights", type=float, nargs="+", help="per-class sampling weights")
    classes.add_argument("--variances", type=float, nargs="+", help="per-class variances")
    grid = parser.add_argument_group("sweep (each takes one or more values)")
    grid.add_argument("--n", type=int, nargs="+", default=[100, 200, 400, 800])
    grid.add_argument("--seed", type=int, nargs="+", default=[0], help="data and feature seed")
    parser.add_argument("--steps", type=int, default=20000, help="gradient steps")
    parser.add_argument(
        "--lr-scale", type=float, default=0.004, help="learning rate / (d / Delta_t)"
    )
    parser.add_argument("--n-test", type=int, default=2048, help="fresh test points")
    parser.add_argument("--log-every", type=int, default=100, help="steps between metrics")
    parser.add_argument("--log-log", type=int, default=80, help="extra log-spaced metrics")
    parser.add_argument("--save-log", type=int, default=8, help="log-spaced checkpoints")
    device_options(parser)
    tracking_options(parser)


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "tau_gen (test loss at its minimum) and tau_mem (test loss risen above it) of every "
        "model of a random-features run, and the log-log slope of tau_mem against n."
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("--gen-tol", type=float, default=GEN_TOL, help="tau_gen's tolerance")
    parser.add_argument("--mem-rise", type=float, default=MEM_RISE, help="tau_mem's rise")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--out", type=Path, help="folder for the figures")
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out")


def train(args: argparse.Namespace, command: str) -> None:
    no_repeats(args, ("n", "seed"))
    grid = list(itertools.product(args.seed, args.n))
    seeds, ns = [s for s, _ in grid], [n for _, n in grid]
    device = resolve_device(args.device)
    means = None
    if args.centroid_norm is not None:
        centroid = [args.centroid_norm] + [0.0] * (args.d - 1)
        means = [centroid, [-v for v in centroid]]
    task = mixture_task(
        d=args.d,
        n=ns,
        seed=seeds,
        means=means,
        variances=args.variances,
        weights=args.weights,
        n_test=args.n_test,
    )
    config = RandomFeaturesConfig(
        d=args.d, p=args.p, t=args.t, act=args.act, models=len(grid), seed=seeds
    )
    _, delta = ou_coefficients(args.t)
    train_config = TrainConfig(
        steps=args.steps,
        lr=args.lr_scale * args.d / delta,
        optimizer="sgd",
        loss="mse",
        log_every=args.log_every,
        log_log=args.log_log,
        save_log=args.save_log,
    )
    trackers = loggers(args)
    check_new_folder(args.out, "choose a new folder (or `interp resume` the run there)")
    print(f"d {args.d}, p {args.p}, t {args.t}, lr {train_config.lr[0]:.4g}")
    print("model  seed       n")
    for m, (seed, n) in enumerate(grid):
        print(f"{m:>5}  {seed:>4}  {n:>6}")
    result = train_ensemble(
        RandomFeatures(config),
        task,
        train_config,
        out=args.out,
        device=device,
        progress=not args.no_progress,
        command=command,
        loggers=trackers,
    )
    print(score_clocks(result.metrics["test_loss"], result.metrics["step"]))


def run(args: argparse.Namespace, command: str) -> None:
    if args.out is not None and not args.force:
        check_new_folder(args.out, "pass --force to write into it")
    found = load_run(args.run)
    if found.kind != "random_features":
        raise ValueError(
            f"{found.path} holds a {found.kind!r} model; this needs a random_features run"
        )
    metrics = found.metrics
    if "test_loss" not in metrics:
        raise ValueError(f"{found.path} has no logged test loss")
    clocks = score_clocks(metrics["test_loss"], metrics["step"], args.gen_tol, args.mem_rise)
    ns, seeds = list(found.config["task"]["n"]), list(found.config["task"]["seed"])
    slope = loglog_slope(ns, clocks.tau_mem.tolist())
    lr = found.config["train"]["lr"][0]
    paths = []
    if args.out is not None:
        labels = [f"n={n}, seed {s}" for n, s in zip(ns, seeds)]
        figures = {"losses": loss_curves(metrics, clocks, labels)}
        if len(set(ns)) > 1:
            figures["times_against_n"] = times_against_n(ns, clocks, slope, seeds)
        paths = write_figures(figures, args.out)
    if args.json:
        record = {
            "run": str(found.path),
            "n": ns,
            "seed": seeds,
            "gen_tol": args.gen_tol,
            "mem_rise": args.mem_rise,
            "lr": lr,
            "tau_gen": clocks.tau_gen.tolist(),
            "tau_mem": clocks.tau_mem.tolist(),
            "best_step": clocks.best_step.tolist(),
            "best_test_loss": clocks.best_loss.tolist(),
            "tau_mem_slope": slope,
            "figures": [str(p) for p in paths],
        }
        print_json(record)
        return
    print(
        f"{found.path}: tau_gen within {args.gen_tol:g} of the minimum, tau_mem at "
        f"{1 + args.mem_rise:g} x the minimum (steps; x lr {lr:.4g} for training time; -1: never)"
    )
    print("model       n  seed   tau_gen   tau_mem  best step  best test loss")
    rows = zip(
        ns, seeds, clocks.tau_gen.tolist(), clocks.tau_mem.tolist(), clocks.best_step.tolist()
    )
    for m, (n, s, g, mem, b) in enumerate(rows):
        print(
            f"{m:>5}  {n:>6}  {s:>4}  {g:>8}  {mem:>8}  {b:>9}  {float(clocks.best_loss[m]):>14.4f}"
        )
    print(f"tau_mem ~ n^{slope:.2f} (log-log least squares over the models whose tau_mem rang)")
    classes = sorted(k for k in metrics if k.startswith("test_loss_class"))
    if classes:
        print("\nper class (from each class's own test loss)")
        print("model  class   tau_gen   tau_mem  best step")
        for name in classes:
            c = int(name.removeprefix("test_loss_class"))
            own = score_clocks(metrics[name], metrics["step"], args.gen_tol, args.mem_rise)
            for m in range(len(ns)):
                g, mem, b = (int(getattr(own, k)[m]) for k in ("tau_gen", "tau_mem", "best_step"))
                print(f"{m:>5}  {c:>5}  {g:>8}  {mem:>8}  {b:>9}")
    for path in paths:
        print(path)
