"""Split a trained network into a generalization subnetwork and a memorization subnetwork.

Each method scores every neuron (high: carries the rule, low: carries the memory) and splits at a
natural threshold; `Partition.top(fraction)` gives any other split, for the kept-fraction curve.

- "heldout" (task-agnostic): no Fourier knowledge and no noisy mask, only the training set and a
  held-out set with true labels (half the test set by default, never used to evaluate). A
  neuron's score is how much removing it raises the held-out loss minus how much it raises the
  training loss: the rule serves both, a memory only the training labels.
- "labels" (labels known): the same with the noisy mask: removing it raises the clean training
  loss minus how much it raises the noisy training loss (labels as trained).
- "ipr" (Fourier-aware reference, Doshi et al. 2024): the neuron's IPR (over the discrete log
  for "multiply" and "divide", as `extract_frequencies(model, op=...)` reads them); the top 30%
  is general.

The ablation effects are exact, not first-order: removing neuron k of an MLP takes
post[k] * W[:, k] off every logit, so the loss without each neuron comes from one forward pass.

Examples:
    35% wrong labels; ablations scored on the MSE loss the run trained with:
    >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
    >>> model, task = run.model(), run.task
    >>> part = partition_neurons(model, task, "heldout", loss="mse")  # general [models, neurons]
    >>> int(part.general.sum())                                       # of 500
    140
    >>> general, memory = part.subnetworks(model)                     # two pruned MLPs
    >>> print(interp.evaluate(general, task, test=part.evaluation))   # test: the unused half
    model   train  train-clean  train-noisy    test
        0   0.650        1.000        0.000   1.000
    >>> print(interp.evaluate(memory, task, test=part.evaluation))
    model   train  train-clean  train-noisy    test
        0   0.728        0.594        0.978   0.016
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from interp.core.metrics import Accuracies, evaluate, masked_mean
from interp.core.runs import check_pair
from interp.fourier import extract_frequencies
from interp.models.mlp import MLP
from interp.studies.label_noise.extraction import prune
from interp.tasks.modular import ModularTask

__all__ = [
    "PARTITION_METHODS",
    "Partition",
    "partition_neurons",
    "ablation_effects",
    "heldout_split",
    "kept_fraction_curve",
]

PARTITION_METHODS = ("heldout", "labels", "ipr")
LOSSES = ("ce", "mse")
IPR_KEEP = 0.3  # Doshi et al. prune the 70% least periodic neurons
KEPT_FRACTIONS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)


@dataclass
class Partition:
    """Neuron scores and the split they give, per model.

    Attributes:
        method: one of `PARTITION_METHODS`.
        scores: `[models, neurons]`, high = generalizing.
        general: `[models, neurons]` bool, the generalization subnetwork (`~general` is the
            memorization subnetwork).
        effects: the ablation effects behind the scores, name -> `[models, neurons]` (mean loss
            change over that set of examples when the neuron is removed); empty for "ipr".
        evaluation: `[models, examples]` bool, the test examples the method did not look at:
            evaluate on these (the whole test set but for "heldout").
    """

    method: str
    scores: Tensor
    general: Tensor
    evaluation: Tensor
    effects: dict[str, Tensor] = field(default_factory=dict)

    @property
    def memory(self) -> Tensor:
        """`[models, neurons]` bool, the memorization subnetwork."""
        return ~self.general

    def top(self, fraction: float) -> Tensor:
        """`[models, neurons]` bool, the `fraction` of neurons with the highest scores."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction={fraction} must lie in [0, 1]")
        n = self.scores.shape[-1]
        k = round(fraction * n)
        order = self.scores.argsort(dim=-1, descending=True, stable=True)
        keep = torch.zeros_like(self.general)
        return keep.scatter_(-1, order[..., :k], True)

    def subnetworks(self, model: MLP) -> tuple[MLP, MLP]:
        """`(general, memory)`: `model` pruned to each side of the split."""
        return prune(model, self.general), prune(model, self.memory)


def heldout_split(task: ModularTask, fraction: float = 0.5, seed: int = 0) -> Tensor:
    """`[models, examples]` bool: a random `fraction` of each model's test examples, to score
    neurons on; the rest stay untouched for evaluation. Reproducible from `seed`."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"holdout fraction={fraction} must lie in (0, 1)")
    gen = torch.Generator().manual_seed(seed)
    draw = torch.rand(task.test.shape, generator=gen).to(task.test.device)
    return task.test & (draw < fraction)


@torch.no_grad()
def ablation_effects(
    model: MLP, task: ModularTask, loss: str = "ce", batch_size: int = 256
) -> Tensor:
    """How much each example's loss rises when each neuron alone is removed (zero-ablated).

    The loss is against the labels each model trained on (`task.train_labels`: noisy on the
    noisy examples, true elsewhere, so true on the test set). Exact: removing neuron k takes
    post[k] * W[:, k] off the logits.

    Args:
        model: an `MLP` ensemble with `task.models` models.
        task: its task.
        loss: "ce" (cross-entropy of the logits) or "mse" (against one-hot targets, mean over
            the p outputs, the loss of Doshi et al.).
        batch_size: examples per chunk (memory ~ models x batch x neurons x p floats for "ce").

    Returns:
        `[models, neurons, examples]` loss with the neuron removed minus loss with it.

    Examples:
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
        >>> model, task = run.model(), run.task
        >>> delta = ablation_effects(model, task, loss="mse")           # [m, n, N]
        >>> delta.shape
        torch.Size([1, 500, 9409])
        >>> noisy = masked_mean(delta, task.noisy[:, None])               # [m, n] on noisy
        >>> clean = masked_mean(delta, task.clean[:, None])
        >>> int((clean > noisy).sum())                    # neurons that serve clean labels more
        143
    """
    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r} is not one of {', '.join(LOSSES)}")
    check_pair(model, task)
    task = task.to(model.device)
    w = (model.W * model.cfg.out_scale).transpose(1, 2)  # [models, neurons, p]: what k adds
    chunks = []
    for rows in torch.arange(len(task.labels), device=model.device).split(batch_size):
        logits, cache = model.run_with_cache(task.inputs[rows], names_filter="hook_post")
        post = cache["hook_post"]  # [models, batch, neurons]
        labels = task.train_labels[:, rows]  # [models, batch]
        if loss == "ce":
            base = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
            removed = logits[:, :, None, :] - post[..., None] * w[:, None]  # [m, b, n, p]
            lse = removed.logsumexp(-1)
            target = removed.gather(-1, labels[:, :, None, None].expand(-1, -1, post.shape[-1], 1))
            delta = lse - target.squeeze(-1) - base[..., None]
        else:  # sum_c [(z_c - h w_c - t_c)^2 - (z_c - t_c)^2] / p, in closed form
            error = logits - F.one_hot(labels, model.cfg.p).to(logits)  # [m, b, p]
            cross = torch.einsum("mbp,mnp->mbn", error, w)
            delta = (post**2 * (w**2).sum(-1)[:, None] - 2 * post * cross) / model.cfg.p
        chunks.append(delta.transpose(1, 2))
    return torch.cat(chunks, dim=-1)


def partition_neurons(
    model: MLP,
    task: ModularTask,
    method: str = "heldout",
    *,
    loss: str = "ce",
    holdout: float = 0.5,
    seed: int = 0,
    ipr_keep: float = IPR_KEEP,
) -> Partition:
    """Score every neuron and split each model into generalization and memorization subnetworks.

    Args:
        model: a trained `MLP` ensemble with `task.models` models.
        task: its task (split and noisy labels).
        method: "heldout" (task-agnostic, default), "labels" (uses the noisy mask) or "ipr".
        loss: the loss whose ablation effects score the neurons ("ce" or "mse").
        holdout: for "heldout", the fraction of the test set used to score (`heldout_split`).
        seed: for "heldout", the seed of that split.
        ipr_keep: for "ipr", the fraction of highest-IPR neurons called general.

    Returns:
        A `Partition`. The ablation methods split at score 0 (removing the neuron costs the
        held-out / clean side more than the training / noisy side); "ipr" keeps the top
        `ipr_keep`.

    Examples:
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
        >>> part = partition_neurons(run.model(), run.task, "labels", loss="mse")
        >>> part.general.float().mean(-1)                 # [models] share called general
        tensor([0.2860])
    """
    if method not in PARTITION_METHODS:
        raise ValueError(f"method {method!r} is not one of {', '.join(PARTITION_METHODS)}")
    check_pair(model, task)
    if method == "ipr":
        scores = extract_frequencies(model, op=task.config.op).ipr
        part = Partition(method, scores, torch.zeros_like(scores, dtype=torch.bool), task.test)
        part.general = part.top(ipr_keep)
        return part
    delta = ablation_effects(model, task, loss=loss)
    task = task.to(delta.device)

    def effect(mask: Tensor) -> Tensor:
        return masked_mean(delta, mask[:, None])  # [models, neurons]

    if method == "heldout":
        scored = heldout_split(task, holdout, seed)
        effects = {"heldout": effect(scored), "train": effect(task.train)}
        scores = effects["heldout"] - effects["train"]
        evaluation = task.test & ~scored
    else:
        effects = {"clean": effect(task.clean), "noisy": effect(task.noisy)}
        scores = effects["clean"] - effects["noisy"]
        evaluation = task.test
    return Partition(method, scores, scores > 0, evaluation, effects)


def kept_fraction_curve(
    model: MLP, task: ModularTask, part: Partition, fractions: Sequence[float] = KEPT_FRACTIONS
) -> Accuracies:
    """Accuracies of the network pruned to the top `fraction` of neurons by score, per fraction:
    how concentrated is the rule? (A rule spread across neurons needs most of them.)

    Args:
        model: the `MLP` the partition scored.
        task: its task; test accuracy is over `part.evaluation`.
        part: a `Partition` of `model`.
        fractions: kept fractions `[F]` in [0, 1].

    Returns:
        `Accuracies` with fields `[F, models]`.

    Examples:
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
        >>> model, task = run.model(), run.task
        >>> curve = kept_fraction_curve(model, task, partition_neurons(model, task, "ipr"))
        >>> KEPT_FRACTIONS
        (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
        >>> curve.test[:, 0]                          # test accuracy of model 0 per fraction
        tensor([0.0627, 0.4687, 0.8721, 0.9994, 1.0000, 0.9872, 0.9809, 0.9836, 0.9832])
    """
    rows = [evaluate(prune(model, part.top(f)), task, test=part.evaluation) for f in fractions]
    return Accuracies.stack(rows)
