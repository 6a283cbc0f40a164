"""How close generated samples are to the data distribution, for continuous data: the energy
distance (Szekely & Rizzo), a metric between distributions that needs no density and no features,

    E(X, Y) = 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||  >= 0,  = 0 iff X and Y are equal in law,

estimated from two sample sets with every pair (the V-statistic, which includes the zero
distances of each point to itself; its bias shrinks as 1 / S).

Examples:
    >>> x = torch.tensor([[0.0], [1.0]])
    >>> energy_distance(x, x).item()                   # the same set
    0.0
    >>> energy_distance(x, x + 3).item()               # 2 * 3 - 0.5 - 0.5
    5.0
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["energy_distance"]


def energy_distance(samples: Tensor, reference: Tensor) -> Tensor:
    """The energy distance between two sample sets (the V-statistic, see the module docstring).

    Args:
        samples: `[..., S, D]` float (a leading models axis gives one distance per model).
        reference: `[..., T, D]`, broadcastable against the samples' leading axes (e.g. `[T, D]`
            fresh data shared by every model).

    Returns:
        `[...]`, >= 0 up to rounding.
    """
    if not samples.is_floating_point() or samples.dim() < 2 or reference.dim() < 2:
        raise ValueError(
            f"samples {tuple(samples.shape)}, reference {tuple(reference.shape)}: need float "
            "[..., S, D] and [..., T, D]"
        )
    if samples.shape[-1] != reference.shape[-1]:
        raise ValueError(
            f"samples have D={samples.shape[-1]}, the reference D={reference.shape[-1]}"
        )
    reference = reference.to(samples.dtype)
    lead = torch.broadcast_shapes(samples.shape[:-2], reference.shape[:-2])
    x = samples.expand(*lead, *samples.shape[-2:])
    y = reference.expand(*lead, *reference.shape[-2:])
    cross = torch.cdist(x, y).mean((-1, -2))
    return 2 * cross - torch.cdist(x, x).mean((-1, -2)) - torch.cdist(y, y).mean((-1, -2))
