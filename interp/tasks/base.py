"""What every task config shares: one entry per model in its tuples (`models` is the number of
seeds), and JSON round trips that validate what they read.

Example:
    >>> from interp.tasks.modular import ModularConfig
    >>> cfg = interp.modular_task(p=7, noise=[0.0, 0.2], seed=0).config
    >>> cfg.models, ModularConfig.from_dict(cfg.to_dict()) == cfg
    (2, True)
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, TypeVar

from interp.core.ensemble import config_from_dict

__all__ = ["TaskConfig"]

T = TypeVar("T", bound="TaskConfig")


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
