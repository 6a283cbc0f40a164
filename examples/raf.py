"""Rules and facts: E_gen and E_mem of ridge, kernels, SVMs and random features beside the anchors.

    python examples/raf.py

d 400, eps 0.2 (a fifth of the labels random), 5 draws (seeds 0-4) of teacher and training set,
10,000 fresh test points; each row is the mean over the draws (the random features of draw m
from feature seed m). The anchors are the replica theory of Farne, Boncoraglio and Zdeborova
(2026) and, in brackets, their simulations at d 400; "-" where they give none. Under a minute
on one CPU thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import torch

from interp.studies.raf import RBF, DotProduct, kernel_ridge, measure, random_features, ridge, svm
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


# (alpha, learner name, the learner of draw m, anchor E_gen, anchor E_mem)
ROWS = [
    (2.0, "ridge, lambda 1", _same(partial(ridge, lam=1.0)), "0.2485 (0.253)", "0.216 (0.204)"),
    (5.0, "ridge, lambda 1", _same(partial(ridge, lam=1.0)), "0.1686 (0.167)", "0.374 (0.348)"),
    (2.0, f"kernel {MU}, lambda 1e-3", _same(partial(kernel_ridge, kernel=KERNEL, lam=1e-3)),
     "0.2485", "0"),
    (5.0, f"kernel {MU}, lambda 1e-3", _same(partial(kernel_ridge, kernel=KERNEL, lam=1e-3)),
     "0.1686", "0"),
    (5.0, f"kernel {MU}, lambda 10", _same(partial(kernel_ridge, kernel=KERNEL, lam=10.0)),
     "0.179", "0.226"),
    (2.0, "RBF kernel gamma 1, lambda 1e-3",
     _same(partial(kernel_ridge, kernel=RBF(1.0), lam=1e-3)), "-", "-"),
    (5.0, "RBF kernel gamma 1, lambda 1e-3",
     _same(partial(kernel_ridge, kernel=RBF(1.0), lam=1e-3)), "-", "-"),
    (2.0, f"SVM {MU}, lambda 1e-3", _same(partial(svm, kernel=KERNEL, lam=1e-3)), "-", "-"),
    (5.0, f"SVM {MU}, lambda 1e-3", _same(partial(svm, kernel=KERNEL, lam=1e-3)), "-", "-"),
    (5.0, f"SVM {MU}, lambda 1", _same(partial(svm, kernel=KERNEL, lam=1.0)), "-", "-"),
    *[
        (2.0, f"random features sign, kappa {k:g}, lambda 1e-2", _features(k, "sign"), g, e)
        for k, g, e in [
            (0.5, "0.41", "0.30"),
            (1.0, "0.40", "0.16"),
            (2.0, "0.42", "0"),
            (4.0, "0.36", "0"),
            (8.0, "0.31", "0"),
        ]
    ],
    (2.0, "random features tanh, kappa 4, lambda 1e-2", _features(4.0, "tanh"), "-", "-"),
    (2.0, "random features relu, kappa 4, lambda 1e-2", _features(4.0, "relu"), "-", "-"),
]  # fmt: skip


def main() -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    tasks = {a: raf_task(d=D, alpha=a, eps=EPS, seed=SEEDS) for a in {row[0] for row in ROWS}}
    print("| alpha | learner | E_gen | E_mem | anchor E_gen | anchor E_mem |")
    print("|---|---|---|---|---|---|")
    for alpha, name, learner, gen_anchor, mem_anchor in ROWS:
        task = tasks[alpha]
        errs = [measure(task.select(m), learner(m))[0] for m in range(task.models)]
        e_gen = sum(e.e_gen for e in errs) / len(errs)
        e_mem = sum(e.e_mem for e in errs) / len(errs)
        print(f"| {alpha:g} | {name} | {e_gen:.4f} | {e_mem:.3f} | {gen_anchor} | {mem_anchor} |")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
