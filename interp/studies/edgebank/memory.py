"""EdgeBank (Poursafaei et al. 2022): the memorization baseline of dynamic link prediction. It
predicts 1 for a pair it has seen and 0 otherwise; learning is remembering.

Variants: "unlimited" (every pair ever seen); "window" (the pairs seen in the last `window`
share of the history by event count: times at or after the (1 - window) quantile of the
history's times, DGB's fixed time window; 0.15 by default); and two memories DGB names without a
public definition, in our reading: "reoccurrence" (the pairs seen within the mean time between
two occurrences of the same pair, counted back from the query time) and "frequency" (the pairs
seen at least as often as the mean pair).

Examples:
    >>> bank = EdgeBank()
    >>> bank.update(np.array([0, 1]), np.array([1, 2]), np.array([0.0, 1.0]))
    >>> bank(np.array([0, 1, 2]), np.array([1, 2, 0])).tolist()     # seen, seen, never
    [1.0, 1.0, 0.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["EdgeBank", "MODES", "pair_keys"]

MODES = ("unlimited", "window", "reoccurrence", "frequency")


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

    def memory(self, now: float | None = None) -> np.ndarray:
        """The pair keys in memory at time `now` (default: after the last event)."""
        if not len(self.times) or self.mode == "unlimited":
            return self.keys
        if self.mode == "window":
            return self.keys[self.times >= np.quantile(self.times, 1 - self.window)]
        pairs, inverse, counts = np.unique(self.keys, return_inverse=True, return_counts=True)
        if self.mode == "frequency":
            return pairs[counts >= counts.mean()]
        # reoccurrence: the mean gap between successive occurrences of a pair
        order = np.lexsort((self.times, inverse))
        same = inverse[order][1:] == inverse[order][:-1]
        gaps = np.diff(self.times[order])[same]
        now = self.times.max() if now is None else now
        span = gaps.mean() if len(gaps) else np.inf
        return self.keys[self.times >= now - span]

    def __call__(self, src: np.ndarray, dst: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
        """`[B]` float: 1.0 for the pairs in memory at the batch's first time (the reoccurrence
        window counts back from it; the other memories do not use t), 0.0 for the rest."""
        now = None if t is None or not len(t) else float(np.min(t))
        return np.isin(pair_keys(src, dst), self.memory(now)).astype(np.float64)
