"""The posterior under a memorized prior (Siahkoohi & Sabeddu 2026).

A diffusion model that memorized its N training points x_n has, at a small noise level sigma,
the prior (1/N) sum_n N(x_n, sigma^2 I). For data y = F(x) + N(0, gamma^2 I) its posterior is a
reweighting of the training points:

- limiting weights (sigma -> 0): w_n ~ exp(-||F(x_n) - y||^2 / (2 gamma^2));
- linearized Gaussian-mixture posterior (F(x) ~ F(x_n) + J_n (x - x_n) near each point):
  Sigma_n = (I / sigma^2 + J_n^T J_n / gamma^2)^-1,
  mu_n = x_n + Sigma_n J_n^T (y - F(x_n)) / gamma^2,
  log w_n = -1/2 r_n^T C_n^-1 r_n - 1/2 log det C_n, with C_n = sigma^2 J_n J_n^T + gamma^2 I and
  r_n = y - F(x_n): the full Gaussian evidence. The anchor code drops the log det; both are here
  (`log_det=False` for theirs);
- exact weights by quadrature in one or two dimensions;
- the effective number of modes exp(H(w)), and its curve over sigma (`modes_curve`);
- the paper's critical width sigma_crit = sqrt(delta gamma / mean_n ||J_n||) (`critical_sigma`).

Examples:
    Their stylized problem, F(x) = x + 0.3 x^3, y = 0, gamma = 0.3:
    >>> F = lambda x: x + 0.3 * x**3
    >>> points = torch.tensor([[-1.5], [-0.4], [0.4], [1.2], [2.5]], dtype=torch.float64)
    >>> y = torch.zeros(1, dtype=torch.float64)
    >>> limiting_weights(F, points, y, gamma=0.3).numpy().round(3)
    array([0. , 0.5, 0.5, 0. , 0. ])
    >>> linearized_posterior(F, points, y, 0.3, sigma=0.5).weights.numpy().round(3)
    array([0.057, 0.417, 0.417, 0.098, 0.01 ])
    >>> exact_weights(F, points, y, 0.3, sigma=0.5).numpy().round(3)
    array([0.018, 0.46 , 0.46 , 0.063, 0.   ])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.func import jacrev, vmap

__all__ = [
    "GaussianMixturePosterior",
    "limiting_weights",
    "linearized_posterior",
    "exact_weights",
    "effective_modes",
    "modes_curve",
    "critical_sigma",
]

Forward = Callable[[Tensor], Tensor]  # F: x [D] -> [M], differentiable


def _check(points: Tensor, y: Tensor, gamma: float, sigma: float | None = None) -> None:
    if points.dim() != 2 or not points.is_floating_point():
        raise ValueError(f"points of shape {tuple(points.shape)}: need float [N, D]")
    if y.dim() != 1:
        raise ValueError(f"y of shape {tuple(y.shape)}: need [M]")
    for name, value in (("gamma", gamma), ("sigma", sigma)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name}={value} must be finite and > 0")


def _residuals(forward: Forward, points: Tensor, y: Tensor) -> Tensor:
    """`[N, M]` y - F(x_n)."""
    return y - vmap(forward)(points)


def _jacobians(forward: Forward, points: Tensor) -> Tensor:
    """`[N, M, D]` J_n = dF(x_n)."""
    return vmap(jacrev(forward))(points)


def limiting_weights(forward: Forward, points: Tensor, y: Tensor, gamma: float) -> Tensor:
    """`[N]` the posterior weights of the training points as sigma -> 0: the likelihood of each
    point, normalized (softmax of -||F(x_n) - y||^2 / (2 gamma^2))."""
    _check(points, y, gamma)
    r = _residuals(forward, points, y)
    return torch.softmax(-(r**2).sum(-1) / (2 * gamma**2), 0)


@dataclass
class GaussianMixturePosterior:
    """The linearized posterior: weights `[N]`, means `[N, D]`, covariances `[N, D, D]`."""

    weights: Tensor
    means: Tensor
    covariances: Tensor


def linearized_posterior(
    forward: Forward,
    points: Tensor,
    y: Tensor,
    gamma: float,
    sigma: float,
    log_det: bool = True,
) -> GaussianMixturePosterior:
    """The Gaussian-mixture posterior of the prior (1/N) sum N(x_n, sigma^2 I) under F
    linearized at each point (module docstring); `log_det=False` drops the -1/2 log det C_n of
    the evidence, as the anchor code does."""
    _check(points, y, gamma, sigma)
    r = _residuals(forward, points, y)  # [N, M]
    jac = _jacobians(forward, points)  # [N, M, D]
    n, m, d = jac.shape
    eye_d = torch.eye(d, dtype=points.dtype, device=points.device)
    eye_m = torch.eye(m, dtype=points.dtype, device=points.device)
    precision = eye_d / sigma**2 + jac.transpose(1, 2) @ jac / gamma**2
    cov = torch.linalg.inv(precision)
    means = points + (cov @ jac.transpose(1, 2) @ r[..., None]).squeeze(-1) / gamma**2
    evidence = sigma**2 * jac @ jac.transpose(1, 2) + gamma**2 * eye_m  # C_n [N, M, M]
    quad = (r[:, None, :] @ torch.linalg.solve(evidence, r[..., None])).squeeze(-1).squeeze(-1)
    log_w = -0.5 * quad
    if log_det:
        log_w = log_w - 0.5 * torch.linalg.slogdet(evidence).logabsdet
    return GaussianMixturePosterior(torch.softmax(log_w, 0), means, cov)


def exact_weights(
    forward: Forward,
    points: Tensor,
    y: Tensor,
    gamma: float,
    sigma: float,
    grid: int = 20001,
    width: float = 8.0,
) -> Tensor:
    """`[N]` the exact posterior mass of each prior component, integral of N(x; x_n, sigma^2 I)
    N(y; F(x), gamma^2 I) dx, normalized: trapezoid quadrature over a regular grid reaching
    `width` sigmas past the points (D = 1: `grid` nodes; D = 2: `grid` ** 0.5 per axis)."""
    _check(points, y, gamma, sigma)
    d = points.shape[1]
    if d not in (1, 2):
        raise ValueError(f"exact_weights integrates in 1 or 2 dimensions; points have D={d}")
    per_axis = grid if d == 1 else max(3, int(math.isqrt(grid)))
    axes = [
        torch.linspace(
            float(points[:, k].min()) - width * sigma,
            float(points[:, k].max()) + width * sigma,
            per_axis,
            dtype=points.dtype,
            device=points.device,
        )
        for k in range(d)
    ]
    nodes = torch.cartesian_prod(*axes).reshape(-1, d) if d == 2 else axes[0][:, None]
    likelihood = -((y - vmap(forward)(nodes)) ** 2).sum(-1) / (2 * gamma**2)  # [G]
    prior = -((nodes[None] - points[:, None]) ** 2).sum(-1) / (2 * sigma**2)  # [N, G]
    density = torch.exp(prior + likelihood - (prior + likelihood).max())
    mass = density.reshape(len(points), *[per_axis] * d)
    for k in reversed(range(d)):
        mass = torch.trapezoid(mass, axes[k], dim=1 + k)
    return mass / mass.sum()


def effective_modes(weights: Tensor) -> Tensor:
    """exp(H(w)), the effective number of modes of the weights `[..., N]` (1 for one point,
    N for uniform weights).

    Examples:
        >>> effective_modes(torch.tensor([0.0, 0.5, 0.5, 0.0])).item()
        2.0
    """
    p = weights / weights.sum(-1, keepdim=True)
    entropy = -(p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))).sum(-1)
    return entropy.exp()


def modes_curve(
    forward: Forward, points: Tensor, y: Tensor, gamma: float, sigmas: Tensor
) -> dict[str, Tensor]:
    """The effective number of modes at each prior width in `sigmas` `[S]`: `"limiting"` (the
    sigma -> 0 value, repeated), `"exact"`, `"linearized"` and `"linearized without log det"`,
    each `[S]`.

    Examples:
        The module's stylized problem:
        >>> F = lambda x: x + 0.3 * x**3
        >>> points = torch.tensor([[-1.5], [-0.4], [0.4], [1.2], [2.5]], dtype=torch.float64)
        >>> y = torch.zeros(1, dtype=torch.float64)
        >>> sigmas = torch.tensor([0.1, 0.5, 1.0])
        >>> curve = modes_curve(F, points, y, 0.3, sigmas)
        >>> curve["exact"].numpy().round(2)
        array([2.  , 2.61, 3.99])
        >>> curve["linearized without log det"].numpy().round(2)
        array([2.  , 4.05, 4.91])
    """
    if sigmas.dim() != 1:
        raise ValueError(f"sigmas of shape {tuple(sigmas.shape)}: need [S]")
    limiting = effective_modes(limiting_weights(forward, points, y, gamma))
    weights = [  # [3, N] per sigma
        torch.stack(
            [
                exact_weights(forward, points, y, gamma, sigma),
                linearized_posterior(forward, points, y, gamma, sigma).weights,
                linearized_posterior(forward, points, y, gamma, sigma, log_det=False).weights,
            ]
        )
        for sigma in sigmas.tolist()
    ]
    modes = effective_modes(torch.stack(weights)).T  # [3, S]
    names = ("exact", "linearized", "linearized without log det")
    return {"limiting": limiting.expand(len(sigmas)).clone(), **dict(zip(names, modes))}


def critical_sigma(
    forward: Forward, points: Tensor, y: Tensor, gamma: float, delta: float | None = None
) -> Tensor:
    """`[]` sigma_crit = sqrt(delta gamma / mean_n ||J_n||), the paper's prior width at which the
    posterior leaves the limiting weights. ||J_n|| is |F'(x_n)| in one dimension, the spectral
    norm (largest singular value) of the Jacobian in more. Infinite when F is flat at every point.

    delta is a length in x that the paper does not define publicly; ours is a choice: by default
    (`delta=None`) the mean distance from each training point to its nearest neighbour, the
    spacing of the memorized prior's modes. y `[M]` is only checked against F's output: the
    formula does not depend on the data's value. docs/posterior.md sets it against the measured
    transition: it marks the start of the transition at gamma 0.3, but the transition barely
    moves with gamma where this grows as sqrt(gamma).

    Examples:
        The module's stylized problem; delta = 0.96, mean |F'| = 2.847:
        >>> F = lambda x: x + 0.3 * x**3
        >>> points = torch.tensor([[-1.5], [-0.4], [0.4], [1.2], [2.5]], dtype=torch.float64)
        >>> y = torch.zeros(1, dtype=torch.float64)
        >>> print(f"{critical_sigma(F, points, y, gamma=0.3).item():.3f}")
        0.318
    """
    _check(points, y, gamma)
    if delta is None:
        if len(points) < 2:
            raise ValueError(f"{len(points)} point(s): the default delta needs at least 2")
        distances = torch.cdist(points, points)
        distances.fill_diagonal_(math.inf)
        delta = distances.min(-1).values.mean().item()
        if delta == 0:
            raise ValueError("delta=0.0: every training point has a duplicate")
    elif not (math.isfinite(delta) and delta > 0):
        raise ValueError(f"delta={delta} must be finite and > 0")
    jac = _jacobians(forward, points)  # [N, M, D]
    if jac.dim() != 3 or jac.shape[1] != len(y):
        raise ValueError(f"F(x) of shape {tuple(jac.shape[1:-1])}: need y's {tuple(y.shape)}")
    slope = torch.linalg.matrix_norm(jac, ord=2).mean()  # mean_n ||J_n||, largest singular value
    return torch.sqrt(delta * gamma / slope)
