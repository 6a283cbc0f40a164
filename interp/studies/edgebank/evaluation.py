"""Evaluate any link scorer on a stream's test period as DGB does (Poursafaei et al. 2022): the
test edges in batches of 200 in time order, as many negatives per batch as positives from one of
three samplers, AP and AUC per batch averaged; a scorer with `update` learns each batch's
positives after it is scored (EdgeBank remembers them). Before the test the scorer has seen the
training and validation edges.

Negative samplers:
- "random": a uniform (src, dst) pair of the stream's sources and destinations that is not one of
  the batch's positives, its src then set to the positive's src (as DGB: the final pair may
  still be a positive of the batch);
- "historical": pairs seen before the batch (from the start of the stream) and not in the batch;
- "inductive": those of them first seen in the test period (after the validation end);
  both topped up with random negatives when the pool is smaller than the batch.

Example:
    >>> from interp.studies.edgebank import EdgeBank
    >>> from interp.tasks.edges import chronological_split, edge_stream
    >>> split = chronological_split(edge_stream(nodes=40, edges=2000, recurrence=0.9, seed=0))
    >>> scores = evaluate(EdgeBank(), split, negatives="random")
    >>> round(scores.auc, 3) == round(0.5 + (scores.p_pos - scores.p_neg) / 2, 3)  # binary scores
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from interp.studies.edgebank.memory import pair_keys
from interp.tasks.edges import EdgeSplit

__all__ = ["NEGATIVES", "LinkScores", "evaluate", "sample_negatives"]

NEGATIVES = ("random", "historical", "inductive")

Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class LinkScores:
    """Batch-averaged AP and AUC of a scorer, and (for reading binary scorers) the mean share of
    positives and of negatives scored above zero.

    Attributes:
        ap, auc: averages over the test batches.
        p_pos, p_neg: averages of the fraction of positives / negatives with a score > 0.
        batches: how many batches.
    """

    ap: float
    auc: float
    p_pos: float
    p_neg: float
    batches: int


def sample_negatives(
    kind: str,
    split: EdgeSplit,
    batch: slice,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """`(src, dst)` negatives for the test events `batch` (indices into the stream), as many as
    positives, by the sampler `kind` (see the module docstring)."""
    stream = split.stream
    src, dst, start = stream.src[batch], stream.dst[batch], stream.t[batch][0]
    size = len(src)
    positives = pair_keys(src, dst)
    if kind == "random":
        return src.copy(), _random_dst(split, positives, src, rng)
    if kind not in NEGATIVES:
        raise ValueError(f"negatives {kind!r} is not one of {', '.join(NEGATIVES)}")
    before = stream.t < start
    pool = np.unique(pair_keys(stream.src[before], stream.dst[before]))
    if kind == "inductive":
        seen = stream.t <= split.test_time
        pool = np.setdiff1d(pool, pair_keys(stream.src[seen], stream.dst[seen]))
    pool = np.setdiff1d(pool, positives)
    picked = rng.choice(pool, size=min(size, len(pool)), replace=False)
    neg_src, neg_dst = picked >> 32, picked & 0xFFFFFFFF
    if len(picked) < size:  # top up with random pairs
        extra = slice(len(picked), size)
        neg_src = np.concatenate([neg_src, src[extra]])
        neg_dst = np.concatenate([neg_dst, _random_dst(split, positives, src[extra], rng)])
    return neg_src, neg_dst


def _random_dst(
    split: EdgeSplit, positives: np.ndarray, src: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A destination per source from uniform (src, dst) pairs of the stream's nodes that are not
    the batch's positives (the pair is redrawn until it is not one)."""
    sources, dests = np.unique(split.stream.src), np.unique(split.stream.dst)
    out = np.empty(len(src), np.int64)
    todo = np.arange(len(src))
    while len(todo):
        s = sources[rng.integers(len(sources), size=len(todo))]
        d = dests[rng.integers(len(dests), size=len(todo))]
        ok = ~np.isin(pair_keys(s, d), positives)
        out[todo[ok]] = d[ok]
        todo = todo[~ok]
    return out


def evaluate(
    scorer: Scorer,
    split: EdgeSplit,
    negatives: str = "random",
    batch_size: int = 200,
    seed: int = 0,
) -> LinkScores:
    """Score the test period of `split` (see the module docstring).

    Args:
        scorer: `scorer(src [B], dst [B], t [B]) -> scores [B]`, higher for likelier links; if it
            has `update(src, dst, t)`, it is fed the training and validation edges first and each
            test batch's positives after that batch is scored (`EdgeBank` has it).
        split: the stream and its split (`interp.tasks.edges.chronological_split`).
        negatives: "random", "historical" or "inductive".
        batch_size: test events per batch.
        seed: the negatives' draw.

    Returns:
        `LinkScores`.
    """
    if negatives not in NEGATIVES:
        raise ValueError(f"negatives {negatives!r} is not one of {', '.join(NEGATIVES)}")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1")
    stream = split.stream
    update = getattr(scorer, "update", None)
    if update is not None:
        known = split.train | split.val
        update(stream.src[known], stream.dst[known], stream.t[known])
    test = np.flatnonzero(split.test)
    if len(test) == 0:
        raise ValueError("the split has no test events")
    rng = np.random.default_rng(seed)
    rows = []
    for first in range(0, len(test), batch_size):
        batch = slice(test[first], test[min(first + batch_size, len(test)) - 1] + 1)
        src, dst, t = stream.src[batch], stream.dst[batch], stream.t[batch]
        neg_src, neg_dst = sample_negatives(negatives, split, batch, rng)
        pos = np.asarray(scorer(src, dst, t), dtype=np.float64)
        neg = np.asarray(scorer(neg_src, neg_dst, t), dtype=np.float64)
        labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        both = np.r_[pos, neg]
        rows.append(
            (
                average_precision_score(labels, both),
                roc_auc_score(labels, both),
                float((pos > 0).mean()),
                float((neg > 0).mean()),
            )
        )
        if update is not None:
            update(src, dst, t)
    ap, auc, p_pos, p_neg = np.mean(rows, axis=0)
    return LinkScores(float(ap), float(auc), float(p_pos), float(p_neg), len(rows))
