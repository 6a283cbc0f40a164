"""The random-features clocks (Bonnaire, Urfin, Biroli, Mezard 2025): a score model learns to
generalize at tau_gen, independent of n, and memorizes its n training points at tau_mem, which
grows with n.

Examples:
    >>> from interp.studies import rf_clocks
    >>> rf_clocks.loglog_slope([100, 200, 400, 800], [133, 764, 2182, 5227]) > 1   # the anchor
    True
"""

from interp.studies.rf_clocks.clocks import (
    GEN_TOL,
    MEM_RISE,
    ScoreClocks,
    denoise,
    loglog_slope,
    score_clocks,
)
from interp.studies.rf_clocks.generation import fmem_curve

__all__ = [
    "GEN_TOL",
    "MEM_RISE",
    "ScoreClocks",
    "denoise",
    "fmem_curve",
    "loglog_slope",
    "score_clocks",
]
