"""Accuracies of an ensemble on a noisy task: train-clean, train-noisy and test, per model.

Examples:
    >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
    >>> acc = evaluate(run.model(), run.task)   # model and task with the same number of models
    >>> acc.test, acc.train_noisy               # [models] each
    (tensor([0.9832]), tensor([0.9399]))
    >>> print(acc)
    model   train  train-clean  train-noisy    test
        0   0.979        1.000        0.940   0.983
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from jaxtyping import Integer, Real
from torch import Tensor

from interp.tasks.modular import ModularTask

__all__ = [
    "Accuracies",
    "evaluate",
    "accuracies",
    "masked_mean",
    "first_step",
    "predicted",
    "per_example_loss",
]


@dataclass
class Accuracies:
    """Per-model accuracies, each `[models]`.

    Attributes:
        train: on the whole training set against the labels as given, noisy ones included
            (what Doshi et al. report as train accuracy).
        train_clean: on training examples that kept their true label.
        train_noisy: on noisy training examples, measured against the *noisy* label, i.e. how
            much of the noise the model fits (nan when a model has no noisy examples).
        test: on held-out examples (always clean).
    """

    train: Tensor
    train_clean: Tensor
    train_noisy: Tensor
    test: Tensor

    def to(self, device: torch.device | str) -> Accuracies:
        return type(self)(*(getattr(self, f.name).to(device) for f in fields(self)))

    def to_dict(self) -> dict[str, list[float]]:
        return {f.name: getattr(self, f.name).tolist() for f in fields(self)}

    @classmethod
    def stack(cls, items: Sequence[Accuracies]) -> Accuracies:
        """Stack per-step `Accuracies` (`[models]` each) into one with fields `[steps, models]`."""
        if not items:
            raise ValueError("stack needs at least one Accuracies")
        return cls(*(torch.stack([getattr(a, f.name) for a in items]) for f in fields(cls)))

    def __str__(self) -> str:
        rows = ["model   train  train-clean  train-noisy    test"]
        columns = (getattr(self, f.name).tolist() for f in fields(self))
        for i, (a, c, n, t) in enumerate(zip(*columns)):
            rows.append(f"{i:>5}  {a:>6.3f}  {c:>11.3f}  {n:>11.3f}  {t:>6.3f}")
        return "\n".join(rows)


def first_step(
    values: Real[Tensor, "steps models"],
    steps: Sequence[int] | Integer[Tensor, " steps"],
    threshold: float,
) -> Integer[Tensor, " models"]:
    """The first step at which each model's curve reaches `threshold`.

    Args:
        values: a curve per model, `[steps, models]` (e.g. `run.metrics["train_noisy_acc"]`).
        steps: the step of each row, `[steps]`, ascending.
        threshold: the level to reach (`values >= threshold`).

    Returns:
        `[models]` long: the first such step, or -1 where a model never reaches it.

    Examples:
        >>> m = interp.load_run("checkpoints/doshi_p97_noise035_wd0").metrics
        >>> first_step(m["train_noisy_acc"], m["step"], 0.9)  # the noise is 90% memorized...
        tensor([20])
        >>> first_step(m["test_acc"], m["step"], 0.9)         # ...long before the rule is learned
        tensor([320])
        >>> first_step(m["test_acc"], m["step"], 0.99)        # never
        tensor([-1])
    """
    steps = torch.as_tensor(steps, device=values.device)
    if values.dim() != 2 or values.shape[0] != len(steps):
        raise ValueError(
            f"values must be [steps, models] with {len(steps)} steps; got {tuple(values.shape)}"
        )
    reached = values >= threshold  # nan never reaches
    first = reached.int().argmax(0)  # the first True (0 when there is none)
    return torch.where(reached.any(0), steps[first].long(), torch.full_like(first, -1).long())


def predicted(logits: Tensor) -> Tensor:
    """The predicted class `[...]` of logits `[..., classes]`: the first largest (as `argmax`,
    NaN included; `max` finds it about 1.7x faster on a CPU).

    Examples:
        >>> predicted(torch.tensor([[0.0, 2.0, 2.0], [1.0, 0.0, -1.0]]))
        tensor([1, 0])
    """
    return logits.max(-1).indices


def per_example_loss(logits: Tensor, targets: Tensor, kind: str) -> Tensor:
    """Each example's loss `[models, batch]` from logits `[models, batch, classes]` and targets
    `[models, batch]`: kind "mse" (the mean over classes of the squared error to the one-hot
    target) or "ce" (cross-entropy).

    Examples:
        >>> logits, targets = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]]), torch.tensor([[0, 1]])
        >>> per_example_loss(logits, targets, "mse")
        tensor([[0.0000, 0.5000]])
    """
    if kind == "mse":  # logits - one_hot bit for bit, without the one-hot tensor
        minus_one = logits.new_full((*targets.shape, 1), -1.0)
        diff = logits.clone().scatter_add_(-1, targets[..., None], minus_one)
        return (diff.mul_(diff) if not diff.requires_grad else diff * diff).mean(-1)
    return F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of `values` over `mask` along the last axis; nan where the mask is empty."""
    count = mask.sum(-1)
    total = (values * mask).sum(-1)
    return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, float("nan")))


def accuracies(predictions: Tensor, task: ModularTask, test: Tensor | None = None) -> Accuracies:
    """Accuracies of predicted labels `[models, examples]` over the whole task table (a label
    outside 0..p-1, e.g. -1 for "no answer", is always wrong); `test` `[models, examples]` bool
    replaces the test set (default `task.test`)."""
    task = task.to(predictions.device)
    if test is not None:
        shape, got = tuple(task.test.shape), tuple(test.shape)
        if got != shape or test.dtype != torch.bool:
            raise ValueError(f"test must be a bool mask {shape}; got {test.dtype} {got}")
    test = task.test if test is None else test.to(predictions.device)
    pred = predictions
    right_clean = (pred == task.labels).float()
    right_noisy = (pred == task.train_labels).float()
    return Accuracies(
        train=masked_mean(right_noisy, task.train),
        train_clean=masked_mean(right_clean, task.clean),
        train_noisy=masked_mean(right_noisy, task.noisy),
        test=masked_mean(right_clean, test),
    )


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    task: ModularTask,
    batch_size: int = 16384,
    test: Tensor | None = None,
) -> Accuracies:
    """Run `model` over every pair of `task` and score each of its models on its own split.

    Args:
        model: any interp model over pairs (an `MLP`, an extracted model) with `cfg.models`
            equal to `task.models`.
        task: the task whose masks define each model's train / noisy / test sets.
        batch_size: pairs per forward pass.
        test: `[models, examples]` bool, the examples to score as test (default `task.test`;
            e.g. the part of it a partition did not look at).

    Returns:
        `Accuracies` with fields `[models]`.
    """
    from interp.core.runs import check_pair

    check_pair(model, task)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be >= 1")
    device = next(model.parameters()).device
    task = task.to(device)
    logits = torch.cat([model(chunk) for chunk in task.inputs.split(batch_size)], dim=1)
    return accuracies(predicted(logits), task, test)
