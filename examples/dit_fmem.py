"""A diffusion transformer on continuous data: f_mem against n, then a distilled student of it.

1. Three DiTs, one batched ensemble, learn two Gaussians in d = 8 (means +-3 e_1, variance 0.5,
   equal weights) from n = 16, 64 and 256 points (EDM loss, sigma_data 0.8; a standard Gaussian
   would be too easy: an untrained EDM denoiser with sigma_data 1 samples it exactly). At each
   saved step every model samples 512 points from the same noise; f_mem is the fraction with
   d1 / d2 < 1/3 to its own training points (Bonnaire et al. 2025, with a bootstrap standard
   error), the energy distance to 2048 fresh points the quality (0 for the data distribution).
2. The last checkpoint is consistency-distilled (Song et al. 2023, students from the teachers'
   weights) and teacher and students compared on f_mem and the energy distance.

Runs go to runs/dit_fmem*, resumable (run the script again after a kill). --quick: a smoke run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import interp
from interp.studies.distillation import (
    ConsistencyDistillation,
    compare_samplers,
    consistency_student,
)
from interp.studies.rf_clocks import fmem_curve
from interp.tasks.mixtures import mixture_task

NS = [16, 64, 256]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps: a smoke run")
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (1 beside another busy process)"
    )
    parser.add_argument("--out", type=Path, default=Path("runs"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps, distill_steps = (20, 10) if args.quick else (8000, 3000)
    out = args.out / "quick" if args.quick else args.out

    centroid = [3.0] + [0.0] * 7
    task = mixture_task(
        d=8,
        n=NS,
        seed=0,
        n_test=2048,
        means=[centroid, [-v for v in centroid]],
        variances=[0.5, 0.5],
        weights=[0.5, 0.5],
    )
    model = interp.DiT(interp.DiTConfig(d=8, d_model=32, models=len(NS), seed=0, sigma_data=0.8))
    config = interp.TrainConfig(
        steps=steps, lr=3e-3, loss="edm", batch_size=128, log_every=100, save_log=12
    )
    run = interp.train(model, task, config, out=out / "dit_fmem", reuse=True, device="cpu").run
    saved, curve = fmem_curve(run, samples=512, device="cpu")
    print("f_mem (+- bootstrap se) and energy distance to fresh data, per n")
    print(" step  " + "  ".join(f"{f'n={n}':>22}" for n in NS))
    for i, step in enumerate(saved):
        cells = [
            f"{float(curve['f_mem'][i, m]):.3f}+-{float(curve['f_mem_se'][i, m]):.3f} "
            f"ED {float(curve['energy_distance'][i, m]):.3f}"
            for m in range(len(NS))
        ]
        print(f"{step:>5}  " + "  ".join(f"{c:>22}" for c in cells))

    teacher = interp.load_run(run).model()
    student_config = interp.TrainConfig(
        steps=distill_steps, lr=4e-4, loss="l2", batch_size=128, log_every=100, save_every=500
    )
    student = interp.train(
        consistency_student(teacher),
        task,
        student_config,
        out=out / "dit_fmem_distilled",
        objective=ConsistencyDistillation(teacher, levels=18, mu=0.95),
        reuse=True,
        device="cpu",
    ).model
    compared = compare_samplers(teacher, student, task, 1024, second_levels=(0.821, 0.3))
    print(f"\nteacher (step {steps}) against its consistency student ({distill_steps} steps)")
    print(compared.table([f"n={n}" for n in NS]))


if __name__ == "__main__":
    main()
