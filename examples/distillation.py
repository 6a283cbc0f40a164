"""Consistency distillation of a memorizing teacher (Jiang & Zou 2026), on the CPU in minutes.

1. Teachers at three stages of memorization: the shipped DiTs on group parity (d 16, trained on
   N = 16 and N = 64 strings) at steps 305, 956 and 3000, side by side as one ensemble; each is
   distilled into a consistency student that starts from its weights (Song et al. 2023: Karras
   grid of 18 levels, one Heun step of the teacher, EMA target mu 0.95, L2). Then the empirical
   optimal denoiser of the same strings, a teacher that memorizes everything, into students
   that start from scratch. Teacher (Heun, 18 steps) and students (1 and 2 steps) sample from the
   same noise; the table gives valid strings (quality), copies of training strings
   (memorization), new valid strings, and the copies' share of the valid strings.
2. The random-features model: a score model trained at t = 0.1 well past tau_mem, and a student
   with its features that regresses its score for the same number of steps. The energy of each
   read-out along the eigenvectors of the feature covariance shows which directions the student
   keeps (figure, with the closed form), and the losses show what that does to memorization.

Runs go to runs/distillation_* (run the script again after a kill: it resumes), figures to
figures/distillation/. Pass --quick for a smoke run (a few steps: the numbers mean nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

import interp
from interp.figures import write_figures
from interp.models.random_features import RandomFeatures, RandomFeaturesConfig
from interp.studies.distillation import (
    ConsistencyDistillation,
    ScoreDistillation,
    compare_samplers,
    consistency_student,
    feature_spectrum,
    kept_fraction,
    rf_student,
    run_teachers,
)
from interp.studies.distillation.plots import kept_directions
from interp.tasks.mixtures import mixture_task, ou_coefficients

STAGES = [305, 956, 3000]  # rule learned / copying / copying most (N = 16)


def distill_dits(steps: int, samples: int, out: Path) -> None:
    run = interp.load_run("checkpoints/dit_group2_d16")
    teacher, task, labels = run_teachers(run, STAGES)
    config = interp.TrainConfig(
        steps=steps, lr=4e-4, loss="l2", batch_size=128, log_every=100, save_every=500
    )
    spec = ConsistencyDistillation(teacher, levels=18, mu=0.95)
    result = interp.train(
        consistency_student(teacher),
        task,
        config,
        out=out / "distillation_stages",
        objective=spec,
        reuse=True,
        device="cpu",
    )
    second = (0.821, 0.3)
    print("\n== DiT teachers at three stages, students from their weights ==")
    print(
        compare_samplers(teacher, result.model, task, samples, second_levels=second).table(labels)
    )

    # the empirical optimum of the same strings: students from scratch (nothing to start from)
    empirical_task = run.task
    student = interp.DiT(dataclasses.replace(run.model().cfg, boundary="consistency"))
    empirical = dataclasses.replace(spec, teacher="empirical")
    result = interp.train(
        student,
        empirical_task,
        config,
        out=out / "distillation_empirical",
        objective=empirical,
        reuse=True,
        device="cpu",
    )
    print("\n== the empirical optimal denoiser, students from scratch ==")
    compared = compare_samplers(
        "empirical", result.model, empirical_task, samples, second_levels=second
    )
    print(compared.table([f"N={n}" for n in run.task.config.N]))
    print("\nover distillation (student 2-step 0.3): valid / copies")
    saved = interp.load_run(result.run)
    for step in saved.steps[1:]:
        metrics = compare_samplers(
            "empirical", saved.model(step), empirical_task, samples, second_levels=(0.3,)
        ).metrics
        cells = [
            f"{float(metrics['valid'][2, m]):.3f} / {float(metrics['copies'][2, m]):.3f}"
            for m in range(len(run.task.config.N))
        ]
        print(f"  step {step:>5}: " + "   ".join(cells))


def distill_random_features(steps: int, out: Path, figures: Path) -> None:
    d, p, t, ns = 25, 1000, 0.1, [100, 400]
    task = mixture_task(d=d, n=ns, seed=0, n_test=2048)
    _, delta = ou_coefficients(t)
    config = interp.TrainConfig(
        steps=steps,
        lr=0.004 * d / delta,
        optimizer="sgd",
        loss="mse",
        log_every=100,
        log_log=40,
        save_every=max(1, steps // 4),
    )
    teacher = interp.train(
        RandomFeatures(RandomFeaturesConfig(d=d, p=p, t=t, models=len(ns), seed=0)),
        task,
        config,
        out=out / "distillation_rf_teacher",
        reuse=True,
        device="cpu",
    )
    # the same rate per step: the student's loss lacks the teacher's Delta_t factor
    student_config = dataclasses.replace(config, lr=(0.004 * d,))
    student = interp.train(
        rf_student(teacher.model),
        task,
        student_config,
        out=out / "distillation_rf_student",
        objective=ScoreDistillation(teacher.model),
        reuse=True,
        device="cpu",
    )
    tm, sm = teacher.metrics, student.metrics
    print(f"\n== random features, d {d}, p {p}, t {t}, {steps} steps of GD each ==")
    print(
        "    n  teacher train  test  (best test)   student train  test   kept top 5%  "
        "kept bottom half"
    )
    spectrum = feature_spectrum(teacher.model, task, draws=32)
    energy_t, energy_s = spectrum.energy(teacher.model), spectrum.energy(student.model)
    top = max(1, p // 20)
    for m, n in enumerate(ns):
        kept_top = float(energy_s[m, :top].sum() / energy_t[m, :top].sum())
        kept_bottom = float(energy_s[m, p // 2 :].sum() / energy_t[m, p // 2 :].sum())
        print(
            f"{n:>5}  {float(tm['train_loss'][-1, m]):13.3f}  {float(tm['test_loss'][-1, m]):5.3f}"
            f"  ({float(tm['test_loss'][:, m].min()):.3f})     "
            f"{float(sm['denoising_train_loss'][-1, m]):13.3f}  "
            f"{float(sm['test_loss'][-1, m]):5.3f}   {kept_top:11.3f}  {kept_bottom:16.4f}"
        )
    predicted = kept_fraction(spectrum.eigenvalues, student_config.lr[0], steps, d)
    figs = {
        f"kept_directions_n{n}": kept_directions(
            spectrum.eigenvalues[m],
            energy_t[m],
            energy_s[m],
            predicted[m],
            title=f"Random features, n = {n}: the distilled student keeps the fast directions",
        )
        for m, n in enumerate(ns)
    }
    for path in write_figures(figs, figures):
        print(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps: a smoke run")
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (1 beside another busy process)"
    )
    parser.add_argument("--out", type=Path, default=Path("runs"))
    parser.add_argument("--figures", type=Path, default=Path("figures/distillation"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quick = args.quick
    out = args.out / "quick" if quick else args.out
    distill_dits(steps=20 if quick else 3000, samples=64 if quick else 1024, out=out)
    distill_random_features(steps=50 if quick else 10_000, out=out, figures=args.figures)


if __name__ == "__main__":
    main()
