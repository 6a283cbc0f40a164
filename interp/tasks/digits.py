"""The 8x8 handwritten digits that ship inside scikit-learn (`load_digits`: 1797 images, about
180 per digit, no download), with a class imbalance imposed by subsampling.

Pixels (0..16) are scaled to [-1, 1] (`pixel / 8 - 1`); an image is a point in d = 64. Their
standard deviation over all 1797 images is 0.75 (`SIGMA_DATA`): the `sigma_data` of a DiT
trained on them. For each chosen digit a fixed set of `n_test` images (the same for every model
and every choice of the other digits) is held out as the test set; model m draws its n[m]
training images from the rest, without replacement, from its own seed, with exactly
`round(weights[m][c] n[m])` of class c (largest remainders). `labels` hold the class index c, the
position of the digit in `classes`, so `weights[m][c]` is its sampling weight rho_c.

Examples:
    >>> task = digits_task(classes=(0, 1), weights=[(0.5, 0.5), (0.9, 0.1)], n=40, seed=0)
    >>> task.data.shape, task.test.shape                       # [models, n_max, 64], [2 n_test, 64]
    (torch.Size([2, 40, 64]), torch.Size([56, 64]))
    >>> [row.bincount().tolist() for row in task.labels]      # exactly the imbalance asked for
    [[20, 20], [36, 4]]
    >>> float(task.data.min()), float(task.data.max())
    (-1.0, 1.0)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from interp.tasks.base import LabelledPoints, TaskConfig
from interp.tasks.mixtures import _class_counts
from interp.tasks.modular import _per_model

__all__ = ["DigitsConfig", "DigitsTask", "digits_task", "digit_images", "SIGMA_DATA"]

PIXELS = 64
SIGMA_DATA = 0.75  # std of every pixel of the 1797 images on the [-1, 1] scale (0.752)
TEST_SEED = 1_000_000_007  # the held-out draw of each digit, apart from every model's seed


@functools.lru_cache(maxsize=1)
def digit_images() -> tuple[Tensor, Tensor]:
    """`(images [1797, 64] float in [-1, 1], digits [1797] long)`: scikit-learn's bundled copy.

    Examples:
        >>> images, digits = digit_images()
        >>> images.shape, digits.bincount()[:3].tolist()
        (torch.Size([1797, 64]), [178, 182, 177])
    """
    from sklearn.datasets import load_digits  # ships with scikit-learn: read from disk

    bunch = load_digits()
    images = torch.as_tensor(bunch.data, dtype=torch.float32) / 8 - 1
    return images, torch.as_tensor(bunch.target, dtype=torch.long)


def _held_out(digit: int, n_test: int) -> tuple[Tensor, Tensor]:
    """`(test rows, pool rows)` of one digit's images in `digit_images()`: a fixed permutation
    per digit, so its test images do not depend on the other digits chosen."""
    rows = (digit_images()[1] == digit).nonzero().squeeze(1)
    gen = torch.Generator().manual_seed(TEST_SEED + digit)
    rows = rows[torch.randperm(len(rows), generator=gen)]
    return rows[:n_test], rows[n_test:]


@dataclass(frozen=True)
class DigitsConfig(TaskConfig):
    """Everything needed to regenerate a digits task; `n`, `weights` and `seed` have one entry
    per model.

    Attributes:
        classes: the digits used, in class order (class c is digit `classes[c]`).
        n: per model, the number of training images.
        weights: per model, the sampling weight of each class (they sum to 1).
        seed: per model, the seed of its draw.
        n_test: images of each digit held out as the shared test set.
    """

    classes: tuple[int, ...]
    n: tuple[int, ...]
    weights: tuple[tuple[float, ...], ...]
    seed: tuple[int, ...]
    n_test: int

    @property
    def d(self) -> int:
        return PIXELS

    @classmethod
    def _validated(cls, **fields: Any) -> DigitsConfig:
        return _digits_config(**fields)

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["weights"] = [list(w) for w in self.weights]
        return d


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _digits_config(
    classes: Sequence[int] = (0, 1),
    n: int | Sequence[int] = 150,
    weights: Sequence[float] | Sequence[Sequence[float]] | None = None,
    seed: int | Sequence[int] = 0,
    n_test: int = 28,
) -> DigitsConfig:
    classes = tuple(classes)
    if not classes or any(not (_is_int(c) and 0 <= c <= 9) for c in classes):
        raise ValueError(f"classes={classes} must be digits 0-9")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes={classes} repeats a digit")
    k = len(classes)
    if weights is None:
        weights = [1.0 / k] * k
    if not isinstance(weights, Sequence):
        raise ValueError(
            f"weights={weights!r} must be one weight per class, or such a list per model"
        )
    nested = len(weights) > 0 and all(isinstance(w, Sequence) for w in weights)
    many = [len(v) for v in (n, seed) if isinstance(v, Sequence) and not isinstance(v, str)]
    models = max([*many, len(weights) if nested else 1])
    ns, seeds = _per_model("n", n, models), _per_model("seed", seed, models)
    per_model = _per_model("weights", list(weights) if nested else [weights], models)
    rhos = tuple(tuple(float(w) for w in row) for row in per_model)
    if not (_is_int(n_test) and n_test >= 1):
        raise ValueError(f"n_test={n_test!r} must be an integer >= 1")
    pools = [len(_held_out(c, n_test)[1]) for c in classes]
    for digit, pool in zip(classes, pools):
        if pool < 1:
            raise ValueError(f"n_test={n_test} holds out every image of digit {digit}")
    for m, (size, seed_m, rho) in enumerate(zip(ns, seeds, rhos)):
        if not (_is_int(size) and size >= 2):
            raise ValueError(f"n={size!r} must be an integer >= 2")
        if not _is_int(seed_m):
            raise ValueError(f"seed={seed_m!r} must be an integer")
        finite = len(rho) == k and all(math.isfinite(w) and w > 0 for w in rho)
        if not (finite and abs(sum(rho) - 1) < 1e-6):
            raise ValueError(f"weights={rho} must be {k} numbers > 0 summing to 1 (one per class)")
        for digit, count, pool in zip(classes, _class_counts(rho, size), pools):
            if not 1 <= count <= pool:
                raise ValueError(
                    f"model {m}: weights {rho} at n={size} give {count} images of digit {digit}; "
                    f"it needs 1 to {pool} (its images outside the {n_test} held out)"
                )
    return DigitsConfig(classes, tuple(ns), rhos, tuple(seeds), n_test)


@dataclass
class DigitsTask(LabelledPoints):
    """Per-model training images of chosen digits, padded to one tensor, and the held-out test.

    Attributes:
        config: the `DigitsConfig` that regenerates this task.
        data: `[models, n_max, 64]` float in [-1, 1]; row i < n[m] of model m is its i-th image.
        labels: `[models, n_max]` long, each image's class index c (0 on padding).
        mask: `[models, n_max]` bool, the real rows.
        index: `[models, n_max]` long, each image's row in `digit_images()` (-1 on padding).
        test: `[n_test * classes, 64]` the held-out images, shared by every model.
        test_labels: `[n_test * classes]` long, their class indices.
    """

    config: DigitsConfig
    data: Tensor
    labels: Tensor
    mask: Tensor
    index: Tensor
    test: Tensor
    test_labels: Tensor

    kind: ClassVar[str] = "digits"
    config_class: ClassVar[type] = DigitsConfig

    @classmethod
    def from_config(cls, config: DigitsConfig) -> DigitsTask:
        """Regenerate the task described by `config`, on the CPU (what a run loader calls)."""
        images, _ = digit_images()
        splits = [_held_out(c, config.n_test) for c in config.classes]
        n_max = max(config.n)
        index = torch.full((config.models, n_max), -1, dtype=torch.long)
        labels = torch.zeros(config.models, n_max, dtype=torch.long)
        for m, (n, rho, seed) in enumerate(zip(config.n, config.weights, config.seed)):
            gen = torch.Generator().manual_seed(seed)
            picks = [
                pool[torch.randperm(len(pool), generator=gen)[:k]]
                for (_, pool), k in zip(splits, _class_counts(rho, n))
            ]
            classes = torch.cat([torch.full((len(p),), c) for c, p in enumerate(picks)])
            order = torch.randperm(n, generator=gen)  # classes interleaved, not in blocks
            index[m, :n], labels[m, :n] = torch.cat(picks)[order], classes[order]
        mask = index >= 0
        data = images[index.clamp_min(0)] * mask[..., None]
        test_rows = torch.cat([test for test, _ in splits])
        test_labels = torch.cat([torch.full((len(t),), c) for c, (t, _) in enumerate(splits)])
        return cls(config, data, labels, mask, index, images[test_rows], test_labels)


def digits_task(
    classes: Sequence[int] = (0, 1),
    weights: Sequence[float] | Sequence[Sequence[float]] | None = None,
    n: int | Sequence[int] = 150,
    seed: int | Sequence[int] = 0,
    n_test: int = 28,
) -> DigitsTask:
    """A digits task; `weights` is one tuple of class weights for every model or one tuple per
    model (an ensemble over imbalance ratios), `n` and `seed` one value or one per model.

    The defaults (digits 0 and 1, 28 held out of each) leave 150 and 154 training images: n = 150
    allows any weights up to 0.98 / 0.02 either way. Digit 1 is the more varied class (mean
    per-pixel variance 0.23 against 0.10 for digit 0).

    Examples:
        >>> digits_task(weights=(0.98, 0.02), n=150).labels[0].bincount().tolist()
        [147, 3]
        >>> digits_task(weights=(0.9, 0.2))
        Traceback (most recent call last):
        ValueError: weights=(0.9, 0.2) must be 2 numbers > 0 summing to 1 (one per class)
    """
    return DigitsTask.from_config(_digits_config(classes, n, weights, seed, n_test))
