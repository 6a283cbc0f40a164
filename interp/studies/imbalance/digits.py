"""Per-class generation metrics of a diffusion model trained on the imbalanced 8x8 digits
(`interp.tasks.digits`): which class each generated image belongs to, each class's share of
the samples against its training weight rho_c, and the fraction of each class's samples that
copy a training image.

The class of an image is that of the nearest class centroid, the mean of *all* the images of
that digit in scikit-learn's set (about 180, training and test alike): a fixed classifier that
does not see a model's training set, so it does not inherit the imbalance it measures (a
nearest-training-image rule would lean to the majority). It labels 99.4% of the images of
digits 0 and 1 right (55 of the 56 held out by default). A copy is Bonnaire et al.'s
d1 / d2 < 1/3 to that model's own training images (`interp.diffusion.memorization_ratio`).

Examples:
    >>> from interp.tasks.digits import digits_task
    >>> task = digits_task(weights=(0.75, 0.25), n=8)
    >>> zeros, ones = task.data[0][task.labels[0] == 0], task.data[0][task.labels[0] == 1]
    >>> zero, one, blend = zeros[0], ones[0], 0.5 * (zeros[1] + zeros[2])  # 2 zeros blended
    >>> samples = torch.stack([zero, one, one, blend])[None]  # [models, S, 64]
    >>> g = class_generation(task, samples)
    >>> g.classes.tolist(), g.memorized.tolist()
    ([[0, 1, 1, 0]], [[True, True, True, False]])
    >>> g.share.tolist(), g.memorized_fraction.tolist()       # [models, classes]
    ([[0.5, 0.5]], [[0.5, 1.0]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from interp.diffusion import edm_example_loss, memorization_ratio, sample_training_sigmas
from interp.diffusion.memorization import RATIO_THRESHOLD
from interp.tasks.digits import DigitsTask, digit_images

if TYPE_CHECKING:
    from interp.core.runs import Run

__all__ = [
    "ClassGeneration",
    "centroid_class",
    "class_generation",
    "class_denoising_loss",
    "class_loss_curve",
]


def centroid_class(task: DigitsTask, x: Tensor) -> Tensor:
    """`[...]` the class index of images `x [..., 64]`: the nearest centroid of the task's digits
    (each the mean of all of that digit's images), on x's device.

    Examples:
        >>> from interp.tasks.digits import digits_task
        >>> task = digits_task(classes=(3, 8), n=20)
        >>> bool((centroid_class(task, task.test) == task.test_labels).float().mean() > 0.9)
        True
    """
    images, digits = digit_images()
    centroids = torch.stack([images[digits == c].mean(0) for c in task.config.classes])
    centroids = centroids.to(x.device, x.dtype)  # [classes, 64]
    return ((x[..., None, :] - centroids) ** 2).sum(-1).argmin(-1)


@dataclass
class ClassGeneration:
    """Per-class view of generated images `[models, S, 64]`.

    Attributes:
        classes: `[models, S]` long, each sample's class index (`centroid_class`).
        ratio: `[models, S]` d1 / d2 to that model's training images (near 0: a copy).
        memorized: `[models, S]` bool, the copies (ratio < 1/3).
        share: `[models, classes]` the fraction of each model's samples in each class (compare
            it with `task.config.weights`).
        memorized_fraction: `[models, classes]` the fraction of each class's samples that are
            copies (NaN for a class with no sample).
    """

    classes: Tensor
    ratio: Tensor
    memorized: Tensor
    share: Tensor
    memorized_fraction: Tensor


def class_generation(task: DigitsTask, samples: Tensor) -> ClassGeneration:
    """Class, share and memorized fraction of `samples [models, S, 64]`, each model's samples
    against its own training images (see the module docstring)."""
    if samples.dim() != 3 or samples.shape[0] != task.models or samples.shape[-1] != task.d:
        raise ValueError(
            f"samples of shape {tuple(samples.shape)}: need [{task.models}, S, {task.d}]"
        )
    data, mask = task.data.to(samples.device), task.mask.to(samples.device)
    classes = centroid_class(task, samples)
    # one model at a time: each against its own training rows, padding left out
    ratio = torch.stack([memorization_ratio(s, x[m]) for s, x, m in zip(samples, data, mask)])
    memorized = ratio < RATIO_THRESHOLD
    onehot = nn.functional.one_hot(classes, len(task.config.classes)).to(samples.dtype)
    counts = onehot.sum(1)  # [models, classes]
    copies = (onehot * memorized[..., None]).sum(1)
    return ClassGeneration(classes, ratio, memorized, counts / samples.shape[1], copies / counts)


@torch.no_grad()
def class_denoising_loss(
    model: nn.Module, task: DigitsTask, split: str = "test", draws: int = 8, seed: int = 0
) -> Tensor:
    """`[models, classes]` EDM's weighted denoising loss (`edm_example_loss`, the training loss)
    of each class's images, averaged over `draws` noise levels ln(sigma) ~ N(-1.2, 1.2^2) and
    noises per image; the same draws for every model and every call with one seed, so values
    along training are comparable. `split` "test" uses the held-out images (shared), "train"
    each model's own. Classes of different spread have different floors: compare classes by
    when their loss falls (or, on "test", turns up), not by its level.

    Examples:
        >>> from interp.tasks.digits import SIGMA_DATA, digits_task
        >>> task = digits_task(weights=[(0.5, 0.5), (0.9, 0.1)], n=20)
        >>> dit = interp.DiT(interp.DiTConfig(d=64, d_model=8, models=2, sigma_data=SIGMA_DATA))
        >>> class_denoising_loss(dit, task).shape                # [models, classes]
        torch.Size([2, 2])
    """
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws={draws!r} must be an integer >= 1")
    if split == "test":
        images = task.test.expand(task.models, -1, -1)
        labels = task.test_labels.expand(task.models, -1)
        weight = torch.ones(labels.shape, dtype=torch.bool)
    elif split == "train":
        images, labels, weight = task.data, task.labels, task.mask
    else:
        raise ValueError(f"split={split!r} must be 'test' or 'train'")
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    images, labels, weight = images.to(device), labels.to(device), weight.to(device)
    total = torch.zeros(labels.shape, device=device)
    for _ in range(draws):
        sigma = sample_training_sigmas(labels.shape[1:], gen).expand(labels.shape)
        noise = torch.randn(images.shape[1:], generator=gen).expand(images.shape)
        total += edm_example_loss(
            model, images, sigma.to(device), noise.to(device), model.cfg.sigma_data
        )
    onehot = nn.functional.one_hot(labels, len(task.config.classes)) * weight[..., None]
    return (total[..., None] * onehot).sum(1) / (draws * onehot.sum(1))


def class_loss_curve(
    run: Run, split: str = "test", draws: int = 8, seed: int = 0
) -> tuple[list[int], Tensor]:
    """`(steps, loss [steps, models, classes])`: `class_denoising_loss` at every saved step of
    a run on a digits task. Per-class clocks follow from the rf_clocks thresholds:
    `score_clocks(loss.flatten(1), steps)` gives `[models * classes]` times.

    Examples:
        >>> from interp.tasks.digits import SIGMA_DATA, digits_task
        >>> task = digits_task(n=20)
        >>> dit = interp.DiT(interp.DiTConfig(d=64, d_model=8, n_heads=2, sigma_data=SIGMA_DATA))
        >>> cfg = interp.TrainConfig(steps=4, loss="edm", batch_size=8, save_every=2)
        >>> _ = interp.train(dit, task, cfg, out=tmp / "digits", device="cpu", progress=False)
        >>> steps, loss = class_loss_curve(interp.load_run(tmp / "digits"))
        >>> steps, loss.shape
        ([0, 2, 4], torch.Size([3, 1, 2]))
    """
    task = run.task
    curve = [class_denoising_loss(run.model(s), task, split, draws, seed) for s in run.steps]
    return list(run.steps), torch.stack(curve)
