"""A trained DiT as the prior of an inverse problem, before and after it memorizes (Siahkoohi &
Sabeddu 2026), on the CPU in a few minutes.

A DiT learns two Gaussians in d = 8 (means +-3 e_1, variance 0.5) from 16 points and is trained
past its tau_mem (8000 steps: by then 97% of its samples copy a training point). We observe two
of the eight coordinates, F(x) = x_(1:2), with noise gamma = 0.3, y = F(x_true) + noise for a
fresh x_true, and run diffusion posterior sampling (Chung et al. 2023) with the DiT at
several checkpoints as the prior, beside the empirical optimal denoiser (the memorizing optimum,
whose posterior is a reweighting of the training points), at four guidance strengths zeta. For
each prior: the fraction of posterior samples that copy a training point (d1 / d2 < 1/3), the
total variation between the histogram of their nearest training points and the limiting
posterior weights w_n ~ exp(-||F(x_n) - y||^2 / 2 gamma^2), and the data misfit ||F(x) - y||.

Runs go to runs/posterior_dit (resumable); --quick: a smoke run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import interp
from interp.diffusion import EmpiricalDenoiser, is_memorized_continuous
from interp.studies.posterior import dps_sample, limiting_weights, nearest_fractions
from interp.tasks.mixtures import mixture_task

# DPS's guidance strength decides how much of the prior survives: from a light touch to the
# strength at which the memorizing optimum's histogram is closest to the posterior weights
GAMMA, ZETAS, SAMPLES = 0.3, (0.1, 0.3, 1.0, 3.0), 1000


def forward(x: torch.Tensor) -> torch.Tensor:
    """F: x [8] -> [2], the first two coordinates."""
    return x[:2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps: a smoke run")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--out", type=Path, default=Path("runs"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = 20 if args.quick else 8000
    out = args.out / "quick" if args.quick else args.out

    centroid = [3.0] + [0.0] * 7
    task = mixture_task(
        d=8,
        n=16,
        seed=0,
        n_test=16,
        means=[centroid, [-v for v in centroid]],
        variances=[0.5, 0.5],
        weights=[0.5, 0.5],
    )
    dit = interp.DiT(interp.DiTConfig(d=8, d_model=32, seed=0, sigma_data=0.8))
    config = interp.TrainConfig(
        steps=steps, lr=3e-3, loss="edm", batch_size=128, log_every=100, save_log=12
    )
    run = interp.load_run(
        interp.train(dit, task, config, out=out / "posterior_dit", reuse=True, device="cpu").run
    )
    points = task.data[0][task.mask[0]].double()  # [16, 8]
    gen = torch.Generator().manual_seed(1)
    x_true = task.test[0].double()
    y = forward(x_true) + GAMMA * torch.randn(2, generator=gen, dtype=torch.float64)
    weights = limiting_weights(forward, points, y, GAMMA)
    print(f"y = {[round(v, 3) for v in y.tolist()]}; limiting weights of the training points:")
    print("  " + " ".join(f"{w:.2f}" for w in weights.tolist()))

    priors = {"empirical (memorizing optimum)": EmpiricalDenoiser(points)}
    stages = run.steps[1:] if args.quick else [59, 305, 1561, 8000]
    for step in stages:
        model = run.model(step).double()
        priors[f"DiT, step {step}"] = lambda x, s, m=model: m(x, s)[0]
    for zeta in ZETAS:
        print(f"\nDPS, zeta {zeta}, {SAMPLES} samples per prior")
        print(f"{'prior':<32}  copies  TV(nearest, w)  misfit (median)")
        for name, prior in priors.items():
            x = dps_sample(
                prior, forward, y, (SAMPLES, 8), zeta, generator=torch.Generator().manual_seed(0)
            )
            copies = float(is_memorized_continuous(x, points).double().mean())
            tv = 0.5 * float((nearest_fractions(x, points) - weights).abs().sum())
            misfit = torch.linalg.vector_norm(torch.vmap(forward)(x) - y, dim=-1).median()
            print(f"{name:<32}  {copies:6.3f}  {tv:14.3f}  {float(misfit):15.3f}")


if __name__ == "__main__":
    main()
