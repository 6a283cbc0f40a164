"""Consistency models (Song, Dhariwal, Chen and Sutskever 2023): a network f(x; s) that maps any
point of a probability-flow trajectory at level s straight to the trajectory's end, so that one
call (or a few) samples what a denoiser needs tens of ODE steps for.

The boundary parameterization keeps f(x; sigma_min) = x exactly:

    f(x; s) = c_skip(s) x + c_out(s) F(c_in(s) x; c_noise(s)),
    c_skip = s_d^2 / ((s - s_min)^2 + s_d^2),   c_out = (s - s_min) s_d / sqrt(s^2 + s_d^2),

with EDM's c_in and c_noise. A `DiT` with `boundary="consistency"` is such a network; it is
trained by consistency distillation of a teacher denoiser (`interp.studies.distillation`) and
sampled here, in one step or several (Song et al., Algorithm 1):

    x <- f(s_max z; s_max);  for tau in the later levels: x <- f(x + sqrt(tau^2 - s_min^2) z; tau)

Examples:
    >>> c_skip, c_out = consistency_boundary(torch.tensor([0.002, 80.0]))
    >>> c_skip, c_out                                     # identity at sigma_min, F far out
    (tensor([1.0000e+00, 3.9063e-05]), tensor([0.0000, 0.5000]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from interp.diffusion.edm import SIGMA_DATA, Denoiser, _as_float, _randn

__all__ = ["SIGMA_MIN", "TWO_STEP_LEVEL", "consistency_boundary", "consistency_sample"]

# Song et al.'s lowest level, where f is the identity.
SIGMA_MIN = 0.002
# The second level of Song et al.'s two-step CIFAR-10 samples (found there by a greedy search);
# a default, to be searched again for other data.
TWO_STEP_LEVEL = 0.821


def consistency_boundary(
    sigma: Tensor | float, sigma_data: float = SIGMA_DATA, sigma_min: float = SIGMA_MIN
) -> tuple[Tensor, Tensor]:
    """The consistency boundary's `(c_skip, c_out)`, each shaped like `sigma`:
    c_skip = s_d^2 / ((s - s_min)^2 + s_d^2), c_out = (s - s_min) s_d / sqrt(s^2 + s_d^2), so
    c_skip(s_min) = 1 and c_out(s_min) = 0: f(x; s_min) = x whatever the network.

    Examples:
        >>> consistency_boundary(0.502)                 # s - s_min = s_d: c_skip = 1/2
        (tensor(0.5000), tensor(0.3528))
    """
    sigma = _as_float(sigma)
    c_skip = sigma_data**2 / ((sigma - sigma_min) ** 2 + sigma_data**2)
    c_out = (sigma - sigma_min) * sigma_data / (sigma**2 + sigma_data**2).sqrt()
    return c_skip, c_out


@torch.no_grad()
def consistency_sample(
    model: Denoiser,
    shape: tuple[int, ...],
    levels: Sequence[float] = (80.0,),
    generator: torch.Generator | None = None,
    sigma_min: float | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Multistep consistency sampling: start from s_max z with s_max = `levels[0]`, map to the
    end with one call, then for each later level tau add noise back up to tau and map again.

    Args:
        model: a consistency function f(x, sigma) (a `DiT` with `boundary="consistency"`).
        shape: `[..., batch, d]`, e.g. `(models, samples, d)`.
        levels: decreasing levels; one entry is one-step sampling, `(80.0, TWO_STEP_LEVEL)`
            two-step.
        generator: source of the noise (drawn on its device, moved to the model's).
        sigma_min: the model's lowest level (default: `model.cfg.sigma_min`, else `SIGMA_MIN`).
        device: where to sample (default: the model's device, else the generator's).

    Returns:
        `shape` float, the samples (`x > 0` gives the bits of a rule task).

    Examples:
        >>> model = interp.DiT(interp.DiTConfig(d=4, models=2, boundary="consistency"))
        >>> x = consistency_sample(model, (2, 3, 4), levels=(80.0, 0.8),
        ...                        generator=torch.Generator().manual_seed(0))
        >>> x.shape                  # an untrained F is 0: f is c_skip x, near 0 at s = 0.8
        torch.Size([2, 3, 4])
    """
    levels = [float(v) for v in levels]
    if sigma_min is None:
        cfg = getattr(model, "cfg", None)
        sigma_min = getattr(cfg, "sigma_min", SIGMA_MIN)
    if not levels or any(not math.isfinite(v) or v <= sigma_min for v in levels):
        raise ValueError(f"levels={levels}: need at least one, each finite and > {sigma_min}")
    if any(b >= a for a, b in zip(levels, levels[1:])):
        raise ValueError(f"levels={levels}: must decrease")
    if device is None:
        device = getattr(model, "device", None)
    if device is None and generator is not None:
        device = generator.device
    x = model(levels[0] * _randn(shape, generator, device), torch.tensor(levels[0]))
    for tau in levels[1:]:
        noise = _randn(shape, generator, device, x.dtype)
        x = model(x + math.sqrt(tau**2 - sigma_min**2) * noise, torch.tensor(tau))
    return x
