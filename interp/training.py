"""One batched training loop for an ensemble: every model has its own split, noise draw, seed,
learning rate and weight decay, and all of them step together in one forward/backward pass.

The loss is the sum over models of each model's mean loss on its own training set, so gradients
never mix between models and an ensemble trains exactly as its models would alone.

Example:
    >>> task = interp.modular_task(p=97, noise=0.35, seed=[0, 1])
    >>> model = interp.MLP(interp.MLPConfig(p=97, width=500, models=2))
    >>> cfg = interp.TrainConfig(steps=1000, lr=1e-2, weight_decay=[0.0, 5.0], save_log=8)
    >>> result = interp.train(model, task, cfg, out="runs/doshi")
    >>> result.metrics["test_acc"][-1]           # [models]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from tqdm.auto import tqdm

from interp.checkpoints import (
    STATE,
    CheckpointError,
    Run,
    Task,
    load_run,
    new_run,
    read_tensors,
    write_step,
    write_tensors,
)
from interp.device import resolve_device
from interp.metrics import accuracies, masked_mean
from interp.models.mlp import MLP
from interp.tasks.modular import ModularTask

__all__ = ["TrainConfig", "TrainResult", "train", "resume", "checkpoint_schedule", "METRICS"]

OPTIMIZERS = ("adamw", "sgd")
LOSSES = ("mse", "ce", "edm")
MLP_LOSSES = ("mse", "ce")
METRICS = ("train_loss", "test_loss", "train_clean_acc", "train_noisy_acc", "test_acc")
# On a CPU the ensemble's forward/backward runs a few models at a time, so that one chunk's
# hidden activations [chunk, batch, neurons] stay near this many elements: cache-sized chunks
# run about twice as fast per model as the whole ensemble at once (benchmarks/ensemble_speed.py).
# A GPU takes the whole ensemble in one call.
CPU_CHUNK_ELEMENTS = 5_000_000


def _floats(name: str, value: float | Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(v) for v in value) if isinstance(value, Sequence) else (float(value),)
    if not values or any(v < 0 or not math.isfinite(v) for v in values):
        raise ValueError(f"{name}={list(values)} must be finite and >= 0")
    return values


@dataclass(frozen=True)
class TrainConfig:
    """How to train an ensemble. `lr` and `weight_decay` take one value or one per model.

    Attributes:
        steps: optimizer updates (epochs when full batch).
        lr: learning rate(s).
        weight_decay: decoupled weight decay(s) (AdamW), or L2 added to the gradient (SGD).
        optimizer: "adamw" or "sgd".
        betas: AdamW betas (Doshi et al.: 0.9, 0.98).
        momentum: SGD momentum.
        loss: "mse" on one-hot targets (mean over examples and classes) or "ce"; for the
            generative models of `interp.generative`, "edm" (diffusion) or "ce" (next bit).
        batch_size: None for full batch, else examples per model per step (epochs reshuffled
            per model, last partial batch dropped).
        log_every: steps between metric evaluations over the whole table (the last step always).
        save_every: save a checkpoint every k steps (0: never).
        save_log: save this many log-spaced checkpoints in [1, steps] (0: none). Step 0 and the
            last step are always saved when training into a run folder.
    """

    steps: int = 1000
    lr: tuple[float, ...] = (1e-2,)
    weight_decay: tuple[float, ...] = (0.0,)
    optimizer: str = "adamw"
    betas: tuple[float, float] = (0.9, 0.98)
    momentum: float = 0.0
    loss: str = "mse"
    batch_size: int | None = None
    log_every: int = 10
    save_every: int = 0
    save_log: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _floats("lr", self.lr))
        object.__setattr__(self, "weight_decay", _floats("weight_decay", self.weight_decay))
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss {self.loss!r} is not one of {', '.join(LOSSES)}")
        for name in ("steps", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size={self.batch_size} must be >= 1 (or None: full batch)")
        if self.save_every < 0 or self.save_log < 0:
            raise ValueError(f"save_every={self.save_every}, save_log={self.save_log} must be >= 0")

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return cls(**d)

    def per_model(self, name: str, models: int) -> tuple[float, ...]:
        values = getattr(self, name)
        if len(values) == 1:
            return values * models
        if len(values) != models:
            raise ValueError(f"{name} has {len(values)} values; expected 1 or models={models}")
        return values


def checkpoint_schedule(steps: int, every: int = 0, log: int = 0) -> list[int]:
    """Steps to save: 0, the last, every `every`-th, and `log` log-spaced steps in [1, steps].

    Example:
        >>> checkpoint_schedule(1000, every=500, log=4)
        [0, 1, 10, 100, 500, 1000]
    """
    saved = {0, steps}
    if every:
        saved |= set(range(every, steps + 1, every))
    if log:
        saved |= {round(10 ** (i * math.log10(steps) / max(log - 1, 1))) for i in range(log)}
    return sorted(s for s in saved if 0 <= s <= steps)


@dataclass
class TrainResult:
    """What `train` returns.

    Attributes:
        model: the trained ensemble (on the training device).
        metrics: `step` `[T]` and each of `METRICS` `[T, models]`, logged every `log_every`.
        run: the run folder, when training wrote one.
    """

    model: MLP
    metrics: dict[str, Tensor]
    run: Path | None = None


class BatchedOptimizer:
    """AdamW or SGD whose learning rate and weight decay are `[models]` tensors broadcast over
    each parameter's leading models axis. AdamW follows `torch.optim.AdamW` exactly."""

    def __init__(self, params: dict[str, Tensor], cfg: TrainConfig, models: int) -> None:
        self.params = params
        self.cfg = cfg
        device = next(iter(params.values())).device
        self.lr = torch.tensor(cfg.per_model("lr", models), device=device)
        self.wd = torch.tensor(cfg.per_model("weight_decay", models), device=device)
        self.step_count = 0
        buffers = ("exp_avg", "exp_avg_sq") if cfg.optimizer == "adamw" else ("momentum",)
        self.state = {f"{b}.{n}": torch.zeros_like(p) for n, p in params.items() for b in buffers}

    def _per_model(self, x: Tensor, like: Tensor) -> Tensor:
        return x.view(-1, *([1] * (like.dim() - 1)))

    @torch.no_grad()
    def step(self) -> None:
        self.step_count += 1
        t = self.step_count
        for name, p in self.params.items():
            g = p.grad
            lr, wd = self._per_model(self.lr, p), self._per_model(self.wd, p)
            if self.cfg.optimizer == "adamw":
                b1, b2 = self.cfg.betas
                m, v = self.state[f"exp_avg.{name}"], self.state[f"exp_avg_sq.{name}"]
                p.mul_(1 - lr * wd)
                m.lerp_(g, 1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (v.sqrt() / math.sqrt(1 - b2**t)).add_(1e-8)
                p.sub_(lr / (1 - b1**t) * m / denom)
            else:
                d = g + wd * p
                if self.cfg.momentum:
                    buf = self.state[f"momentum.{name}"]
                    d = buf.mul_(self.cfg.momentum).add_(d)
                p.sub_(lr * d)


def _loss(logits: Tensor, targets: Tensor, kind: str) -> Tensor:
    """Per-example loss `[models, batch]` from logits `[models, batch, p]` and targets."""
    if kind == "mse":
        one_hot = F.one_hot(targets, logits.shape[-1]).to(logits.dtype)
        return ((logits - one_hot) ** 2).mean(-1)
    return F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")


def _train_indices(task: ModularTask) -> tuple[Tensor, Tensor]:
    """Each model's training examples as `[models, n_max]` indices and a `[models, n_max]`
    weight that averages over its own examples (zero on padding when splits differ in size)."""
    counts = task.train.sum(1)
    n_max = int(counts.max())
    order = torch.argsort((~task.train).int(), dim=1, stable=True)[:, :n_max]
    valid = torch.arange(n_max, device=counts.device)[None] < counts[:, None]
    return order, valid / counts[:, None]


class _Batches:
    """Minibatches of each model's training set: a fresh permutation per model per epoch, drawn
    from (model seed, epoch) alone, so a resumed run sees the same batches."""

    def __init__(self, task: ModularTask, seeds: Sequence[int], batch_size: int) -> None:
        self.train = [torch.nonzero(row).flatten() for row in task.train.cpu()]
        smallest = min(len(t) for t in self.train)
        if batch_size > smallest:
            raise ValueError(
                f"batch_size={batch_size} exceeds the smallest training set ({smallest})"
            )
        self.seeds, self.size = list(seeds), batch_size
        self.epoch: list[int] = [-1] * len(seeds)
        self.perm: list[Tensor] = [torch.empty(0)] * len(seeds)

    def __call__(self, step: int) -> Tensor:
        rows = []
        for m, idx in enumerate(self.train):
            per_epoch = len(idx) // self.size
            epoch, i = divmod(step, per_epoch)
            if self.epoch[m] != epoch:
                gen = torch.Generator().manual_seed(self.seeds[m] * 1_000_003 + epoch)
                self.perm[m], self.epoch[m] = idx[torch.randperm(len(idx), generator=gen)], epoch
            rows.append(self.perm[m][i * self.size : (i + 1) * self.size])
        return torch.stack(rows)


def _chunk_size(model: MLP, batch: int, device: torch.device) -> int:
    if device.type != "cpu":
        return model.cfg.models
    return max(1, CPU_CHUNK_ELEMENTS // (batch * model.cfg.width))


def _chunks(model: MLP, chunk: int):
    """(model slice, its parameters) for consecutive slices of `chunk` models."""
    params = dict(model.named_parameters())
    for i in range(0, model.cfg.models, chunk):
        yield slice(i, i + chunk), {k: v[i : i + chunk] for k, v in params.items()}


def _backward(model: MLP, inputs: Tensor, targets: Tensor, weight: Tensor, loss: str, chunk: int):
    """Set `.grad` of every parameter to the gradient of the sum over models of each model's
    weighted loss, `chunk` models at a time (the models never interact, so the slices are exact)."""
    params = dict(model.named_parameters())
    for p in params.values():
        p.grad = torch.empty_like(p)
    for rows, sliced in _chunks(model, chunk):
        leaves = {k: v.detach().requires_grad_() for k, v in sliced.items()}
        logits = functional_call(model, leaves, (inputs[rows],))
        total = (_loss(logits, targets[rows], loss) * weight[rows]).sum()
        grads = torch.autograd.grad(total, list(leaves.values()))
        for name, grad in zip(leaves, grads):
            params[name].grad[rows] = grad


@torch.no_grad()
def _log_metrics(model: MLP, task: ModularTask, loss: str, chunk: int) -> dict[str, Tensor]:
    logits = torch.cat(
        [functional_call(model, sliced, (task.inputs,)) for _, sliced in _chunks(model, chunk)]
    )
    per_example = _loss(logits, task.train_labels, loss)
    acc = accuracies(logits.argmax(-1), task)
    test_loss = _loss(logits, task.labels.expand_as(task.train_labels), loss)
    return {
        "train_loss": masked_mean(per_example, task.train),
        "test_loss": masked_mean(test_loss, task.test),
        "train_clean_acc": acc.train_clean,
        "train_noisy_acc": acc.train_noisy,
        "test_acc": acc.test,
    }


def train(
    model: MLP,
    task: ModularTask,
    config: TrainConfig,
    out: str | Path | None = None,
    device: str | torch.device = "auto",
    progress: bool = True,
    command: str | None = None,
) -> TrainResult:
    """Train every model of `model` on its own split of `task`, batched, in place.

    Args:
        model: an `MLP` ensemble with `cfg.models == task.models`.
        task: the task; model i trains on `task.train[i]` with labels `task.train_labels[i]`.
        config: optimizer, loss, steps, logging and checkpoint schedule.
        out: a new run folder to write (config.json, step files, metrics, resume state); it must
            not exist or be empty. None trains in memory.
        device: "auto" (CUDA when present), "cpu", "cuda", ...
        progress: show a progress bar.
        command: the command line that made the run, stored in its config.

    Returns:
        `TrainResult` with the trained model, the metrics and the run folder.
    """
    if model.cfg.models != task.models:
        raise ValueError(f"model has {model.cfg.models} models but the task has {task.models}")
    if model.cfg.p != task.p:
        raise ValueError(f"model p={model.cfg.p} but task p={task.p}")
    if config.loss not in MLP_LOSSES:
        raise ValueError(f"loss {config.loss!r} is for generative models; an MLP takes mse or ce")
    # Everything that can fail is checked before a run folder is created.
    config.per_model("lr", task.models), config.per_model("weight_decay", task.models)
    device = resolve_device(device)
    smallest = int(task.train.sum(1).min())
    if config.batch_size is not None and config.batch_size > smallest:
        raise ValueError(
            f"batch_size={config.batch_size} exceeds the smallest training set ({smallest})"
        )
    run = None
    if out is not None:
        run = new_run(
            out,
            {
                "command": command,
                "task": {"kind": "modular", **task.config.to_dict()},
                "model": {"kind": "mlp", **model.cfg.to_dict()},
                "train": config.to_dict(),
            },
        )
    return _loop(model, task, config, run, device, progress, start=0)


def resume(
    path: str | Path, device: str | torch.device = "auto", progress: bool = True
) -> TrainResult:
    """Continue an interrupted run from its last checkpoint, optimizer state included; it ends
    where the uninterrupted run would have.

    Example:
        >>> interp.resume("runs/doshi")
    """
    run = load_run(path)
    if run.config.get("task", {}).get("kind") == "rules":
        from interp.generative import resume_generative  # the generative loop imports this one

        return resume_generative(run, device, progress)
    device = resolve_device(device)
    start, model, optim_state, metrics = resume_state(run, device)
    config = TrainConfig.from_dict(run.config["train"])
    return _loop(model, run.task, config, run.path, device, progress, start, optim_state, metrics)


def resume_state(
    run: Run, device: torch.device
) -> tuple[int, nn.Module, dict[str, Tensor], dict[str, Tensor]]:
    """What a run needs to continue: `(step, model with its weights, optimizer state, metrics
    logged before that step)` (the resumed loop logs `step` again)."""
    state_path = run.path / STATE
    if not state_path.exists():
        raise CheckpointError(f"{state_path}: no resume state (was the run trained by interp?)")
    state, meta = read_tensors(state_path)
    start = int(meta["step"])
    model = run.model(start, device=device)
    model.load_state_dict(
        {k.removeprefix("param."): v for k, v in state.items() if k[:6] == "param."}
    )
    optim_state = {k.removeprefix("optim."): v for k, v in state.items() if k[:6] == "optim."}
    metrics = {k: v[run.metrics["step"] < start] for k, v in run.metrics.items()}
    return start, model, optim_state, metrics


def _progress(
    cfg: TrainConfig, saving: bool, start: int, progress: bool, desc: str = "train"
) -> Iterator[tuple[int, bool, tqdm]]:
    """The steps `start..cfg.steps` under a progress bar, each with whether to checkpoint it
    (`checkpoint_schedule`, when `saving` into a run folder) and the bar (for its postfix)."""
    saves = set(checkpoint_schedule(cfg.steps, cfg.save_every, cfg.save_log)) if saving else set()
    bar = tqdm(
        range(start, cfg.steps + 1),
        initial=start,
        total=cfg.steps + 1,
        disable=not progress,
        desc=desc,
        unit="step",
    )
    for step in bar:
        yield step, step in saves, bar


def _loop(
    model: MLP,
    task: ModularTask,
    cfg: TrainConfig,
    run: Path | None,
    device: torch.device,
    progress: bool,
    start: int,
    optim_state: dict[str, Tensor] | None = None,
    metrics: dict[str, Tensor] | None = None,
) -> TrainResult:
    model = model.to(device).train()
    task = task.to(device)
    params = dict(model.named_parameters())
    opt = BatchedOptimizer(params, cfg, task.models)
    if optim_state is not None:
        opt.step_count = start
        for k, v in optim_state.items():
            opt.state[k].copy_(v)
    history: dict[str, list[Tensor]] = {k: list(v) for k, v in (metrics or {}).items()}
    if cfg.batch_size is None:
        idx, weight = _train_indices(task)
        inputs, targets = task.inputs[idx], torch.gather(task.train_labels, 1, idx)
        chunk = _chunk_size(model, idx.shape[1], device)
    else:
        chunk = _chunk_size(model, cfg.batch_size, device)
        batches = _Batches(task, model.cfg.seed, cfg.batch_size)
        weight = torch.full((task.models, cfg.batch_size), 1 / cfg.batch_size, device=device)
    for step, saving, bar in _progress(cfg, run is not None, start, progress):
        # Metrics and checkpoints describe the weights after `step` updates.
        if step % cfg.log_every == 0 or step == cfg.steps:
            logged = _log_metrics(
                model, task, cfg.loss, _chunk_size(model, len(task.labels), device)
            )
            history.setdefault("step", []).append(torch.tensor(step))
            for k, v in logged.items():
                history.setdefault(k, []).append(v.cpu())
            bar.set_postfix(
                test=f"{logged['test_acc'].mean():.3f}",
                noisy=f"{logged['train_noisy_acc'].nanmean():.3f}",
            )
        if saving and not (optim_state is not None and step == start):
            _checkpoint(run, step, model, task, opt, history)
        if step == cfg.steps:
            break
        if cfg.batch_size is not None:
            idx = batches(step).to(device)
            inputs = task.inputs[idx]  # [models, batch, 2]
            targets = torch.gather(task.train_labels, 1, idx)
        _backward(model, inputs, targets, weight, cfg.loss, chunk)
        opt.step()
    model.eval()
    return TrainResult(model, {k: torch.stack(v) for k, v in history.items()}, run)


def _checkpoint(
    run: Path, step: int, model: nn.Module, task: Task, opt: BatchedOptimizer, history: dict
) -> None:
    """Step file first, then metrics, then resume state: a crash between writes resumes from the
    previous state and rewrites the same step file."""
    write_step(run, step, model, task)
    write_tensors(run / "metrics.safetensors", {k: torch.stack(v) for k, v in history.items()}, {})
    state = {f"param.{k}": v for k, v in model.state_dict().items()}
    state |= {f"optim.{k}": v for k, v in opt.state.items()}
    write_tensors(run / STATE, state, {"step": str(step)})
