"""Memorization of continuous samples (Bonnaire et al. 2025): a sample is a copy when its
nearest training point is much nearer than the second nearest, d1 / d2 < 1/3; f_mem is the
fraction of copies, with a bootstrap standard error.

Examples:
    >>> training = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    >>> samples = torch.tensor([[0.1, 0.0], [1.5, 0.0], [0.0, 3.9], [2.0, 2.0]])
    >>> is_memorized_continuous(samples, training).tolist()
    [True, False, True, False]
    >>> f_mem, se = memorized_fraction(samples, training)
    >>> float(f_mem), round(float(se), 2)
    (0.5, 0.25)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "RATIO_THRESHOLD",
    "memorization_ratio",
    "is_memorized_continuous",
    "memorized_fraction",
]

# Bonnaire et al.'s threshold: a sample three times nearer its nearest training point than the
# second nearest is a copy of it.
RATIO_THRESHOLD = 1 / 3


def memorization_ratio(samples: Tensor, training: Tensor, max_elements: int = 2**24) -> Tensor:
    """d1 / d2: each sample's distance to its nearest training point over the distance to the
    second nearest (Bonnaire et al. 2025). Near 0 for a copy; near 1 far from the data.

    Args:
        samples: `[..., S, D]` float.
        training: `[N, D]` (or `[..., N, D]` broadcastable against the samples), N >= 2.
        max_elements: the most distances `[..., S, chunk]` held at once (the training points
            are streamed in chunks, keeping the two nearest).

    Returns:
        `[..., S]` float in [0, 1]; 0 where both distances are 0 (duplicate training points).

    Examples:
        >>> training = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
        >>> memorization_ratio(torch.tensor([[1.0, 0.0], [0.0, 0.0]]), training)
        tensor([0.5000, 0.0000])
    """
    if not samples.is_floating_point() or samples.dim() < 2:
        raise ValueError(f"samples of shape {tuple(samples.shape)}: need float [..., S, D]")
    if training.dim() < 2 or training.shape[-1] != samples.shape[-1] or training.shape[-2] < 2:
        raise ValueError(
            f"training of shape {tuple(training.shape)}: need [N, {samples.shape[-1]}], N >= 2"
        )
    training = training.to(samples.dtype)
    rows = math.prod(torch.broadcast_shapes(samples.shape[:-2], training.shape[:-2]))
    chunk = max(2, max_elements // max(1, rows * samples.shape[-2]))
    parts = training.split(chunk, dim=-2)  # the first has >= 2 rows
    nearest = torch.cdist(samples, parts[0]).topk(2, dim=-1, largest=False).values
    for part in parts[1:]:  # keep the two nearest: [..., S, 2]
        both = torch.cat([nearest, torch.cdist(samples, part)], -1)
        nearest = both.topk(2, dim=-1, largest=False).values
    d1, d2 = nearest.unbind(-1)
    return d1 / d2.clamp_min(torch.finfo(d2.dtype).tiny)


def is_memorized_continuous(
    samples: Tensor, training: Tensor, threshold: float = RATIO_THRESHOLD
) -> Tensor:
    """Bonnaire et al.'s criterion for continuous data: d1 / d2 < `threshold` (1/3).

    Args:
        samples: `[..., S, D]` float.
        training: `[N, D]`, N >= 2.
        threshold: the ratio below which a sample is a copy.

    Returns:
        `[..., S]` bool.

    Examples:
        >>> training = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
        >>> is_memorized_continuous(torch.tensor([[0.5, 0.0]]), training)   # d1/d2 = 0.5/2.5
        tensor([True])
    """
    return memorization_ratio(samples, training) < threshold


def memorized_fraction(
    samples: Tensor,
    training: Tensor,
    threshold: float = RATIO_THRESHOLD,
    bootstrap: int = 1000,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """f_mem, the fraction of samples that copy a training point (`is_memorized_continuous`),
    and its bootstrap standard error (the samples resampled with replacement `bootstrap` times,
    from `seed`).

    Args:
        samples: `[..., S, D]` float (a leading models axis gives one f_mem per model).
        training: `[N, D]` or `[..., N, D]`, N >= 2.
        threshold: the d1 / d2 ratio below which a sample is a copy.
        bootstrap: resamples for the standard error (>= 2).
        seed: the resampling seed.

    Returns:
        `(f_mem, se)`, each `[...]`, on the samples' device.
    """
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 2:
        raise ValueError(f"bootstrap={bootstrap!r} must be an integer >= 2")
    copies = is_memorized_continuous(samples, training, threshold).float()  # [..., S]
    gen = torch.Generator().manual_seed(seed)
    picks = torch.randint(copies.shape[-1], (bootstrap, copies.shape[-1]), generator=gen)
    resampled = copies[..., picks.to(copies.device)].mean(-1)  # [..., bootstrap]
    return copies.mean(-1), resampled.std(-1)
