"""The posterior under a memorized prior, on Siahkoohi & Sabeddu's stylized problem.

    python examples/posterior.py

F(x) = x + 0.3 x^3, training points [-1.5, -0.4, 0.4, 1.2, 2.5], y = 0, gamma = 0.3. Prints the
posterior weights of the five points as the prior's width sigma grows (limiting, exact by
quadrature, linearized with and without the log det of the evidence), their effective number of
modes, and where diffusion posterior sampling with the memorizing (empirical) denoiser as the
prior puts its samples, against the guidance strength zeta. Seconds on a CPU.
"""

from __future__ import annotations

import torch

from interp.diffusion import EmpiricalDenoiser
from interp.studies.posterior import (
    dps_sample,
    effective_modes,
    exact_weights,
    limiting_weights,
    linearized_posterior,
    nearest_fractions,
)

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
    print(row("limiting (sigma -> 0)", limiting_weights(forward, POINTS, Y, GAMMA)))
    for sigma in (0.1, 0.25, 0.5, 1.0):
        print(row(f"exact, sigma {sigma}", exact_weights(forward, POINTS, Y, GAMMA, sigma)))
        post = linearized_posterior(forward, POINTS, Y, GAMMA, sigma)
        print(row(f"linearized, sigma {sigma}", post.weights))
        bare = linearized_posterior(forward, POINTS, Y, GAMMA, sigma, log_det=False)
        print(row(f"linearized without log det, sigma {sigma}", bare.weights))
    print("\n## Diffusion posterior sampling, empirical denoiser as the prior (2000 samples)\n")
    print("| zeta " + header)
    print("|" + "---|" * (len(POINTS) + 2))
    prior = EmpiricalDenoiser(POINTS)
    for zeta in (0.0, 0.03, 0.1, 0.3, 1.0):
        gen = torch.Generator().manual_seed(0)
        x = dps_sample(prior, forward, Y, (2000, 1), zeta, generator=gen)
        print(row(str(zeta), nearest_fractions(x, POINTS)))


if __name__ == "__main__":
    main()
