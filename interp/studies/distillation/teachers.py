"""Teachers at several stages of memorization: the checkpoints of one rule-task run, side by
side as one ensemble, with the task that gives each of them its own training strings.

Examples:
    >>> run = interp.load_run("checkpoints/dit_group2_d16")      # N = 16 and 64 strings
    >>> teacher, task, labels = run_teachers(run, [305, 3000])
    >>> teacher.cfg.models, labels
    (4, ['step 305, N=16', 'step 305, N=64', 'step 3000, N=16', 'step 3000, N=64'])
    >>> torch.equal(task.data[2], run.task.data[0])             # the same strings at each step
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from interp.core.device import resolve_device
from interp.core.runs import CheckpointError, Run

__all__ = ["run_teachers"]


def run_teachers(
    run: Run, steps: Sequence[int] | None = None, device: str | torch.device = "cpu"
) -> tuple[nn.Module, Any, list[str]]:
    """The DiTs of `run` at each of `steps` (default: the last) as one ensemble, stage-major
    (step 0's models, then the next step's), the rule task whose model i holds teacher i's
    training strings, and a label per model.

    Args:
        run: a DiT run on a rule task.
        steps: saved steps, each a stage of memorization.
        device: where the teachers live.

    Returns:
        `(teacher, task, labels)`.
    """
    if run.kind != "dit" or run.config.get("task", {}).get("kind") != "rules":
        raise CheckpointError(f"{run.path}: need a DiT trained on a rule task")
    steps = run.saved([run.steps[-1]] if steps is None and run.steps else steps)
    if len(set(steps)) != len(steps):
        raise ValueError(f"steps {steps} repeat a step")
    device = resolve_device(device)
    models = [run.model(s, device=device) for s in steps]
    teacher = type(models[0]).concat(models)
    config = run.task.config
    task = type(run.task).from_config(
        replace(config, N=config.N * len(steps), seed=config.seed * len(steps))
    )
    labels = [f"step {s}, N={n}" for s in steps for n in config.N]
    return teacher, task, labels
