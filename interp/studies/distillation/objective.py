"""Consistency distillation (Song et al. 2023, Algorithm 2) as an objective of the one loop.

Each step, for each model of the student ensemble and each of its strings x (its own training
data, as the teacher saw it):

    n ~ U{0, ..., N - 2} on the Karras grid t_0 = s_max > ... > t_(N-1) = s_min,
    x_n = x + t_n z,                            z ~ N(0, I)
    x_(n+1) = one Heun step of the teacher's probability-flow ODE from t_n to t_(n+1)
    loss = lambda(n) || f_theta(x_n; t_n) - f_target(x_(n+1); t_(n+1)) ||^2   (mean over positions)

with lambda = 1 (Song et al. 2023, `weighting="uniform"`) or lambda = 1 / (t_n - t_(n+1))
(Song & Dhariwal 2023, `weighting="inverse_gap"`: the low levels, whose differences are tiny
in absolute terms, weigh as much as the high ones), and the target network an exponential
moving average of the student, target <- mu target +
(1 - mu) theta after every step (mu = 0: the student itself, without gradient). Model i of the
student distills model i of the teacher. The teacher is a denoiser ensemble (`DiT`, stored in
the run as `teacher.safetensors`) or "empirical": the optimal denoiser of each model's own
training set, a teacher that memorizes everything. The EMA target is part of the resume state,
so a cut distillation resumes bit-exactly.

Examples:
    >>> task = interp.rule_task("group_parity", d=8, group=2, N=[8, 16], seed=0)
    >>> student = interp.DiT(interp.DiTConfig(d=8, d_model=16, models=2, boundary="consistency"))
    >>> spec = ConsistencyDistillation("empirical", levels=18)
    >>> result = interp.train(student, task, interp.TrainConfig(steps=20, lr=3e-3, loss="l2",
    ...                       batch_size=32, log_every=10), objective=spec, progress=False)
    >>> result.metrics["train_loss"].shape                  # [logged steps, models]
    torch.Size([3, 2])
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.func import functional_call

from interp.core.objectives import _Strings
from interp.core.registry import model_class
from interp.core.runs import CheckpointError, model_entry, read_tensors, write_tensors
from interp.diffusion import SIGMA_MIN, EmpiricalDenoiser, heun_step, sigma_schedule
from interp.tasks.bitrules import to_signal

__all__ = ["ConsistencyDistillation", "consistency_student", "TEACHER_FILE"]

TEACHER_FILE = "teacher.safetensors"
WEIGHTINGS = ("uniform", "inverse_gap")


def consistency_student(teacher: nn.Module, sigma_min: float = SIGMA_MIN) -> nn.Module:
    """A consistency-boundary copy of a denoiser ensemble (`DiT`): the same network F and
    weights, Song et al.'s skip connection. Distillation starts from the teacher's weights.

    Examples:
        >>> teacher = interp.load_run("checkpoints/dit_group2_d16").model()
        >>> student = consistency_student(teacher)
        >>> student.cfg.boundary, torch.equal(student.W_pos, teacher.W_pos)
        ('consistency', True)
    """
    cfg = getattr(teacher, "cfg", None)
    if not hasattr(cfg, "boundary"):
        raise ValueError(f"a consistency student copies a DiT; got {type(teacher).__name__}")
    cfg = replace(cfg, boundary="consistency", sigma_min=sigma_min)
    return type(teacher)(cfg, teacher.device, teacher.weights())


@dataclass(frozen=True)
class ConsistencyDistillation:
    """What to distill and how: pass it as `train(student, task, cfg, objective=...)` with
    `cfg.loss = "l2"`; the student is a `DiT` with `boundary="consistency"`.

    Attributes:
        teacher: a denoiser ensemble with as many models as the student (`DiT`, EDM boundary),
            or "empirical" (each model's optimal denoiser of its own training data).
        levels: N, the points of the Karras grid (Song et al.: 18 for CIFAR-10, 40 in the
            seed's scripts).
        mu: the target network's EMA rate, in [0, 1) (Song et al.: 0.95 for CIFAR-10 CD).
        sigma_min, sigma_max, rho: the grid (and sigma_min the student's boundary level).
        weighting: lambda(n), "uniform" (1) or "inverse_gap" (1 / (t_n - t_(n+1))).
    """

    teacher: nn.Module | str = "empirical"
    levels: int = 40
    mu: float = 0.95
    sigma_min: float = SIGMA_MIN
    sigma_max: float = 80.0
    rho: float = 7.0
    weighting: str = "uniform"

    kind: ClassVar[str] = "consistency_distillation"
    losses: ClassVar[tuple[str, ...]] = ("l2",)

    def __post_init__(self) -> None:
        if isinstance(self.teacher, str) and self.teacher != "empirical":
            raise ValueError(f"teacher {self.teacher!r}: a DiT ensemble or 'empirical'")
        if not isinstance(self.teacher, str) and getattr(self.teacher, "kind", None) != "dit":
            raise ValueError(f"teacher {type(self.teacher).__name__}: a DiT or 'empirical'")
        if not isinstance(self.teacher, str) and self.teacher.cfg.boundary != "edm":
            raise ValueError("the teacher must be a denoiser (boundary 'edm'), not a student")
        if isinstance(self.levels, bool) or not isinstance(self.levels, int) or self.levels < 2:
            raise ValueError(f"levels={self.levels!r} must be an integer >= 2")
        if not 0 <= self.mu < 1:
            raise ValueError(f"mu={self.mu} must be in [0, 1)")
        if not 0 < self.sigma_min < self.sigma_max or not math.isfinite(self.sigma_max):
            raise ValueError(
                f"sigma_min={self.sigma_min}, sigma_max={self.sigma_max}: need 0 < min < max"
            )
        if not self.rho > 0:
            raise ValueError(f"rho={self.rho} must be > 0")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting {self.weighting!r} is not one of {', '.join(WEIGHTINGS)}")

    def grid(self, device: torch.device | str | None = None) -> Tensor:
        """The Karras grid `[levels]`, from sigma_max down to sigma_min."""
        return sigma_schedule(self.levels, self.sigma_min, self.sigma_max, self.rho, device)[:-1]

    def build(self, model: nn.Module, task: Any, cfg: Any, device: torch.device) -> _Distiller:
        if getattr(getattr(model, "cfg", None), "boundary", None) != "consistency":
            raise ValueError(
                "the student must be a DiT with boundary 'consistency' (consistency_student)"
            )
        if model.cfg.sigma_min != self.sigma_min:
            raise ValueError(
                f"student sigma_min={model.cfg.sigma_min} differs from the grid's {self.sigma_min}"
            )
        if not isinstance(self.teacher, str):
            t = self.teacher.cfg
            if t.models != model.cfg.models or t.d != model.cfg.d:
                raise ValueError(
                    f"teacher has {t.models} models over d={t.d}; the student {model.cfg.models} "
                    f"over d={model.cfg.d}: model i distills model i"
                )
        return _Distiller(self, model, task, cfg, device)

    def entry(self) -> dict[str, Any]:
        teacher = self.teacher if isinstance(self.teacher, str) else model_entry(self.teacher)
        fields = ("levels", "mu", "sigma_min", "sigma_max", "rho", "weighting")
        return {"teacher": teacher, **{k: getattr(self, k) for k in fields}}

    def save(self, run: Path) -> None:
        """Store the teacher's weights in the run (the empirical teacher is the task's data)."""
        if not isinstance(self.teacher, str):
            save_teacher(self.teacher, run)

    @classmethod
    def from_run(cls, entry: dict[str, Any], run: Path, device: torch.device) -> Any:
        teacher = entry.get("teacher")
        if isinstance(teacher, dict):
            entry = {**entry, "teacher": load_teacher(teacher, run, device)}
        return cls(**entry)


def save_teacher(teacher: nn.Module, run: Path) -> None:
    """Write a teacher ensemble's weights into a run folder (`TEACHER_FILE`)."""
    meta = {"model": json.dumps(model_entry(teacher))}
    write_tensors(Path(run) / TEACHER_FILE, teacher.weights(), meta)


def load_teacher(entry: dict[str, Any], run: Path, device: torch.device) -> nn.Module:
    """The teacher ensemble of a run: its stored config `entry` with `TEACHER_FILE`'s weights."""
    weights, _ = read_tensors(Path(run) / TEACHER_FILE)
    kind = model_class(entry.get("kind"))
    spec = {k: v for k, v in entry.items() if k != "kind"}
    try:
        return kind(kind.config_class.from_dict(spec), device, weights)
    except ValueError as e:
        raise CheckpointError(f"{Path(run) / TEACHER_FILE}: {e}") from None


class _Distiller(_Strings):
    """The objective `ConsistencyDistillation.build` makes (see the module docstring)."""

    metric_names = ("train_loss",)

    def __init__(
        self,
        spec: ConsistencyDistillation,
        model: nn.Module,
        task: Any,
        cfg: Any,
        device: torch.device,
    ) -> None:
        super().__init__(model, task, cfg, device)
        self.mu, self.model = spec.mu, model
        self.grid = spec.grid(device)
        gaps = self.grid[:-1] - self.grid[1:]
        self.weights = (
            gaps.reciprocal() if spec.weighting == "inverse_gap" else torch.ones_like(gaps)
        )
        self.target = {k: v.detach().to(device).clone() for k, v in model.named_parameters()}
        if isinstance(spec.teacher, str):
            data = self.task.data
            self.data = data if data.is_floating_point() else to_signal(data)
            self.teacher = None
        else:
            self.teacher = spec.teacher.to(device).eval()
            self.teacher_weights = {k: v.detach() for k, v in self.teacher.named_parameters()}

    def _teacher(self, rows: slice) -> Callable[[Tensor, Tensor], Tensor]:
        """The denoiser of the teacher models `rows`."""
        if self.teacher is None:
            return EmpiricalDenoiser(self.data[rows], self.task.mask[rows])
        weights = {k: v[rows] for k, v in self.teacher_weights.items()}
        return lambda x, s: functional_call(self.teacher, weights, (x, s))

    def loss(self, forward: Callable[..., Tensor], rows: slice, step: int) -> Tensor:
        gens, data, weight = self.draw(rows, step)
        clean = data if data.is_floating_point() else to_signal(data)
        size, d, device = clean.shape[1], clean.shape[2], clean.device
        n = torch.stack([torch.randint(len(self.grid) - 1, (size,), generator=g) for g in gens])
        z = torch.stack([torch.randn(size, d, generator=g) for g in gens]).to(device)
        t, t_next = self.grid[n.to(device)], self.grid[n.to(device) + 1]
        x_t = clean + t[..., None] * z
        with torch.no_grad():
            x_next = heun_step(self._teacher(rows), x_t, t, t_next)
            target_weights = {k: v[rows] for k, v in self.target.items()}
            target = functional_call(self.model, target_weights, (x_next, t_next))
        per_string = self.weights[n.to(device)] * ((forward(x_t, t) - target) ** 2).mean(-1)
        if self.batch_size is not None:
            return per_string.mean(-1)
        return (per_string * weight).sum(-1)

    @torch.no_grad()
    def after_step(self, model: nn.Module) -> None:
        """target <- mu target + (1 - mu) theta."""
        for name, p in model.named_parameters():
            self.target[name].lerp_(p.detach(), 1 - self.mu)

    def state(self) -> dict[str, Tensor]:
        return {f"target.{k}": v for k, v in self.target.items()}

    def load_state(self, tensors: dict[str, Tensor]) -> None:
        stored = {k.removeprefix("target."): v for k, v in tensors.items()}
        if set(stored) != set(self.target):
            raise CheckpointError("the resume state's target network does not match the student")
        for k, v in stored.items():
            self.target[k].copy_(v)
