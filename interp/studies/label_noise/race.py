"""Which training labels does a network fit first: the wrong ones or the clean ones, and why.

The seed paper reports that noisy labels are memorized faster than clean data. Here the race is
measured per label, from a run's saved checkpoints (`fit_steps`: the first saved step at which
each training label is predicted), and explained by one count per label, `repeats`: how many
*other* training pairs in the same row (same a) or the same column (same b) carry the same
training label. A clean table is a Latin square for add, subtract and multiply: in a row every
class appears once, so a clean label repeats only where a wrong label elsewhere in its row or
column happens to name its class; a wrong label is a random class and repeats about as often as
balls share bins. Early in training a label that repeats in its row or column is pushed by the
gradients of its neighbours too (through the shared embedding rows u_a and v_b), so it is fit
sooner, whether it is clean or wrong; that, not the label being wrong, is what makes the wrong
labels win the race on average.

`crossing_step` reads the step at which a logged curve (train_noisy_acc, train_clean_acc)
crosses a level, linearly interpolated between logged steps.

Examples:
    >>> task = interp.modular_task(p=7, noise=0.0, seed=0)
    >>> int(repeats(task).max())          # a clean table: no class twice in a row or column
    0
    >>> steps = torch.tensor([0, 10, 20])
    >>> crossing_step(torch.tensor([[0.0], [0.4], [0.8]]), steps, 0.5).tolist()
    [12.5]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from interp.core.metrics import predicted
from interp.core.runs import Run
from interp.tasks.modular import ModularTask

__all__ = ["repeats", "fit_steps", "crossing_step"]


def repeats(task: ModularTask) -> Tensor:
    """`[models, examples]` for every training pair (a, b) of each model: how many other of its
    training pairs in row a or in column b carry the same training label (0 off the training
    set)."""
    p = task.p
    a, b = task.inputs[:, 0], task.inputs[:, 1]
    out = torch.zeros(task.models, p * p, device=task.train.device)
    for m in range(task.models):
        train, label = task.train[m], task.train_labels[m]
        for axis in (a, b):
            key = axis * p + label  # (row or column, class)
            counts = torch.bincount(key[train], minlength=p * p)
            out[m] += counts[key].float() - 1  # the pair itself is not a repeat
    return out * task.train


@torch.no_grad()
def fit_steps(run: Run, steps: Sequence[int] | None = None) -> Tensor:
    """`[models, examples]` the first of the run's saved steps at which each training pair is
    predicted as its training label (inf where it never is; inf off the training set)."""
    task = run.task
    first = torch.full((task.models, task.p**2), float("inf"))
    for step in run.saved(steps):
        logits = run.model(step)(task.inputs)  # [models, p^2, p]
        right = (predicted(logits) == task.train_labels) & task.train
        first = torch.where(right & first.isinf(), float(step), first)
    return first


def crossing_step(values: Tensor, steps: Sequence[int] | Tensor, level: float) -> Tensor:
    """`[models]` the step at which each curve of `values [steps, models]` first reaches `level`,
    linearly interpolated between the logged steps (nan where it never does)."""
    steps = torch.as_tensor(steps, dtype=torch.float64)
    values = values.double()
    if values.dim() != 2 or values.shape[0] != len(steps):
        raise ValueError(
            f"values must be [steps, models] with {len(steps)} steps; got {tuple(values.shape)}"
        )
    out = torch.full((values.shape[1],), float("nan"), dtype=torch.float64)
    for m in range(values.shape[1]):
        reached = (values[:, m] >= level).nonzero()
        if len(reached) == 0:
            continue
        i = int(reached[0])
        if i == 0:
            out[m] = steps[0]
            continue
        lo, hi = values[i - 1, m], values[i, m]
        out[m] = steps[i - 1] + (level - lo) / (hi - lo) * (steps[i] - steps[i - 1])
    return out
