"""Train generative models on rule tasks, into the core's run format, and read them back over time.

A diffusion transformer ensemble (`DiT`, EDM loss) trains every model on its own training strings
in one batched loop, like the MLP ensembles of `interp.train`; a tiny GPT (one TransformerLens
bridge, next-bit cross-entropy) trains one model per run. Both save log-spaced checkpoints
(`TrainConfig.save_log`) into a run folder that `interp.load_run` reads back, and
`generation_curve` measures every checkpoint: the fraction of generated strings that are
rule-valid, that copy a training string, and that are valid and new (`interp.measure_clocks`
turns that into tau_rule, tau_mem and the innovation window).

Each step's minibatch and noise come from (model seed, step) alone, so an ensemble trains as its
models would alone and a resumed run ends where an uninterrupted one would.

Example:
    >>> task = interp.rule_task("parity", d=12, N=[16, 32, 64, 128], seed=0)
    >>> cfg = interp.DiTConfig(d=12, d_model=64, models=4, seed=0)
    >>> train = interp.TrainConfig(steps=4000, lr=3e-3, loss="edm", batch_size=128, save_log=30)
    >>> interp.train_generative(cfg, task, train, out="runs/parity_N")
    >>> steps, stats = interp.generation_curve("runs/parity_N", samples=512)
    >>> print(interp.measure_clocks(stats, steps))       # tau_rule, tau_mem per model
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from interp.checkpoints import CheckpointError, Run, load_run, new_run
from interp.clocks import GenerationStats, generation_stats
from interp.device import resolve_device
from interp.diffusion import edm_example_loss, generate, sample_training_sigmas
from interp.models.dit import DiT, DiTConfig
from interp.models.gpt import GPTConfig, build_gpt, gpt_log_prob, sample_gpt
from interp.tasks.rules import RuleTask, to_bits, to_signal
from interp.training import (
    BatchedOptimizer,
    TrainConfig,
    TrainResult,
    _checkpoint,
    _progress,
    resume_state,
)

__all__ = [
    "train_generative",
    "resume_generative",
    "generate_bits",
    "generation_curve",
    "GENERATIVE_LOSSES",
]

# model kind -> the loss it trains with
GENERATIVE_LOSSES = {"dit": "edm", "gpt": "ce"}
DEFAULT_BATCH = 256  # strings per model per step when TrainConfig.batch_size is None


def _kind(model_cfg: DiTConfig | GPTConfig) -> str:
    if isinstance(model_cfg, DiTConfig):
        return "dit"
    if isinstance(model_cfg, GPTConfig):
        return "gpt"
    raise TypeError(f"model config must be a DiTConfig or GPTConfig; got {type(model_cfg)}")


def _seeds(model: nn.Module, kind: str) -> tuple[int, ...]:
    return tuple(model.cfg.seed) if kind == "dit" else (int(model.cfg.seed),)


def _generators(seeds: Sequence[int], step: int) -> list[torch.Generator]:
    """One generator per model, seeded from (model seed, step): the step's randomness."""
    return [torch.Generator().manual_seed(s * 1_000_003 + step) for s in seeds]


def _step_loss(model: nn.Module, kind: str, task: RuleTask, step: int, size: int) -> Tensor:
    """`[models]` each model's loss on its own minibatch of `size` training strings, drawn with
    replacement, with (for the DiT) its own noise levels and noise."""
    gens = _generators(_seeds(model, kind), step)
    device = task.data.device
    n = task.mask.sum(1).cpu()
    rows = torch.stack([torch.randint(int(n[m]), (size,), generator=g) for m, g in enumerate(gens)])
    bits = torch.gather(task.data, 1, rows.to(device)[..., None].expand(-1, -1, task.d))
    if kind == "gpt":
        return -gpt_log_prob(model, bits[0]).mean()[None] / task.d
    sigma = torch.stack([sample_training_sigmas((size,), g) for g in gens]).to(device)
    noise = torch.stack([torch.randn(size, task.d, generator=g) for g in gens]).to(device)
    loss = edm_example_loss(model, to_signal(bits), sigma, noise, model.cfg.sigma_data)
    return loss.mean(-1)


def _check(kind: str, model_cfg: DiTConfig | GPTConfig, task: RuleTask, cfg: TrainConfig) -> None:
    if model_cfg.d != task.d:
        raise ValueError(f"model d={model_cfg.d} but the task's strings have d={task.d}")
    models = model_cfg.models if kind == "dit" else 1
    if models != task.models:
        what = "a GPT run trains one model" if kind == "gpt" else f"the model has {models} models"
        raise ValueError(f"{what} but the task has {task.models}")
    if cfg.loss != GENERATIVE_LOSSES[kind]:
        raise ValueError(f"loss {cfg.loss!r}: a {kind} trains with {GENERATIVE_LOSSES[kind]!r}")
    if cfg.optimizer != "adamw":
        raise ValueError(f"optimizer {cfg.optimizer!r}: generative training uses 'adamw'")
    cfg.per_model("lr", models), cfg.per_model("weight_decay", models)


def train_generative(
    model_cfg: DiTConfig | GPTConfig,
    task: RuleTask,
    config: TrainConfig,
    out: str | Path | None = None,
    device: str | torch.device = "auto",
    progress: bool = True,
    command: str | None = None,
) -> TrainResult:
    """Build a generative model from its config and train it on the task's training strings.

    Args:
        model_cfg: a `DiTConfig` (an ensemble with `models == task.models`) or a `GPTConfig`
            (one model; the task must have one model).
        task: the rule task; model m trains on `task.train_set(m)`.
        config: `loss` "edm" for a DiT, "ce" for a GPT; AdamW with per-model `lr` and
            `weight_decay`; `batch_size` strings per model per step, drawn with replacement
            (None: 256); `log_every` logs the step's loss; `save_log` / `save_every` checkpoints.
        out: a new run folder (config.json, step files, metrics, resume state), or None.
        device: "auto" (CUDA when present), "cpu", "cuda", ...
        progress: show a progress bar.
        command: the command line that made the run, stored in its config.

    Returns:
        `TrainResult`: the trained model, metrics (`step` `[T]`, `train_loss` `[T, models]`)
        and the run folder.

    Example:
        >>> cfg = interp.TrainConfig(steps=2000, lr=3e-3, loss="edm", save_log=20)
        >>> interp.train_generative(interp.DiTConfig(d=8, models=2), task, cfg, out="runs/dit")
    """
    kind = _kind(model_cfg)
    _check(kind, model_cfg, task, config)
    device = resolve_device(device)
    model = DiT(model_cfg, device) if kind == "dit" else build_gpt(model_cfg, device)
    run = None
    if out is not None:
        run = new_run(
            out,
            {
                "command": command,
                "task": {"kind": "rules", **task.config.to_dict()},
                "model": {"kind": kind, **model_cfg.to_dict()},
                "train": config.to_dict(),
            },
        )
    return _loop(model, kind, task, config, run, device, progress, start=0)


def resume_generative(
    run: Run | str | Path, device: str | torch.device = "auto", progress: bool = True
) -> TrainResult:
    """Continue an interrupted generative run from its last checkpoint (`interp.resume` calls
    this for rule-task runs); it ends where the uninterrupted run would have."""
    run = run if isinstance(run, Run) else load_run(run)
    device = resolve_device(device)
    start, model, optim_state, metrics = resume_state(run, device)
    config = TrainConfig.from_dict(run.config["train"])
    kind = run.config["model"]["kind"]
    return _loop(
        model, kind, run.task, config, run.path, device, progress, start, optim_state, metrics
    )


def _loop(
    model: nn.Module,
    kind: str,
    task: RuleTask,
    cfg: TrainConfig,
    run: Path | None,
    device: torch.device,
    progress: bool,
    start: int,
    optim_state: dict[str, Tensor] | None = None,
    metrics: dict[str, Tensor] | None = None,
) -> TrainResult:
    model.train()  # built on `device` by the caller
    task = task.to(device)
    params = dict(model.named_parameters())
    # A bridge is one model: give its parameters a models axis of 1 for the batched optimizer.
    flat = params if kind == "dit" else {k: v[None] for k, v in params.items()}
    opt = BatchedOptimizer(flat, cfg, task.models)
    if optim_state is not None:
        opt.step_count = start
        for k, v in optim_state.items():
            opt.state[k].copy_(v)
    size = cfg.batch_size or DEFAULT_BATCH
    history: dict[str, list[Tensor]] = {k: list(v) for k, v in (metrics or {}).items()}
    for step, saving, bar in _progress(cfg, run is not None, start, progress, desc=kind):
        loss = _step_loss(model, kind, task, step, size)
        if step % cfg.log_every == 0 or step == cfg.steps:
            history.setdefault("step", []).append(torch.tensor(step))
            history.setdefault("train_loss", []).append(loss.detach().cpu())
            bar.set_postfix(loss=f"{loss.mean():.3f}")
        if saving and not (optim_state is not None and step == start):
            _checkpoint(run, step, model, task, opt, history)
        if step == cfg.steps:
            break
        for p in params.values():
            p.grad = None
        loss.sum().backward()
        if kind == "gpt":
            for name, p in flat.items():
                p.grad = params[name].grad[None]
        opt.step()
    model.eval()
    return TrainResult(model, {k: torch.stack(v) for k, v in history.items()}, run)


@torch.no_grad()
def generate_bits(
    model: nn.Module, samples: int, generator: torch.Generator | None = None, steps: int = 18
) -> Tensor:
    """`samples` strings from each model: `[models, samples, d]` long bits.

    A `DiT` samples with the deterministic Heun sampler from Gaussian noise (`steps` steps) and
    rounds; a GPT bridge samples bit by bit (models axis of 1).

    Example:
        >>> bits = generate_bits(run.model(), 512, torch.Generator().manual_seed(0))
        >>> run.task.valid(bits).float().mean(1)          # [models] valid fraction
    """
    if isinstance(model, DiT):
        shape = (model.cfg.models, samples, model.cfg.d)
        return to_bits(generate(model, shape, steps=steps, generator=generator))
    return sample_gpt(model, samples, generator=generator).long()[None]


def generation_curve(
    run: Run | str | Path,
    samples: int = 512,
    steps: Sequence[int] | None = None,
    seed: int = 0,
    sampler_steps: int = 18,
) -> tuple[list[int], GenerationStats]:
    """Generate from every saved checkpoint of a rule-task run and score the strings.

    Args:
        run: a run folder or `Run` trained by `train_generative`.
        samples: strings per model per checkpoint.
        steps: saved steps to use (default: all).
        seed: the sampling seed, the same at every step so steps differ only by the weights.
        sampler_steps: Heun steps for a DiT.

    Returns:
        `(steps, stats)`: `GenerationStats` with fields `[steps, models]` (valid, memorized,
        novel_valid fractions); feed it to `interp.measure_clocks(stats, steps)`.

    Example:
        >>> steps, stats = generation_curve("runs/parity_N")
        >>> stats.memorized[:, 0]                         # copies of training strings, model 0
    """
    run = run if isinstance(run, Run) else load_run(run)
    if run.config.get("task", {}).get("kind") != "rules":
        raise CheckpointError(f"{run.path}: not a rule-task run")
    steps = list(run.steps if steps is None else steps)
    unsaved = [s for s in steps if s not in run.steps]
    if unsaved:  # before any progress bar starts
        raise ValueError(f"step {unsaved[0]} is not saved in {run.path}; saved steps: {run.steps}")
    if not steps:
        raise CheckpointError(f"{run.path}: no saved steps to sample from")
    task = run.task
    rows = []
    for step in tqdm(steps, desc="generate", unit="ckpt", leave=False):
        gen = torch.Generator().manual_seed(seed)
        bits = generate_bits(run.model(step), samples, gen, sampler_steps)
        rows.append(generation_stats(bits, task.valid, task.data, task.mask))
    return steps, GenerationStats.stack(rows)
