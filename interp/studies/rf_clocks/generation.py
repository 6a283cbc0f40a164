"""f_mem over training for a diffusion model on continuous data: the memorization clock as the
fraction of generated samples that copy a training point (d1 / d2 < 1/3, Bonnaire et al. 2025),
with the energy distance of the samples to fresh data beside it (0 for the data distribution).

A run to read is a `DiT` trained on a mixture task, e.g.
`interp.train(interp.DiT(interp.DiTConfig(d=8, sigma_data=1.0, models=3)),
interp.tasks.mixtures.mixture_task(d=8, n=[16, 64, 256]), interp.TrainConfig(loss="edm",
save_log=8), out=...)`.

Examples:
    >>> from interp.tasks.mixtures import mixture_task
    >>> task = mixture_task(d=2, n=[4, 16], seed=0, n_test=256)
    >>> model = interp.DiT(interp.DiTConfig(d=2, d_model=16, n_layers=1, models=2,
    ...                                     sigma_data=1.0))
    >>> _ = interp.train(model, task, interp.TrainConfig(steps=4, loss="edm", save_log=3),
    ...                  out=tmp / "run", progress=False)
    >>> steps, curve = fmem_curve(interp.load_run(tmp / "run"), samples=64)
    >>> steps, sorted(curve)
    ([0, 1, 2, 4], ['energy_distance', 'f_mem', 'f_mem_se'])
    >>> curve["f_mem"].shape                                     # [steps, models]
    torch.Size([4, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from interp.core.device import resolve_device
from interp.core.runs import CheckpointError, Run, load_run
from interp.diffusion import energy_distance, memorized_fraction, sample

__all__ = ["fmem_curve"]


@torch.no_grad()
def fmem_curve(
    run: Run | str | Path,
    samples: int = 512,
    steps: Sequence[int] | None = None,
    seed: int = 0,
    sampler_steps: int = 18,
    device: str | torch.device = "auto",
) -> tuple[list[int], dict[str, Tensor]]:
    """Sample every saved checkpoint of a DiT run on a mixture task (Heun, the same noise at
    every step) and measure memorization and quality.

    Args:
        run: a run folder or `Run`.
        samples: samples per model per checkpoint.
        steps: saved steps to use (default: all).
        seed: the sampling seed.
        sampler_steps: Heun steps.
        device: where to sample ("auto": CUDA when present).

    Returns:
        `(steps, curve)`: "f_mem" and its bootstrap "f_mem_se" against each model's own
        training points, and "energy_distance" to the task's test points, each `[steps, models]`.
    """
    run = run if isinstance(run, Run) else load_run(run)
    if run.kind != "dit" or run.config.get("task", {}).get("kind") != "mixture":
        raise CheckpointError(f"{run.path}: need a DiT trained on a mixture task")
    steps = run.saved(steps)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples={samples!r} must be an integer >= 1")
    device = resolve_device(device)
    task = run.task.to(device)
    rows: dict[str, list[Tensor]] = {"f_mem": [], "f_mem_se": [], "energy_distance": []}
    for step in tqdm(steps, desc="f_mem", unit="ckpt", leave=False):
        model = run.model(step, device=device)
        gen = torch.Generator().manual_seed(seed)
        x = sample(model, (model.cfg.models, samples, model.cfg.d), sampler_steps, gen)
        fits = [memorized_fraction(x[m], task.data[m][task.mask[m]]) for m in range(len(x))]
        rows["f_mem"].append(torch.stack([f for f, _ in fits]))
        rows["f_mem_se"].append(torch.stack([se for _, se in fits]))
        rows["energy_distance"].append(energy_distance(x, task.test))
    return steps, {k: torch.stack(v).cpu() for k, v in rows.items()}
