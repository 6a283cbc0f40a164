"""TGB-style one-vs-many evaluation (Huang et al. 2023): each test edge (s, d, t) is ranked
against k negative destinations for the same source, half drawn from the destinations s has
linked to before (historical) and half at random ("hist_rnd"), and the mean reciprocal rank is
reported with TGB's tie rule, rank = 1 + (#negatives above + #negatives at or above) / 2, so that
a scorer that ties everything (EdgeBank among unseen pairs) is not flattered.

Examples:
    >>> mrr(np.array([1.0, 1.0]), np.array([[0.0, 0.0], [1.0, 0.0]]))   # ranks 1 and 1.5
    0.8333333333333333
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from interp.tasks.edges import EdgeSplit

__all__ = ["mrr", "hist_rnd_negatives", "one_vs_many"]


def mrr(positive: np.ndarray, negative: np.ndarray) -> float:
    """Mean reciprocal rank of `positive [B]` among its row of `negative [B, k]`, ties counted
    half (TGB's rule)."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    if negative.ndim != 2 or negative.shape[0] != positive.shape[0]:
        raise ValueError(
            f"positive {positive.shape}, negative {negative.shape}: need [B] and [B, k]"
        )
    above = (negative > positive[:, None]).sum(1)
    at_or_above = (negative >= positive[:, None]).sum(1)
    return float(np.mean(1 / (1 + (above + at_or_above) / 2)))


def hist_rnd_negatives(
    split: EdgeSplit, index: int, k: int, rng: np.random.Generator, _cache: dict | None = None
) -> np.ndarray:
    """`[k]` negative destinations for the stream's event `index`: up to k / 2 distinct earlier
    destinations of its source (before its time), the rest distinct random destinations of the
    stream; never the true destination. (`_cache` keeps the per-source histories between calls.)"""
    stream = split.stream
    cache = {} if _cache is None else _cache
    if not cache:
        order = np.lexsort((stream.t, stream.src))
        starts = np.flatnonzero(np.r_[True, np.diff(stream.src[order]) != 0])
        ends = np.r_[starts[1:], len(order)]
        cache["sources"] = {
            int(stream.src[order[a]]): (stream.t[order[a:b]], stream.dst[order[a:b]])
            for a, b in zip(starts, ends)
        }
        cache["dests"] = np.unique(stream.dst)
    s, d, t = int(stream.src[index]), stream.dst[index], stream.t[index]
    times, dests = cache["sources"][s]
    past = np.unique(dests[: np.searchsorted(times, t, side="left")])
    past = past[past != d]
    hist = rng.choice(past, size=min(len(past), k // 2), replace=False)
    others = np.setdiff1d(cache["dests"], np.r_[hist, d], assume_unique=False)
    rand = rng.choice(others, size=min(len(others), k - len(hist)), replace=False)
    return np.r_[hist, rand].astype(np.int64)


def one_vs_many(
    scorer: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    split: EdgeSplit,
    k: int = 20,
    batch_size: int = 200,
    seed: int = 0,
) -> float:
    """MRR of `scorer` over the test period, each test edge against `k` hist_rnd negatives; a
    scorer with `update` is fed the training and validation edges first and each batch after it
    is scored (as in `evaluate`)."""
    if k < 1 or batch_size < 1:
        raise ValueError(f"k={k}, batch_size={batch_size}: both must be >= 1")
    stream = split.stream
    if k > len(np.unique(stream.dst)) - 1:
        raise ValueError(f"k={k}: the stream has only {len(np.unique(stream.dst))} destinations")
    update = getattr(scorer, "update", None)
    if update is not None:
        known = split.train | split.val
        update(stream.src[known], stream.dst[known], stream.t[known])
    rng = np.random.default_rng(seed)
    test = np.flatnonzero(split.test)
    cache: dict = {}
    ranks = []
    for first in range(0, len(test), batch_size):
        rows = test[first : first + batch_size]
        src, dst, t = stream.src[rows], stream.dst[rows], stream.t[rows]
        negatives = np.stack([hist_rnd_negatives(split, i, k, rng, cache) for i in rows])
        pos = np.asarray(scorer(src, dst, t), float)
        neg = np.asarray(scorer(np.repeat(src, k), negatives.ravel(), np.repeat(t, k)), float)
        ranks.append(mrr(pos, neg.reshape(len(rows), k)) * len(rows))
        if update is not None:
            update(src, dst, t)
    return float(np.sum(ranks) / len(test))
