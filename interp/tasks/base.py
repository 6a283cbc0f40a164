"""What tasks share: every task config has one entry per model in its tuples (`models` is the
number of seeds) and JSON round trips that validate what they read; tasks of labelled points
(Gaussian mixtures, digits) share their shape and their move between devices.

Examples:
    >>> from interp.tasks.modular import ModularConfig
    >>> cfg = interp.modular_task(p=7, noise=[0.0, 0.2], seed=0).config
    >>> cfg.models, ModularConfig.from_dict(cfg.to_dict()) == cfg
    (2, True)
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from typing import Any, TypeVar

import torch
from torch import Tensor

from interp.core.ensemble import config_from_dict

__all__ = ["TaskConfig", "LabelledPoints"]

T = TypeVar("T", bound="TaskConfig")
P = TypeVar("P", bound="LabelledPoints")


class TaskConfig:
    """Mixin of the frozen dataclass configs of tasks: a `seed` tuple (one per model) and any
    other fields; `_validated(**fields)` builds a checked config from stored fields."""

    seed: tuple[int, ...]

    @property
    def models(self) -> int:
        return len(self.seed)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls: type[T], d: Any) -> T:
        """Validate a stored config (unknown or missing keys, bad values: one-line ValueError)."""
        config_from_dict(cls, d, f"{cls.__name__}")
        return cls._validated(**d)

    @classmethod
    def _validated(cls: type[T], **fields: Any) -> T:
        raise NotImplementedError


class LabelledPoints:
    """Mixin of the dataclass tasks whose models train on labelled points: `config` (with `n`,
    one count per model), `data [models, n_max, d]`, `labels` and `mask [models, n_max]`, and
    their tensor fields moved together by `to`."""

    config: Any
    data: Tensor
    labels: Tensor
    mask: Tensor

    @property
    def models(self) -> int:
        return self.data.shape[0]

    @property
    def d(self) -> int:
        return self.data.shape[-1]

    @property
    def n(self) -> tuple[int, ...]:
        return self.config.n

    def to(self: P, device: torch.device | str) -> P:
        """The same task with every tensor on `device`."""
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in fields(self)  # type: ignore[arg-type]
            if isinstance(getattr(self, f.name), Tensor)
        }
        return replace(self, **moved)  # type: ignore[type-var]

    def stored(self) -> dict[str, Tensor]:
        """What a step file keeps of the task: the training points, their classes and mask."""
        return {"data": self.data, "labels": self.labels, "mask": self.mask}

    def check_stored(self, stored: dict[str, Tensor], where: str) -> None:
        """Raise `ValueError` unless `stored` holds exactly this task's training points."""
        for name, value in self.stored().items():
            got = stored.get(name)
            same = got is not None and got.shape == value.shape
            if not (same and torch.equal(got.to(value.dtype).cpu(), value.cpu())):
                raise ValueError(f"{where}: task.{name} does not match the task in config.json")
