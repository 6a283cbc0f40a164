"""Runs on disk: a folder of safetensors checkpoints plus the config that regenerates everything.

    RUN/config.json                 task, model and training configs, format version, command
    RUN/step_0001000.safetensors    weights after 1000 updates, with the task masks
    RUN/metrics.safetensors         per-step metrics `[logged_steps, models]`
    RUN/state.safetensors           weights + optimizer state of the latest checkpoint (resume)

Every file is written atomically (temporary file, fsync, rename), so an interrupted write never
leaves a half file behind, and nothing is pickled. Loading validates what it reads and names the
file at fault.

Model and task kinds come from `interp.core.registry`: storage imports no model, task or
analysis module until a run asks for one.

Examples:
    >>> run = load_run("checkpoints/doshi_p97_noise035_wd0")
    >>> run.steps[-3:], run.task.noisy.shape           # [models, examples]
    ([500, 750, 1000], torch.Size([1, 9409]))
    >>> run.model().cfg.width, run.model(100).training  # the last step, or a saved one, in eval
    (500, False)
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from interp.core.registry import model_class, task_class
from interp.version import FORMAT, FORMAT_VERSION, TENSOR_FORMAT_VERSION, __version__

__all__ = [
    "Run",
    "CheckpointError",
    "load_run",
    "save_model",
    "FORMAT_VERSION",
    "TENSOR_FORMAT_VERSION",
    "parse_step_file",
    "checkpoint_schedule",
    "upgrade_run",
    "provenance",
]

CONFIG = "config.json"
STATE = "state.safetensors"
METRICS = "metrics.safetensors"
STEP_FILE = re.compile(r"^step_(\d+)\.safetensors$")


class CheckpointError(ValueError):
    """A run or checkpoint file that cannot be read as what it claims to be."""


def step_file(run: Path, step: int) -> Path:
    return run / f"step_{step:07d}.safetensors"


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
    meta = {"format": FORMAT, "format_version": str(TENSOR_FORMAT_VERSION), **metadata}
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
    if str(metadata.get("format_version")) != str(TENSOR_FORMAT_VERSION):
        raise CheckpointError(
            f"{path}: tensor file format version {metadata.get('format_version')} is not "
            f"supported (this interp reads {TENSOR_FORMAT_VERSION})"
        )
    return tensors, metadata


def check_new_folder(path: str | Path, hint: str = "choose a new folder") -> None:
    """Raise `FileExistsError` unless `path` is absent or an empty folder (never overwrite)."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(f"{path} exists and is not empty; {hint}")


def remove_stale_temporaries(run: Path) -> list[Path]:
    """Delete the `.NAME.PID.tmp` files an interrupted atomic write left in `run`."""
    stale = [f for f in run.glob(".*.tmp") if f.is_file()]
    for f in stale:
        f.unlink()
    return stale


def discard_failed_start(run: Path) -> None:
    """Remove a run folder that a failed start created, when it holds nothing but what that
    start wrote (its config and at most the step-0 files): a retry then starts cleanly."""
    names = {f.name for f in run.iterdir()}
    ours = {CONFIG, METRICS, STATE, step_file(run, 0).name}
    if names <= ours | {f.name for f in run.glob(".*.tmp")}:
        for name in names:
            (run / name).unlink()
        run.rmdir()


def provenance(device: str | torch.device | None = None) -> dict[str, Any]:
    """What wrote a run (config.json `provenance`, format 2): the torch version, the device (with
    the GPU's name) and torch's thread count, which bit-for-bit reproduction depends on."""
    name = None if device is None else str(device)
    if device is not None and torch.device(device).type == "cuda":
        name = f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return {"torch": torch.__version__, "device": name, "threads": torch.get_num_threads()}


def new_run(path: str | Path, config: dict, device: str | torch.device | None = None) -> Path:
    """Create the folder of a new run and write its config; refuses to reuse a non-empty folder.
    `device`: where the run is trained (recorded in its provenance)."""
    path = Path(path)
    check_new_folder(path)
    path.mkdir(parents=True, exist_ok=True)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "interp_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "provenance": provenance(device),
    }
    write_json(path / CONFIG, {**header, **config})
    return path


def write_step(run: Path, step: int, model: nn.Module, task: Any | None) -> Path:
    """Save the model weights after `step` updates, with the task's tensors when there is a task
    (a modular task's split and noisy labels, a rule task's training strings)."""
    tensors = dict(model.weights())
    if task is not None:
        tensors |= {f"task.{k}": v for k, v in task.stored().items()}
    path = step_file(run, step)
    write_tensors(path, tensors, {"step": str(step)})
    return path


def checkpoint_schedule(steps: int, every: int = 0, log: int = 0) -> list[int]:
    """Steps to save: 0, the last, every `every`-th, and `log` log-spaced steps in [1, steps].

    Examples:
        >>> checkpoint_schedule(1000, every=500, log=4)
        [0, 1, 10, 100, 500, 1000]
    """
    saved = {0, steps}
    if every:
        saved |= set(range(every, steps + 1, every))
    if log:
        saved |= {round(10 ** (i * math.log10(steps) / max(log - 1, 1))) for i in range(log)}
    return sorted(s for s in saved if 0 <= s <= steps)


def model_entry(model: nn.Module) -> dict:
    """The `model` entry of config.json: the registered kind and the config."""
    kind = getattr(model, "kind", None)
    if kind is None or not hasattr(model, "cfg"):
        raise TypeError(f"cannot save a {type(model).__name__}: not an interp model")
    model_class(kind)  # registered
    return {"kind": kind, **model.cfg.to_dict()}


def task_entry(task: Any) -> dict:
    """The `task` entry of config.json: the registered kind and the config."""
    task_class(task.kind)
    return {"kind": task.kind, **task.config.to_dict()}


def check_pair(model: nn.Module, task: Any) -> None:
    """Raise `ValueError` unless `model` can be evaluated on `task`: an interp model of the task's
    kind, with the same number of models and, where both have one, the same p, string length d
    and op."""
    cfg = getattr(model, "cfg", None)
    if cfg is None or not hasattr(cfg, "models"):
        raise ValueError(f"a {type(model).__name__} is not an interp model (no ensemble config)")
    if cfg.models != task.models:
        raise ValueError(f"the model has {cfg.models} models but the task has {task.models}")
    expected = getattr(model, "task_kinds", None)
    if expected is not None and task.kind not in expected:
        kinds = " or ".join(repr(k) for k in expected)
        raise ValueError(f"a {model.kind} model takes a {kinds} task, not {task.kind!r}")
    for name in ("p", "d", "op"):
        mine = getattr(cfg, name, None)
        theirs = getattr(task.config, name, None)
        if mine is not None and theirs is not None and mine != theirs:
            raise ValueError(f"the model has {name}={mine!r} but the task has {name}={theirs!r}")


def save_model(model: nn.Module, path: str | Path, task: Any | None = None) -> Path:
    """Save one model (trained, extracted, ...) as a run of one step that `load_run` reads back.

    Examples:
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
        >>> path = save_model(interp.extract(run.model()), tmp / "extracted", run.task)
        >>> extracted = interp.load_run(path)
        >>> extracted.steps, sorted(f.name for f in path.iterdir())
        ([0], ['config.json', 'step_0000000.safetensors'])
        >>> print(interp.evaluate(extracted.model(), extracted.task))
        model   train  train-clean  train-noisy    test
            0   0.650        1.000        0.000   1.000
    """
    config: dict[str, Any] = {"model": model_entry(model)}
    if task is not None:
        check_pair(model, task)
        config["task"] = task_entry(task)
    run = new_run(path, config, getattr(model, "device", None))
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

    def saved(self, steps: Sequence[int] | None = None) -> list[int]:
        """`steps` (default: every saved step), each checked to be saved, for an analysis that
        reads several: one `ValueError` before any work starts.

        Examples:
            >>> load_run("checkpoints/dit_group2_d16").saved([305, 3000])
            [305, 3000]
        """
        if not self.steps:
            raise CheckpointError(f"{self.path}: no step_*.safetensors checkpoints")
        steps = list(self.steps if steps is None else steps)
        unsaved = [s for s in steps if s not in self.steps]
        if unsaved or not steps:
            first = unsaved[0] if unsaved else "none"
            raise ValueError(f"step {first} is not saved in {self.path}; saved steps: {self.steps}")
        return steps

    @property
    def kind(self) -> str:
        """The model kind stored in config.json."""
        return self.config["model"]["kind"]

    def tensors(self, step: int | None = None) -> dict[str, Tensor]:
        """All tensors of one step file (model weights and `task.*` masks)."""
        return read_tensors(step_file(self.path, self._step(step)))[0]

    def model(self, step: int | None = None, device: str | torch.device = "cpu") -> nn.Module:
        """The model after `step` updates (default: the last saved step), in eval mode."""
        path = step_file(self.path, self._step(step))
        tensors, _ = read_tensors(path)
        spec = dict(self.config["model"])
        cls = model_class(spec.pop("kind"))
        weights = {k: v for k, v in tensors.items() if not k.startswith("task.")}
        try:
            cfg = cls.config_class.from_dict(spec)
        except ValueError as e:
            raise CheckpointError(f"{self.path / CONFIG}: {e}") from None
        try:
            model = cls(cfg, device, weights)
        except (ValueError, KeyError, TypeError, RuntimeError) as e:
            raise CheckpointError(f"{path}: {e}") from None
        return model.eval()

    def stacked(
        self, steps: Sequence[int], per_chunk: int, device: str | torch.device = "cpu"
    ) -> Iterator[tuple[list[int], nn.Module]]:
        """Checkpoints side by side along the models axis: for each chunk of at most `per_chunk`
        steps, `(chunk, ensemble)` with the ensemble holding step chunk[0]'s models, then
        chunk[1]'s, ... (`Ensemble.concat`), so a curve over a run is a few batched calls.

        Examples:
            >>> run = load_run("checkpoints/dit_group2_d16")             # 2 models per step
            >>> [(chunk, model.cfg.models) for chunk, model in run.stacked([97, 305, 3000], 2)]
            [([97, 305], 4), ([3000], 2)]
        """
        if isinstance(per_chunk, bool) or not isinstance(per_chunk, int) or per_chunk < 1:
            raise ValueError(f"per_chunk={per_chunk!r} must be an integer >= 1")
        steps = list(steps)
        for i in range(0, len(steps), per_chunk):
            chunk = steps[i : i + per_chunk]
            parts = [self.model(s, device=device) for s in chunk]
            yield chunk, type(parts[0]).concat(parts).eval()

    @cached_property
    def task(self) -> Any:
        """The task the run trained on, regenerated from config.json and checked against the
        tensors the last step file stored (a modular task's split, noise and labels; a rule
        task's training strings)."""
        if "task" not in self.config:
            raise CheckpointError(f"{self.path / CONFIG}: this run has no task")
        spec = self.config["task"]
        if not isinstance(spec, dict) or "kind" not in spec:
            raise CheckpointError(f"{self.path / CONFIG}: the task entry has no 'kind'")
        try:
            cls = task_class(spec["kind"])
            config = cls.config_class.from_dict({k: v for k, v in spec.items() if k != "kind"})
            task = cls.from_config(config)
        except ValueError as e:
            raise CheckpointError(f"{self.path / CONFIG}: bad task config ({e})") from None
        path = step_file(self.path, self._step(None))
        stored = {k[5:]: v for k, v in read_tensors(path)[0].items() if k.startswith("task.")}
        try:
            task.check_stored(stored, str(path))
        except ValueError as e:
            raise CheckpointError(str(e)) from None
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
    version = _format_version(config_path, config)
    if version < FORMAT_VERSION:
        warnings.warn(
            f"{path}: run format version {version}, read as version {FORMAT_VERSION} "
            f"(`interp upgrade {path}` rewrites its config.json; its checkpoints stay)",
            stacklevel=2,
        )
        config = _migrated(config)
    model = config.get("model")
    if not isinstance(model, dict) or "kind" not in model:
        raise CheckpointError(f"{config_path}: no model entry with a 'kind'")
    try:
        model_class(model["kind"])
    except ValueError as e:
        raise CheckpointError(f"{config_path}: {e}") from None
    steps = sorted(
        int(m.group(1)) for f in path.iterdir() if (m := STEP_FILE.match(f.name)) is not None
    )
    return Run(path, config, steps)


def _format_version(config_path: Path, config: dict) -> int:
    """The run format version of a config, refused in one line when unknown or newer."""
    version = config.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{config_path}: format version {version!r} is not a known version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path}: run format version {version} is newer than this interp reads "
            f"({FORMAT_VERSION}, interp {__version__}); upgrade interp to read it"
        )
    return version


def _to_2(config: dict) -> dict:
    """1 -> 2: the provenance entry, unknown for a run that version 1 wrote."""
    return {**config, "provenance": {"torch": None, "device": None, "threads": None}}


# version -> the function taking a config of that version to the next one
_MIGRATIONS = {1: _to_2}


def _migrated(config: dict) -> dict:
    """A config of an older run format in the current one, one version at a time."""
    while config["format_version"] < FORMAT_VERSION:
        version = config["format_version"]
        config = {**_MIGRATIONS[version](config), "format_version": version + 1}
    return config


def upgrade_run(path: str | Path) -> tuple[int, int]:
    """Rewrite an older run's config.json in the current format (atomically; the checkpoints
    are kept as they are): `(version before, version after)`, equal when there was nothing to do.

    Raises:
        CheckpointError: not a run, or a format version this interp does not know.

    Examples:
        >>> import shutil, json
        >>> old = tmp / "old"
        >>> _ = shutil.copytree("checkpoints/doshi_p97_noise035_wd0", old)
        >>> config = json.loads((old / "config.json").read_text())
        >>> config["format_version"] = 1; del config["provenance"]     # as format 1 wrote it
        >>> _ = (old / "config.json").write_text(json.dumps(config))
        >>> upgrade_run(old), upgrade_run(old)
        ((1, 2), (2, 2))
        >>> load_run(old).config["provenance"]
        {'torch': None, 'device': None, 'threads': None}
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = load_run(path)  # validates the folder; migrates in memory
    raw = json.loads((run.path / CONFIG).read_text())
    before = raw["format_version"]
    if before == FORMAT_VERSION:
        return before, before
    write_json(run.path / CONFIG, _migrated(raw))
    return before, FORMAT_VERSION


def parse_step_file(path: str | Path) -> tuple[Path, int | None]:
    """`(run folder, step)` of a step file, `(path, None)` of anything else.

    Examples:
        >>> parse_step_file("runs/a/step_0000005.safetensors")
        (PosixPath('runs/a'), 5)
    """
    path = Path(path)
    if (m := STEP_FILE.match(path.name)) is not None:
        return path.parent, int(m.group(1))
    return path, None
