"""Experiment trackers: `train(..., loggers=[...])` sends every logged step's metrics, one series
per model, tagged with that model's hyper-parameters, to TensorBoard or Weights & Biases.

A logger is any object with three methods, called by the training loop:

    start(name, tags)    once, before the first logged step: `name` the run (its folder name,
                         or "run" in memory), `tags[i]` model i's hyper-parameters (`model_tags`)
    log(step, metrics)   each logged step: `metrics` name -> `[models]` tensor (on the CPU)
    close()              once, after the last step (also when training fails)

`TensorBoard(logdir)` writes one event folder per model, `logdir/<name>/model_<i>`, with a scalar
per metric and the model's hyper-parameters in TensorBoard's HParams tab. `WandB(dir)` makes one
W&B run per model (offline by default: no account, no network; `wandb sync` uploads later),
grouped by `name`, with the hyper-parameters as its config and as `key=value` tags. Both need the
`tracking` extra (`pip install -e .[tracking]`); neither tracker is imported until a logger
starts.

Examples:
    >>> task = interp.modular_task(p=7, noise=[0.0, 0.5])
    >>> model = interp.MLP(interp.MLPConfig(p=7, width=8, models=2))
    >>> _ = interp.train(model, task, interp.TrainConfig(steps=4, log_every=2), device="cpu",
    ...                  progress=False, loggers=[TensorBoard(tmp / "tb")])
    >>> sorted(path.name for path in (tmp / "tb" / "run").iterdir())
    ['model_000', 'model_001']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from torch import Tensor

__all__ = ["Logger", "TensorBoard", "WandB", "model_tags"]

_EXTRA = "pip install -e .[tracking]"


class Logger(Protocol):
    """What `train` calls on each logger (see the module docstring)."""

    def start(self, name: str, tags: list[dict[str, Any]]) -> None: ...

    def log(self, step: int, metrics: dict[str, Tensor]) -> None: ...

    def close(self) -> None: ...


def model_tags(entry: dict, models: int) -> list[dict[str, Any]]:
    """Each model's hyper-parameters from a run's config entry (`task`, `model`, `train`): every
    scalar setting, and model i's value of every per-model list (length 1 or `models`), named
    `section.key`.

    Examples:
        >>> entry = {"task": {"kind": "modular", "p": 7, "noise": [0.0, 0.5], "seed": [0]},
        ...          "train": {"lr": [0.01], "betas": [0.9, 0.98], "loss": "mse"}}
        >>> model_tags(entry, 2)[1]
        {'task.kind': 'modular', 'task.p': 7, 'task.noise': 0.5, 'task.seed': 0, 'train.lr': 0.01, 'train.loss': 'mse'}
    """  # noqa: E501
    tags: list[dict[str, Any]] = [{} for _ in range(models)]
    for section in ("task", "model", "train"):
        for key, value in (entry.get(section) or {}).items():
            name = f"{section}.{key}"
            if isinstance(value, (bool, int, float, str)):
                for tag in tags:
                    tag[name] = value
            elif (
                isinstance(value, (list, tuple))
                and key not in _TUPLE_SETTINGS
                and len(value) in (1, models)
                and all(isinstance(v, (bool, int, float, str)) for v in value)
            ):
                for i, tag in enumerate(tags):
                    tag[name] = value[i if len(value) == models else 0]
    return tags


# Settings stored as lists that are one value, not one per model.
_TUPLE_SETTINGS = frozenset({"betas"})


def _require(module: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} logging needs the tracking extra: {_EXTRA}") from None


class TensorBoard:
    """TensorBoard event files: `logdir/<name>/model_<i>`, one scalar per metric, and the model's
    hyper-parameters with its last metrics in the HParams tab (written at `close`).

    Args:
        logdir: the folder TensorBoard reads (`tensorboard --logdir LOGDIR`).
    """

    def __init__(self, logdir: str | Path) -> None:
        self.logdir = Path(logdir)
        self._writers: list[Any] = []
        self._tags: list[dict[str, Any]] = []
        self._last: dict[str, Tensor] = {}

    def start(self, name: str, tags: list[dict[str, Any]]) -> None:
        _require("tensorboard", "TensorBoard")
        from torch.utils.tensorboard import SummaryWriter

        folder = self.logdir / _safe(name)
        self._tags = tags
        self._writers = [SummaryWriter(str(folder / f"model_{i:03d}")) for i in range(len(tags))]

    def log(self, step: int, metrics: dict[str, Tensor]) -> None:
        self._last = metrics
        for i, writer in enumerate(self._writers):
            for key, values in metrics.items():
                writer.add_scalar(key, float(values[i]), step)

    def close(self) -> None:
        for i, writer in enumerate(self._writers):
            final = {f"final/{k}": float(v[i]) for k, v in self._last.items()}
            writer.add_hparams(self._tags[i], final, run_name=".")
            writer.close()
        self._writers = []


class WandB:
    """Weights & Biases: one run per model, grouped by the run's name, config = the model's
    hyper-parameters, tags `key=value`; each logged step is one `log` call per model.

    Args:
        dir: where W&B writes (`dir/wandb/offline-run-*` offline).
        project: the W&B project.
        mode: "offline" (default: no account, no network; `wandb sync` uploads later),
            "online" or "disabled".

    W&B's service process writes the offline files after each run finishes: read them in the
    same process only after `wandb.teardown()` (or from another one once this one has exited).
    """

    def __init__(self, dir: str | Path, project: str = "interp", mode: str = "offline") -> None:
        if mode not in ("offline", "online", "disabled"):
            raise ValueError(f"mode {mode!r} is not one of offline, online, disabled")
        self.dir, self.project, self.mode = Path(dir), project, mode
        self._runs: list[Any] = []

    def start(self, name: str, tags: list[dict[str, Any]]) -> None:
        wandb = _require("wandb", "W&B")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._runs = [
            wandb.init(
                project=self.project,
                dir=str(self.dir),
                mode=self.mode,
                group=name,
                name=f"{name}/model_{i:03d}",
                config=tag,
                tags=[f"{k}={v}"[:64] for k, v in tag.items()],
                reinit="create_new",
                settings=wandb.Settings(silent=True, console="off"),
            )
            for i, tag in enumerate(tags)
        ]

    def log(self, step: int, metrics: dict[str, Tensor]) -> None:
        for i, run in enumerate(self._runs):
            run.log({k: float(v[i]) for k, v in metrics.items()}, step=step)

    def close(self) -> None:
        for run in self._runs:
            run.finish()
        self._runs = []


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "run"


@contextmanager
def tracked(
    loggers: Sequence[Any], name: str, tags: Callable[[], list[dict[str, Any]]]
) -> Iterator[Callable[[int, dict[str, Tensor]], None]]:
    """Start `loggers` (tags computed only when there is one), yield `log(step, metrics)`, and
    close every started logger on the way out, also when training fails."""
    started: list[Any] = []
    try:
        if loggers:
            model_tags = tags()
            for logger in check_loggers(loggers):
                logger.start(name, model_tags)
                started.append(logger)

        def log(step: int, metrics: dict[str, Tensor]) -> None:
            if started:
                cpu = {k: v.detach().cpu() for k, v in metrics.items()}
                for logger in started:
                    logger.log(step, cpu)

        yield log
    finally:
        for logger in started:
            logger.close()


def check_loggers(loggers: Sequence[Any]) -> list[Any]:
    """`loggers` as a list, each checked to have start, log and close."""
    loggers = list(loggers)
    if any(isinstance(logger, (str, Path)) for logger in loggers):
        raise TypeError("loggers are logger objects (TensorBoard(dir), WandB(dir)), not paths")
    for logger in loggers:
        missing = [m for m in ("start", "log", "close") if not callable(getattr(logger, m, None))]
        if missing:
            raise TypeError(
                f"logger {type(logger).__name__} lacks {', '.join(missing)}: a logger needs "
                "start(name, tags), log(step, metrics) and close()"
            )
    return loggers
