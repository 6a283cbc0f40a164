"""Class structure and imbalance in diffusion (Nicoletti et al. 2026): when the backward process
commits to a class (speciation), by U-turns with the exact mixture score or a trained model, and
the closed form for two equal-variance classes; per-class generation metrics (share of samples,
memorized fraction, denoising loss) of a model trained on the imbalanced 8x8 digits.

Examples:
    >>> from interp.studies import imbalance
    >>> round(imbalance.closed_form_speciation_time(4.0, 0.9, 0.1), 2)
    1.34
"""

from interp.studies.imbalance.digits import (
    ClassGeneration,
    centroid_class,
    class_denoising_loss,
    class_generation,
    class_loss_curve,
)
from interp.studies.imbalance.speciation import (
    class_of,
    closed_form_speciation_time,
    ou_score,
    reverse_ou,
    speciation_time,
    u_turns,
)

__all__ = [
    "ClassGeneration",
    "centroid_class",
    "class_denoising_loss",
    "class_generation",
    "class_loss_curve",
    "class_of",
    "closed_form_speciation_time",
    "ou_score",
    "reverse_ou",
    "speciation_time",
    "u_turns",
]
