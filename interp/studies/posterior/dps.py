"""Diffusion posterior sampling (Chung et al. 2023) with any denoiser as the prior: each
probability-flow step is followed by a step down the gradient of the data misfit of the
denoised estimate,

    x_(i+1) = x_i + (s_(i+1) - s_i) (x_i - D(x_i; s_i)) / s_i
              - zeta grad_(x_i) ||y - F(D(x_i; s_i))||,

with the misfit's norm, not its square (their choice). With the empirical optimal denoiser as
the prior (a model that memorized its points) every sample ends on a training point;
`nearest_fractions` counts which, to hold against the posterior weights of `posterior`.

Examples:
    >>> from interp.diffusion import EmpiricalDenoiser
    >>> D = EmpiricalDenoiser(torch.tensor([[1.5]]))                   # one training point
    >>> x = dps_sample(D, lambda x: x, torch.zeros(1), (16, 1), zeta=0.5,
    ...                generator=torch.Generator().manual_seed(0))
    >>> bool(torch.allclose(x, torch.full((16, 1), 1.5), atol=1e-3))  # it returns that point
    True
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.func import vmap

from interp.diffusion import Denoiser, sigma_schedule

__all__ = ["dps_sample", "nearest_fractions"]


def dps_sample(
    denoiser: Denoiser,
    forward: Callable[[Tensor], Tensor],
    y: Tensor,
    shape: tuple[int, ...],
    zeta: float,
    steps: int = 50,
    generator: torch.Generator | None = None,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
) -> Tensor:
    """`shape` = `[samples, D]` posterior samples (module docstring), from N(0, sigma_max^2 I)
    down the Karras schedule of `steps` levels; F maps one x `[D]` to `[M]` and must be
    differentiable; the noise is drawn on the generator's device and moved to y's."""
    if not (zeta >= 0):
        raise ValueError(f"zeta={zeta} must be >= 0")
    device = y.device
    sigmas = sigma_schedule(steps, sigma_min, sigma_max, rho, device=device)
    drawn_on = generator.device if generator is not None else device
    x = sigma_max * torch.randn(shape, generator=generator, device=drawn_on).to(device)
    x = x.to(y.dtype)
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        x = x.detach().requires_grad_()
        denoised = denoiser(x, s.expand(shape[0]).to(x.dtype))
        misfit = torch.linalg.vector_norm(y - vmap(forward)(denoised), dim=-1)
        (grad,) = torch.autograd.grad(misfit.sum(), x)
        with torch.no_grad():
            x = x + (s_next - s) * (x - denoised) / s - zeta * grad
    return x.detach()


def nearest_fractions(samples: Tensor, points: Tensor) -> Tensor:
    """`[N]` the fraction of samples `[S, D]` whose nearest training point is each of `points`
    `[N, D]`: the histogram to set against posterior weights.

    Examples:
        >>> nearest_fractions(torch.tensor([[0.1], [0.9], [1.2]]), torch.tensor([[0.0], [1.0]]))
        tensor([0.3333, 0.6667])
    """
    nearest = torch.cdist(samples, points.to(samples.dtype)).argmin(-1)
    return torch.bincount(nearest, minlength=len(points)).to(samples.dtype) / len(samples)
