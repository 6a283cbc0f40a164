"""The posterior study's command: `posterior`.

The posterior under a memorized prior (Siahkoohi & Sabeddu 2026) of a small problem given on
the command line: training points, data y, noise gamma, one or more prior widths sigma and a
forward operator F named from `FORWARDS` (no user code is evaluated). For each sigma it prints
the posterior weight of every training point four ways (limiting, exact by quadrature in one or
two dimensions, linearized with and without the log det of the evidence), the effective number
of modes of each, and the critical width sigma_crit.

    interp posterior                                  # the paper's stylized problem
    interp posterior --sigma 0.1 0.5 1 --gamma 0.1 --json
    interp posterior --forward tanh --a 2 --dim 2 --points 0 0 1 1 -1 0.5 --y 0.2 0.2
    interp posterior --sigma 0.25 0.5 1 --out figures/posterior   # and write the figures
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import plotly.graph_objects as go
import torch
from torch import Tensor

from interp.cli import no_repeats, print_json
from interp.core.runs import check_new_folder
from interp.figures import write_figures
from interp.studies.posterior.plots import modes_against_sigma, weight_bars
from interp.studies.posterior.posterior import (
    critical_sigma,
    effective_modes,
    exact_weights,
    limiting_weights,
    linearized_posterior,
    modes_curve,
)

__all__ = ["FORWARDS", "forward_operator", "add_arguments", "run"]

# name -> (the formula, a's default, F(x; a) elementwise)
FORWARDS: dict[str, tuple[str, float, Callable[[Tensor, float], Tensor]]] = {
    "cubic": ("x + {a} x^3", 0.3, lambda x, a: x + a * x**3),
    "linear": ("{a} x", 1.0, lambda x, a: a * x),
    "tanh": ("tanh({a} x)", 1.0, lambda x, a: torch.tanh(a * x)),
}
PAPER_POINTS = [-1.5, -0.4, 0.4, 1.2, 2.5]
EXACT_MAX_DIM = 2  # exact_weights integrates in 1 or 2 dimensions
COLUMNS = ("limiting", "exact", "linearized", "linearized_without_log_det")
HEADERS = ("limiting", "exact", "linearized", "without log det")
CURVE_POINTS = 33  # sigmas in modes.html's log grid


def forward_operator(
    name: str, a: float | None = None
) -> tuple[Callable[[Tensor], Tensor], str, float]:
    """F (elementwise, differentiable), its formula and a, for a name in `FORWARDS` (a None: the
    table's default).

    Examples:
        >>> F, formula, a = forward_operator("tanh")
        >>> formula, a, F(torch.tensor([0.0], dtype=torch.float64)).tolist()
        ('F(x) = tanh(1 x)', 1.0, [0.0])
    """
    if name not in FORWARDS:
        raise ValueError(f"--forward {name!r}: unknown; choose one of {', '.join(FORWARDS)}")
    formula, default, f = FORWARDS[name]
    a = default if a is None else a
    if not math.isfinite(a):
        raise ValueError(f"--a {a}: need a finite number")
    return (lambda x: f(x, a)), "F(x) = " + formula.format(a=f"{a:g}"), a


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    table = "; ".join(
        f"{name}: {formula.format(a='a')} (a = {a:g})" for name, (formula, a, _) in FORWARDS.items()
    )
    parser.description = (
        "The posterior under a memorized prior (1/N) sum_n N(x_n, sigma^2 I) of y = F(x) + "
        "N(0, gamma^2 I): the weight of each training point x_n (limiting, exact, linearized "
        "with and without the log det), their effective modes and sigma_crit. Forward operators, "
        f"applied elementwise: {table}."
    )
    parser.add_argument(
        "--forward", default="cubic", help=f"F, one of {', '.join(FORWARDS)} (default cubic)"
    )
    parser.add_argument("--a", type=float, help="F's parameter (default: the forward's, above)")
    parser.add_argument(
        "--dim", type=int, default=1, help="dimension D of x (default 1; exact weights: D <= 2)"
    )
    parser.add_argument(
        "--points",
        type=float,
        nargs="+",
        default=PAPER_POINTS,
        help="training points, D floats each, flat (default the paper's -1.5 -0.4 0.4 1.2 2.5)",
    )
    parser.add_argument("--y", type=float, nargs="+", help="the data, D floats (default 0)")
    parser.add_argument("--gamma", type=float, default=0.3, help="noise level (default 0.3)")
    parser.add_argument(
        "--sigma", type=float, nargs="+", default=[0.5], help="prior widths (default 0.5)"
    )
    parser.add_argument(
        "--delta",
        type=float,
        help="sigma_crit's length (default: the points' mean nearest-neighbour distance)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for the figures: weights_sigma<sigma>.html per sigma and modes.html "
        "(effective modes over a log grid of sigma, with sigma_crit)",
    )
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out")


def _positive(flag: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{flag} {value}: need a finite number > 0")


def _problem(args: argparse.Namespace) -> tuple[Tensor, Tensor]:
    """Check the arguments; the points `[N, D]` and y `[D]`, float64."""
    if args.dim < 1:
        raise ValueError(f"--dim {args.dim}: need an integer >= 1")
    if len(args.points) % args.dim:
        raise ValueError(
            f"--points has {len(args.points)} floats: need a multiple of --dim {args.dim} "
            f"({args.dim} per point)"
        )
    y = [0.0] * args.dim if args.y is None else args.y
    if len(y) != args.dim:
        raise ValueError(f"--y has {len(y)} floats: need --dim {args.dim}")
    for flag, values in (("--points", args.points), ("--y", y)):
        bad = [v for v in values if not math.isfinite(v)]
        if bad:
            raise ValueError(f"{flag} {bad[0]}: need finite numbers")
    _positive("--gamma", args.gamma)
    for sigma in args.sigma:
        _positive("--sigma", sigma)
    no_repeats(args, ("sigma",))
    if args.delta is not None:
        _positive("--delta", args.delta)
    points = torch.tensor(args.points, dtype=torch.float64).reshape(-1, args.dim)
    if args.delta is None and len(points) < 2:
        raise ValueError(
            "--points holds 1 point: sigma_crit's default delta (the mean nearest-neighbour "
            "distance) needs at least 2; pass --delta"
        )
    return points, torch.tensor(y, dtype=torch.float64)


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def sigma_grid(sigmas: list[float], s_crit: float, n: int = CURVE_POINTS) -> Tensor:
    """`[S]` float64: n log-spaced widths from a tenth of the smallest of `sigmas` and s_crit
    (when finite) to 4 times the largest, with `sigmas` themselves merged in.

    Examples:
        >>> sigma_grid([0.5], 0.3, 5).numpy().round(3)
        array([0.03 , 0.086, 0.245, 0.5  , 0.7  , 2.   ])
    """
    ends = sigmas + ([s_crit] if math.isfinite(s_crit) else [])
    grid = torch.logspace(
        math.log10(min(ends) / 10), math.log10(max(ends) * 4), n, dtype=torch.float64
    )
    return torch.cat([grid, torch.tensor(sigmas, dtype=torch.float64)]).unique()  # sorted


def _figures(
    forward: Callable[[Tensor], Tensor],
    points: Tensor,
    y: Tensor,
    gamma: float,
    s_crit: float,
    per_sigma: list[tuple[float, dict[str, Tensor]]],
) -> dict[str, go.Figure]:
    """The figures `--out` writes: the weight bars per sigma, then modes.html."""
    figures = {}
    for sigma, weights in per_sigma:
        columns = {n.replace("_", " "): w for n, w in weights.items()}
        title = f"Posterior weight of each training point, sigma {sigma:g}, gamma {gamma:g}"
        figures[f"weights_sigma{sigma:g}"] = weight_bars(points, columns, title)
    sigmas = sigma_grid([sigma for sigma, _ in per_sigma], s_crit)
    if points.shape[1] <= EXACT_MAX_DIM:
        curve = modes_curve(forward, points, y, gamma, sigmas)
    else:  # no exact weights: the limiting value and the two linearizations
        curve = {"limiting": effective_modes(limiting_weights(forward, points, y, gamma))}
        curve["limiting"] = curve["limiting"].expand(len(sigmas))
        for name, log_det in (("linearized", True), ("linearized without log det", False)):
            curve[name] = torch.stack(
                [
                    effective_modes(
                        linearized_posterior(forward, points, y, gamma, s, log_det=log_det).weights
                    )
                    for s in sigmas.tolist()
                ]
            )
    title = f"Effective modes against the prior width, gamma {gamma:g}"
    figures["modes"] = modes_against_sigma(sigmas, curve, s_crit, title)
    return figures


def run(args: argparse.Namespace, command: str) -> None:
    forward, formula, a = forward_operator(args.forward, args.a)
    points, y = _problem(args)
    if args.out is not None and not args.force:
        check_new_folder(args.out, "pass --force to write into it")
    exact = args.dim <= EXACT_MAX_DIM
    limiting = limiting_weights(forward, points, y, args.gamma)
    s_crit = critical_sigma(forward, points, y, args.gamma, args.delta).item()
    per_sigma = []
    for sigma in args.sigma:
        weights = {"limiting": limiting}
        if exact:
            weights["exact"] = exact_weights(forward, points, y, args.gamma, sigma)
        weights["linearized"] = linearized_posterior(forward, points, y, args.gamma, sigma).weights
        weights["linearized_without_log_det"] = linearized_posterior(
            forward, points, y, args.gamma, sigma, log_det=False
        ).weights
        for name, w in weights.items():
            if not torch.isfinite(w).all():
                raise ValueError(
                    f"the {name} weights at sigma {sigma} are not finite: F overflows float64 "
                    "at these points"
                )
        per_sigma.append((sigma, weights))
    paths = []
    if args.out is not None:
        figures = _figures(forward, points, y, args.gamma, s_crit, per_sigma)
        paths = write_figures(figures, args.out)
    if args.json:
        print_json(
            {
                "forward": args.forward,
                "formula": formula,
                "a": a,
                "dim": args.dim,
                "points": points.tolist(),
                "y": y.tolist(),
                "gamma": args.gamma,
                "delta": args.delta,
                "critical_sigma": _finite_or_none(s_crit),
                "sigma": [
                    {
                        "sigma": sigma,
                        "weights": {k: w.tolist() for k, w in weights.items()},
                        "modes": {k: effective_modes(w).item() for k, w in weights.items()},
                    }
                    for sigma, weights in per_sigma
                ],
                "figures": [str(p) for p in paths],
            }
        )
        return
    labels = [", ".join(f"{v:g}" for v in p) for p in points.tolist()]
    head = "x" if args.dim == 1 else "x (" + ", ".join(f"x{k + 1}" for k in range(args.dim)) + ")"
    width = max(len(head), 5, *map(len, labels))
    delta = "the mean nearest-neighbour distance" if args.delta is None else f"{args.delta:g}"
    print(
        f"{formula}, y = {' '.join(f'{v:g}' for v in y.tolist())}, gamma {args.gamma:g}; "
        f"{len(points)} training point{'s' * (len(points) != 1)} in {args.dim}-D"
    )
    flat = " (F is flat at every point)" if math.isinf(s_crit) else ""
    print(f"critical_sigma {s_crit:.4g}{flat} (delta: {delta})")
    if not exact:
        print(f"(no exact weights: quadrature is for D <= {EXACT_MAX_DIM})")
    for sigma, weights in per_sigma:
        names = [n for n in COLUMNS if n in weights]
        headers = [h for n, h in zip(COLUMNS, HEADERS) if n in weights]
        print(f"\nsigma {sigma:g}: posterior weight of each training point")
        print(f"{head:<{width}}  " + "  ".join(f"{h:>15}" for h in headers))
        for i, label in enumerate(labels):
            row = "  ".join(f"{weights[n][i].item():>15.3f}" for n in names)
            print(f"{label:<{width}}  {row}")
        modes = "  ".join(f"{effective_modes(weights[n]).item():>15.2f}" for n in names)
        print(f"{'modes':<{width}}  {modes}")
    if paths:
        print()
    for path in paths:
        print(path)
