"""Consistency distillation of a memorizing teacher (Jiang & Zou 2026; Song et al. 2023): the
distillation objective for the one training loop, a student that starts from its teacher, the
teacher-against-student comparison of memorization and quality on the same starting noise, and,
in the random-features model, the feature directions a distilled student keeps.

Examples:
    >>> from interp.studies import distillation
    >>> spec = distillation.ConsistencyDistillation("empirical", levels=18, mu=0.95)
    >>> spec.grid()[[0, -1]]                                   # the Karras grid's two ends
    tensor([8.0000e+01, 2.0000e-03])
"""

from interp.studies.distillation.compare import SamplerComparison, compare_samplers
from interp.studies.distillation.features import (
    FeatureSpectrum,
    ScoreDistillation,
    feature_spectrum,
    kept_fraction,
    rf_student,
)
from interp.studies.distillation.objective import (
    ConsistencyDistillation,
    consistency_student,
)
from interp.studies.distillation.teachers import run_teachers

__all__ = [
    "ConsistencyDistillation",
    "FeatureSpectrum",
    "SamplerComparison",
    "ScoreDistillation",
    "compare_samplers",
    "consistency_student",
    "feature_spectrum",
    "kept_fraction",
    "rf_student",
    "run_teachers",
]
