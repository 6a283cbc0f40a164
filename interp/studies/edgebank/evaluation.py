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

`memory_split` runs the same evaluation and splits a scorer's score into what EdgeBank's memory
explains and what it does not: its AUC on the test pairs seen before and on new ones, and how
well its score tells the two apart.

Examples:
    >>> from interp.studies.edgebank import EdgeBank
    >>> from interp.tasks.edges import chronological_split, edge_stream
    >>> split = chronological_split(edge_stream(nodes=40, edges=2000, recurrence=0.9, seed=0))
    >>> scores = evaluate(EdgeBank(), split, negatives="random")
    >>> round(scores.auc, 3) == round(0.5 + (scores.p_pos - scores.p_neg) / 2, 3)  # binary scores
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from interp.studies.edgebank.memory import EdgeBank, pair_keys
from interp.tasks.edges import EdgeSplit

__all__ = ["NEGATIVES", "LinkScores", "MemorySplit", "evaluate", "memory_split", "sample_negatives"]

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


def _scored_batches(
    scorer: Scorer, split: EdgeSplit, negatives: str, batch_size: int, seed: int
) -> Iterator[tuple[np.ndarray, ...]]:
    """The evaluation protocol (see `evaluate`): per test batch, `(src, dst, t, pos, neg_src,
    neg_dst, neg)`, the positives `[B]`, the negatives `[B]` and their scores; the scorer learns
    the batch (`update`) when the next one is asked for."""
    if negatives not in NEGATIVES:
        raise ValueError(f"negatives {negatives!r} is not one of {', '.join(NEGATIVES)}")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1")
    stream = split.stream
    test = np.flatnonzero(split.test)
    if len(test) == 0:
        raise ValueError("the split has no test events")
    update = getattr(scorer, "update", None)
    if update is not None:
        known = split.train | split.val
        update(stream.src[known], stream.dst[known], stream.t[known])
    rng = np.random.default_rng(seed)
    for first in range(0, len(test), batch_size):
        batch = slice(test[first], test[min(first + batch_size, len(test)) - 1] + 1)
        src, dst, t = stream.src[batch], stream.dst[batch], stream.t[batch]
        neg_src, neg_dst = sample_negatives(negatives, split, batch, rng)
        pos = np.asarray(scorer(src, dst, t), dtype=np.float64)
        neg = np.asarray(scorer(neg_src, neg_dst, t), dtype=np.float64)
        yield src, dst, t, pos, neg_src, neg_dst, neg
        if update is not None:
            update(src, dst, t)


def _batch_row(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float, float, float]:
    """AP, AUC and the shares of positives and negatives scored above zero."""
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    both = np.r_[pos, neg]
    return (
        float(average_precision_score(labels, both)),
        float(roc_auc_score(labels, both)),
        float((pos > 0).mean()),
        float((neg > 0).mean()),
    )


def _link_scores(rows: list[tuple[float, float, float, float]]) -> LinkScores:
    ap, auc, p_pos, p_neg = np.mean(rows, axis=0)
    return LinkScores(float(ap), float(auc), float(p_pos), float(p_neg), len(rows))


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
            test batch's positives after that batch is scored (`EdgeBank` and `LinkModel` have
            it).
        split: the stream and its split (`interp.tasks.edges.chronological_split`).
        negatives: "random", "historical" or "inductive".
        batch_size: test events per batch.
        seed: the negatives' draw.

    Returns:
        `LinkScores`.
    """
    batches = _scored_batches(scorer, split, negatives, batch_size, seed)
    return _link_scores([_batch_row(pos, neg) for _, _, _, pos, _, _, neg in batches])


@dataclass(frozen=True)
class MemorySplit:
    """How much of a scorer's score is memory (`memory_split`): its test positives split into
    repeats (the pair is in EdgeBank's memory when it is scored) and new pairs, each class scored
    against all the negatives, pooled over the test period.

    Attributes:
        scores: the scorer's `LinkScores` in the same run (as `evaluate` gives them).
        repeats: the share of test positives that are repeats.
        negatives_in_memory: the share of negatives in EdgeBank's memory when scored.
        auc_repeat, ap_repeat: AUC and AP of the repeats against the negatives.
        auc_new, ap_new: the same for the new pairs (above 0.5 AUC: more than memory).
        memory_auc: among the positives, the AUC of the scorer's score at telling repeats from
            new pairs (1: it ranks every remembered pair above every new one, as EdgeBank does;
            0.5: its score says nothing about memory).

    A class with no member gives nan. AP's chance level is the class's share of its comparison,
    repeats * P / (repeats * P + N) for repeats (P positives, N = P negatives), so compare APs
    within a class. For EdgeBank of the same memory, with q = negatives_in_memory: memory_auc =
    1, auc_repeat = 1 - q / 2 and auc_new = (1 - q) / 2.
    """

    scores: LinkScores
    repeats: float
    negatives_in_memory: float
    auc_repeat: float
    ap_repeat: float
    auc_new: float
    ap_new: float
    memory_auc: float


def memory_split(
    scorer: Scorer,
    split: EdgeSplit,
    negatives: str = "random",
    memory: str = "unlimited",
    window: float = 0.15,
    batch_size: int = 200,
    seed: int = 0,
) -> MemorySplit:
    """Evaluate `scorer` as `evaluate` does and split its score by memory (see `MemorySplit`):
    an `EdgeBank(memory, window)`, fed the training and validation edges and each test batch
    after it is scored, says which test positives are repeats.

    Args:
        scorer, split, negatives, batch_size, seed: as in `evaluate`.
        memory, window: the EdgeBank that defines a repeat ("unlimited": seen before at all).

    Returns:
        `MemorySplit`.

    Examples:
        >>> from interp.studies.edgebank import EdgeBank
        >>> from interp.tasks.edges import chronological_split, edge_stream
        >>> split = chronological_split(edge_stream(nodes=40, edges=2000, recurrence=0.7))
        >>> m = memory_split(EdgeBank(), split)
        >>> m.memory_auc, m.auc_new == (1 - m.negatives_in_memory) / 2    # memory is all it has
        (1.0, True)
    """
    bank = EdgeBank(memory, window=window)
    stream, known = split.stream, split.train | split.val
    bank.update(stream.src[known], stream.dst[known], stream.t[known])
    rows, pos_all, neg_all, repeat, neg_memory = [], [], [], [], []
    for src, dst, t, pos, neg_src, neg_dst, neg in _scored_batches(
        scorer, split, negatives, batch_size, seed
    ):
        rows.append(_batch_row(pos, neg))
        pos_all.append(pos)
        neg_all.append(neg)
        repeat.append(bank(src, dst, t) > 0)
        neg_memory.append(bank(neg_src, neg_dst, t) > 0)
        bank.update(src, dst, t)
    pos, neg, rep = np.concatenate(pos_all), np.concatenate(neg_all), np.concatenate(repeat)
    auc_repeat, ap_repeat = _against(pos[rep], neg)
    auc_new, ap_new = _against(pos[~rep], neg)
    return MemorySplit(
        scores=_link_scores(rows),
        repeats=float(rep.mean()),
        negatives_in_memory=float(np.concatenate(neg_memory).mean()),
        auc_repeat=auc_repeat,
        ap_repeat=ap_repeat,
        auc_new=auc_new,
        ap_new=ap_new,
        memory_auc=float(roc_auc_score(rep, pos)) if 0 < rep.sum() < len(rep) else math.nan,
    )


def _against(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """AUC and AP of positives `[P]` against negatives `[N]` (nan without positives)."""
    if not len(pos):
        return math.nan, math.nan
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    both = np.r_[pos, neg]
    return float(roc_auc_score(labels, both)), float(average_precision_score(labels, both))
