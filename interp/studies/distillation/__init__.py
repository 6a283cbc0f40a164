"""Consistency distillation of a memorizing teacher (Jiang & Zou 2026; Song et al. 2023)."""

from interp.studies.distillation.objective import (
    ConsistencyDistillation,
    consistency_student,
)

__all__ = ["ConsistencyDistillation", "consistency_student"]
