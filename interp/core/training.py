"""The one batched training loop: every model kind, every task, an ensemble in one pass.

Every model of an ensemble has its own data, seed, learning rate and weight decay, and all of
them step together in one forward/backward pass. What a model kind trains on is its *objective*
(`interp.core.objectives`): each model's loss on its step's batch, and the metrics to log. The
loss is the sum over models of each model's own loss, so gradients never mix between models and
an ensemble trains exactly as its models would alone.

Checkpoints go into a run folder (`interp.core.runs`): log-spaced or regular step files, the
metrics, and a resume state; `resume` continues a run bit-exactly, whatever the model kind.
Non-finite losses or weights stop training at once with the step and the models named; the last
good checkpoint stays on disk.

Examples:
    >>> task = interp.modular_task(p=23, noise=0.35, seed=[0, 1])
    >>> model = interp.MLP(interp.MLPConfig(p=23, width=64, models=2))
    >>> cfg = interp.TrainConfig(steps=50, lr=1e-2, weight_decay=[0.0, 5.0], log_every=25)
    >>> result = interp.train(model, task, cfg, progress=False)
    >>> result.metrics["test_acc"].shape           # [logged steps, models]
    torch.Size([3, 2])
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call
from tqdm.auto import tqdm

from interp.core.device import resolve_device, tf32
from interp.core.ensemble import config_from_dict
from interp.core.objectives import LOSSES, Objective, ObjectiveSpec, objective_for
from interp.core.optim import BatchedOptimizer
from interp.core.runs import (
    STATE,
    CheckpointError,
    Run,
    checkpoint_schedule,
    discard_failed_start,
    load_run,
    model_entry,
    new_run,
    read_tensors,
    remove_stale_temporaries,
    task_entry,
    write_step,
    write_tensors,
)
from interp.core.tracking import Logger, check_loggers, model_tags, tracked

__all__ = [
    "TrainConfig",
    "TrainResult",
    "train",
    "resume",
    "NonFiniteError",
    "BatchedOptimizer",
]

OPTIMIZERS = ("adamw", "adam", "sgd")


class NonFiniteError(ValueError):
    """Training produced NaN or inf: the message names the step, the models and what was hit."""


def _floats(name: str, value: float | Sequence[float]) -> tuple[float, ...]:
    """One number or one per model, each finite and >= 0 (a string is refused, not split)."""
    many = isinstance(value, Sequence) and not isinstance(value, str)
    values = tuple(value) if many else (value,)
    if any(isinstance(v, bool) or not isinstance(v, Real) for v in values):
        raise ValueError(f"{name}={value!r} must be a number or one number per model")
    values = tuple(float(v) for v in values)
    if not values or any(v < 0 or not math.isfinite(v) for v in values):
        raise ValueError(f"{name}={list(values)} must be finite and >= 0")
    return values


@dataclass(frozen=True)
class TrainConfig:
    """How to train an ensemble. `lr` and `weight_decay` take one value or one per model.

    Attributes:
        steps: optimizer updates (epochs when full batch).
        lr: learning rate(s).
        weight_decay: decoupled weight decay(s) (AdamW), or L2 added to the gradient (Adam, SGD).
        optimizer: "adamw" (decoupled weight decay), "adam" (L2 added to the gradient) or "sgd".
        betas: AdamW and Adam betas (Doshi et al.: 0.9, 0.98).
        momentum: SGD momentum.
        loss: what the model kind's objective accepts: "mse" (on one-hot targets, mean over
            examples and classes) or "ce" for an MLP; "edm" for a DiT; "ce" (next bit) for a GPT;
            "l2" for consistency distillation.
        batch_size: training examples per model per step; None: every training example of each
            model at every step (full batch). An MLP walks through reshuffled epochs (the last
            partial batch dropped); a DiT or GPT draws its strings with replacement.
        log_every: steps between metric evaluations (the last step always).
        log_log: also log this many log-spaced steps in [1, steps] (0: none): the early steps
            of a long run, where fast clocks ring, at no cost later on.
        save_every: save a checkpoint every k steps (0: never).
        save_log: save this many log-spaced checkpoints in [1, steps] (0: none). Step 0 and the
            last step are always saved when training into a run folder.
        tf32: let CUDA matmuls use TF32 (opt-in; see `interp.core.device.tf32` for what it
            changes: about 1e-3 relative error in products for several times the throughput on
            an Ampere-or-newer GPU; no effect on a CPU).
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
    log_log: int = 0
    tf32: bool = False

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
        if self.save_every < 0 or self.save_log < 0 or self.log_log < 0:
            raise ValueError(
                f"save_every={self.save_every}, save_log={self.save_log}, "
                f"log_log={self.log_log} must be >= 0"
            )

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: Any) -> TrainConfig:
        """Validate a stored config (unknown or missing keys, bad values: one-line ValueError)."""
        return config_from_dict(cls, d, "train config")

    def per_model(self, name: str, models: int) -> tuple[float, ...]:
        values = getattr(self, name)
        if len(values) == 1:
            return values * models
        if len(values) != models:
            raise ValueError(f"{name} has {len(values)} values; expected 1 or models={models}")
        return values


@dataclass
class TrainResult:
    """What `train` returns.

    Attributes:
        model: the trained ensemble (on the training device).
        metrics: `step` `[T]` and each of the objective's metrics `[T, models]`, logged every
            `log_every` steps (an MLP: train/test loss and accuracies; a DiT or GPT: the loss).
        run: the run folder, when training wrote one.
    """

    model: nn.Module
    metrics: dict[str, Tensor]
    run: Path | None = None


def _backward(model: nn.Module, objective: Objective, step: int) -> Tensor | None:
    """Set `.grad` of every parameter to the gradient of the sum over models of each model's
    loss, `objective.chunk` models at a time (the models never interact, so the slices are
    exact); returns the losses `[models]`, or None where the objective set the gradients
    without them (`gradients`)."""
    models = model.cfg.models
    if objective.chunk >= models:
        for p in model.parameters():
            p.grad = None
        gradients = getattr(objective, "gradients", None)
        if gradients is not None and gradients(model, step):
            return None
        loss = objective.loss(model, slice(0, models), step)
        loss.sum().backward()
        return loss.detach()
    params = dict(model.named_parameters())
    for p in params.values():
        p.grad = torch.empty_like(p)
    losses = []
    for i in range(0, models, objective.chunk):
        rows = slice(i, i + objective.chunk)
        leaves = {k: v[rows].detach().requires_grad_() for k, v in params.items()}

        def forward(*args: Tensor, leaves: dict[str, Tensor] = leaves) -> Tensor:
            return functional_call(model, leaves, args)

        loss = objective.loss(forward, rows, step)
        grads = torch.autograd.grad(loss.sum(), list(leaves.values()))
        for name, grad in zip(leaves, grads):
            params[name].grad[rows] = grad
        losses.append(loss.detach())
    return torch.cat(losses)


def _check_finite(values: dict[str, Tensor], step: int, what: str) -> None:
    """Raise `NonFiniteError` naming the step, the models and the first quantity that is not
    finite (a loss, a metric or a weight)."""
    for name, value in values.items():
        if value.is_floating_point():
            bad = ~torch.isfinite(value.detach())
            if bad.any():
                models = bad.reshape(bad.shape[0], -1).any(1).nonzero().flatten().tolist()
                raise NonFiniteError(
                    f"{what} {name} is NaN or inf at step {step} (models {models}); "
                    "lower the learning rate or check the inputs"
                )


def train(
    model: nn.Module,
    task: Any,
    config: TrainConfig,
    out: str | Path | None = None,
    device: str | torch.device = "auto",
    progress: bool = True,
    command: str | None = None,
    reuse: bool = False,
    objective: ObjectiveSpec | None = None,
    loggers: Sequence[Logger] = (),
) -> TrainResult:
    """Train every model of an ensemble on its own part of `task`, batched, in place.

    Args:
        model: an interp ensemble (`MLP` on a modular task, `DiT` or `GPT` on a rule task) with
            `cfg.models == task.models`.
        task: the task; model i trains on its own split / strings of it.
        config: optimizer, loss, steps, logging and checkpoint schedule.
        out: a new run folder to write (config.json, step files, metrics, resume state); it must
            not exist or be empty. None trains in memory.
        device: "auto" (CUDA when present), "cpu", "cuda", ...
        progress: show a progress bar.
        command: the command line that made the run, stored in its config.
        reuse: when `out` already holds a run of this very model, task and config, take it
            instead of refusing the folder: a finished run is loaded (the returned model is
            its last step), an interrupted one resumed. Long sweeps call this again after a
            kill and lose nothing.
        objective: train on this objective instead of the model kind's own (e.g.
            `interp.studies.distillation.ConsistencyDistillation`); a run folder stores it.
        loggers: experiment trackers (`interp.core.tracking`: TensorBoard, WandB) sent every
            logged step's metrics per model, tagged with each model's hyper-parameters.

    Returns:
        `TrainResult` with the trained model, the metrics and the run folder.

    Raises:
        ValueError: model, task and config do not fit (before any folder is created), or
            `reuse` finds a different run in `out`.
        NonFiniteError: a loss or weight became NaN or inf (the last good checkpoint is kept).
    """
    device = resolve_device(device)
    # Everything that can fail is checked before a run folder is created.
    spec = objective
    objective = objective_for(model, task, config, device, spec)
    config.per_model("lr", task.models), config.per_model("weight_decay", task.models)
    check_loggers(loggers)
    entry = {"task": task_entry(task), "model": model_entry(model), "train": config.to_dict()}
    if spec is not None:
        entry["objective"] = {"kind": spec.kind, **spec.entry()}
    if out is not None and reuse and (Path(out) / "config.json").exists():
        return _reuse(Path(out), entry, device, progress, loggers)
    run = None
    if out is not None:
        run = new_run(out, {"command": command, **entry}, device)
    try:
        if spec is not None and run is not None:
            spec.save(run)
        return _loop(model, objective, task, config, run, device, progress, 0, loggers=loggers)
    except BaseException:
        if run is not None and not (run / STATE).exists():
            discard_failed_start(run)  # nothing was saved: leave no dead-end folder
        raise


def resume(
    path: str | Path | Run,
    device: str | torch.device = "auto",
    progress: bool = True,
    loggers: Sequence[Logger] = (),
) -> TrainResult:
    """Continue an interrupted run from its last checkpoint, optimizer state included; it ends
    where the uninterrupted run would have. A run that stopped before its first checkpoint
    starts again from step 0.

    Examples:
        >>> import dataclasses, json
        >>> task = interp.modular_task(p=11, noise=0.2)
        >>> cfg = interp.TrainConfig(steps=20, save_every=10, log_every=5)
        >>> whole = interp.train(interp.MLP(interp.MLPConfig(p=11, width=16)), task, cfg,
        ...                      device="cpu", progress=False)
        >>> # A run killed after its step-10 checkpoint: train 10 steps, then ask for 20.
        >>> half = dataclasses.replace(cfg, steps=10)
        >>> _ = interp.train(interp.MLP(interp.MLPConfig(p=11, width=16)), task, half,
        ...                  out=tmp / "run", device="cpu", progress=False)
        >>> config = json.loads((tmp / "run" / "config.json").read_text())
        >>> config["train"]["steps"] = 20
        >>> _ = (tmp / "run" / "config.json").write_text(json.dumps(config))
        >>> resumed = interp.resume(tmp / "run", device="cpu", progress=False)
        >>> resumed.metrics["step"].tolist(), interp.load_run(tmp / "run").steps
        ([0, 5, 10, 15, 20], [0, 10, 20])
        >>> torch.equal(resumed.model.W, whole.model.W)     # where the whole run ended
        True
    """
    run = path if isinstance(path, Run) else load_run(path)
    if "train" not in run.config or "task" not in run.config:
        raise CheckpointError(f"{run.path / 'config.json'}: not a training run (no train/task)")
    try:
        config = TrainConfig.from_dict(run.config["train"])
    except ValueError as e:
        raise CheckpointError(f"{run.path / 'config.json'}: {e}") from None
    remove_stale_temporaries(run.path)
    device = resolve_device(device)
    spec = _stored_objective(run, device)
    if not (run.path / STATE).exists():  # killed before the first checkpoint: start over
        model, task = _fresh(run), _fresh_task(run)
        objective = objective_for(model, task, config, device, spec)
        return _loop(model, objective, task, config, run.path, device, progress, 0, loggers=loggers)
    start, model, state, metrics = _resume_state(run, device)
    objective = objective_for(model, run.task, config, device, spec)
    return _loop(
        model,
        objective,
        run.task,
        config,
        run.path,
        device,
        progress,
        start,
        state,
        metrics,
        loggers,
    )


def _stored_objective(run: Run, device: torch.device) -> ObjectiveSpec | None:
    """The objective spec a run was trained with (None: the model kind's own)."""
    from interp.core.registry import objective_class

    entry = run.config.get("objective")
    if entry is None:
        return None
    try:
        cls = objective_class(entry.get("kind") if isinstance(entry, dict) else entry)
        return cls.from_run({k: v for k, v in entry.items() if k != "kind"}, run.path, device)
    except ValueError as e:
        raise CheckpointError(f"{run.path / 'config.json'}: bad objective ({e})") from None


def _reuse(
    path: Path, entry: dict, device: torch.device, progress: bool, loggers: Sequence[Logger]
) -> TrainResult:
    """The run in `path` when it was made from `entry` (task, model, train, objective): loaded
    when it finished, resumed when it was cut."""
    run = load_run(path)
    for part in ("task", "model", "train", "objective"):
        wanted = entry.get(part)
        if _normalized(part, run.config.get(part)) != _normalized(part, wanted):
            raise ValueError(
                f"{path} holds another run: its {part} config differs from the one asked for "
                "(choose another folder)"
            )
    steps = entry["train"]["steps"]
    if run.steps and run.steps[-1] == steps and (path / STATE).exists():
        return TrainResult(run.model(device=device), run.metrics, path)
    return resume(run, device=device, progress=progress, loggers=loggers)


def _normalized(part: str, entry: Any) -> Any:
    """A config entry read back through its class (defaults filled in), for comparisons."""
    from interp.core.registry import model_class, task_class

    if not isinstance(entry, dict) or part == "objective":
        return entry
    try:
        if part == "train":
            return TrainConfig.from_dict(entry)
        spec = {k: v for k, v in entry.items() if k != "kind"}
        cls = (model_class if part == "model" else task_class)(entry.get("kind"))
        return entry.get("kind"), cls.config_class.from_dict(spec)
    except ValueError:
        return entry


def _fresh(run: Run) -> nn.Module:
    from interp.core.registry import model_class

    spec = dict(run.config["model"])
    cls = model_class(spec.pop("kind"))
    try:
        return cls(cls.config_class.from_dict(spec))
    except ValueError as e:
        raise CheckpointError(f"{run.path / 'config.json'}: {e}") from None


def _fresh_task(run: Run) -> Any:
    from interp.core.registry import task_class

    spec = {k: v for k, v in run.config["task"].items() if k != "kind"}
    cls = task_class(run.config["task"].get("kind"))
    try:
        return cls.from_config(cls.config_class.from_dict(spec))
    except ValueError as e:
        raise CheckpointError(f"{run.path / 'config.json'}: bad task config ({e})") from None


def _resume_state(
    run: Run, device: torch.device
) -> tuple[int, nn.Module, dict[str, Tensor], dict[str, Tensor]]:
    """What a run needs to continue: `(step, model with its weights, optimizer and objective
    state, metrics logged before that step)` (the resumed loop logs `step` again)."""
    state_path = run.path / STATE
    state, meta = read_tensors(state_path)
    try:
        start = int(meta["step"])
    except (KeyError, ValueError):
        raise CheckpointError(f"{state_path}: no step in its header") from None
    if start not in run.steps:
        raise CheckpointError(f"{state_path}: step {start} has no step file in {run.path}")
    model = run.model(start, device=device)
    weights = {k.removeprefix("param."): v for k, v in state.items() if k.startswith("param.")}
    try:
        model = type(model)(model.cfg, device, weights)
    except ValueError as e:
        raise CheckpointError(f"{state_path}: does not match this run's model ({e})") from None
    kept = {k: v for k, v in state.items() if k.startswith(("optim.", "objective."))}
    metrics = {k: v[run.metrics["step"] < start] for k, v in run.metrics.items()}
    return start, model, kept, metrics


def _progress(
    cfg: TrainConfig, saving: bool, start: int, progress: bool, desc: str
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


def _postfix(logged: dict[str, Tensor]) -> dict[str, str]:
    if "test_acc" in logged:
        return {
            "test": f"{logged['test_acc'].mean():.3f}",
            "noisy": f"{logged['train_noisy_acc'].nanmean():.3f}",
        }
    return {"loss": f"{logged['train_loss'].mean():.3f}"}


def _loop(
    model: nn.Module,
    objective: Objective,
    task: Any,
    cfg: TrainConfig,
    run: Path | None,
    device: torch.device,
    progress: bool,
    start: int,
    state: dict[str, Tensor] | None = None,
    metrics: dict[str, Tensor] | None = None,
    loggers: Sequence[Logger] = (),
) -> TrainResult:
    entry = {"task": task_entry(task), "model": model_entry(model), "train": cfg.to_dict()}
    tags = lambda: model_tags(entry, task.models)  # noqa: E731 (only when there are loggers)
    # TF32 matmuls only when the config asks (CUDA; no effect on a CPU)
    with tf32(cfg.tf32), tracked(loggers, run.name if run else "run", tags) as track:
        model = model.to(device).train()
        opt = BatchedOptimizer(model.parameter_models(), cfg, task.models)
        after_step = getattr(objective, "after_step", None)
        if state is not None:
            optim_state = {
                k.removeprefix("optim."): v for k, v in state.items() if k.startswith("optim.")
            }
            opt.step_count = start
            if set(optim_state) != set(opt.state):
                raise CheckpointError(
                    f"{run}: the resume state's optimizer does not match the model"
                )
            for k, v in optim_state.items():
                opt.state[k].copy_(v)
            if hasattr(objective, "load_state"):
                prefix = "objective."
                objective.load_state(
                    {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
                )
        history: dict[str, list[Tensor]] = {k: list(v) for k, v in (metrics or {}).items()}
        extra_logs = set(checkpoint_schedule(cfg.steps, 0, cfg.log_log)) if cfg.log_log else set()
        for step, saving, bar in _progress(cfg, run is not None, start, progress, model.kind):
            # Metrics and checkpoints describe the weights after `step` updates.
            if step % cfg.log_every == 0 or step == cfg.steps or step in extra_logs:
                logged = objective.metrics(model, step)
                _check_finite({"loss": logged["train_loss"]}, step, "training")
                history.setdefault("step", []).append(torch.tensor(step))
                for k, v in logged.items():
                    history.setdefault(k, []).append(v.cpu())
                bar.set_postfix(_postfix(logged))
                track(step, logged)
            if saving and not (state is not None and step == start):
                _checkpoint(run, step, model, task, opt, objective, history)
            if step == cfg.steps:
                break
            _backward(model, objective, step)  # no per-step check: it would sync a GPU each step
            opt.step()
            if after_step is not None:
                after_step(model)
        model.eval()
        return TrainResult(model, {k: torch.stack(v) for k, v in history.items()}, run)


def _checkpoint(
    run: Path,
    step: int,
    model: nn.Module,
    task: Any,
    opt: BatchedOptimizer,
    objective: Objective,
    history: dict,
) -> None:
    """Step file first, then metrics, then resume state: a crash between writes resumes from the
    previous state and rewrites the same step file."""
    _check_finite(model.weights(), step, "weight")
    write_step(run, step, model, task)
    write_tensors(run / "metrics.safetensors", {k: torch.stack(v) for k, v in history.items()}, {})
    state = {f"param.{k}": v for k, v in model.weights().items()}
    state |= {f"optim.{k}": v for k, v in opt.state.items()}
    if hasattr(objective, "state"):
        state |= {f"objective.{k}": v for k, v in objective.state().items()}
    write_tensors(run / STATE, state, {"step": str(step)})
