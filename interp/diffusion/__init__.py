"""What the generative studies share: EDM preconditioning and loss, the noise schedule, the
Heun and stochastic samplers, consistency models' boundary and multistep sampler, the empirical
optimal (memorizing) denoiser, the memorization of continuous samples (d1 / d2, f_mem) and
their distance to the data (the energy distance).

Examples:
    >>> from interp.diffusion import EmpiricalDenoiser, sample
    >>> D = EmpiricalDenoiser(torch.tensor([[0.5, -0.5], [-0.5, 0.5]]))
    >>> sample(D, (4, 2), generator=torch.Generator().manual_seed(0)).abs().round(decimals=3)
    tensor([[0.5000, 0.5000],
            [0.5000, 0.5000],
            [0.5000, 0.5000],
            [0.5000, 0.5000]])
"""

from interp.diffusion.consistency import (
    SIGMA_MIN,
    TWO_STEP_LEVEL,
    consistency_boundary,
    consistency_sample,
)
from interp.diffusion.edm import (
    SIGMA_DATA,
    Denoiser,
    EmpiricalDenoiser,
    edm_example_loss,
    edm_loss_weight,
    edm_precondition,
    heun_sample,
    heun_step,
    sample,
    sample_training_sigmas,
    sigma_schedule,
    stochastic_sample,
)
from interp.diffusion.memorization import (
    is_memorized_continuous,
    memorization_ratio,
    memorized_fraction,
)
from interp.diffusion.quality import energy_distance

__all__ = [
    "SIGMA_DATA",
    "SIGMA_MIN",
    "TWO_STEP_LEVEL",
    "Denoiser",
    "EmpiricalDenoiser",
    "consistency_boundary",
    "consistency_sample",
    "edm_example_loss",
    "energy_distance",
    "edm_loss_weight",
    "edm_precondition",
    "heun_sample",
    "heun_step",
    "is_memorized_continuous",
    "memorization_ratio",
    "memorized_fraction",
    "sample",
    "sample_training_sigmas",
    "sigma_schedule",
    "stochastic_sample",
]
