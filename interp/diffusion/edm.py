"""Diffusion on bit strings, EDM style: preconditioning, noise levels, samplers, and the
empirical denoiser (the memorizing optimum of the training loss). No network lives here.

A *denoiser* is any callable `D(x, sigma) -> x_hat`: x `[..., batch, d]` float, sigma a scalar or
a tensor broadcastable to `[..., batch]` (`[batch]`, `[models, batch]`), and x_hat the estimate of
the clean signal, shaped like x (Karras et al. 2022's D_theta). Signals are bits mapped to
{-0.5, +0.5}, so sigma_data = 0.5. Samplers integrate the probability-flow ODE
dx/dsigma = (x - D(x, sigma)) / sigma from a noise level sigma_max down to 0.

Examples:
    >>> data = torch.randint(0, 2, (8, 12)).float() - 0.5       # N=8 training strings, d=12
    >>> D = EmpiricalDenoiser(data)                             # the optimum of the loss
    >>> x0 = sample(D, (64, 12), generator=torch.Generator().manual_seed(0))
    >>> ((x0 > 0)[:, None] == (data > 0)).all(-1).any(-1).all()  # every sample is a copy
    tensor(True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = [
    "SIGMA_DATA",
    "Denoiser",
    "edm_precondition",
    "edm_loss_weight",
    "edm_example_loss",
    "sample_training_sigmas",
    "sigma_schedule",
    "heun_sample",
    "heun_step",
    "stochastic_sample",
    "sample",
    "EmpiricalDenoiser",
]

# Standard deviation of the clean signal: bits mapped to {-0.5, +0.5}.
SIGMA_DATA = 0.5

Denoiser = Callable[[Tensor, Tensor], Tensor]
"""`D(x [..., batch, d], sigma broadcastable to [..., batch]) -> x_hat [..., batch, d]`."""


def edm_precondition(
    sigma: Tensor | float, sigma_data: float = SIGMA_DATA
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """EDM preconditioning: D(x; s) = c_skip x + c_out F(c_in x; c_noise) for a raw network F.

    c_skip = s_d^2 / (s^2 + s_d^2), c_out = s s_d / sqrt(s^2 + s_d^2), c_in = 1 / sqrt(s^2 + s_d^2),
    c_noise = ln(s) / 4 (Karras et al. 2022, Table 1). They keep F's input and target at unit
    variance at every noise level; c_skip -> 1 and c_out -> 0 as s -> 0, so D(x; 0) = x.

    Args:
        sigma: noise levels, any shape (a float gives 0-d tensors).
        sigma_data: standard deviation of the clean signal.

    Returns:
        `(c_skip, c_out, c_in, c_noise)`, each shaped like `sigma`.

    Examples:
        >>> c_skip, c_out, c_in, c_noise = edm_precondition(torch.tensor([0.5]))
        >>> c_skip, c_out * c_in                   # (1/2, s s_d / (s^2 + s_d^2) = 1/2)
        (tensor([0.5000]), tensor([0.5000]))
    """
    sigma = _as_float(sigma)
    total = sigma**2 + sigma_data**2
    c_skip = sigma_data**2 / total
    c_out = sigma * sigma_data / total.sqrt()
    c_in = total.rsqrt()
    c_noise = sigma.log() / 4
    return c_skip, c_out, c_in, c_noise


def edm_loss_weight(sigma: Tensor | float, sigma_data: float = SIGMA_DATA) -> Tensor:
    """EDM loss weight lambda(s) = (s^2 + s_d^2) / (s s_d)^2 = 1 / c_out^2, shaped like `sigma`.

    With it, lambda(s) ||D(x; s) - y||^2 = ||F - F_target||^2: every noise level weighs alike.

    Examples:
        >>> edm_loss_weight(torch.tensor([0.5]))     # (0.25 + 0.25) / 0.0625
        tensor([8.])
    """
    sigma = _as_float(sigma)
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def edm_example_loss(
    denoiser: Denoiser,
    clean: Tensor,
    sigma: Tensor,
    noise: Tensor,
    sigma_data: float = SIGMA_DATA,
) -> Tensor:
    """EDM's weighted denoising loss of each sample, for given noise levels and noise draws:
    `lambda(s) * mean over positions of (D(x + s n; s) - x)^2`.

    Args:
        denoiser: `D(x, sigma)`.
        clean: `[..., batch, d]` clean signals.
        sigma: `[..., batch]` noise levels (e.g. `sample_training_sigmas`).
        noise: `[..., batch, d]` standard normal draws.
        sigma_data: the data's standard deviation.

    Returns:
        `[..., batch]`: 1 in expectation for a denoiser whose network outputs F = 0.

    Examples:
        >>> model = interp.DiT(interp.DiTConfig(d=8, models=2))     # at init its F is 0
        >>> gen = torch.Generator().manual_seed(0)
        >>> clean = torch.randint(0, 2, (2, 256, 8), generator=gen) - 0.5   # [models, batch, d]
        >>> s = sample_training_sigmas((2, 256), gen)
        >>> loss = edm_example_loss(model, clean, s, torch.randn(clean.shape, generator=gen))
        >>> loss.shape, [round(v, 1) for v in loss.mean(-1).tolist()]
        (torch.Size([2, 256]), [1.0, 1.0])
    """
    sigma = sigma.to(clean.dtype)
    denoised = denoiser(clean + sigma[..., None] * noise, sigma)
    return edm_loss_weight(sigma, sigma_data) * ((denoised - clean) ** 2).mean(-1)


def sample_training_sigmas(
    shape: tuple[int, ...],
    generator: torch.Generator | None = None,
    p_mean: float = -1.2,
    p_std: float = 1.2,
    device: torch.device | str | None = None,
) -> Tensor:
    """Training noise levels: ln(sigma) ~ N(p_mean, p_std^2) (EDM's defaults, median 0.30).

    Args:
        shape: the shape to draw, e.g. `(models, batch)`.
        generator: source of randomness; its device is used when `device` is None.
        p_mean, p_std: mean and standard deviation of ln(sigma).
        device: where to draw (default: the generator's device, else the CPU).

    Returns:
        `shape` float, positive.

    Examples:
        >>> sample_training_sigmas((4, 256), torch.Generator().manual_seed(0)).shape
        torch.Size([4, 256])
    """
    if p_std < 0:
        raise ValueError(f"p_std={p_std}: must be >= 0")
    if device is None and generator is not None:
        device = generator.device
    return (p_mean + p_std * torch.randn(shape, generator=generator, device=device)).exp()


def sigma_schedule(
    steps: int = 18,
    sigma_min: float = 0.002,
    sigma_max: float | Tensor = 80.0,
    rho: float = 7.0,
    device: torch.device | str | None = None,
) -> Tensor:
    """Karras et al.'s sampling schedule: `steps` levels from sigma_max to sigma_min, then 0.

    sigma_i = (sigma_max^(1/rho) + i / (steps - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho
    for i < steps, sigma_steps = 0. A tensor `sigma_max` `[...]` gives one schedule per entry, so
    a sampler can start samples at different noise levels and run them in lockstep; where
    sigma_max < sigma_min, sigma_min is lowered to sigma_max (the schedule stays flat, then 0).

    Args:
        steps: number of sampler steps (denoiser calls: 2 steps - 1 for Heun).
        sigma_min: the last nonzero level.
        sigma_max: the first level, a float or a tensor `[...]` of levels >= 0.
        rho: curvature; larger rho spends more steps at low noise.
        device: where to build a float schedule (a tensor `sigma_max` keeps its own device).

    Returns:
        `[steps + 1]`, or `[steps + 1, ...]` for a tensor `sigma_max`; decreasing, last entry 0.

    Examples:
        >>> sigma_schedule(4, sigma_min=0.01, sigma_max=10.0)
        tensor([10.0000,  1.9361,  0.2257,  0.0100,  0.0000])
        >>> sigma_schedule(4, sigma_max=torch.tensor([1.0, 0.1])).shape
        torch.Size([5, 2])
    """
    if steps < 1:
        raise ValueError(f"steps={steps}: need at least 1")
    if not sigma_min > 0:
        raise ValueError(f"sigma_min={sigma_min}: must be > 0")
    if not rho > 0:
        raise ValueError(f"rho={rho}: must be > 0")
    top = _as_float(sigma_max)
    top = top if isinstance(sigma_max, Tensor) else top.to(device)
    if bool((top < 0).any()) or bool(top.isnan().any()):
        raise ValueError(f"sigma_max={sigma_max}: must be >= 0")
    bottom = top.clamp(max=sigma_min)
    ramp = torch.linspace(0, 1, steps, device=top.device, dtype=top.dtype)
    ramp = ramp.reshape(steps, *[1] * top.dim())
    a, b = top ** (1 / rho), bottom ** (1 / rho)
    levels = (a + ramp * (b - a)) ** rho
    return torch.cat([levels, torch.zeros_like(levels[:1])])


def _randn(
    shape: tuple[int, ...] | torch.Size,
    generator: torch.Generator | None,
    device: torch.device | str | None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Standard normal noise drawn on the generator's device (or `device` without one), then
    moved to `device`: a CPU generator serves a CUDA model, and a seed means the same noise."""
    drawn_on = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=drawn_on, dtype=dtype).to(device)


def _as_float(value: Tensor | float) -> Tensor:
    """A float tensor (numbers and integer tensors in the default float dtype)."""
    value = torch.as_tensor(value)
    return value if value.is_floating_point() else value.to(torch.get_default_dtype())


def _col(t: Tensor) -> Tensor:
    """A level `[]` or `[..., batch]` as a column that broadcasts against x `[..., batch, d]`."""
    return t[..., None]


def _slope(x: Tensor, denoised: Tensor, t: Tensor) -> Tensor:
    """dx/dsigma = (x - D(x; t)) / t, finite where t = 0 (there the step length is 0)."""
    return (x - denoised) / _col(torch.where(t > 0, t, torch.ones_like(t)))


def _check_sigmas(sigmas: Tensor, x: Tensor) -> Tensor:
    """Validate a schedule `[steps + 1]` or `[steps + 1, ..., batch]` against x, in x's dtype."""
    if not x.is_floating_point():
        raise ValueError(f"x has dtype {x.dtype}: samplers need a float tensor [..., batch, d]")
    if sigmas.dim() < 1 or sigmas.shape[0] < 2:
        raise ValueError(
            f"sigmas of shape {tuple(sigmas.shape)}: need [steps + 1] or [steps + 1, ..., batch] "
            "with steps >= 1 (see sigma_schedule)"
        )
    per_sample = sigmas.shape[1:]
    try:
        fits = torch.broadcast_shapes(per_sample, x.shape[:-1]) == x.shape[:-1]
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"sigmas of shape {tuple(sigmas.shape)} do not broadcast to x's "
            f"[..., batch] = {tuple(x.shape[:-1])}; pass [steps + 1] or [steps + 1, ..., batch]"
        )
    return sigmas.to(x.dtype)


@torch.no_grad()
def heun_sample(
    denoiser: Denoiser, x: Float[Tensor, "*batch d"], sigmas: Float[Tensor, " levels *schedule"]
) -> Float[Tensor, "*batch d"]:
    """Deterministic EDM sampler (Karras et al. 2022, Algorithm 1): Heun's method on the
    probability-flow ODE, Euler on the last step (to sigma = 0, where the slope is undefined).

    Args:
        denoiser: `D(x, sigma)`, see the module docstring.
        x: `[..., batch, d]` float, already at noise level `sigmas[0]` (e.g. data + sigma * noise).
        sigmas: `[steps + 1]` decreasing to 0 (`sigma_schedule`), or `[steps + 1, ..., batch]`,
            one schedule per sample, run in lockstep. A sample whose schedule is all 0 is
            returned unchanged.

    Returns:
        `[..., batch, d]` the samples at sigma = 0 (2 steps - 1 denoiser calls).

    Examples:
        >>> D = EmpiricalDenoiser(torch.tensor([[0.5, -0.5]]))          # one training point
        >>> heun_sample(D, 80 * torch.randn(3, 2), sigma_schedule(18))   # every start -> it
        tensor([[ 0.5000, -0.5000],
                [ 0.5000, -0.5000],
                [ 0.5000, -0.5000]])
    """
    sigmas = _check_sigmas(sigmas, x)
    for i in range(sigmas.shape[0] - 1):
        x = heun_step(denoiser, x, sigmas[i], sigmas[i + 1])
    return x


@torch.no_grad()
def heun_step(denoiser: Denoiser, x: Tensor, t: Tensor, t_next: Tensor) -> Tensor:
    """One step of the probability-flow ODE from level t to t_next: Heun's method (second
    order) where t_next > 0, Euler where t_next = 0 (the slope is undefined there); a sample at
    t = 0 stays put.

    Args:
        denoiser: `D(x, sigma)`, see the module docstring.
        x: `[..., batch, d]` at level t.
        t, t_next: levels, scalars or `[..., batch]` (one pair per sample).

    Returns:
        `[..., batch, d]` at level t_next (one or two denoiser calls).

    Examples:
        >>> D = EmpiricalDenoiser(torch.tensor([[0.5, -0.5]]))    # one point: D(x; s) = it
        >>> heun_step(D, torch.tensor([[2.5, 1.5]]), torch.tensor(2.0), torch.tensor(1.0))
        tensor([[1.5000, 0.5000]])
    """
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    t_next = torch.as_tensor(t_next, dtype=x.dtype, device=x.device)
    d_cur = _slope(x, denoiser(x, t), t)
    x_next = x + _col(t_next - t) * d_cur
    if bool((t_next > 0).any()):
        d_next = _slope(x_next, denoiser(x_next, t_next), t_next)
        heun = x + _col(t_next - t) * (d_cur + d_next) / 2
        x_next = torch.where(_col(t_next > 0), heun, x_next)
    return torch.where(_col(t > 0), x_next, x)  # samples already at 0 stay put


@torch.no_grad()
def stochastic_sample(
    denoiser: Denoiser,
    x: Float[Tensor, "*batch d"],
    sigmas: Float[Tensor, " levels *schedule"],
    churn: float = 40.0,
    noise: float = 1.003,
    generator: torch.Generator | None = None,
    churn_min: float = 0.05,
    churn_max: float = 50.0,
) -> Float[Tensor, "*batch d"]:
    """Stochastic EDM sampler (Karras et al. 2022, Algorithm 2): before each Heun step, raise the
    noise level from t to t_hat = (1 + gamma) t by adding fresh noise, then step to t_next.

    gamma = min(churn / steps, sqrt(2) - 1) where churn_min <= t <= churn_max, else 0. The
    defaults are Karras et al.'s ImageNet-64 settings; churn = 0 gives `heun_sample` exactly.

    Args:
        denoiser: `D(x, sigma)`, see the module docstring.
        x: `[..., batch, d]` float at noise level `sigmas[0]`.
        sigmas: `[steps + 1]` or `[steps + 1, ..., batch]`, as for `heun_sample`.
        churn: total amount of added noise (S_churn).
        noise: scale of the added noise (S_noise; slightly above 1 offsets the denoiser's
            tendency to remove a little too much).
        generator: source of the added noise (on any device: drawn there, then moved to x's);
            same seed, same samples.
        churn_min, churn_max: the range of levels where noise is added (S_tmin, S_tmax).

    Returns:
        `[..., batch, d]` the samples at sigma = 0.

    Examples:
        >>> data = torch.tensor([[0.5, -0.5, 0.5], [-0.5, -0.5, 0.5]])   # N=2 strings, d=3
        >>> D = EmpiricalDenoiser(data)
        >>> g = torch.Generator().manual_seed(0)
        >>> x = 80 * torch.randn(64, 3, generator=g)
        >>> x0 = stochastic_sample(D, x, sigma_schedule(18), generator=g)
        >>> ((x0 > 0)[:, None] == (data > 0)).all(-1).sum(0)         # copies of each string
        tensor([31, 33])
    """
    if churn < 0 or noise < 0:
        raise ValueError(f"churn={churn}, noise={noise}: both must be >= 0")
    sigmas = _check_sigmas(sigmas, x)
    steps = sigmas.shape[0] - 1
    gamma_max = min(churn / steps, math.sqrt(2) - 1)
    for i in range(steps):
        t, t_next = sigmas[i], sigmas[i + 1]
        gamma = torch.where((t >= churn_min) & (t <= churn_max), gamma_max, 0.0).to(t.dtype)
        t_hat = t * (1 + gamma)
        eps = _randn(x.shape, generator, x.device, x.dtype)
        x_hat = x + _col((t_hat**2 - t**2).sqrt()) * noise * eps
        d_cur = _slope(x_hat, denoiser(x_hat, t_hat), t_hat)
        x_next = x_hat + _col(t_next - t_hat) * d_cur
        if i < steps - 1:
            d_next = _slope(x_next, denoiser(x_next, t_next), t_next)
            x_next = x_hat + _col(t_next - t_hat) * (d_cur + d_next) / 2
        x = torch.where(_col(t > 0), x_next, x)
    return x


def sample(
    denoiser: Denoiser,
    shape: tuple[int, ...],
    steps: int = 18,
    generator: torch.Generator | None = None,
    stochastic: bool = False,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    device: torch.device | str | None = None,
    noise: Float[Tensor, "*batch d"] | None = None,
) -> Float[Tensor, "*batch d"]:
    """Draw x ~ N(0, sigma_max^2 I) of `shape` and sample it down to sigma = 0.

    Args:
        denoiser: `D(x, sigma)`, see the module docstring.
        shape: `[..., batch, d]`, e.g. `(models, samples, d)` for an ensemble.
        steps: sampler steps (`sigma_schedule`).
        generator: source of randomness (the start, and the churn when `stochastic`).
        stochastic: use `stochastic_sample` (default settings) instead of `heun_sample`.
        sigma_min, sigma_max, rho: the schedule (`sigma_schedule`).
        device: where to sample (default: the denoiser's device when it has one, else the
            generator's, else the CPU). The generator may live elsewhere (a CPU generator for a
            CUDA model): the noise is drawn on the generator's device and moved, so one seed
            gives the same starts on every device.
        noise: the standard normal start `shape` to use instead of a draw (x = sigma_max
            noise): common noise for several ensembles, e.g. checkpoints stacked as models.

    Returns:
        `shape` float: the samples, signals near {-0.5, +0.5}; `x > 0` gives the bits.

    Examples:
        >>> run = interp.load_run("checkpoints/dit_group2_d16")     # 2 DiTs: N = 16 and 64
        >>> model = run.model()
        >>> x0 = sample(model, (2, 64, 16), generator=torch.Generator().manual_seed(0))
        >>> bits = (x0 > 0).long()                                  # [models, samples, d]
        >>> run.task.valid(bits).sum(-1)                 # valid of 64: both learned the rule
        tensor([63, 63])
        >>> run.task.is_training_sample(bits).sum(-1)    # copies of 64: N = 16 memorizes more
        tensor([45, 12])
    """
    if device is None:
        device = getattr(denoiser, "device", None)
    if device is None and generator is not None:
        device = generator.device
    sigmas = sigma_schedule(steps, sigma_min, sigma_max, rho, device=device)
    if noise is not None and tuple(noise.shape) != tuple(shape):
        raise ValueError(f"noise of shape {tuple(noise.shape)}: need shape {tuple(shape)}")
    x = sigma_max * (_randn(shape, generator, device) if noise is None else noise.to(device))
    if stochastic:
        return stochastic_sample(denoiser, x, sigmas, generator=generator)
    return heun_sample(denoiser, x, sigmas)


@dataclass
class EmpiricalDenoiser:
    """The optimal denoiser of a finite dataset: the posterior mean of the training point given
    its noisy version, D(x; s) = sum_i x_i softmax_i(-||x - x_i||^2 / (2 s^2)).

    It is the minimizer of the denoising loss on the training set, so a network that reaches
    it memorizes: its probability-flow ODE carries every start onto a training point.
    Computed with a running (streaming) softmax over chunks of the data, shifted by the nearest
    distance, so it is exact, stable at any sigma (s = 0 gives the nearest point, ties averaged)
    and holds at most `max_elements` distances at once.

    Attributes:
        data: `[N, d]` training signals shared by every sample, or `[models, N, d]` one dataset
            per model (then x must be `[..., models, batch, d]`).
        mask: `data.shape[:-1]` bool, the rows that count (False for padding rows of models with
            fewer than N points); None keeps every row.
        max_elements: the largest number of distances `[..., batch, chunk]` held at once.

    Examples:
        >>> D = EmpiricalDenoiser(torch.tensor([[0.5, 0.5], [-0.5, -0.5]]))
        >>> D(torch.tensor([[0.4, 0.3]]), 0.01)       # small sigma: the nearest point
        tensor([[0.5000, 0.5000]])
        >>> D(torch.tensor([[0.4, 0.3]]), 1e4)        # huge sigma: the mean
        tensor([[0., 0.]])
    """

    data: Tensor
    mask: Tensor | None = None
    max_elements: int = 2**24

    def __post_init__(self) -> None:
        if self.data.dim() not in (2, 3) or not self.data.is_floating_point():
            raise ValueError(
                f"data of shape {tuple(self.data.shape)} and dtype {self.data.dtype}: "
                "need float [N, d] or [models, N, d]"
            )
        if self.data.shape[-2] == 0:
            raise ValueError("data has no rows: need at least one training point")
        if self.mask is not None:
            if self.mask.shape != self.data.shape[:-1] or self.mask.dtype != torch.bool:
                raise ValueError(
                    f"mask of shape {tuple(self.mask.shape)} and dtype {self.mask.dtype}: "
                    f"need bool {tuple(self.data.shape[:-1])} (data.shape[:-1])"
                )
            if not bool(self.mask.any(-1).all()):
                raise ValueError("mask keeps no row for some model: each needs a training point")
        if self.max_elements < 1:
            raise ValueError(f"max_elements={self.max_elements}: must be >= 1")

    @property
    def models(self) -> int | None:
        """The number of per-model datasets, None when the data is shared."""
        return self.data.shape[0] if self.data.dim() == 3 else None

    @property
    def device(self) -> torch.device:
        """Where the data lives: where `sample` and the basins draw and run."""
        return self.data.device

    def to(self, device: torch.device | str) -> EmpiricalDenoiser:
        """The same denoiser with its data (and mask) on `device`."""
        mask = None if self.mask is None else self.mask.to(device)
        return replace(self, data=self.data.to(device), mask=mask)

    def __call__(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        """Denoise x `[..., batch, d]` (`[..., models, batch, d]` for per-model data) at levels
        `sigma` broadcastable to `[..., batch]`; returns `[..., batch, d]` in x's dtype."""
        d = self.data.shape[-1]
        if not x.is_floating_point() or x.dim() < 2 or x.shape[-1] != d:
            raise ValueError(f"x of shape {tuple(x.shape)}: need float [..., batch, {d}]")
        if self.models is not None and (x.dim() < 3 or x.shape[-3] != self.models):
            raise ValueError(
                f"x of shape {tuple(x.shape)}: per-model data needs [..., {self.models}, batch, d]"
            )
        lead = x.shape[:-1]
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        try:
            sigma = sigma.broadcast_to(lead)
        except RuntimeError:
            raise ValueError(
                f"sigma of shape {tuple(sigma.shape)} does not broadcast to [..., batch] = "
                f"{tuple(lead)}"
            ) from None
        # 1 / (2 s^2), finite at s = 0 so that the nearest row (shifted distance 0) keeps weight 1.
        inv_temp = (2 * sigma**2).clamp_min(torch.finfo(x.dtype).tiny).reciprocal()[..., None]
        data = self.data.to(x.dtype)
        n_rows = data.shape[-2]
        chunk = max(1, self.max_elements // max(1, math.prod(lead)))
        x_sq = (x * x).sum(-1, keepdim=True)
        nearest = torch.full_like(x_sq, math.inf)  # running min distance, [..., batch, 1]
        total = torch.zeros_like(x_sq)  # running sum of weights relative to `nearest`
        acc = torch.zeros_like(x)  # running weighted sum of rows
        for start in range(0, n_rows, chunk):
            part = data[..., start : start + chunk, :]  # [(models,) n, d]
            dist = (x_sq - 2 * x @ part.mT + (part * part).sum(-1)[..., None, :]).clamp_min(0)
            if self.mask is not None:
                keep = self.mask[..., None, start : start + chunk]
                dist = dist.masked_fill(~keep, math.inf)
            new_nearest = torch.minimum(nearest, dist.amin(-1, keepdim=True))
            # inf - inf (nothing unmasked yet) is nan: the rescaled sums are 0 there anyway.
            shift = torch.nan_to_num(nearest - new_nearest, nan=0.0, posinf=math.inf)
            rescale = torch.exp(-shift * inv_temp)
            gap = torch.nan_to_num(dist - new_nearest, nan=math.inf, posinf=math.inf)
            weights = torch.exp(-gap * inv_temp)  # [..., batch, n], 1 at the nearest row
            total = total * rescale + weights.sum(-1, keepdim=True)
            acc = acc * rescale + weights @ part
            nearest = new_nearest
        return acc / total
