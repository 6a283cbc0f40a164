"""Gaussian mixtures in d dimensions: the data of the score-model studies.

Class c has mean `means[c]`, isotropic variance `variances[c]` and sampling weight
`weights[c]`; model m draws its own n[m] training points from its seed, with exactly
round(weights[c] n[m]) of class c (largest remainders), so an imbalance is the one asked for.
The class of every point is kept. A test set of fresh points (shared by every model) measures
generalization, and `score` is the exact score of the data noised by the Ornstein-Uhlenbeck
process to time t (a_t = e^-t, Delta_t = 1 - e^-2t):

    x_t = a_t x + sqrt(Delta_t) eta,   x_t | c ~ N(a_t mu_c, (a_t^2 s_c^2 + Delta_t) I).

Examples:
    >>> task = mixture_task(d=4, n=[8, 16], seed=0)                   # one class, N(0, I)
    >>> task.data.shape, task.mask.sum(1).tolist(), task.test.shape  # [models, n_max, d]
    (torch.Size([2, 16, 4]), [8, 16], torch.Size([1024, 4]))
    >>> x = torch.randn(5, 4)
    >>> torch.allclose(task.score(x, t=0.1), -x)                       # N(0, I) stays N(0, I)
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

__all__ = ["MixtureConfig", "MixtureTask", "mixture_task", "ou_coefficients"]

TEST_SEED = 1_000_000_007  # the test set's draw, apart from every model's seed


def ou_coefficients(t: float) -> tuple[float, float]:
    """`(a_t, Delta_t) = (e^-t, 1 - e^-2t)` of the Ornstein-Uhlenbeck process at time t > 0.

    Examples:
        >>> [round(v, 4) for v in ou_coefficients(0.1)]
        [0.9048, 0.1813]
    """
    if not (isinstance(t, int | float) and math.isfinite(t) and t > 0):
        raise ValueError(f"t={t!r} must be a finite time > 0")
    return math.exp(-t), 1 - math.exp(-2 * t)


@dataclass(frozen=True)
class MixtureConfig(TaskConfig):
    """Everything needed to regenerate a mixture task; `n` and `seed` have one entry per model.

    Attributes:
        d: dimension.
        n: per model, the number of training points.
        seed: per model, the seed of its draw.
        means: per class, its mean (`[C][d]`); default one class at the origin.
        variances: per class, its isotropic variance.
        weights: per class, its sampling weight (they sum to 1).
        n_test: fresh points in the shared test set.
    """

    d: int
    n: tuple[int, ...]
    seed: tuple[int, ...]
    means: tuple[tuple[float, ...], ...]
    variances: tuple[float, ...]
    weights: tuple[float, ...]
    n_test: int

    @property
    def classes(self) -> int:
        return len(self.weights)

    @classmethod
    def _validated(cls, **fields: Any) -> MixtureConfig:
        return _mixture_config(**fields)

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["means"] = [list(m) for m in self.means]
        return d


def _mixture_config(
    d: int,
    n: int | Sequence[int] = 100,
    seed: int | Sequence[int] = 0,
    means: Sequence[Sequence[float]] | None = None,
    variances: Sequence[float] | None = None,
    weights: Sequence[float] | None = None,
    n_test: int = 1024,
) -> MixtureConfig:
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d={d!r} must be an integer >= 1")
    means = [[0.0] * d] if means is None else [list(map(float, m)) for m in means]
    classes = len(means)
    variances = [1.0] * classes if variances is None else [float(v) for v in variances]
    weights = [1.0 / classes] * classes if weights is None else [float(w) for w in weights]
    if any(len(m) != d for m in means):
        raise ValueError(f"means must be {classes} vectors of d={d} numbers")
    if len(variances) != classes or any(not (math.isfinite(v) and v > 0) for v in variances):
        raise ValueError(f"variances={variances} must be {classes} finite numbers > 0")
    if len(weights) != classes or any(not (math.isfinite(w) and w > 0) for w in weights):
        raise ValueError(f"weights={weights} must be {classes} finite numbers > 0")
    if abs(sum(weights) - 1) > 1e-6:
        raise ValueError(f"weights={weights} must sum to 1")
    many = [len(v) for v in (n, seed) if isinstance(v, Sequence) and not isinstance(v, str)]
    models = max(many, default=1)
    ns, seeds = _per_model("n", n, models), _per_model("seed", seed, models)
    for value in ns:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"n={value!r} must be an integer >= 1")
    for value in seeds:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"seed={value!r} must be an integer")
    if isinstance(n_test, bool) or not isinstance(n_test, int) or n_test < 1:
        raise ValueError(f"n_test={n_test!r} must be an integer >= 1")
    return MixtureConfig(
        d=d,
        n=tuple(ns),
        seed=tuple(seeds),
        means=tuple(tuple(m) for m in means),
        variances=tuple(variances),
        weights=tuple(weights),
        n_test=n_test,
    )


def _class_counts(weights: Sequence[float], n: int) -> list[int]:
    """round(w_c n) per class by largest remainders: they sum to n exactly."""
    raw = [w * n for w in weights]
    counts = [math.floor(r) for r in raw]
    for c in sorted(range(len(raw)), key=lambda c: counts[c] - raw[c])[: n - sum(counts)]:
        counts[c] += 1
    return counts


def _draw(config: MixtureConfig, counts: list[int], gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """`(points [n, d], classes [n])`: class c's points, class after class, then shuffled."""
    labels = torch.cat([torch.full((k,), c) for c, k in enumerate(counts)])
    labels = labels[torch.randperm(len(labels), generator=gen)]
    means = torch.tensor(config.means)[labels]
    scale = torch.tensor(config.variances).sqrt()[labels, None]
    return means + scale * torch.randn(len(labels), config.d, generator=gen), labels


@dataclass
class MixtureTask(LabelledPoints):
    """Per-model training points of a Gaussian mixture, padded to one tensor, and a test set.

    Attributes:
        config: the `MixtureConfig` that regenerates this task.
        data: `[models, n_max, d]` float; row i < n[m] of model m is its i-th training point.
        labels: `[models, n_max]` long, each point's class (0 on padding).
        mask: `[models, n_max]` bool, the real rows.
        test: `[n_test, d]` fresh points, shared by every model.
        test_labels: `[n_test]` long, their classes.
    """

    config: MixtureConfig
    data: Tensor
    labels: Tensor
    mask: Tensor
    test: Tensor
    test_labels: Tensor

    kind: ClassVar[str] = "mixture"
    config_class: ClassVar[type] = MixtureConfig

    def select(self, models: Sequence[int] | int) -> MixtureTask:
        """The sub-task of the given model indices (an int keeps the axis: 1 model)."""
        idx = [models] if isinstance(models, int) else list(models)
        cfg = self.config
        sub = _mixture_config(
            cfg.d,
            [cfg.n[i] for i in idx],
            [cfg.seed[i] for i in idx],
            cfg.means,
            cfg.variances,
            cfg.weights,
            cfg.n_test,
        )
        n_max = max(sub.n)
        rows = (self.data[idx, :n_max], self.labels[idx, :n_max], self.mask[idx, :n_max])
        return MixtureTask(sub, *rows, self.test, self.test_labels)

    @classmethod
    def from_config(cls, config: MixtureConfig) -> MixtureTask:
        """Regenerate the task described by `config`, on the CPU (what a run loader calls)."""
        n_max = max(config.n)
        data = torch.zeros(config.models, n_max, config.d)
        labels = torch.zeros(config.models, n_max, dtype=torch.long)
        mask = torch.zeros(config.models, n_max, dtype=torch.bool)
        for m, (n, seed) in enumerate(zip(config.n, config.seed)):
            gen = torch.Generator().manual_seed(seed)
            data[m, :n], labels[m, :n] = _draw(config, _class_counts(config.weights, n), gen)
            mask[m, :n] = True
        gen = torch.Generator().manual_seed(TEST_SEED)
        test, test_labels = _draw(config, _class_counts(config.weights, config.n_test), gen)
        return cls(config, data, labels, mask, test, test_labels)

    def score(self, x: Tensor, t: float) -> Tensor:
        """The exact score grad log p_t(x) of the mixture noised to OU time t, `[..., d]` ->
        `[..., d]`, on x's device: sum_c r_c(x) (a mu_c - x) / v_c with v_c = a^2 s_c^2 +
        Delta and responsibilities r_c(x) proportional to w_c N(x; a mu_c, v_c I)."""
        a, delta = ou_coefficients(t)
        means = torch.tensor(self.config.means, dtype=x.dtype, device=x.device) * a  # [C, d]
        v = a * a * torch.tensor(self.config.variances, dtype=x.dtype, device=x.device) + delta
        w = torch.tensor(self.config.weights, dtype=x.dtype, device=x.device)
        diff = means - x[..., None, :]  # [..., C, d]
        log_r = w.log() - 0.5 * (diff**2).sum(-1) / v - 0.5 * self.d * v.log()
        r = log_r.softmax(-1)  # [..., C]
        return (r[..., None] * diff / v[:, None]).sum(-2)


def mixture_task(
    d: int,
    n: int | Sequence[int] = 100,
    seed: int | Sequence[int] = 0,
    means: Sequence[Sequence[float]] | None = None,
    variances: Sequence[float] | None = None,
    weights: Sequence[float] | None = None,
    n_test: int = 1024,
) -> MixtureTask:
    """Generate a mixture task; sequences of n and seed give one value per model.

    Examples:
        >>> task = mixture_task(d=2, n=10, means=[[4, 0], [-4, 0]], weights=[0.9, 0.1])
        >>> task.labels[0].bincount().tolist()                 # exactly 9 and 1
        [9, 1]
    """
    return MixtureTask.from_config(_mixture_config(d, n, seed, means, variances, weights, n_test))
