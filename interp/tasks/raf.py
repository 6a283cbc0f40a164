"""The Rules-and-Facts task (Farne, Boncoraglio, Zdeborova 2026): Gaussian inputs labelled by a
teacher's rule, except a fraction of "facts" whose labels are random and can only be memorized.

Model m draws, from its seed, a teacher w* ~ N(0, I_d) and n[m] = round(alpha[m] d) points
x ~ N(0, I_d); exactly round(eps[m] n[m]) of them, chosen at random, are facts labelled +-1 with
probability 1/2 each, the others are labelled by the rule sign(w* . x / sqrt d). The fact mask
is kept. A test set of fresh points (shared by every model, from a seed of its own) is labelled
by each model's rule. Everything is float64.

Examples:
    >>> task = raf_task(d=10, alpha=[2.0, 3.0], eps=0.2, seed=[0, 1])
    >>> task.data.shape, task.n, task.facts.sum(1).tolist()        # [models, n_max, d]
    (torch.Size([2, 30, 10]), (20, 30), [4, 6])
    >>> rule = task.rule(task.data)                                 # [models, n_max]
    >>> bool((rule == task.labels)[task.mask & ~task.facts].all())  # the rest follow the rule
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from interp.tasks.base import LabelledPoints, TaskConfig
from interp.tasks.modular import _per_model

__all__ = ["RafConfig", "RafTask", "raf_task"]

TEST_SEED = 1_000_000_009  # the test points' draw, apart from every model's seed


@dataclass(frozen=True)
class RafConfig(TaskConfig):
    """Everything needed to regenerate a Rules-and-Facts task; one entry per model in the tuples.

    Attributes:
        d: dimension.
        alpha: per model, samples per dimension (n = round(alpha d)).
        eps: per model, the fraction of facts, in [0, 1].
        seed: per model, the seed of its teacher and training set.
        n_test: fresh test points, shared by every model.
    """

    d: int
    alpha: tuple[float, ...]
    eps: tuple[float, ...]
    seed: tuple[int, ...]
    n_test: int

    @property
    def n(self) -> tuple[int, ...]:
        """Per model, its number of training points round(alpha d)."""
        return tuple(round(a * self.d) for a in self.alpha)

    @property
    def n_facts(self) -> tuple[int, ...]:
        """Per model, its number of facts round(eps n)."""
        return tuple(round(e * n) for e, n in zip(self.eps, self.n))

    @classmethod
    def _validated(cls, **fields: Any) -> RafConfig:
        return _raf_config(**fields)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _raf_config(
    d: int,
    alpha: float | Sequence[float] = 2.0,
    eps: float | Sequence[float] = 0.2,
    seed: int | Sequence[int] = 0,
    n_test: int = 10_000,
) -> RafConfig:
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d={d!r} must be an integer >= 1")
    many = [
        len(v) for v in (alpha, eps, seed) if isinstance(v, Sequence) and not isinstance(v, str)
    ]
    models = max(many, default=1)
    alphas = _per_model("alpha", alpha, models)
    epss = _per_model("eps", eps, models)
    seeds = _per_model("seed", seed, models)
    for a in alphas:
        if not (_number(a) and round(a * d) >= 1):
            raise ValueError(f"alpha={a!r} must be a finite number with round(alpha d) >= 1")
    for e in epss:
        if not (_number(e) and 0 <= e <= 1):
            raise ValueError(f"eps={e!r} must be a number in [0, 1]")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int):
            raise ValueError(f"seed={s!r} must be an integer")
    if isinstance(n_test, bool) or not isinstance(n_test, int) or n_test < 1:
        raise ValueError(f"n_test={n_test!r} must be an integer >= 1")
    return RafConfig(
        d=d,
        alpha=tuple(float(a) for a in alphas),
        eps=tuple(float(e) for e in epss),
        seed=tuple(seeds),
        n_test=n_test,
    )


def _sign(z: Tensor) -> Tensor:
    """+-1 float64; a tie (probability 0) goes to +1 so that every label is +-1."""
    return torch.where(z >= 0, 1.0, -1.0).to(torch.float64)


@dataclass
class RafTask(LabelledPoints):
    """Per-model training sets padded to one tensor, their teachers and fact masks, a test set.

    Attributes:
        config: the `RafConfig` that regenerates this task.
        teacher: `[models, d]` float64, each model's w*.
        data: `[models, n_max, d]` float64; row i < n[m] of model m is its i-th training point.
        labels: `[models, n_max]` float64 +-1 training labels (0 on padding).
        facts: `[models, n_max]` bool, the points whose label is random.
        mask: `[models, n_max]` bool, the real rows.
        test: `[n_test, d]` float64 fresh points, shared by every model.
        test_labels: `[models, n_test]` float64 +-1, each model's rule on the test points.
    """

    config: RafConfig
    teacher: Tensor
    data: Tensor
    labels: Tensor
    facts: Tensor
    mask: Tensor
    test: Tensor
    test_labels: Tensor

    kind: ClassVar[str] = "raf"
    config_class: ClassVar[type] = RafConfig

    def rule(self, x: Tensor) -> Tensor:
        """Each model's rule sign(w* . x / sqrt d) as +-1: `[models, k, d]` or `[k, d]` (the
        same points for every model) -> `[models, k]`."""
        if x.dim() == 2:
            x = x.expand(self.models, *x.shape)
        return _sign(torch.einsum("mkd,md->mk", x.to(self.teacher), self.teacher))

    def select(self, models: Sequence[int] | int) -> RafTask:
        """The sub-task of the given model indices (an int keeps the axis: 1 model)."""
        idx = [models] if isinstance(models, int) else list(models)
        cfg = self.config
        sub = _raf_config(
            cfg.d,
            [cfg.alpha[i] for i in idx],
            [cfg.eps[i] for i in idx],
            [cfg.seed[i] for i in idx],
            cfg.n_test,
        )
        n_max = max(sub.n)
        rows = [t[idx, :n_max] for t in (self.data, self.labels, self.facts, self.mask)]
        return RafTask(sub, self.teacher[idx], *rows, self.test, self.test_labels[idx])

    def stored(self) -> dict[str, Tensor]:
        """What a step file keeps of the task: the training points, labels, facts and mask."""
        return {**super().stored(), "facts": self.facts}

    @classmethod
    def from_config(cls, config: RafConfig) -> RafTask:
        """Regenerate the task described by `config`, on the CPU."""
        models, d, n_max = config.models, config.d, max(config.n)
        teacher = torch.zeros(models, d, dtype=torch.float64)
        data = torch.zeros(models, n_max, d, dtype=torch.float64)
        labels = torch.zeros(models, n_max, dtype=torch.float64)
        facts = torch.zeros(models, n_max, dtype=torch.bool)
        mask = torch.zeros(models, n_max, dtype=torch.bool)
        for m, (n, k, seed) in enumerate(zip(config.n, config.n_facts, config.seed)):
            gen = torch.Generator().manual_seed(seed)
            teacher[m] = torch.randn(d, generator=gen, dtype=torch.float64)
            data[m, :n] = torch.randn(n, d, generator=gen, dtype=torch.float64)
            labels[m, :n] = _sign(data[m, :n] @ teacher[m])  # the 1/sqrt d leaves the sign
            chosen = torch.randperm(n, generator=gen)[:k]
            facts[m, chosen] = True
            labels[m, chosen] = _sign(torch.rand(k, generator=gen, dtype=torch.float64) - 0.5)
            mask[m, :n] = True
        gen = torch.Generator().manual_seed(TEST_SEED)
        test = torch.randn(config.n_test, d, generator=gen, dtype=torch.float64)
        return cls(config, teacher, data, labels, facts, mask, test, _sign(teacher @ test.T))


def raf_task(
    d: int,
    alpha: float | Sequence[float] = 2.0,
    eps: float | Sequence[float] = 0.2,
    seed: int | Sequence[int] = 0,
    n_test: int = 10_000,
) -> RafTask:
    """Generate a Rules-and-Facts task; sequences of alpha, eps and seed give one value per model.

    Examples:
        >>> task = raf_task(d=50, alpha=1.0, eps=0.1, n_test=100)
        >>> task.models, task.n, task.config.n_facts, task.test_labels.shape
        (1, (50,), (5,), torch.Size([1, 100]))
    """
    return RafTask.from_config(_raf_config(d, alpha, eps, seed, n_test))
