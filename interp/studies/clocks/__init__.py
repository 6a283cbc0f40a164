"""Two clocks and score basins of generative models (Wang, Finn, Liu 2026): when samples become
rule-valid (tau_rule), when they become copies (tau_mem), and which strings the sampler is
drawn back to.

`interp.generate`, `interp.generation_curve`, `interp.measure_clocks` and `interp.basin_curve`
are at the top of `interp`; the rest of the study is here.

Examples:
    >>> from interp.studies import clocks
    >>> clocks.threshold_above_chance(0.5)
    0.9
"""

from interp.studies.clocks.basins import (
    DEFAULT_SIGMAS,
    BasinResult,
    basin_curve,
    basin_radius,
    basin_returns,
    basin_targets,
    empirical_basins,
    measure_basins,
    population_basins,
)
from interp.studies.clocks.clocks import (
    Clocks,
    GenerationStats,
    clocks_by_n,
    exact_matches,
    generation_stats,
    measure_clocks,
    threshold_above_chance,
)
from interp.studies.clocks.denoisers import ParityDenoiser
from interp.studies.clocks.generation import generate, generation_curve

__all__ = [
    "DEFAULT_SIGMAS",
    "BasinResult",
    "Clocks",
    "GenerationStats",
    "basin_curve",
    "basin_radius",
    "basin_returns",
    "basin_targets",
    "clocks_by_n",
    "empirical_basins",
    "exact_matches",
    "generate",
    "generation_curve",
    "generation_stats",
    "measure_basins",
    "measure_clocks",
    "population_basins",
    "ParityDenoiser",
    "threshold_above_chance",
]
