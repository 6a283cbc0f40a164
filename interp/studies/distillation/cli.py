"""The distillation study's command: `distill RUN --out OUT`.

It distills the DiTs of a rule-task run (at one or more saved steps: stages of memorization), or
the empirical optimal denoiser of the run's training strings (`--teacher empirical`), into
consistency students, in one batched ensemble written to OUT (run it again after a kill: it
resumes), then samples teacher and students from the same noise and prints how much each
memorizes and how often its strings are valid.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from interp.cli import device_options, print_json
from interp.core.device import resolve_device
from interp.core.runs import load_run
from interp.core.training import TrainConfig, train
from interp.diffusion import TWO_STEP_LEVEL
from interp.studies.distillation.compare import compare_samplers
from interp.studies.distillation.objective import (
    WEIGHTINGS,
    ConsistencyDistillation,
    consistency_student,
)
from interp.studies.distillation.teachers import run_teachers

__all__ = ["add_arguments", "run"]


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Consistency-distill the DiTs of a rule-task run (or the empirical denoiser of its "
        "training strings) and compare teacher and students: copies and valid strings."
    )
    parser.add_argument("run", type=Path, help="a DiT run on a rule task")
    parser.add_argument("--out", required=True, type=Path, help="run folder for the students")
    parser.add_argument(
        "--teacher",
        choices=["run", "empirical"],
        default="run",
        help="the run's DiTs (default) or each model's empirical optimal denoiser",
    )
    parser.add_argument(
        "--step", type=int, nargs="+", help="teacher checkpoints (default: the last)"
    )
    parser.add_argument("--steps", type=int, default=3000, help="distillation steps")
    parser.add_argument("--lr", type=float, default=4e-4, help="AdamW learning rate")
    parser.add_argument("--batch", type=int, default=128, help="strings per model per step")
    parser.add_argument("--levels", type=int, default=18, help="Karras grid points N")
    parser.add_argument("--mu", type=float, default=0.95, help="target EMA rate")
    parser.add_argument("--weighting", choices=WEIGHTINGS, default="uniform")
    parser.add_argument("--samples", type=int, default=1024, help="strings per sampler")
    parser.add_argument("--seed", type=int, default=0, help="sampling noise seed")
    parser.add_argument(
        "--second-level",
        type=float,
        nargs="+",
        default=[TWO_STEP_LEVEL],
        help=f"two-step samplers' second levels (default {TWO_STEP_LEVEL})",
    )
    parser.add_argument("--log-every", type=int, default=100, help="steps between metrics")
    parser.add_argument(
        "--save-every", type=int, default=500, help="steps between checkpoints (resume points)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    device_options(parser)


def run(args: argparse.Namespace, command: str) -> None:
    device = resolve_device(args.device)
    found = load_run(args.run)
    if args.teacher == "empirical":
        if args.step is not None:
            raise ValueError("--step picks the run's checkpoints; the empirical teacher has none")
        run_model, task, labels = run_teachers(found, device=device)
        teacher = "empirical"
        config = replace(run_model.cfg, boundary="consistency")
        student = type(run_model)(config, device)  # from its seed: nothing to start from
        labels = [label.split(", ")[1] for label in labels]
    else:
        teacher, task, labels = run_teachers(found, args.step, device)
        student = consistency_student(teacher)
    spec = ConsistencyDistillation(
        teacher, levels=args.levels, mu=args.mu, weighting=args.weighting
    )
    config = TrainConfig(
        steps=args.steps,
        lr=args.lr,
        loss="l2",
        batch_size=args.batch,
        log_every=args.log_every,
        save_every=args.save_every,
    )
    result = train(
        student,
        task,
        config,
        out=args.out,
        device=device,
        progress=not args.no_progress,
        command=command,
        reuse=True,
        objective=spec,
    )
    compared = compare_samplers(
        teacher, result.model, task, args.samples, args.seed, second_levels=args.second_level
    )
    if args.json:
        print_json(
            {"run": str(found.path), "out": str(args.out), "models": labels, **compared.to_dict()}
        )
        return
    print(f"{args.out}: {args.steps} steps of consistency distillation from {found.path}")
    print(compared.table(labels))
