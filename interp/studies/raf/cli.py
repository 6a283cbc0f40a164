"""The Rules-and-Facts command: `interp raf` draws the task over a grid of alpha, eps and seeds
(one ensemble) and prints each learner's E_gen (rule error on fresh data) and E_mem (facts whose
random label it does not reproduce), averaged over the seeds, beside the state-evolution theory
of the same learner (d -> infinity) and the Bayes-optimal E_gen."""

from __future__ import annotations

import argparse
import itertools
import math
from functools import partial

import torch

from interp.cli import no_repeats, print_json
from interp.studies.raf.learners import (
    RBF,
    DotProduct,
    kernel_ridge,
    measure,
    random_features,
    ridge,
    svm,
)
from interp.studies.raf.theory import RandomFeatures, bayes_optimal, state_evolution
from interp.tasks.raf import raf_task

__all__ = ["add_arguments", "run"]

LEARNERS = ("ridge", "kernel", "rbf", "svm", "features", "network")


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "E_gen and E_mem of a learner on the Rules-and-Facts task (Farne, Boncoraglio, "
        "Zdeborova 2026): Gaussian inputs labelled by a teacher's sign, a fraction eps of them "
        "relabelled at random (the facts)."
    )
    parser.add_argument("--learner", choices=LEARNERS, default="ridge")
    parser.add_argument("--d", type=int, default=400, help="dimension (default 400)")
    parser.add_argument("--alpha", type=float, nargs="+", default=[2.0, 5.0], help="n / d")
    parser.add_argument("--eps", type=float, nargs="+", default=[0.2], help="fact fraction")
    parser.add_argument("--seed", type=int, nargs="+", default=[0, 1, 2], help="draws")
    parser.add_argument("--lam", type=float, default=1.0, help="ridge penalty lambda")
    parser.add_argument(
        "--mu",
        type=float,
        nargs=2,
        default=[1.0, 1.0],
        metavar=("MU_1", "MU_STAR"),
        help="dot-product kernel (kernel, svm)",
    )
    parser.add_argument("--gamma", type=float, default=1.0, help="RBF width (rbf)")
    parser.add_argument("--kappa", type=float, default=2.0, help="features per dimension")
    parser.add_argument("--activation", choices=("sign", "tanh", "relu"), default="sign")
    parser.add_argument("--width", type=int, default=256, help="network: hidden neurons")
    parser.add_argument("--init-scale", type=float, default=1.0, help="network: initial scale")
    parser.add_argument("--steps", type=int, default=2000, help="network: Adam steps")
    parser.add_argument("--lr", type=float, default=1e-2, help="network: learning rate")
    parser.add_argument("--n-test", type=int, default=10_000, help="fresh test points")
    parser.add_argument("--json", action="store_true", help="print a JSON object")


def _learner(args: argparse.Namespace, seed: int):
    if args.learner == "ridge":
        return partial(ridge, lam=args.lam)
    if args.learner in ("kernel", "svm"):
        fit = kernel_ridge if args.learner == "kernel" else svm
        return partial(fit, kernel=DotProduct(*args.mu), lam=args.lam)
    if args.learner == "rbf":
        return partial(kernel_ridge, kernel=RBF(args.gamma), lam=args.lam)
    return partial(
        random_features, kappa=args.kappa, lam=args.lam, activation=args.activation, seed=seed
    )


def _theory(args: argparse.Namespace, alpha: float, eps: float) -> tuple[float, float]:
    """The learner's (E_gen, E_mem) at d -> infinity."""
    loss, features = "square", None
    if args.learner in ("kernel", "svm"):
        loss, features = ("hinge" if args.learner == "svm" else "square"), DotProduct(*args.mu)
    elif args.learner == "rbf":
        features = RBF(args.gamma)
    elif args.learner == "features":
        features = RandomFeatures(args.kappa, args.activation)
    return state_evolution(alpha, eps, args.lam, loss, features)[:2]


def _network(args: argparse.Namespace, task) -> list[dict[str, float]]:
    """Train the two-layer network on every draw as one ensemble; its errors, those with its
    fact neurons (by the fact mask) mean-ablated, and the E_gen of the rule read off it."""
    import interp
    from interp.models.two_layer import TwoLayer, TwoLayerConfig
    from interp.studies.raf.network import (
        ablate,
        extracted_rule_error,
        fact_neurons,
        neuron_drives,
    )

    cfg = TwoLayerConfig(
        d=args.d, width=args.width, models=task.models, seed=task.config.seed,
        init_scale=args.init_scale,
    )  # fmt: skip
    model = TwoLayer(cfg)
    train = interp.TrainConfig(steps=args.steps, lr=args.lr, loss="mse", log_every=args.steps)
    interp.train(model, task, train, device="cpu", progress=not args.json)
    facts = fact_neurons(neuron_drives(model, task))
    plain = ablate(model, task, torch.zeros_like(facts))
    ablated = ablate(model, task, facts)
    extracted = extracted_rule_error(model, task).tolist()
    return [
        {"e_gen": p.e_gen, "e_mem": p.e_mem, "ablated_e_gen": a.e_gen,
         "ablated_e_mem": a.e_mem, "extracted_e_gen": x}
        for p, a, x in zip(plain, ablated, extracted)
    ]  # fmt: skip


def run(args: argparse.Namespace, command: str) -> None:
    no_repeats(args, ("alpha", "eps", "seed"))
    for name in ("width", "steps"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} {getattr(args, name)} must be >= 1")
    for name in ("init_scale", "lr"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"--{name.replace('_', '-')} {value} must be a finite number > 0")
    grid = list(itertools.product(args.alpha, args.eps, args.seed))
    task = raf_task(
        args.d,
        [a for a, _, _ in grid],
        [e for _, e, _ in grid],
        [s for _, _, s in grid],
        args.n_test,
    )
    if args.learner == "network":
        results = _network(args, task)
    else:
        results = [
            measure(task.select([m]), _learner(args, s))[0]._asdict()
            for m, (_, _, s) in enumerate(grid)
        ]
    rows = []
    for alpha, eps in itertools.product(args.alpha, args.eps):
        mine = [r for (a, e, _), r in zip(grid, results) if (a, e) == (alpha, eps)]
        row = {"alpha": alpha, "eps": eps}
        row |= {k: sum(r[k] for r in mine) / len(mine) for k in mine[0]}
        if args.learner != "network":
            row["theory_e_gen"], row["theory_e_mem"] = _theory(args, alpha, eps)
        rows.append(row | {"bayes_e_gen": bayes_optimal(alpha, eps).e_gen})
    if args.json:
        print_json({"learner": args.learner, "d": args.d, "seeds": args.seed, "rows": rows})
        return
    if args.learner == "network":
        print(
            f"two-layer network, d {args.d}, width {args.width}, init scale {args.init_scale:g}, "
            f"{args.steps} Adam steps, mean over seeds {args.seed}"
        )
        print("                 measured        fact neurons ablated  sign(u.x)  Bayes")
        print("alpha    eps   E_gen   E_mem    E_gen   E_mem          E_gen      E_gen")
        for row in rows:
            print(
                f"{row['alpha']:5g}  {row['eps']:5g}  {row['e_gen']:.4f}  {row['e_mem']:.3f}    "
                f"{row['ablated_e_gen']:.4f}  {row['ablated_e_mem']:.3f}          "
                f"{row['extracted_e_gen']:.4f}     {row['bayes_e_gen']:.4f}"
            )
        return
    print(f"{args.learner}, d {args.d}, lambda {args.lam}, mean over seeds {args.seed}")
    print("                 measured        theory (d -> inf)  Bayes")
    print("alpha    eps   E_gen   E_mem    E_gen   E_mem     E_gen")
    for row in rows:
        print(
            f"{row['alpha']:5g}  {row['eps']:5g}  {row['e_gen']:.4f}  {row['e_mem']:.3f}    "
            f"{row['theory_e_gen']:.4f}  {row['theory_e_mem']:.3f}     {row['bayes_e_gen']:.4f}"
        )
