"""Score basins: how far from a target string the probability-flow sampler still returns to it.

Start the deterministic Heun sampler at target + sigma n (n ~ N(0, I)) with a schedule from sigma
down to 0, and count a return when the sample's bits equal the target's exactly. The return rate
as a function of sigma traces the target's basin of attraction; its radius is the largest sigma
up to which the target keeps coming back. A memorizing denoiser carves a basin around every
training string and none around unseen valid ones; a generalizing one gives valid strings basins
whether or not they were seen. Targets x sigmas x repeats run as one batch (per-sample schedules).

Examples:
    The exact optimum of the denoising loss on 32 parity strings: a perfect memorizer:
    >>> task = interp.rule_task("parity", d=10, N=32, seed=0)
    >>> D = EmpiricalDenoiser(to_signal(task.train_set(0)))      # [N, d], bits - 0.5
    >>> targets = basin_targets(task, n=8)                        # 8 seen, 8 unseen valid
    >>> signals = to_signal(torch.cat([targets["training"][0], targets["novel"][0]]))
    >>> sigmas = torch.logspace(-2, 0.5, 12)
    >>> r = measure_basins(D, signals, sigmas, generator=torch.Generator().manual_seed(0))
    >>> r.radius.view(2, 8)                                      # > 0 seen, 0 unseen
    tensor([[0.3899, 0.6579, 0.6579, 0.6579, 0.3899, 0.3899, 0.6579, 0.6579],
            [0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000]])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from interp.core.device import resolve_device
from interp.core.runs import CheckpointError, Run, load_run
from interp.diffusion import Denoiser, EmpiricalDenoiser, heun_sample, sigma_schedule
from interp.studies.clocks.denoisers import ParityDenoiser
from interp.tasks.bitrules import sample_valid, to_signal
from interp.tasks.rules import RuleTask

__all__ = [
    "BasinResult",
    "basin_returns",
    "basin_radius",
    "measure_basins",
    "basin_targets",
    "basin_curve",
    "empirical_basins",
    "population_basins",
    "DEFAULT_SIGMAS",
]


@dataclass
class BasinResult:
    """Return rates and basin radii of a set of targets.

    Attributes:
        returns: `[..., T, K]` the fraction of starts at noise `sigmas[k]` that came back to
            target t (leading `models` axis when the targets have one).
        sigmas: `[K]` the starting noise levels.
        radius: `[..., T]` the basin radius (`basin_radius`), 0 where there is no basin.
        level: the return rate that counts as coming back.
    """

    returns: Tensor
    sigmas: Tensor
    radius: Tensor
    level: float


def _check_sigmas(sigmas: Tensor) -> None:
    if sigmas.dim() != 1 or len(sigmas) == 0 or bool((sigmas < 0).any()):
        raise ValueError(f"sigmas of shape {tuple(sigmas.shape)}: need [K] levels >= 0, K >= 1")


@torch.no_grad()
def basin_returns(
    denoiser: Denoiser,
    targets: Float[Tensor, "*models targets d"],
    sigmas: Float[Tensor, " levels"],
    repeats: int = 16,
    steps: int = 18,
    generator: torch.Generator | None = None,
    sigma_min: float = 0.002,
    rho: float = 7.0,
) -> Float[Tensor, "*models targets levels"]:
    """How often the deterministic sampler, started at target + sigma n, returns to the target.

    All T x K x R starts run in one `heun_sample` call, each with its own schedule from its
    sigma down to 0 (`sigma_schedule` with a per-sample sigma_max, same `steps` for all). The
    noise n `[T, K, R, d]` is drawn once and shared by every model, so checkpoints or models
    compared along a models axis see the same starting offsets (common random numbers).

    Args:
        denoiser: `D(x, sigma)` (see `interp.diffusion`); it receives x `[T K R, d]`, or
            `[models, T K R, d]` for per-model targets, and sigma `[T K R]`.
        targets: `[T, d]` signals (bits - 0.5), or `[models, T, d]` per model (for a denoiser
            with a models axis and shared targets, pass `targets.expand(models, T, d)`).
        sigmas: `[K]` starting noise levels >= 0 (at 0 the start is the target itself).
        repeats: R noise draws per target and level.
        steps: sampler steps per start.
        generator: source of the noise (drawn on the generator's device, the CPU by default,
            then moved to the targets': the same seed gives the same starts on any device).
        sigma_min, rho: the schedules (`sigma_schedule`).

    Returns:
        `[..., T, K]` float, the return rate of each target at each level.

    Examples:
        >>> D = EmpiricalDenoiser(torch.tensor([[0.5, 0.5, -0.5, -0.5], [-0.5, 0.5, 0.5, -0.5]]))
        >>> targets = torch.tensor([[0.5, 0.5, -0.5, -0.5], [0.5, -0.5, 0.5, -0.5]])  # seen, not
        >>> gen, sigmas = torch.Generator().manual_seed(0), torch.tensor([0.1, 0.5, 2.0])
        >>> basin_returns(D, targets, sigmas, repeats=32, generator=gen)  # [T, 3]
        tensor([[1.0000, 0.9062, 0.6562],
                [0.0000, 0.0000, 0.0000]])
    """
    if not targets.is_floating_point() or targets.dim() not in (2, 3):
        raise ValueError(
            f"targets of shape {tuple(targets.shape)} and dtype {targets.dtype}: "
            "need float [T, d] or [models, T, d]"
        )
    _check_sigmas(sigmas)
    if repeats < 1:
        raise ValueError(f"repeats={repeats}: must be >= 1")
    n_targets, d = targets.shape[-2:]
    k, sigmas = len(sigmas), sigmas.to(targets.device, targets.dtype)
    drawn_on = generator.device if generator is not None else targets.device
    noise = torch.randn(
        (n_targets, k, repeats, d), generator=generator, device=drawn_on, dtype=targets.dtype
    ).to(targets.device)
    start = targets[..., :, None, None, :] + sigmas[:, None, None] * noise  # [..., T, K, R, d]
    level = sigmas[:, None].expand(n_targets, k, repeats).reshape(-1)  # [T K R]
    schedule = sigma_schedule(steps, sigma_min, level, rho)  # [steps + 1, T K R]
    final = heun_sample(denoiser, start.flatten(-4, -2), schedule)
    final = final.unflatten(-2, (n_targets, k, repeats))
    back = ((final > 0) == (targets > 0)[..., :, None, None, :]).all(-1)  # [..., T, K, R]
    return back.float().mean(-1)


def basin_radius(
    returns: Float[Tensor, "*batch levels"], sigmas: Float[Tensor, " levels"], level: float = 0.5
) -> Float[Tensor, "*batch"]:
    """The largest sigma up to which a target keeps returning at least `level` of the time.

    The radius is sigma_k for the largest k such that the return rate is >= `level` at sigma_k
    *and at every smaller sigma*, and 0 when the smallest sigma already fails. Requiring all
    smaller levels makes the radius a property of a connected basin around the target: a
    return from far away (the sampler landing on the target as one of few attractors) or a
    lucky high estimate past a failing level does not inflate it. It is a lower bound at the
    resolution of the sigma grid.

    Args:
        returns: `[..., K]` return rates (`basin_returns`).
        sigmas: `[K]` the levels of the last axis, in any order.
        level: the return rate that counts as coming back.

    Returns:
        `[...]` the radius, in the units of `sigmas`.

    Examples:
        >>> returns = torch.tensor([1.0, 0.9, 0.6, 0.2, 0.7])     # 0.7 at 1.6: not a basin
        >>> basin_radius(returns, torch.tensor([0.1, 0.2, 0.4, 0.8, 1.6]))
        tensor(0.4000)
    """
    _check_sigmas(sigmas)
    if returns.shape[-1:] != sigmas.shape:
        raise ValueError(
            f"returns of shape {tuple(returns.shape)}: need a last axis of {len(sigmas)} "
            "(one per sigma)"
        )
    ordered, order = sigmas.sort()
    held = (returns[..., order] >= level).long().cumprod(-1)  # 1 while every smaller sigma holds
    count = held.sum(-1)
    radius = ordered.to(returns.dtype)[(count - 1).clamp_min(0)]
    return torch.where(count > 0, radius, torch.zeros_like(radius))


def measure_basins(
    denoiser: Denoiser,
    targets: Float[Tensor, "*models targets d"],
    sigmas: Float[Tensor, " levels"],
    repeats: int = 16,
    level: float = 0.5,
    steps: int = 18,
    generator: torch.Generator | None = None,
) -> BasinResult:
    """`basin_returns` and `basin_radius` together; see them for the arguments.

    Examples:
        >>> D = EmpiricalDenoiser(torch.tensor([[0.5, 0.5, -0.5, -0.5], [-0.5, 0.5, 0.5, -0.5]]))
        >>> targets = torch.tensor([[0.5, 0.5, -0.5, -0.5], [0.5, -0.5, 0.5, -0.5]])  # seen, not
        >>> gen, sigmas = torch.Generator().manual_seed(0), torch.logspace(-2, 0.5, 12)
        >>> r = measure_basins(D, targets, sigmas, generator=gen)
        >>> r.returns.shape, r.radius.shape                           # [T, 12], [T]
        (torch.Size([2, 12]), torch.Size([2]))
        >>> r.radius              # two attractors only: even far starts come back half the time
        tensor([1.8738, 0.0000])
    """
    returns = basin_returns(denoiser, targets, sigmas, repeats, steps, generator)
    return BasinResult(returns, sigmas, basin_radius(returns, sigmas, level), level)


# Default starting noise levels: from a tenth of the gap between two strings' signals (0.1) to
# past it (one bit flip is a distance of 1 in signal space).
DEFAULT_SIGMAS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
# Models (checkpoints x the run's models) sampled in one batched call of `basin_curve`.
CURVE_CHUNK_MODELS = 16


def basin_targets(task: RuleTask, n: int = 16, seed: int = 0) -> dict[str, Tensor]:
    """Per model, `n` of its training strings and `n` rule-valid strings it never saw.

    Args:
        task: a rule task.
        n: targets per group (fewer training ones when a model has fewer strings).
        seed: draws the unseen valid strings.

    Returns:
        `{"training": [models, n', d], "novel": [models, n, d]}` long bits.

    Examples:
        >>> run = interp.load_run("checkpoints/dit_group2_d16")      # 2 models, d = 16
        >>> targets = basin_targets(run.task, n=8)
        >>> {name: tuple(bits.shape) for name, bits in targets.items()}   # [models, n, d]
        {'training': (2, 8, 16), 'novel': (2, 8, 16)}
        >>> bool(run.task.is_training_sample(targets["novel"]).any())
        False
    """
    cfg = task.config
    n_train = min(n, min(task.N))
    novel = []
    gen = torch.Generator().manual_seed(seed)
    for m in range(task.models):
        if task.N[m] >= task.n_valid:
            raise ValueError(f"model {m} trained on every valid string: no unseen target")
        found = torch.empty(0, task.d, dtype=torch.long)
        while len(found) < n:
            draw = sample_valid(cfg.rule, 4 * n, task.d, cfg.group, gen)
            unseen = ~task.select([m]).is_training_sample(draw[None].to(task.data.device))[0]
            found = torch.cat([found, draw[unseen.cpu()]])
        novel.append(found[:n])
    return {"training": task.data[:, :n_train].cpu(), "novel": torch.stack(novel)}


def basin_curve(
    run: Run | str | Path,
    targets: dict[str, Tensor] | None = None,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    repeats: int = 16,
    steps: Sequence[int] | None = None,
    level: float = 0.5,
    seed: int = 0,
    device: str | torch.device = "auto",
    stack: int | None = None,
) -> tuple[list[int], dict[str, Tensor]]:
    """Basin radii of each group of targets at every saved step of a diffusion run.

    Args:
        run: a run folder or `Run` of a `DiT` trained on a rule task.
        targets: group name -> bits `[models, T, d]` (default `basin_targets(run.task)`:
            training strings and unseen valid ones).
        sigmas: the starting noise levels `[K]`.
        repeats: starts per target and level.
        steps: saved steps to use (default: all).
        level: the return rate that counts as a basin.
        seed: the starting noise, the same at every step.
        device: where the sampler runs ("auto": CUDA when present).
        stack: checkpoints run side by side in one batched call (default: 1 on a CPU, where
            one step's starts already overflow the cache, else enough for 16 models); the same
            numbers for any value.

    Returns:
        `(steps, radii)`: group name -> `[steps, models, T]` basin radius of every target (CPU).

    Examples:
        >>> run = interp.load_run("checkpoints/dit_group2_d16")      # N = 16 and 64 strings
        >>> targets = basin_targets(run.task, n=4)
        >>> steps, radii = basin_curve(run, targets, sigmas=(0.1, 0.2, 0.3, 0.5, 0.7),
        ...                            repeats=4, steps=[97, 3000], device="cpu")
        >>> radii["training"].shape                                   # [steps, models, T]
        torch.Size([2, 2, 4])
        >>> radii["training"].mean(-1), radii["novel"].mean(-1)      # [steps, models]
        (tensor([[0.4000, 0.2750],
                [0.7000, 0.5500]]), tensor([[0.3500, 0.2750],
                [0.3500, 0.5000]]))
    """
    run = run if isinstance(run, Run) else load_run(run)
    if run.kind != "dit":
        raise CheckpointError(f"{run.path}: basins need a diffusion (dit) run, not {run.kind!r}")
    device = resolve_device(device)
    targets = basin_targets(run.task, seed=seed) if targets is None else targets
    steps = run.saved(steps)  # before any progress bar starts
    # Checkpoints side by side along the models axis (the same targets and starting noise for
    # every step's models, so the numbers are those of step by step).
    models = run.task.models
    if stack is None:
        stack = 1 if device.type == "cpu" else max(1, CURVE_CHUNK_MODELS // models)
    radii: dict[str, list[Tensor]] = {name: [] for name in targets}
    with tqdm(total=len(steps), desc="basins", unit="ckpt", leave=False) as bar:
        for chunk, model in run.stacked(steps, stack, device):
            tiled = {name: bits.repeat(len(chunk), 1, 1) for name, bits in targets.items()}
            for name, radius in _radii(model, tiled, sigmas, repeats, level, seed).items():
                radii[name].append(radius.cpu().unflatten(0, (len(chunk), models)))
            bar.update(len(chunk))
    return steps, {name: torch.cat(r) for name, r in radii.items()}


def _radii(
    denoiser: Denoiser,
    targets: dict[str, Tensor],
    sigmas: Sequence[float],
    repeats: int,
    level: float,
    seed: int,
) -> dict[str, Tensor]:
    """Group name -> basin radius of each target, every group from the same noise (`seed`, drawn
    on the CPU), on the denoiser's device."""
    device = getattr(denoiser, "device", torch.device("cpu"))
    levels = torch.tensor(sigmas, dtype=torch.float32, device=device)
    radii = {}
    for name, bits in targets.items():
        gen = torch.Generator().manual_seed(seed)
        signal = to_signal(bits.to(device))
        result = measure_basins(denoiser, signal, levels, repeats, level, generator=gen)
        radii[name] = result.radius
    return radii


def empirical_basins(
    task: RuleTask,
    targets: dict[str, Tensor] | None = None,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    repeats: int = 16,
    level: float = 0.5,
    seed: int = 0,
) -> dict[str, Tensor]:
    """Basin radii of the same targets under each model's empirical optimal denoiser: the
    reference a trained checkpoint is compared with (`basin_curve`).

    The empirical denoiser of a model's training strings is the exact minimizer of its
    denoising loss, a network that memorized perfectly: every training string holds a basin
    (about half the distance to its nearest neighbour) and no unseen string holds any, since
    the probability-flow ODE ends on a training string from every start. Same noise draws as
    `basin_curve` with the same `seed`, so the radii compare target by target.

    Args:
        task: the rule task of a run (`run.task`); model m's denoiser holds `task.train_set(m)`.
        targets: group name -> bits `[models, T, d]` (default `basin_targets(task)`).
        sigmas, repeats, level, seed: as in `basin_curve`.

    Returns:
        Group name -> `[models, T]` basin radius of every target.

    Examples:
        >>> run = interp.load_run("checkpoints/dit_group2_d16")
        >>> ref = empirical_basins(run.task, basin_targets(run.task, n=4), repeats=8)
        >>> ref["training"].mean(-1), ref["novel"].mean(-1)          # [models]: > 0, 0
        (tensor([0.8750, 0.7500]), tensor([0., 0.]))
    """
    targets = basin_targets(task, seed=seed) if targets is None else targets
    data = to_signal(task.data.cpu())  # [models, N_max, d]; padding rows masked out
    denoiser = EmpiricalDenoiser(data, mask=task.mask.cpu())
    return _radii(denoiser, targets, sigmas, repeats, level, seed)


def population_basins(
    task: RuleTask,
    targets: dict[str, Tensor] | None = None,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    repeats: int = 16,
    level: float = 0.5,
    seed: int = 0,
) -> dict[str, Tensor]:
    """Basin radii of the same targets under the exact population denoiser of the task's rule
    (`ParityDenoiser`; parity and group parity): the generalizing optimum, which holds the
    same basin around every valid string, seen or not. The other reference, beside
    `empirical_basins` (the memorizing optimum); same noise draws as `basin_curve`.

    Returns:
        Group name -> `[models, T]` basin radius of every target.

    Examples:
        >>> task = interp.rule_task("group_parity", d=8, group=2, N=[4, 8], seed=0)
        >>> ref = population_basins(task, basin_targets(task, n=4), repeats=4)
        >>> bool((ref["training"].mean(-1) - ref["novel"].mean(-1)).abs().max() < 0.1)
        True
    """
    rule = task.config.rule
    if rule not in ("parity", "group_parity"):
        raise ValueError(
            f"the population denoiser is exact for parity and group_parity, not {rule!r}"
        )
    targets = basin_targets(task, seed=seed) if targets is None else targets
    # one denoiser for every model: it broadcasts over the targets' models axis
    return _radii(ParityDenoiser(task.d, task.config.group), targets, sigmas, repeats, level, seed)
