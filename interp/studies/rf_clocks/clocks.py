"""The two times of a score model trained on n points (Bonnaire, Urfin, Biroli, Mezard 2025):
tau_gen, when the loss on fresh data reaches its minimum (the model generalizes), and tau_mem,
when it has risen well above that minimum (the model memorizes its n points). tau_gen does not
depend on n; tau_mem grows with n, so early stopping between the two generalizes.

The thresholds are choices, exposed as parameters (the paper's exact ones are not given):
tau_gen is the first logged step whose test loss is within `gen_tol` of the way from the
initial loss down to the minimum; tau_mem the first logged step after the minimum whose test
loss exceeds (1 + `mem_rise`) times the minimum. Times are in steps; multiply by the learning
rate for the paper's training time.

Examples:
    >>> steps = torch.tensor([0, 10, 20, 50, 100, 200])
    >>> test = torch.tensor([[1.0, 0.845, 0.84, 0.90, 1.10, 1.30]]).T    # [steps, models]
    >>> clocks = score_clocks(test, steps)
    >>> clocks.tau_gen.tolist(), clocks.tau_mem.tolist(), clocks.best_step.tolist()
    ([10], [100], [20])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["ScoreClocks", "score_clocks", "loglog_slope", "denoise", "GEN_TOL", "MEM_RISE"]

GEN_TOL = 0.05  # within 5% of the drop from the initial test loss to its minimum
MEM_RISE = 0.2  # 20% above the minimum (the rise used to measure the anchor numbers)


@dataclass
class ScoreClocks:
    """The two times of each model, `[models]` long each; -1 where a time never came.

    Attributes:
        tau_gen: first step within `gen_tol` of the test-loss minimum.
        tau_mem: first step after the minimum with test loss above (1 + `mem_rise`) x minimum.
        best_step: the step of the minimum (where early stopping would stop).
        best_loss: the minimum test loss `[models]` float.
    """

    tau_gen: Tensor
    tau_mem: Tensor
    best_step: Tensor
    best_loss: Tensor

    def __str__(self) -> str:
        rows = ["model   tau_gen   tau_mem  best step  best test loss"]
        columns = (self.tau_gen.tolist(), self.tau_mem.tolist(), self.best_step.tolist())
        for m, (g, mem, b) in enumerate(zip(*columns)):
            rows.append(f"{m:>5}  {g:>8}  {mem:>8}  {b:>9}  {float(self.best_loss[m]):>14.4f}")
        return "\n".join(rows)


def score_clocks(
    test_loss: Tensor,
    steps: Sequence[int] | Tensor,
    gen_tol: float = GEN_TOL,
    mem_rise: float = MEM_RISE,
) -> ScoreClocks:
    """tau_gen and tau_mem of every model from its test loss over training.

    Args:
        test_loss: `[steps, models]` (a run's `metrics["test_loss"]`).
        steps: `[steps]` the logged steps, increasing.
        gen_tol: tau_gen's tolerance, a fraction of the drop from the first logged loss to the
            minimum (in [0, 1)).
        mem_rise: tau_mem's rise above the minimum, relative (> 0).

    Returns:
        `ScoreClocks`, fields `[models]`, on the CPU.
    """
    loss = torch.as_tensor(test_loss, dtype=torch.float64).cpu()
    steps = torch.as_tensor(steps).cpu()
    if loss.dim() != 2 or len(steps) != loss.shape[0] or len(steps) == 0:
        raise ValueError(
            f"test_loss {tuple(loss.shape)} must be [steps, models] with {len(steps)} steps"
        )
    if not bool(torch.isfinite(loss).all()):
        raise ValueError("test_loss holds NaN or inf")
    if not 0 <= gen_tol < 1 or not (mem_rise > 0 and math.isfinite(mem_rise)):
        raise ValueError(f"gen_tol={gen_tol} must lie in [0, 1) and mem_rise={mem_rise} be > 0")
    best_loss, best = loss.min(0)
    near = loss <= (best_loss + gen_tol * (loss[0] - best_loss))
    after = torch.arange(len(steps))[:, None] > best
    risen = after & (loss > (1 + mem_rise) * best_loss)

    def first(hit: Tensor) -> Tensor:
        index = hit.int().argmax(0)
        return torch.where(hit.any(0), steps[index], torch.full_like(steps[index], -1))

    return ScoreClocks(first(near), first(risen), steps[best], best_loss.float())


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """The slope of log y against log x by least squares, over the pairs with y > 0 (a clock
    at -1 never rang and is left out); nan with fewer than two such pairs.

    Examples:
        >>> loglog_slope([100, 200, 400], [100, 200, 400]), loglog_slope([1, 2, 4], [1, 4, 16])
        (1.0, 2.0)
    """
    pairs = [(math.log(a), math.log(b)) for a, b in zip(x, y) if a > 0 and b > 0]
    if len(pairs) < 2:
        return math.nan
    lx, ly = torch.tensor(pairs, dtype=torch.float64).T
    lx = lx - lx.mean()
    return round(float((lx * (ly - ly.mean())).sum() / (lx * lx).sum()), 10)


@torch.no_grad()
def denoise(
    model: torch.nn.Module, points: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Tweedie's one-step denoising through the model's score at its time t: noise `points`
    `[n, d]` to x_t = a x + sqrt(Delta) eta and return (x_t + Delta s(x_t)) / a `[models, n, d]`.

    A score model trained at one time cannot run the backward process, so its "samples" here
    are its denoisings of fresh noisy points: a memorizing score pulls them onto its training
    points, which `interp.diffusion.memorized_fraction` counts (d1 / d2 < 1/3). The noise is
    drawn on the generator's device (the CPU by default) and moved to the model's.
    """
    from interp.tasks.mixtures import ou_coefficients

    a, delta = ou_coefficients(model.cfg.t)
    device = next(model.parameters()).device
    drawn_on = generator.device if generator is not None else device
    noise = torch.randn(points.shape, generator=generator, device=drawn_on).to(device)
    xt = a * points.to(device) + math.sqrt(delta) * noise
    return (xt + delta * model(xt)) / a
