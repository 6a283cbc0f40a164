"""The posterior under a memorized prior, on Siahkoohi & Sabeddu's stylized problem.

    python examples/posterior.py

F(x) = x + 0.3 x^3, training points [-1.5, -0.4, 0.4, 1.2, 2.5], y = 0, gamma = 0.3. Prints the
posterior weights of the five points as the prior's width sigma grows (limiting, exact by
quadrature, linearized with and without the log det of the evidence), their effective number of
modes, and where diffusion posterior sampling with the memorizing (empirical) denoiser as the
prior puts its samples, against the guidance strength zeta; then the same with a small DiT
trained on the five points (4000 steps) as the prior; then the effective modes over a grid of
sigma, where they leave their limiting value, against critical_sigma, for three gammas. Writes
two figures to figures/posterior: the weights at sigma 0.5 with the DPS histogram at zeta 0.1
(weights_sigma0.5.html) and the effective modes against sigma at gamma 0.3 (modes.html). About
20 seconds on a CPU.
"""

from __future__ import annotations

import math

import torch

import interp
from interp.diffusion import EmpiricalDenoiser
from interp.figures import write_figures
from interp.studies.posterior import (
    critical_sigma,
    dps_sample,
    effective_modes,
    exact_weights,
    limiting_weights,
    linearized_posterior,
    modes_curve,
    nearest_fractions,
)
from interp.studies.posterior.plots import modes_against_sigma, weight_bars
from interp.tasks.mixtures import mixture_task

POINTS = torch.tensor([[-1.5], [-0.4], [0.4], [1.2], [2.5]], dtype=torch.float64)
Y, GAMMA = torch.zeros(1, dtype=torch.float64), 0.3


def forward(x: torch.Tensor) -> torch.Tensor:
    return x + 0.3 * x**3


def row(label: str, weights: torch.Tensor) -> str:
    cells = " | ".join(f"{float(w):.3f}" for w in weights)
    return f"| {label} | {cells} | {float(effective_modes(weights)):.2f} |"


def main() -> None:
    header = "| " + " | ".join(f"x = {float(x):g}" for x in POINTS[:, 0]) + " | modes |"
    print("## Posterior weights of the training points\n")
    print("| weights " + header)
    print("|" + "---|" * (len(POINTS) + 2))
    limiting = limiting_weights(forward, POINTS, Y, GAMMA)
    print(row("limiting (sigma -> 0)", limiting))
    for sigma in (0.1, 0.25, 0.5, 1.0):
        exact = exact_weights(forward, POINTS, Y, GAMMA, sigma)
        print(row(f"exact, sigma {sigma}", exact))
        post = linearized_posterior(forward, POINTS, Y, GAMMA, sigma)
        print(row(f"linearized, sigma {sigma}", post.weights))
        bare = linearized_posterior(forward, POINTS, Y, GAMMA, sigma, log_det=False)
        print(row(f"linearized without log det, sigma {sigma}", bare.weights))
        if sigma == 0.5:
            columns = {"limiting": limiting, "exact": exact, "linearized": post.weights}
            columns["linearized without log det"] = bare.weights
    print("\n## Diffusion posterior sampling, empirical denoiser as the prior (2000 samples)\n")
    print("| zeta " + header)
    print("|" + "---|" * (len(POINTS) + 2))
    prior = EmpiricalDenoiser(POINTS)
    for zeta in (0.0, 0.03, 0.1, 0.3, 1.0):
        gen = torch.Generator().manual_seed(0)
        x = dps_sample(prior, forward, Y, (2000, 1), zeta, generator=gen)
        print(row(str(zeta), nearest_fractions(x, POINTS)))
        if zeta == 0.1:
            columns["DPS, zeta 0.1"] = nearest_fractions(x, POINTS)
    trained_prior()
    sigmas, curve, s_crit = critical_width()
    title = f"Posterior weight of each training point, sigma 0.5, gamma {GAMMA}"
    figures = {
        "weights_sigma0.5": weight_bars(POINTS, columns, title),
        "modes": modes_against_sigma(sigmas, curve, s_crit, f"Effective modes, gamma {GAMMA}"),
    }
    print()
    for path in write_figures(figures, "figures/posterior"):
        print(path)


def trained_prior() -> None:
    """A DiT trained on the five points as the prior, against the memorizing optimum: where do
    the DPS samples end, on training points or at the solution x = 0 of F(x) = y?"""
    task = mixture_task(d=1, n=5, seed=0, n_test=16)
    task.data[0, :5] = POINTS.float()  # the five points themselves are the training set
    dit = interp.DiT(interp.DiTConfig(d=1, d_model=32, n_heads=2, seed=0, sigma_data=1.3))
    config = interp.TrainConfig(steps=4000, lr=3e-3, loss="edm", log_every=4000)
    model = interp.train(dit, task, config, device="cpu", progress=False).model
    priors = {
        "trained DiT": lambda x, s: model(x, s)[0],
        "empirical (memorizing)": EmpiricalDenoiser(POINTS.float()),
    }
    print("\n## The prior's answer to F(x) = 0: a trained DiT against the memorizing optimum\n")
    print("| prior | zeta | median | 10% / 90% quantiles | \\|x\\| < 0.1 | within 0.05 of +-0.4 |")
    print("|---|---|---|---|---|---|")
    for name, prior in priors.items():
        for zeta in (0.0, 0.1):
            gen = torch.Generator().manual_seed(0)
            x = dps_sample(prior, forward, Y.float(), (2000, 1), zeta, generator=gen)[:, 0]
            q = torch.quantile(x, torch.tensor([0.1, 0.5, 0.9])).tolist()
            at_zero = float((x.abs() < 0.1).float().mean())
            at_points = float(((x.abs() - 0.4).abs() < 0.05).float().mean())
            print(
                f"| {name} | {zeta} | {q[1]:.2f} | {q[0]:.2f} / {q[2]:.2f} | {at_zero:.3f} | "
                f"{at_points:.3f} |"
            )


def first_above(sigmas: torch.Tensor, modes: torch.Tensor, level: float) -> float:
    """The first sigma where the modes `[S]` pass `level`, interpolated linearly in log sigma
    between the grid's sigmas `[S]` (nan if they never do)."""
    above = (modes > level).nonzero()
    if len(above) == 0 or int(above[0]) == 0:
        return math.nan
    i = int(above[0])
    t = (level - float(modes[i - 1])) / float(modes[i] - modes[i - 1])
    return math.exp((1 - t) * math.log(sigmas[i - 1]) + t * math.log(sigmas[i]))


def critical_width() -> tuple[torch.Tensor, dict[str, torch.Tensor], float]:
    """Where the effective modes leave their limiting value (by 0.5), against critical_sigma
    (delta: the mean nearest-neighbour spacing of the points). Returns the sigmas, the curve at
    gamma 0.3 and its critical_sigma, for the figure."""
    names = ("exact", "linearized", "linearized without log det")
    sigmas = torch.logspace(-2, math.log10(2.0), 33, dtype=torch.float64)  # 0.01 .. 2
    curves = {gamma: modes_curve(forward, POINTS, Y, gamma, sigmas) for gamma in (0.1, GAMMA, 1.0)}
    print(f"\n## Effective modes against sigma, gamma {GAMMA} (limiting: 2.00)\n")
    print("| sigma | exact | linearized | linearized without log det |")
    print("|---|---|---|---|")
    for i in range(0, len(sigmas), 2):
        cells = " | ".join(f"{float(curves[GAMMA][name][i]):.2f}" for name in names)
        print(f"| {float(sigmas[i]):.3f} | {cells} |")
    print("\n## The transition: first sigma with modes above limiting + 0.5, and critical_sigma\n")
    print(
        "| gamma | limiting modes | critical_sigma | exact modes at critical_sigma | "
        + " | ".join(names)
        + " |"
    )
    print("|---|---|---|---|---|---|---|")
    for gamma, curve in curves.items():
        limiting = float(curve["limiting"][0])
        crossings = " | ".join(
            f"{first_above(sigmas, curve[name], limiting + 0.5):.3f}" for name in names
        )
        s_crit = critical_sigma(forward, POINTS, Y, gamma)
        there = float(modes_curve(forward, POINTS, Y, gamma, s_crit[None])["exact"][0])
        print(f"| {gamma} | {limiting:.2f} | {float(s_crit):.3f} | {there:.2f} | {crossings} |")
    return sigmas, curves[GAMMA], float(critical_sigma(forward, POINTS, Y, GAMMA))


if __name__ == "__main__":
    main()
