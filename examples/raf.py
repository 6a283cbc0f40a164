"""Rules and facts: E_gen and E_mem of ridge, kernels, SVMs and random features beside the
library's state-evolution theory and the paper's anchors, and the two figures of theory over
simulation.

    python examples/raf.py [--figures figures/]

d 400, eps 0.2 (a fifth of the labels random), 5 draws (seeds 0-4) of teacher and training set,
10,000 fresh test points; each row is the mean over the draws (the random features of draw m
from feature seed m). "theory" is `interp.studies.raf.theory.state_evolution`; the anchors are
the replica theory of Farne, Boncoraglio and Zdeborova (2026) and, in brackets, their
simulations at d 400; "-" where they give none. The figures sweep alpha (ridge, kernel ridge,
SVM, Bayes-optimal) and kappa (random features), with the simulations (3 draws at d 400) as
markers. About a minute and a half on one CPU thread.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch

from interp.studies.raf import RBF, DotProduct, kernel_ridge, measure, random_features, ridge, svm
from interp.studies.raf.plots import errors_against
from interp.studies.raf.theory import RandomFeatures, bayes_optimal, state_evolution
from interp.tasks.raf import raf_task

D, EPS, SEEDS = 400, 0.2, [0, 1, 2, 3, 4]
KERNEL = DotProduct(mu_1=1.0, mu_star=1.0)
MU = "mu_1 = mu_* = 1"


def _same(learner: Callable) -> Callable[[int], Callable]:
    """A learner that is the same for every draw."""
    return lambda m: learner


def _features(kappa: float, activation: str) -> Callable[[int], Callable]:
    """Random features of draw m from feature seed m."""
    return lambda m: partial(random_features, kappa=kappa, lam=1e-2, activation=activation, seed=m)


def _theory(lam: float, loss: str = "square", features=None) -> Callable[[float], tuple]:
    """The state-evolution (E_gen, E_mem) of a learner, as a function of alpha."""
    return lambda alpha: state_evolution(alpha, EPS, lam, loss, features)[:2]


# (alpha, learner name, the learner of draw m, its theory, anchor E_gen, anchor E_mem)
ROWS = [
    (2.0, "ridge, lambda 1", _same(partial(ridge, lam=1.0)), _theory(1.0),
     "0.2485 (0.253)", "0.216 (0.204)"),
    (5.0, "ridge, lambda 1", _same(partial(ridge, lam=1.0)), _theory(1.0),
     "0.1686 (0.167)", "0.374 (0.348)"),
    (2.0, f"kernel {MU}, lambda 1e-3", _same(partial(kernel_ridge, kernel=KERNEL, lam=1e-3)),
     _theory(1e-3, features=KERNEL), "0.2485", "0"),
    (5.0, f"kernel {MU}, lambda 1e-3", _same(partial(kernel_ridge, kernel=KERNEL, lam=1e-3)),
     _theory(1e-3, features=KERNEL), "0.1686", "0"),
    (5.0, f"kernel {MU}, lambda 10", _same(partial(kernel_ridge, kernel=KERNEL, lam=10.0)),
     _theory(10.0, features=KERNEL), "0.179", "0.226"),
    (2.0, "RBF kernel gamma 1, lambda 1e-3",
     _same(partial(kernel_ridge, kernel=RBF(1.0), lam=1e-3)),
     _theory(1e-3, features=RBF(1.0)), "-", "-"),
    (5.0, "RBF kernel gamma 1, lambda 1e-3",
     _same(partial(kernel_ridge, kernel=RBF(1.0), lam=1e-3)),
     _theory(1e-3, features=RBF(1.0)), "-", "-"),
    (2.0, f"SVM {MU}, lambda 1e-3", _same(partial(svm, kernel=KERNEL, lam=1e-3)),
     _theory(1e-3, "hinge", KERNEL), "-", "-"),
    (5.0, f"SVM {MU}, lambda 1e-3", _same(partial(svm, kernel=KERNEL, lam=1e-3)),
     _theory(1e-3, "hinge", KERNEL), "-", "-"),
    (5.0, f"SVM {MU}, lambda 1", _same(partial(svm, kernel=KERNEL, lam=1.0)),
     _theory(1.0, "hinge", KERNEL), "-", "-"),
    *[
        (2.0, f"random features sign, kappa {k:g}, lambda 1e-2", _features(k, "sign"),
         _theory(1e-2, features=RandomFeatures(k)), g, e)
        for k, g, e in [
            (0.5, "0.41", "0.30"),
            (1.0, "0.40", "0.16"),
            (2.0, "0.42", "0"),
            (4.0, "0.36", "0"),
            (8.0, "0.31", "0"),
        ]
    ],
    (2.0, "random features tanh, kappa 4, lambda 1e-2", _features(4.0, "tanh"),
     _theory(1e-2, features=RandomFeatures(4.0, "tanh")), "-", "-"),
    (2.0, "random features relu, kappa 4, lambda 1e-2", _features(4.0, "relu"),
     _theory(1e-2, features=RandomFeatures(4.0, "relu")), "-", "-"),
]  # fmt: skip

# The figures: alpha swept for three learners (the SVM only up to 5: scikit-learn's SVC is slow
# past n = 2000), kappa swept for the sign random features at alpha 2.
ALPHA_CURVES = {
    "ridge, lambda 1": (partial(ridge, lam=1.0), _theory(1.0), (1, 2, 5, 10)),
    "kernel ridge, lambda 10": (
        partial(kernel_ridge, kernel=KERNEL, lam=10.0),
        _theory(10.0, features=KERNEL),
        (1, 2, 5, 10),
    ),
    "SVM, lambda 1": (
        partial(svm, kernel=KERNEL, lam=1.0),
        _theory(1.0, "hinge", KERNEL),
        (1, 2, 5),
    ),
}
KAPPAS = (0.5, 1.0, 2.0, 4.0, 8.0)


def _mean(task, learner: Callable[[int], Callable]) -> tuple[float, float]:
    errs = [measure(task.select(m), learner(m))[0] for m in range(task.models)]
    return sum(e.e_gen for e in errs) / len(errs), sum(e.e_mem for e in errs) / len(errs)


def figures(out: Path) -> None:
    """Theory curves over the simulations (3 draws at d 400), written as HTML into `out`."""
    grid = np.geomspace(0.5, 20.0, 40)
    tasks = {a: raf_task(d=D, alpha=float(a), eps=EPS, seed=SEEDS[:3]) for a in (1, 2, 5, 10)}
    theory, simulated = {}, {}
    for name, (learner, curve, alphas) in ALPHA_CURVES.items():
        theory[name] = tuple(zip(*(curve(a) for a in grid)))
        sims = [_mean(tasks[a], _same(learner)) for a in alphas]
        simulated[name] = (alphas, *zip(*sims))
    bayes = [bayes_optimal(a, EPS).e_gen for a in grid]
    out.mkdir(parents=True, exist_ok=True)
    errors_against(grid, theory, simulated, bayes=bayes).write_html(out / "raf_alpha.html")
    kappas = np.geomspace(0.25, 16.0, 60)
    theory = {
        "random features sign, lambda 1e-2": tuple(
            zip(*(state_evolution(2.0, EPS, 1e-2, features=RandomFeatures(k))[:2] for k in kappas))
        )
    }
    sims = [_mean(tasks[2], _features(k, "sign")) for k in KAPPAS]
    simulated = {"random features sign, lambda 1e-2": (KAPPAS, *zip(*sims))}
    fig = errors_against(
        kappas, theory, simulated, x_title="kappa = p / d (alpha 2)", log_errors=False,
        title="Random features: the facts are stored once p passes n (kappa = alpha)",
    )  # fmt: skip
    fig.write_html(out / "raf_kappa.html")
    slopes = {
        "kernel ridge, lambda 10": _theory(10.0, features=KERNEL),
        "Bayes-optimal": lambda a: (bayes_optimal(a, EPS).e_gen,),
    }
    for name, f in slopes.items():
        e = [f(a)[0] for a in (300.0, 3000.0)]
        print(f"{name}: E_gen ~ alpha^{math.log(e[1] / e[0]) / math.log(10):.3f} (alpha 300-3000)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--figures", type=Path, help="write the two figures (HTML) here")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    tasks = {a: raf_task(d=D, alpha=a, eps=EPS, seed=SEEDS) for a in {row[0] for row in ROWS}}
    print(
        "| alpha | learner | E_gen | E_mem | theory E_gen | theory E_mem "
        "| anchor E_gen | anchor E_mem |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for alpha, name, learner, theory, gen_anchor, mem_anchor in ROWS:
        e_gen, e_mem = _mean(tasks[alpha], learner)
        t_gen, t_mem = theory(alpha)
        print(
            f"| {alpha:g} | {name} | {e_gen:.4f} | {e_mem:.3f} | {t_gen:.4f} | {t_mem:.3f} "
            f"| {gen_anchor} | {mem_anchor} |"
        )
    print("\nBayes-optimal E_gen: " + ", ".join(
        f"alpha {a:g}: {bayes_optimal(a, EPS).e_gen:.4f}" for a in (1.0, 2.0, 5.0, 10.0)
    ) + " (the paper: 0.308, 0.243, 0.147, 0.085)")  # fmt: skip
    if args.figures:
        figures(args.figures)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
