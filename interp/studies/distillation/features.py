"""Distillation in the random-features model: which feature directions a student keeps.

A random-features score model s_A(x) = A act(W x / sqrt d) trained at one diffusion time t
(Bonnaire et al. 2025) has no trajectory to be consistent along, so here distillation is its
one-time form: a student s_B with the teacher's features W, B from zero, regresses the teacher's
score on the teacher's own inputs (each model's training points, noised afresh every step),

    loss = mean_i || s_B(x_t,i) - s_A(x_t,i) ||^2 / d,    x_t = a_t x_i + sqrt(Delta_t) eta.

This is our construction (the seed paper's random-features analysis is not public): it keeps the
teacher's data and time and replaces the noisy denoising target by the teacher's output.

Both read-outs live in the eigenbasis of the feature covariance U = E[phi phi^T] over the
noised training points (`feature_spectrum`). Gradient descent learns the component of A along
an eigenvector u_k at a rate proportional to its eigenvalue lambda_k: the small-lambda bulk,
which only a finite training set fills, is learned late (tau_mem) and is where memorization
lives. A student that learns the teacher by the same dynamics inherits each component as
(1 - e^(-c lambda_k tau))^2 instead of (1 - e^(-c lambda_k tau)): the slow directions are
suppressed quadratically, the fast ones kept.

Examples:
    >>> from interp.models.random_features import RandomFeaturesConfig
    >>> from interp.tasks.mixtures import mixture_task
    >>> task = mixture_task(d=4, n=[8], seed=0, n_test=16)
    >>> teacher = RandomFeatures(RandomFeaturesConfig(d=4, p=32, t=0.1))
    >>> student = rf_student(teacher)
    >>> torch.equal(student.W, teacher.W), student.A.abs().sum().item()
    (True, 0.0)
    >>> spectrum = feature_spectrum(teacher, task, draws=8)
    >>> spectrum.eigenvalues.shape, spectrum.energy(teacher).shape    # [models, p]
    (torch.Size([1, 32]), torch.Size([1, 32]))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.func import functional_call

from interp.core.objectives import ScoreMatching
from interp.models.random_features import ACTIVATIONS, RandomFeatures
from interp.studies.distillation.objective import load_teacher, save_teacher
from interp.tasks.mixtures import ou_coefficients

__all__ = [
    "ScoreDistillation",
    "rf_student",
    "feature_spectrum",
    "FeatureSpectrum",
    "kept_fraction",
]


def rf_student(teacher: RandomFeatures) -> RandomFeatures:
    """A random-features ensemble with the teacher's features W and its read-out A at zero."""
    if not isinstance(teacher, RandomFeatures):
        raise ValueError(f"an rf student copies a RandomFeatures; got {type(teacher).__name__}")
    weights = {**teacher.weights(), "A": torch.zeros_like(teacher.A)}
    return RandomFeatures(teacher.cfg, teacher.device, weights)


@dataclass(frozen=True)
class ScoreDistillation:
    """Distill a random-features teacher into a student with the same features (see the module
    docstring): `train(rf_student(teacher), task, TrainConfig(loss="mse", ...),
    objective=ScoreDistillation(teacher))`. Logs the distillation loss (`train_loss`), the
    student's own denoising loss on the test points (`test_loss`), its score error, and its
    denoising loss on its training draws (`denoising_train_loss`).

    Attributes:
        teacher: a `RandomFeatures` ensemble, model i the teacher of student model i.
    """

    teacher: nn.Module

    kind: ClassVar[str] = "score_distillation"
    losses: ClassVar[tuple[str, ...]] = ("mse",)

    def __post_init__(self) -> None:
        if not isinstance(self.teacher, RandomFeatures):
            raise ValueError(f"teacher {type(self.teacher).__name__}: a RandomFeatures ensemble")

    def build(self, model: nn.Module, task: Any, cfg: Any, device: torch.device) -> Any:
        if not isinstance(model, RandomFeatures) or model.cfg != self.teacher.cfg:
            raise ValueError(
                "the student must be a RandomFeatures of the teacher's config (rf_student)"
            )
        if not torch.equal(model.W.cpu(), self.teacher.W.cpu()):
            raise ValueError("the student's features W differ from the teacher's (rf_student)")
        return _ScoreDistiller(self, model, task, cfg, device)

    def entry(self) -> dict[str, Any]:
        from interp.core.runs import model_entry

        return {"teacher": model_entry(self.teacher)}

    def save(self, run: Path) -> None:
        save_teacher(self.teacher, run)

    @classmethod
    def from_run(cls, entry: dict[str, Any], run: Path, device: torch.device) -> Any:
        return cls(load_teacher(entry.get("teacher", {}), run, device))


class _ScoreDistiller(ScoreMatching):
    """The objective `ScoreDistillation.build` makes."""

    metric_names = ("train_loss", "test_loss", "score_error", "denoising_train_loss")

    def __init__(
        self, spec: ScoreDistillation, model: nn.Module, task: Any, cfg: Any, device: torch.device
    ) -> None:
        super().__init__(model, task, cfg, device)
        self.teacher = spec.teacher.to(device).eval()
        self.teacher_weights = self.teacher.weights()
        self.denoising = False  # metrics switch this on for the student's own loss

    def _point_loss(
        self, forward: Callable[..., Tensor], xt: Tensor, noise: Tensor, rows: slice
    ) -> Tensor:
        if self.denoising:
            return self._loss(forward(xt), noise)
        weights = {k: v[rows] for k, v in self.teacher_weights.items()}
        with torch.no_grad():
            target = functional_call(self.teacher, weights, (xt,))
        return ((forward(xt) - target) ** 2).mean(-1)

    @torch.no_grad()
    def metrics(self, model: nn.Module, step: int) -> dict[str, Tensor]:
        logged = super().metrics(model, step)
        self.denoising = True
        try:
            per_point, weight, _ = self._points(model, slice(0, model.cfg.models), step)
        finally:
            self.denoising = False
        return {**logged, "denoising_train_loss": (per_point * weight).sum(-1)}


@dataclass
class FeatureSpectrum:
    """The feature covariance U = E[phi phi^T] of each model's noised training points.

    Attributes:
        eigenvalues: `[models, p]`, descending.
        eigenvectors: `[models, p, p]`, column k for eigenvalue k.
    """

    eigenvalues: Tensor
    eigenvectors: Tensor

    def energy(self, model: nn.Module) -> Tensor:
        """`[models, p]`: ||A u_k||^2, the read-out's weight along each eigenvector."""
        return (model.A.detach() @ self.eigenvectors).pow(2).sum(-2)


@torch.no_grad()
def feature_spectrum(
    model: RandomFeatures, task: Any, draws: int = 64, seed: int = 0
) -> FeatureSpectrum:
    """Eigen-decompose each model's feature covariance over its training points noised to the
    model's time t (`draws` noise draws per point, from `seed`), in float64.

    Args:
        model: a `RandomFeatures` ensemble (its features W and time t are used; A is not).
        task: the mixture task it trained on (model i's training points).
        draws: noise draws per training point.
        seed: the draws' seed.

    Returns:
        `FeatureSpectrum` with eigenvalues `[models, p]` (descending) and eigenvectors.
    """
    if not isinstance(model, RandomFeatures):
        raise ValueError(f"feature_spectrum needs a RandomFeatures; got {type(model).__name__}")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws={draws!r} must be an integer >= 1")
    a, delta = ou_coefficients(model.cfg.t)
    gen = torch.Generator().manual_seed(seed)
    act = ACTIVATIONS[model.cfg.act]
    values, vectors = [], []
    for m in range(model.cfg.models):
        x = task.data[m][task.mask[m]].double().cpu()  # [n, d]
        noise = torch.randn(draws, *x.shape, generator=gen, dtype=torch.float64)
        xt = (a * x + math.sqrt(delta) * noise).reshape(-1, x.shape[-1])
        phi = act(xt @ model.W[m].double().cpu().T / math.sqrt(model.cfg.d))  # [draws n, p]
        lam, u = torch.linalg.eigh(phi.T @ phi / phi.shape[0])
        values.append(lam.flip(-1))
        vectors.append(u.flip(-1))
    device = model.device
    return FeatureSpectrum(
        torch.stack(values).to(device, model.A.dtype),
        torch.stack(vectors).to(device, model.A.dtype),
    )


def kept_fraction(eigenvalues: Tensor, lr: float, steps: int, d: int) -> Tensor:
    """The share of the teacher's energy along each eigenvector that a student distilled by
    gradient descent keeps, in expectation: (1 - (1 - 2 lr lambda_k / d)^steps)^2.

    The distillation loss mean ||(B - A) phi||^2 / d has the expected gradient 2 (B - A) U / d,
    so B - A shrinks along u_k by (1 - 2 lr lambda_k / d) per step from B = 0. Directions with
    lr lambda_k steps >> d are kept whole; the slow ones, quadratically little.

    Args:
        eigenvalues: `[..., p]` of the feature covariance (`feature_spectrum`).
        lr: the student's learning rate (plain gradient descent).
        steps: its steps.
        d: the data dimension.

    Returns:
        `[..., p]` in [0, 1] (where 2 lr lambda / d < 2: stable steps).

    Examples:
        >>> kept_fraction(torch.tensor([10.0, 1.0, 0.01]), lr=0.1, steps=100, d=10)
        tensor([1.0000e+00, 7.5235e-01, 3.9207e-04])
    """
    rate = 2 * lr * eigenvalues / d
    if bool((rate >= 2).any()):
        raise ValueError(
            f"lr={lr}: 2 lr lambda / d reaches {float(rate.max()):.3g} >= 2, gradient descent "
            "diverges along the top eigenvectors"
        )
    return (1 - (1 - rate) ** steps) ** 2
