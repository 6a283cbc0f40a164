"""Teacher against student on the same starting noise: how much each memorizes, how good it is.

Every sampler starts from the same draws x = s_max z (one seed). The teacher samples with the
deterministic Heun sampler; the student in one step and in two (one per second level given).
On a rule task the strings are scored as in the two-clocks study: the fraction that satisfy the
rule (quality), that copy one of the model's training strings (memorization), and that are
valid and new. On continuous data (a mixture task): f_mem, the fraction of samples with
d1 / d2 < 1/3 to the model's training points (memorization), and the energy distance to the
task's fresh test points (quality: 0 for the data distribution itself).

Examples:
    >>> from interp.studies.distillation import consistency_student
    >>> run = interp.load_run("checkpoints/dit_group2_d16")
    >>> teacher = run.model()
    >>> student = consistency_student(teacher)     # not yet distilled: one step is a blur
    >>> result = compare_samplers(teacher, student, run.task, samples=256)
    >>> result.samplers
    ('teacher heun 18', 'student 1-step', 'student 2-step 0.821')
    >>> print(result.table(["N=16", "N=64"]))
    model  sampler               valid  copies   novel  copies/valid
     N=16  teacher heun 18       0.957   0.695   0.262         0.727
     N=16  student 1-step        0.004   0.000   0.004         0.000
     N=16  student 2-step 0.821  0.594   0.320   0.273         0.539
     N=64  teacher heun 18       0.984   0.320   0.664         0.325
     N=64  student 1-step        0.000   0.000   0.000           nan
     N=64  student 2-step 0.821  0.703   0.215   0.488         0.306
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from interp.diffusion import (
    TWO_STEP_LEVEL,
    EmpiricalDenoiser,
    consistency_sample,
    energy_distance,
    is_memorized_continuous,
    sample,
)
from interp.studies.clocks.clocks import generation_stats
from interp.tasks.bitrules import to_bits, to_signal

__all__ = ["SamplerComparison", "compare_samplers"]


@dataclass
class SamplerComparison:
    """Scores of several samplers on the same starting noise.

    Attributes:
        samplers: the samplers' names.
        metrics: each `[samplers, models]`: for a rule task "valid", "copies", "novel" and
            "copies/valid" (memorization at equal quality; nan where nothing is valid); for
            continuous data "f_mem" and "energy distance".
    """

    samplers: tuple[str, ...]
    metrics: dict[str, Tensor]

    def to_dict(self) -> dict[str, Any]:
        return {"samplers": list(self.samplers), **{k: v.tolist() for k, v in self.metrics.items()}}

    def table(self, labels: Sequence[str] | None = None) -> str:
        """One row per model and sampler, one column per metric."""
        models = next(iter(self.metrics.values())).shape[1]
        labels = list(labels) if labels is not None else [str(m) for m in range(models)]
        if len(labels) != models:
            raise ValueError(f"{len(labels)} labels for {models} models")
        width = max(len(s) for s in self.samplers)
        tag = max(5, *(len(label) for label in labels))
        names = list(self.metrics)
        rows = [f"{'model':>{tag}}  {'sampler':<{width}}  " + "  ".join(names)]
        for m, label in enumerate(labels):
            for i, sampler in enumerate(self.samplers):
                cells = [f"{float(self.metrics[k][i, m]):>{max(5, len(k))}.3f}" for k in names]
                rows.append(f"{label:>{tag}}  {sampler:<{width}}  " + "  ".join(cells))
        return "\n".join(rows)


@torch.no_grad()
def compare_samplers(
    teacher: nn.Module | str,
    student: nn.Module,
    task: Any,
    samples: int = 1024,
    seed: int = 0,
    teacher_steps: int = 18,
    second_levels: Sequence[float] = (TWO_STEP_LEVEL,),
    sigma_max: float = 80.0,
) -> SamplerComparison:
    """Score the teacher's Heun samples and the student's one- and two-step samples, all from
    the same starting noise, on the student's device.

    Args:
        teacher: the denoiser ensemble distilled (`DiT`), or "empirical" (each model's optimal
            denoiser of its own training data).
        student: the consistency ensemble (`DiT` with `boundary="consistency"`), model i the
            student of teacher model i.
        task: the task both were trained on: a rule task (bits) or a mixture task (points).
        samples: samples per model per sampler.
        seed: the noise seed, the same for every sampler.
        teacher_steps: the teacher's Heun steps (2 steps - 1 network calls).
        second_levels: one two-step sampler per level tau (the noise added back before the
            second call).
        sigma_max: the starting level of every sampler.

    Returns:
        `SamplerComparison`; `.table()` prints it.
    """
    kind = getattr(task, "kind", None)
    if kind not in ("rules", "mixture"):
        raise ValueError(f"a {kind!r} task: compare_samplers scores rule or mixture tasks")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples={samples!r} must be an integer >= 1")
    device = student.device
    task = task.to(device)
    shape = (student.cfg.models, samples, student.cfg.d)
    clean = task.data if task.data.is_floating_point() else to_signal(task.data)
    if teacher == "empirical":
        teacher = EmpiricalDenoiser(clean, task.mask)
    elif isinstance(teacher, str):
        raise ValueError(f"teacher {teacher!r}: a DiT ensemble or 'empirical'")

    def noise() -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    drawn = {
        f"teacher heun {teacher_steps}": sample(
            teacher,
            shape,
            steps=teacher_steps,
            generator=noise(),
            sigma_max=sigma_max,
            device=device,
        ),
        "student 1-step": consistency_sample(student, shape, (sigma_max,), noise()),
    }
    for tau in second_levels:
        drawn[f"student 2-step {tau:g}"] = consistency_sample(
            student, shape, (sigma_max, tau), noise()
        )
    scores = [_scores(x, task, clean) for x in drawn.values()]
    metrics = {k: torch.stack([row[k] for row in scores]) for k in scores[0]}
    return SamplerComparison(tuple(drawn), metrics)


def _scores(x: Tensor, task: Any, clean: Tensor) -> dict[str, Tensor]:
    """One sampler's metrics, each `[models]`."""
    if task.kind == "rules":
        stats = generation_stats(to_bits(x), task.valid, task.data, task.mask)
        return {
            "valid": stats.valid,
            "copies": stats.memorized,
            "novel": stats.novel_valid,
            "copies/valid": stats.memorized / stats.valid,  # nan where nothing is valid
        }
    copies = [  # each model against its own training points (padding rows left out)
        is_memorized_continuous(x[m], clean[m][task.mask[m]]).float().mean()
        for m in range(x.shape[0])
    ]
    return {"f_mem": torch.stack(copies), "energy distance": energy_distance(x, task.test)}
