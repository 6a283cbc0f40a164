"""Runs on disk: a folder of safetensors checkpoints plus the config that regenerates everything.

    RUN/config.json                 task, model and training configs, format version, command
    RUN/step_0001000.safetensors    weights after 1000 updates, with the task masks
    RUN/metrics.safetensors         per-step metrics `[logged_steps, models]`
    RUN/state.safetensors           weights + optimizer state of the latest checkpoint (resume)

Every file is written atomically (temporary file, fsync, rename), so an interrupted write never
leaves a half file behind, and nothing is pickled. Loading validates what it reads and names the
file at fault.

Example:
    >>> run = load_run("checkpoints/doshi_p97_noise035_wd0")
    >>> run.steps[-3:], run.task.noisy.shape           # [models, examples]
    ([600, 800, 1000], torch.Size([1, 9409]))
    >>> model = run.model()                             # the last step; run.model(200) for another
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from interp.tasks.modular import ModularConfig, ModularTask, make_task
from interp.tasks.rules import RuleConfig, RuleTask, make_rule_task

Task = ModularTask | RuleTask

__all__ = ["Run", "CheckpointError", "load_run", "load", "save_model", "FORMAT_VERSION"]

FORMAT = "interp-run"
FORMAT_VERSION = 1
CONFIG = "config.json"
STATE = "state.safetensors"
METRICS = "metrics.safetensors"
STEP_FILE = re.compile(r"^step_(\d+)\.safetensors$")
MASKS = ("train", "noisy", "train_labels")


class CheckpointError(ValueError):
    """A run or checkpoint file that cannot be read as what it claims to be."""


def step_file(run: Path, step: int) -> Path:
    return run / f"step_{step:07d}.safetensors"


def _model_kinds() -> dict[str, tuple[type, Callable[[dict, Any, dict], nn.Module]]]:
    """Model kind -> (class, build(config dict, device, weights)); imported late: the models
    need transformer-lens."""
    from transformer_lens import TransformerBridge

    from interp.extraction import RestrictedLogits, RestrictedLogitsConfig
    from interp.models.dit import DiT, DiTConfig
    from interp.models.gpt import GPTConfig, build_gpt
    from interp.models.mlp import MLP, MLPConfig

    def gpt(spec: dict, device: Any, weights: dict) -> nn.Module:
        model = build_gpt(GPTConfig(**spec), device)
        model.load_state_dict(weights)
        return model

    return {
        "mlp": (MLP, lambda spec, device, w: MLP(MLPConfig(**spec), device, w)),
        "restricted_logits": (
            RestrictedLogits,
            lambda spec, device, w: RestrictedLogits(RestrictedLogitsConfig(**spec), device, w),
        ),
        "dit": (DiT, lambda spec, device, w: DiT(DiTConfig(**spec), device, w)),
        "gpt": (TransformerBridge, gpt),
    }


# ---------------------------------------------------------------------------------------------
# atomic writes


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename over `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, data: dict) -> None:
    _atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))


def write_tensors(path: Path, tensors: dict[str, Tensor], metadata: dict[str, str]) -> None:
    """Atomically save contiguous CPU copies of `tensors` with the format header."""
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), **metadata}
    _atomic(path, lambda tmp: save_file(cpu, str(tmp), metadata=meta))


def read_tensors(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Load a safetensors file of this format; a one-line `CheckpointError` names a bad file."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({e})") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an interp checkpoint (no '{FORMAT}' header)")
    _check_version(path, metadata.get("format_version"))
    return tensors, metadata


def _check_version(path: Path, version: Any) -> None:
    if str(version) != str(FORMAT_VERSION):
        raise CheckpointError(
            f"{path}: format version {version} is not supported "
            f"(this interp reads {FORMAT_VERSION})"
        )


def model_kind(model: nn.Module) -> str:
    for kind, (cls, _) in _model_kinds().items():
        if type(model) is cls:
            return kind
    raise TypeError(f"cannot save a {type(model).__name__}: not an interp model")


def check_new_folder(path: str | Path) -> None:
    """Raise `FileExistsError` unless `path` is absent or an empty folder (never overwrite)."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(
            f"{path} exists and is not empty; choose a new folder (or resume the run there)"
        )


def new_run(path: str | Path, config: dict) -> Path:
    """Create the folder of a new run and write its config; refuses to reuse a non-empty folder."""
    path = Path(path)
    check_new_folder(path)
    path.mkdir(parents=True, exist_ok=True)
    from interp import __version__

    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "interp_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(path / CONFIG, {**header, **config})
    return path


def write_step(run: Path, step: int, model: nn.Module, task: Task | None) -> Path:
    """Save the model weights after `step` updates, with the task's tensors when there is a task
    (a modular task's split and noisy labels, a rule task's training strings)."""
    tensors = dict(model.state_dict())
    if isinstance(task, ModularTask):
        tensors |= {
            "task.train": task.train,
            "task.noisy": task.noisy,
            "task.train_labels": task.train_labels.int(),
        }
    elif task is not None:
        tensors |= {"task.data": task.data.to(torch.uint8), "task.mask": task.mask}
    path = step_file(run, step)
    write_tensors(path, tensors, {"step": str(step)})
    return path


def save_model(model: nn.Module, path: str | Path, task: ModularTask | None = None) -> Path:
    """Save a single model (trained, extracted, ...) as a run of one step that `load` reads back.

    Example:
        >>> save_model(interp.extract(model), "runs/extracted", task)
        >>> interp.load("runs/extracted")
    """
    kind = model_kind(model)
    if kind == "gpt":  # a bridge does not carry its GPTConfig
        raise TypeError("save a GPT by training it into a run (interp.train_generative(out=...))")
    config = {"model": {"kind": kind, **model.cfg.to_dict()}}
    if task is not None:
        config["task"] = {"kind": "modular", **task.config.to_dict()}
    run = new_run(path, config)
    write_step(run, 0, model, task)
    return run


# ---------------------------------------------------------------------------------------------
# reading


@dataclass
class Run:
    """A run folder, read lazily: configs at once, tensors when asked for.

    Attributes:
        path: the folder.
        config: the parsed config.json (`task`, `model`, `train`, `command`, ...).
        steps: the saved steps, ascending.
    """

    path: Path
    config: dict
    steps: list[int] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, steps={self.steps})"

    def _step(self, step: int | None) -> int:
        if not self.steps:
            raise CheckpointError(f"{self.path}: no step_*.safetensors checkpoints")
        if step is None:
            return self.steps[-1]
        if step not in self.steps:
            raise ValueError(f"step {step} is not saved in {self.path}; saved steps: {self.steps}")
        return step

    def tensors(self, step: int | None = None) -> dict[str, Tensor]:
        """All tensors of one step file (model weights and `task.*` masks)."""
        return read_tensors(step_file(self.path, self._step(step)))[0]

    def model(self, step: int | None = None, device: str | torch.device = "cpu") -> nn.Module:
        """The model after `step` updates (default: the last saved step), in eval mode."""
        path = step_file(self.path, self._step(step))
        tensors, _ = read_tensors(path)
        spec = dict(self.config["model"])
        kind = spec.pop("kind", "mlp")
        kinds = _model_kinds()
        if kind not in kinds:
            raise CheckpointError(f"{self.path / CONFIG}: unknown model kind {kind!r}")
        _, build = kinds[kind]
        weights = {k: v for k, v in tensors.items() if not k.startswith("task.")}
        try:
            model = build(spec, device, weights)
        except (ValueError, KeyError, TypeError, RuntimeError) as e:
            raise CheckpointError(f"{path}: tensors do not match {CONFIG} ({e})") from None
        return model.eval()

    @cached_property
    def task(self) -> Task:
        """The task the run trained on: a modular task with its exact split and noisy labels,
        or a rule task with its training strings (from its files)."""
        if "task" not in self.config:
            raise CheckpointError(f"{self.path / CONFIG}: this run has no task")
        kind = self.config["task"].get("kind", "modular")
        spec = {k: v for k, v in self.config["task"].items() if k != "kind"}
        if kind not in ("modular", "rules"):
            raise CheckpointError(f"{self.path / CONFIG}: unknown task kind {kind!r}")
        try:
            if kind == "rules":
                return self._rule_task(make_rule_task(RuleConfig.from_dict(spec)))
            task = make_task(ModularConfig.from_dict(spec))
        except (ValueError, TypeError) as e:
            raise CheckpointError(f"{self.path / CONFIG}: bad task config ({e})") from None
        path = step_file(self.path, self._step(None))
        stored = read_tensors(path)[0]
        masks = {}
        for name in MASKS:
            key = f"task.{name}"
            expected = getattr(task, name).shape
            if key not in stored or stored[key].shape != expected:
                got = tuple(stored[key].shape) if key in stored else "missing"
                raise CheckpointError(f"{path}: {key} is {got}; {CONFIG} expects {tuple(expected)}")
            masks[name] = stored[key]
        return ModularTask(
            task.config,
            task.inputs,
            task.labels,
            masks["train"].bool(),
            masks["noisy"].bool(),
            masks["train_labels"].long(),
        )

    def _rule_task(self, task: RuleTask) -> RuleTask:
        """`task` regenerated from the config, checked against the strings the run stored."""
        path = step_file(self.path, self._step(None))
        stored = read_tensors(path)[0]
        if "task.data" not in stored or not torch.equal(stored["task.data"].long(), task.data):
            raise CheckpointError(f"{path}: task.data does not match the task in {CONFIG}")
        return task

    @cached_property
    def metrics(self) -> dict[str, Tensor]:
        """Logged metrics: `step` `[T]` and each metric `[T, models]` (empty if none)."""
        path = self.path / METRICS
        return read_tensors(path)[0] if path.exists() else {}


def load_run(path: str | Path) -> Run:
    """Open a run folder (or the folder of a step file) and validate its config.

    Raises:
        CheckpointError: no config.json, unreadable JSON, or an unknown format version.
    """
    path = Path(path)
    if path.is_file():
        path = path.parent
    config_path = path / CONFIG
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such run folder")
    if not config_path.exists():
        raise CheckpointError(f"{path}: no {CONFIG}; not an interp run")
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{config_path}: not valid JSON ({e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{config_path}: not an interp run config (no '{FORMAT}' format)")
    _check_version(config_path, config.get("format_version"))
    if "model" not in config:
        raise CheckpointError(f"{config_path}: no model config")
    steps = sorted(
        int(m.group(1)) for f in path.iterdir() if (m := STEP_FILE.match(f.name)) is not None
    )
    return Run(path, config, steps)


def load(
    path: str | Path, step: int | None = None, device: str | torch.device = "cpu"
) -> nn.Module:
    """The model of a run folder or step file (default: the step file given, else the last step).

    Example:
        >>> model = interp.load("checkpoints/doshi_p97_noise035_wd0")
    """
    path = Path(path)
    if step is None and path.is_file() and (m := STEP_FILE.match(path.name)):
        step = int(m.group(1))
    return load_run(path).model(step, device=device)
