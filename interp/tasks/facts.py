"""A synthetic fact base for capacity studies (Ye, Feldman, Talwar 2026; Allen-Zhu & Li): N names,
each mapped to a random K-digit value (K log2(10) bits of information per fact), seen during
training with Zipf frequencies p_i ~ (i + 1)^-exponent over the names in a random order.

A model stores a fact when it reproduces all K digits of the name's value (exact match);
`facts_known` counts them and `bits_stored` turns the count into bits, the quantity to hold
against the number of parameters (about 2 bits per parameter in the literature).

Examples:
    >>> task = fact_task(names=[100, 1000], digits=3, exponent=1.0, seed=0)
    >>> task.values.shape, task.mask.sum(1).tolist()           # [models, names_max, K]
    (torch.Size([2, 1000, 3]), [100, 1000])
    >>> round(task.bits_per_fact, 3)                            # 3 log2(10)
    9.966
    >>> facts_known(task.values, task).tolist()                 # the values themselves: all
    [100, 1000]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from interp.tasks.base import TaskConfig

__all__ = ["FactConfig", "FactTask", "fact_task", "facts_known", "bits_stored"]


@dataclass(frozen=True)
class FactConfig(TaskConfig):
    """Per model: the number of names and the seed; shared: digits per value and the Zipf
    exponent (0: every name equally frequent)."""

    names: tuple[int, ...]
    digits: int
    exponent: float
    seed: tuple[int, ...]

    @classmethod
    def _validated(cls, **fields: Any) -> FactConfig:
        return _fact_config(**fields)


def _fact_config(
    names: int | Sequence[int], digits: int, exponent: float, seed: int | Sequence[int]
) -> FactConfig:
    many = [len(v) for v in (names, seed) if isinstance(v, Sequence)]
    models = max(many, default=1)
    ns = tuple(names) if isinstance(names, Sequence) else (names,) * models
    seeds = tuple(seed) if isinstance(seed, Sequence) else (seed,) * models
    if len(ns) != models or len(seeds) != models:
        raise ValueError(f"names {list(ns)} and seed {list(seeds)}: one value or one per model")
    for n in ns:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"names={n!r} must be an integer >= 1")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 18:
        raise ValueError(f"digits={digits!r} must be an integer in [1, 18]")
    if not (isinstance(exponent, int | float) and math.isfinite(exponent) and exponent >= 0):
        raise ValueError(f"exponent={exponent!r} must be a finite number >= 0")
    if any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
        raise ValueError(f"seed={list(seeds)} must hold integers")
    return FactConfig(ns, digits, float(exponent), seeds)


@dataclass
class FactTask:
    """Each model's fact base, padded to the largest number of names.

    Attributes:
        config: the `FactConfig` that regenerates it.
        values: `[models, names_max, K]` long digits 0-9 (0 on padding).
        frequency: `[models, names_max]` each name's training frequency (sums to 1 per model,
            0 on padding).
        mask: `[models, names_max]` bool, the real names.
    """

    config: FactConfig
    values: Tensor
    frequency: Tensor
    mask: Tensor

    kind: ClassVar[str] = "facts"
    config_class: ClassVar[type] = FactConfig

    @property
    def models(self) -> int:
        return self.values.shape[0]

    @property
    def bits_per_fact(self) -> float:
        """K log2(10): the information in one value."""
        return self.config.digits * math.log2(10)

    def to(self, device: torch.device | str) -> FactTask:
        moved = {k: getattr(self, k).to(device) for k in ("values", "frequency", "mask")}
        return FactTask(self.config, **moved)

    def stored(self) -> dict[str, Tensor]:
        """What a step file keeps of the task: the values and the names' frequencies."""
        return {"values": self.values, "frequency": self.frequency}

    def check_stored(self, stored: dict[str, Tensor], where: str) -> None:
        """Raise `ValueError` unless `stored` holds exactly this fact base."""
        for name, value in self.stored().items():
            got = stored.get(name)
            if got is None or got.shape != value.shape or not torch.equal(got.cpu(), value.cpu()):
                raise ValueError(f"{where}: task.{name} does not match the task in config.json")

    def sample_names(self, size: int, generator: torch.Generator) -> Tensor:
        """`[models, size]` names drawn with replacement by each model's frequencies."""
        return torch.multinomial(self.frequency.cpu(), size, replacement=True, generator=generator)

    @classmethod
    def from_config(cls, config: FactConfig) -> FactTask:
        n_max, k = max(config.names), config.digits
        values = torch.zeros(len(config.names), n_max, k, dtype=torch.long)
        frequency = torch.zeros(len(config.names), n_max, dtype=torch.float64)
        mask = torch.zeros(len(config.names), n_max, dtype=torch.bool)
        for m, (n, seed) in enumerate(zip(config.names, config.seed)):
            gen = torch.Generator().manual_seed(seed)
            values[m, :n] = torch.randint(10, (n, k), generator=gen)
            weights = (torch.arange(n, dtype=torch.float64) + 1) ** -config.exponent
            frequency[m, :n] = (weights / weights.sum())[torch.randperm(n, generator=gen)]
            mask[m, :n] = True
        return cls(config, values, frequency, mask)


def fact_task(
    names: int | Sequence[int] = 1000,
    digits: int = 3,
    exponent: float = 1.0,
    seed: int | Sequence[int] = 0,
) -> FactTask:
    """Generate fact bases; sequences of names and seed give one value per model."""
    return FactTask.from_config(_fact_config(names, digits, exponent, seed))


def facts_known(predicted: Tensor, task: FactTask) -> Tensor:
    """`[models]` the number of real names whose predicted value `[models, names_max, K]` matches
    all K digits (exact match)."""
    if predicted.shape != task.values.shape:
        raise ValueError(
            f"predicted of shape {tuple(predicted.shape)}: need {tuple(task.values.shape)}"
        )
    exact = (predicted.to(task.values.device) == task.values).all(-1) & task.mask
    return exact.sum(-1)


def bits_stored(known: Tensor, task: FactTask, parameters: int) -> Tensor:
    """`[models]` bits per parameter: facts known x K log2(10) / parameters.

    Examples:
        >>> task = fact_task(names=10, digits=2)
        >>> round(bits_stored(torch.tensor([10]), task, parameters=100).item(), 4)  # 10 x 6.64/100
        0.6644
    """
    if parameters < 1:
        raise ValueError(f"parameters={parameters} must be >= 1")
    return known.double() * task.bits_per_fact / parameters
