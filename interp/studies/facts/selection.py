"""Loss-based selection of the facts to train on. The paper's full method is not public (its
abstract: selection on the training loss alone that limits the number of facts and flattens
their frequency distribution); this is that, as documented, parameterized steps:

1. warm up: train on the fact base as it comes (Zipf frequencies) for a while;
2. `select_by_loss`: keep each model's `keep` names of lowest loss under the warmed-up network,
   with flat frequencies over them (zero elsewhere);
3. train on the selection.

Controls: `random_subset` (the same cap, names chosen at random) and the flat distribution over
every name (`fact_task(exponent=0)`).

Examples:
    >>> from interp.models.factnet import FactNet, FactNetConfig
    >>> from interp.tasks.facts import fact_task
    >>> task = fact_task(names=8, digits=1, exponent=1.0)
    >>> model = FactNet(FactNetConfig(names=8, digits=1, width=4))
    >>> chosen = select_by_loss(model, task, keep=3)
    >>> chosen.frequency.count_nonzero().item(), round(chosen.frequency.sum().item(), 6)
    (3, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from interp.tasks.facts import FactTask

__all__ = ["name_losses", "select_by_loss", "random_subset"]


@torch.no_grad()
def name_losses(model: nn.Module, task: FactTask) -> Tensor:
    """`[models, names_max]` each name's cross-entropy summed over its K digits (inf on
    padding), under a FactNet or a fact GPT (`GPTConfig(names=N)`, teacher forcing)."""
    task = task.to(model.device)
    names = torch.arange(task.values.shape[1], device=model.device)
    tokens = getattr(model, "fact_tokens", None)  # a fact GPT: teacher forcing
    logits = model(names if tokens is None else tokens(names, task.values))  # [models, N, K, 10]
    ce = F.cross_entropy(logits.permute(0, 3, 1, 2), task.values, reduction="none").sum(-1)
    return ce.masked_fill(~task.mask, float("inf"))


def _flat_over(task: FactTask, chosen: Tensor) -> FactTask:
    """The task with flat frequencies over each model's `chosen [models, keep]` names."""
    frequency = torch.zeros_like(task.frequency)
    frequency.scatter_(1, chosen.to(frequency.device), 1.0 / chosen.shape[1])
    return replace(task, frequency=frequency)


def _keeps(task: FactTask, keep: int | Sequence[int]) -> list[int]:
    keeps = list(keep) if isinstance(keep, Sequence) else [keep] * task.models
    names = task.mask.sum(1).tolist()
    if len(keeps) != task.models or any(not 1 <= k <= n for k, n in zip(keeps, names)):
        raise ValueError(f"keep={keeps}: one value or one per model, each in [1, names] {names}")
    return keeps


def select_by_loss(model: nn.Module, task: FactTask, keep: int | Sequence[int]) -> FactTask:
    """The task restricted to each model's `keep` lowest-loss names, frequencies flat over them
    (a copy; train on it in memory: its frequencies are not what its config regenerates)."""
    keeps = _keeps(task, keep)
    losses = name_losses(model, task).cpu()
    if len(set(keeps)) == 1:
        return _flat_over(task, losses.argsort(1)[:, : keeps[0]])
    frequency = torch.zeros_like(task.frequency)
    for m, k in enumerate(keeps):
        frequency[m, losses[m].argsort()[:k]] = 1.0 / k
    return replace(task, frequency=frequency)


def random_subset(task: FactTask, keep: int | Sequence[int], seed: int = 0) -> FactTask:
    """The control: `keep` names per model chosen at random (from `seed`), flat over them."""
    keeps = _keeps(task, keep)
    gen = torch.Generator().manual_seed(seed)
    frequency = torch.zeros_like(task.frequency)
    for m, k in enumerate(keeps):
        real = torch.nonzero(task.mask[m].cpu()).flatten()
        frequency[m, real[torch.randperm(len(real), generator=gen)[:k]]] = 1.0 / k
    return replace(task, frequency=frequency)
