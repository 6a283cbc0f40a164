"""EdgeBank (Poursafaei et al. 2022): the memorization baseline of dynamic link prediction. It
predicts 1 for a pair it has seen and 0 otherwise; learning is remembering.

Variants: "unlimited" (every pair ever seen) and "window" (the pairs seen in the last `window`
share of the history by event count: times at or after the (1 - window) quantile of the
history's times, DGB's fixed time window; 0.15 by default).

Example:
    >>> bank = EdgeBank()
    >>> bank.update(np.array([0, 1]), np.array([1, 2]), np.array([0.0, 1.0]))
    >>> bank(np.array([0, 1, 2]), np.array([1, 2, 0])).tolist()     # seen, seen, never
    [1.0, 1.0, 0.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["EdgeBank", "MODES", "pair_keys"]

MODES = ("unlimited", "window")


def pair_keys(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """One int64 per directed pair (node ids below 2^31)."""
    src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    if len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= 2**31):
        raise ValueError("node ids must be in [0, 2^31)")
    return (src << 32) | dst


class EdgeBank:
    """The memory of pairs seen (see the module docstring): `update` remembers events, calling
    it scores pairs `[B]` as 1.0 (in memory) or 0.0.

    Args:
        mode: "unlimited" or "window".
        window: the share of the history (by event count) the window keeps, in (0, 1].
    """

    def __init__(self, mode: str = "unlimited", window: float = 0.15) -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        if not 0 < window <= 1:
            raise ValueError(f"window={window} must be in (0, 1]")
        self.mode, self.window = mode, window
        self.keys = np.empty(0, np.int64)
        self.times = np.empty(0, np.float64)

    def update(self, src: np.ndarray, dst: np.ndarray, t: np.ndarray) -> None:
        """Remember the events (src[k], dst[k]) at times t[k]."""
        self.keys = np.concatenate([self.keys, pair_keys(src, dst)])
        self.times = np.concatenate([self.times, np.asarray(t, dtype=np.float64)])

    def memory(self) -> np.ndarray:
        """The pair keys in memory now."""
        if self.mode == "window" and len(self.times):
            start = np.quantile(self.times, 1 - self.window)
            return self.keys[self.times >= start]
        return self.keys

    def __call__(self, src: np.ndarray, dst: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
        """`[B]` float: 1.0 for the pairs in memory, 0.0 for the rest (t is not used)."""
        return np.isin(pair_keys(src, dst), self.memory()).astype(np.float64)
