"""The posterior under a memorized prior (Siahkoohi & Sabeddu 2026): what a diffusion model that
memorized its training points does as a prior in an inverse problem. Limiting, linearized
(with the full Gaussian evidence) and exact posterior weights, effective modes and their curve
over the prior's width, the critical width sigma_crit, and diffusion posterior sampling with any
denoiser.

Examples:
    >>> from interp.studies import posterior
    >>> posterior.effective_modes(torch.tensor([0.25, 0.25, 0.25, 0.25])).item()
    4.0
"""

from interp.studies.posterior.dps import dps_sample, nearest_fractions
from interp.studies.posterior.posterior import (
    GaussianMixturePosterior,
    critical_sigma,
    effective_modes,
    exact_weights,
    limiting_weights,
    linearized_posterior,
    modes_curve,
)

__all__ = [
    "GaussianMixturePosterior",
    "critical_sigma",
    "dps_sample",
    "effective_modes",
    "exact_weights",
    "limiting_weights",
    "linearized_posterior",
    "modes_curve",
    "nearest_fractions",
]
