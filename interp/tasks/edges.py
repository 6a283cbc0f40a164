"""Temporal edge streams for dynamic link prediction: (src, dst, t) events in time order, read from
plain files or generated with a controlled recurrence, and split in time as DGB does
(Poursafaei et al. 2022).

Examples:
    >>> stream = edge_stream(nodes=50, edges=1000, recurrence=0.8, seed=0)
    >>> len(stream), bool((np.diff(stream.t) >= 0).all())
    (1000, True)
    >>> split = chronological_split(stream, seed=0)
    >>> int(split.train.sum()), int(split.val.sum()), int(split.test.sum())   # new nodes out
    (619, 150, 150)
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["EdgeStream", "EdgeSplit", "load_edges", "edge_stream", "chronological_split"]

# Column names that mean source, destination and time in the formats in use (plain `src dst t`
# text, DGB's ml_*.csv with u, i, ts; TGB's CSVs).
_NAMES = {
    "src": ("src", "u", "source", "source_id", "from", "sender"),
    "dst": ("dst", "i", "destination", "destination_id", "to", "receiver", "target"),
    "t": ("t", "ts", "time", "timestamp", "unix_time"),
}


@dataclass(frozen=True)
class EdgeStream:
    """Events (src[k], dst[k], t[k]), sorted by t (stable: ties keep their file order).

    Attributes:
        src, dst: `[E]` int64 node ids.
        t: `[E]` float64 times, non-decreasing.
    """

    src: np.ndarray
    dst: np.ndarray
    t: np.ndarray

    def __post_init__(self) -> None:
        if not (len(self.src) == len(self.dst) == len(self.t)):
            raise ValueError(
                f"src, dst, t have lengths {len(self.src)}, {len(self.dst)}, {len(self.t)}"
            )
        if len(self.t) and not np.isfinite(self.t).all():
            raise ValueError(f"t holds NaN or inf at event {int(np.argmin(np.isfinite(self.t)))}")
        if (np.diff(self.t) < 0).any():
            raise ValueError("t must be non-decreasing: build streams with `EdgeStream.sorted`")

    @classmethod
    def sorted(cls, src: np.ndarray, dst: np.ndarray, t: np.ndarray) -> EdgeStream:
        """A stream from events in any order (sorted by time, stably)."""
        order = np.argsort(np.asarray(t, dtype=np.float64), kind="stable")
        return cls(
            np.asarray(src, dtype=np.int64)[order],
            np.asarray(dst, dtype=np.int64)[order],
            np.asarray(t, dtype=np.float64)[order],
        )

    def __len__(self) -> int:
        return len(self.t)

    @property
    def nodes(self) -> int:
        """One more than the largest node id."""
        return int(max(self.src.max(initial=-1), self.dst.max(initial=-1))) + 1


def load_edges(path: str | Path) -> EdgeStream:
    """Read a stream from a text or CSV file: whitespace- or comma-separated, with or without a
    header. With a header the columns are found by name (src/u/source, dst/i/destination,
    t/ts/time/timestamp); without one the first three columns are src, dst, t.

    Examples:
        >>> _ = (tmp / "e.txt").write_text("src dst time\\n1 2 10\\n2 3 5\\n")
        >>> stream = load_edges(tmp / "e.txt")
        >>> stream.src.tolist(), stream.t.tolist()            # sorted by time
        ([2, 1], [5.0, 10.0])
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    text = path.read_text().splitlines()
    rows = [line for line in text if line.strip()]
    if not rows:
        raise ValueError(f"{path}: empty file")
    comma = "," in rows[0]
    split = (lambda line: next(csv.reader([line]))) if comma else str.split
    first = [cell.strip().lower() for cell in split(rows[0])]
    columns = (0, 1, 2)
    if not _numeric(first[:3]):
        found = [
            next((i for i, c in enumerate(first) if c in names), None) for names in _NAMES.values()
        ]
        if None in found:
            missing = [k for k, i in zip(_NAMES, found) if i is None]
            raise ValueError(f"{path}: header {first} has no column for {', '.join(missing)}")
        columns = tuple(found)  # type: ignore[assignment]
        rows = rows[1:]
    try:
        table = np.array([[float(split(line)[c]) for c in columns] for line in rows])
    except (ValueError, IndexError) as e:
        raise ValueError(f"{path}: a row is not numeric src, dst, t ({e})") from None
    if len(table) == 0:
        raise ValueError(f"{path}: a header and no events")
    return EdgeStream.sorted(
        table[:, 0].astype(np.int64), table[:, 1].astype(np.int64), table[:, 2]
    )


def _numeric(cells: list[str]) -> bool:
    try:
        [float(c) for c in cells]
    except ValueError:
        return False
    return len(cells) == 3


def edge_stream(nodes: int, edges: int, recurrence: float, seed: int = 0) -> EdgeStream:
    """A generated stream with a controlled recurrence: each event repeats a uniformly chosen
    earlier event's pair with probability `recurrence`, else joins a fresh uniform pair of
    distinct nodes; times 0, 1, 2, ...

    Args:
        nodes: node ids 0 .. nodes - 1 (>= 2).
        edges: events (>= 1).
        recurrence: in [0, 1].
        seed: the draw.
    """
    if nodes < 2 or edges < 1:
        raise ValueError(f"nodes={nodes}, edges={edges}: need nodes >= 2 and edges >= 1")
    if not 0 <= recurrence <= 1:
        raise ValueError(f"recurrence={recurrence} must be in [0, 1]")
    rng = np.random.default_rng(seed)
    src, dst = np.empty(edges, np.int64), np.empty(edges, np.int64)
    repeat = rng.random(edges) < recurrence
    for k in range(edges):
        if k and repeat[k]:
            j = rng.integers(k)
            src[k], dst[k] = src[j], dst[j]
        else:
            src[k] = rng.integers(nodes)
            dst[k] = (src[k] + 1 + rng.integers(nodes - 1)) % nodes
    return EdgeStream(src, dst, np.arange(edges, dtype=np.float64))


@dataclass(frozen=True)
class EdgeSplit:
    """DGB's split of a stream (Poursafaei et al. 2022): train up to the `val` time quantile,
    validation up to the `test` quantile, test after; a fraction of the nodes that appear after
    the validation start is held out, and the training edges touching them are dropped.

    Attributes:
        stream: the stream.
        train, val, test: `[E]` bool masks.
        new_nodes: the held-out node ids.
        val_time, test_time: the two time quantiles.
    """

    stream: EdgeStream
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    new_nodes: np.ndarray
    val_time: float
    test_time: float


def chronological_split(
    stream: EdgeStream,
    val: float = 0.70,
    test: float = 0.85,
    new_node_fraction: float = 0.1,
    seed: int = 0,
) -> EdgeSplit:
    """Split a stream as DGB does (see `EdgeSplit`): events with t <= the `val` quantile of the
    times train, t <= the `test` quantile validate, later ones test; `new_node_fraction` of the
    nodes seen after the validation time are held out (drawn from `seed`) and leave training."""
    if not 0 < val < test < 1:
        raise ValueError(f"val={val}, test={test}: need 0 < val < test < 1")
    if not 0 <= new_node_fraction < 1:
        raise ValueError(f"new_node_fraction={new_node_fraction} must be in [0, 1)")
    if len(stream) < 3:
        raise ValueError(f"{len(stream)} events: too few to split")
    val_time, test_time = np.quantile(stream.t, [val, test])
    late = stream.t > val_time
    candidates = np.unique(np.concatenate([stream.src[late], stream.dst[late]]))
    rng = np.random.default_rng(seed)
    held = math.floor(new_node_fraction * len(candidates))
    new_nodes = np.sort(rng.choice(candidates, size=held, replace=False))
    touches_new = np.isin(stream.src, new_nodes) | np.isin(stream.dst, new_nodes)
    train = (stream.t <= val_time) & ~touches_new
    validation = late & (stream.t <= test_time)
    return EdgeSplit(
        stream,
        train,
        validation,
        stream.t > test_time,
        new_nodes,
        float(val_time),
        float(test_time),
    )
