"""Speciation of a class in the backward process (Nicoletti et al. 2026; Biroli et al.): the
diffusion time t_S^c beyond which a trajectory started from a noised class-c point no longer
comes back to class c more often than not.

The U-turn experiment: take class-c points, noise them to OU time t (x_t = a_t x + sqrt(Delta_t)
eta), run the backward process from there to time ~0 several times, and record how often the
end point is of class c. `u_turns` does it with any score (the exact mixture score by default,
or a trained model's); `speciation_time` reads where the return probability crosses 1/2.

For two classes at +-m with unit variances the exact score gives a closed form. At time t,
x_t | c ~ N(a_t mu_c, I), so the log-odds of the minority (weight rho_min) against the majority
at a minority point is log(rho_min / rho_maj) + 2 a_t (m . x_t), a Gaussian with mean
log(rho_min / rho_maj) + 2 a_t^2 |m|^2. The backward process draws from p(x_0 | x_t), so the
return probability is the posterior class probability averaged over x_t, which is 1/2 exactly
where that mean is 0:

    t_S^min = 1/2 log(2 |m|^2 / log(rho_maj / rho_min)).

Examples:
    >>> [round(closed_form_speciation_time(4.0, 1 - r, r), 3) for r in (0.1, 0.02)]
    [1.339, 1.053]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from interp.tasks.mixtures import MixtureTask, ou_coefficients

__all__ = [
    "ou_score",
    "closed_form_speciation_time",
    "reverse_ou",
    "class_of",
    "u_turns",
    "speciation_time",
]

Score = Callable[[Tensor, float], Tensor]  # (x [..., d], t) -> score [..., d]


def ou_score(denoiser: Callable[[Tensor, Tensor], Tensor]) -> Score:
    """The OU score of a trained EDM denoiser D(x; sigma) (e.g. a one-model `DiT`: pass
    `lambda x, s: dit(x, s)[0]`): x_t = a x + sqrt(Delta) eta is a / (x + sigma eta) with
    sigma = sqrt(Delta) / a, so score(x_t, t) = (D(x_t / a; sigma) - x_t / a) / (sigma^2 a).

    Examples:
        >>> exact = lambda x, s: x / (1 + s[..., None] ** 2)   # the denoiser of N(0, I) data
        >>> x = torch.randn(5, 3)
        >>> torch.allclose(ou_score(exact)(x, 0.7), -x)        # N(0, I) stays N(0, I)
        True
    """

    @torch.no_grad()
    def score(x: Tensor, t: float) -> Tensor:
        a, delta = ou_coefficients(t)
        sigma = math.sqrt(delta) / a
        scaled = x / a
        levels = torch.full(x.shape[:-1], sigma, dtype=x.dtype, device=x.device)
        return (denoiser(scaled, levels) - scaled) / (sigma * sigma * a)

    return score


def closed_form_speciation_time(m: float, rho_major: float, rho_minor: float) -> float:
    """t_S of the minority class of two unit-variance classes at +-m (|m| = `m`) with weights
    `rho_major` > `rho_minor` (module docstring); 0 when the log-odds never favour it."""
    if not (m > 0 and rho_major > rho_minor > 0):
        raise ValueError(
            f"need m > 0 and rho_major > rho_minor > 0; got {m}, {rho_major}, {rho_minor}"
        )
    ratio = 2 * m * m / math.log(rho_major / rho_minor)
    return max(0.0, 0.5 * math.log(ratio))


def reverse_ou(
    score: Score,
    x: Tensor,
    t: float,
    steps: int = 200,
    t_end: float = 1e-3,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Run the backward process of dx = -x dt + sqrt(2) dW from time t to `t_end`:
    Euler-Maruyama on dx = (x + 2 score(x, s)) ds + sqrt(2) dW (time running back), on `steps`
    log-spaced times. x `[..., d]`; noise drawn on the generator's device and moved to x's."""
    if not (t > t_end > 0):
        raise ValueError(f"t={t} must exceed t_end={t_end} > 0")
    times = torch.logspace(math.log10(t), math.log10(t_end), steps + 1, dtype=torch.float64)
    drawn_on = generator.device if generator is not None else x.device
    for s, s_next in zip(times[:-1].tolist(), times[1:].tolist()):
        h = s - s_next
        noise = torch.randn(x.shape, generator=generator, device=drawn_on).to(x.device, x.dtype)
        x = x + h * (x + 2 * score(x, s)) + math.sqrt(2 * h) * noise
    return x


def class_of(task: MixtureTask, x: Tensor, t: float = 1e-3) -> Tensor:
    """`[...]` the most probable class of points x `[..., d]` of the mixture noised to time t."""
    a, delta = ou_coefficients(t)
    means = torch.tensor(task.config.means, dtype=x.dtype, device=x.device) * a
    v = a * a * torch.tensor(task.config.variances, dtype=x.dtype, device=x.device) + delta
    w = torch.tensor(task.config.weights, dtype=x.dtype, device=x.device)
    log_p = w.log() - 0.5 * ((x[..., None, :] - means) ** 2).sum(-1) / v - 0.5 * task.d * v.log()
    return log_p.argmax(-1)


def u_turns(
    task: MixtureTask,
    times: Sequence[float],
    starts: int = 64,
    repeats: int = 8,
    score: Score | None = None,
    steps: int = 200,
    seed: int = 0,
) -> Tensor:
    """`[classes, len(times)]` the probability that a class-c point noised to time t comes back
    to class c through the backward process (`starts` test points of each class x `repeats`
    backward runs), with `score` (default: the task's exact mixture score). Every time and
    every class runs in one batch."""
    score = task.score if score is None else score
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for c in range(task.config.classes):
        points = task.test[task.test_labels == c][:starts]
        if len(points) == 0:
            raise ValueError(f"the test set holds no point of class {c}; raise n_test")
        back = []
        for t in times:
            a, delta = ou_coefficients(t)
            x = points.repeat(repeats, 1)
            noise = torch.randn(x.shape, generator=gen).to(x.device, x.dtype)
            end = reverse_ou(score, a * x + math.sqrt(delta) * noise, t, steps, generator=gen)
            back.append((class_of(task, end) == c).float().mean())
        rows.append(torch.stack(back))
    return torch.stack(rows)


def speciation_time(times: Sequence[float], returns: Tensor, level: float = 0.5) -> Tensor:
    """`[classes]` the time at which the return probability `[classes, T]` first falls below
    `level`, linearly interpolated between the two times around it; inf if it never does.

    Examples:
        >>> speciation_time([0.5, 1.0, 1.5], torch.tensor([[0.9, 0.7, 0.3], [1.0, 1.0, 0.9]]))
        tensor([1.2500,    inf])
    """
    times = torch.as_tensor(times, dtype=returns.dtype)
    out = []
    for row in returns:
        below = (row < level).nonzero()
        if len(below) == 0:
            out.append(torch.tensor(math.inf, dtype=returns.dtype))
            continue
        k = int(below[0])
        if k == 0:
            out.append(times[0])
            continue
        t0, t1, r0, r1 = times[k - 1], times[k], row[k - 1], row[k]
        out.append(t0 + (r0 - level) / (r0 - r1) * (t1 - t0))
    return torch.stack(out)
