"""The imbalance study's command: `speciation`.

`interp speciation` runs the U-turn experiment (`u_turns`) with the exact score of two
unit-variance classes at +-m in d dimensions with weights rho_maj / rho_min: class-c test points
noised to each time t and run back through the backward OU process; per class, the probability
of coming back, the time t_S where it crosses 1/2 (`speciation_time`) and the closed form's t_S
of the minority (`closed_form_speciation_time`).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from interp.cli import device_options, print_json
from interp.core.device import resolve_device
from interp.core.runs import check_new_folder
from interp.figures import write_figures
from interp.studies.imbalance.plots import return_curves
from interp.studies.imbalance.speciation import (
    closed_form_speciation_time,
    speciation_time,
    u_turns,
)
from interp.tasks.mixtures import mixture_task

__all__ = ["add_arguments", "run", "DEFAULT_TIMES"]

# 17 times from 0.25 to 4, a factor 2^(1/4) apart (the closed form's 1.339 at 0.9 / 0.1 inside)
DEFAULT_TIMES = [round(0.25 * 2 ** (k / 4), 4) for k in range(17)]
T_END = 1e-3  # where the backward process stops (`reverse_ou`'s default)
CLASSES = ("majority", "minority")


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "U-turns with the exact score of two unit-variance classes at +-m (majority at +m): "
        "noise each class's test points to time t, run the backward OU process back "
        "(Euler-Maruyama, log-spaced steps to t = 0.001) and count how often they come back to "
        "their class; t_S is where that probability crosses 1/2, against the closed form "
        "1/2 log(2 |m|^2 / log(rho_maj / rho_min)) of the minority. The defaults are the "
        "paper's anchor setting (Nicoletti et al. 2026: d 64, |m| 4, weights 0.9 / 0.1; their "
        "exact-score minority t_S ~ 1.2, closed form 1.339); under 10 s on one CPU thread."
    )
    parser.add_argument("--d", type=int, default=64, help="dimension (default 64)")
    parser.add_argument("--norm", type=float, default=4.0, help="|m| (default 4)")
    parser.add_argument(
        "--weights",
        type=float,
        nargs=2,
        default=[0.9, 0.1],
        metavar=("RHO_MAJ", "RHO_MIN"),
        help="class weights, majority then minority (default 0.9 0.1)",
    )
    parser.add_argument(
        "--times",
        type=float,
        nargs="+",
        default=DEFAULT_TIMES,
        help="ascending diffusion times t (default: 17 log-spaced from 0.25 to 4)",
    )
    parser.add_argument("--points", type=int, default=256, help="test points a class (default 256)")
    parser.add_argument("--runs", type=int, default=4, help="backward runs per point (default 4)")
    parser.add_argument("--steps", type=int, default=200, help="steps a run (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--out", type=Path, help="folder for the figure")
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out")
    device_options(parser)


def _check(args: argparse.Namespace) -> None:
    if args.d < 1:
        raise ValueError(f"--d {args.d} must be >= 1")
    if not (math.isfinite(args.norm) and args.norm > 0):
        raise ValueError(f"--norm {args.norm} must be a finite number > 0")
    major, minor = args.weights
    shown = f"--weights {major:g} {minor:g}"
    if not all(math.isfinite(w) and w > 0 for w in args.weights):
        raise ValueError(f"{shown} must both be > 0")
    if abs(major + minor - 1) > 1e-6:
        raise ValueError(f"{shown} must sum to 1")
    if not major > minor:
        raise ValueError(f"{shown}: the majority's weight (first) must exceed the minority's")
    for t in args.times:
        if not (math.isfinite(t) and t > T_END):
            raise ValueError(f"--times {t:g} must be a finite time > {T_END:g}")
    if any(b <= a for a, b in zip(args.times, args.times[1:])):
        raise ValueError(f"--times {' '.join(f'{t:g}' for t in args.times)} must be ascending")
    for name in ("points", "runs", "steps"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} {getattr(args, name)} must be >= 1")


def run(args: argparse.Namespace, command: str) -> None:
    _check(args)
    if args.out is not None and not args.force:
        check_new_folder(args.out, "pass --force to write into it")
    device = resolve_device(args.device)
    major, minor = args.weights
    centroid = [args.norm] + [0.0] * (args.d - 1)
    n_test = math.ceil(args.points / minor) + 2  # exact class counts: >= points of the minority
    task = mixture_task(
        d=args.d,
        n=2,
        means=[centroid, [-v for v in centroid]],
        weights=[major, minor],
        n_test=n_test,
    ).to(device)
    returns = u_turns(
        task, args.times, starts=args.points, repeats=args.runs, steps=args.steps, seed=args.seed
    ).cpu()
    t_s = speciation_time(args.times, returns).tolist()
    closed = closed_form_speciation_time(args.norm, major, minor)
    paths = []
    if args.out is not None:
        labels = [f"{name} ({w:g})" for name, w in zip(CLASSES, args.weights)]
        figures = {"speciation": return_curves(args.times, returns, t_s, labels, closed)}
        paths = write_figures(figures, args.out)
    if args.json:
        print_json(
            {
                "d": args.d,
                "norm": args.norm,
                "weights": [major, minor],
                "classes": list(CLASSES),
                "points": args.points,
                "runs": args.runs,
                "steps": args.steps,
                "seed": args.seed,
                "times": list(args.times),
                "returns": returns.tolist(),
                "t_s": [t if math.isfinite(t) else None for t in t_s],  # null: never below 1/2
                "closed_form_t_s": closed,
                "figures": [str(p) for p in paths],
            }
        )
        return
    print(
        f"d {args.d}, |m| {args.norm:g}, weights {major:g} / {minor:g} (majority at +m), "
        f"{args.points} points x {args.runs} runs per class, {args.steps} steps, exact score"
    )
    print("return probability")
    print("       t  majority  minority")
    for k, t in enumerate(args.times):
        print(f"{t:>8.4g}  {float(returns[0, k]):>8.3f}  {float(returns[1, k]):>8.3f}")
    print("t_S (crosses 1/2; inf: never)")
    for name, t in zip(CLASSES, t_s):
        print(f"{name:>10}  {t:.3f}")
    print(f"closed form (equal unit variances): minority t_S = {closed:.3f}")
    for path in paths:
        print(path)
