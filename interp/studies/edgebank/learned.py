"""A small learned link scorer to evaluate beside EdgeBank: node embeddings and an MLP, trained
with binary cross-entropy against random negatives, learning online through the test as
EdgeBank's memory does. It plugs into `evaluate`, `memory_split` and `one_vs_many` as EdgeBank
does: a fresh model is trained by the first `update` (the training and validation edges that
the evaluation feeds it), and each later `update` (a scored test batch) takes a few Adam steps.

The model is static: it ignores the times, and scores who links to whom from one embedding per
node. Node ids it has not learned (held out of training, or beyond `nodes`) share one "unknown
node" embedding, trained by replacing endpoints with it at random (`unknown_rate`); a node first
seen in an online update starts from that embedding.

Examples:
    >>> from interp.studies.edgebank import evaluate
    >>> from interp.tasks.edges import chronological_split, edge_stream
    >>> split = chronological_split(edge_stream(nodes=30, edges=1500, recurrence=0.95, seed=1))
    >>> model = LinkModel(split.stream.nodes, dim=8, hidden=16, epochs=3, seed=0)
    >>> scores = evaluate(model, split)    # trains on training + validation, then online
    >>> model.fitted, scores.auc > 0.8
    (True, True)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from interp.core.device import resolve_device

__all__ = ["LinkModel"]


class _LinkNet(nn.Module):
    """logit(src, dst) = MLP([e_src, e_dst, e_src * e_dst]) over `rows` embeddings of size `dim`."""

    def __init__(self, rows: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(rows, dim)
        nn.init.normal_(self.embed.weight, std=0.1)
        self.mlp = nn.Sequential(nn.Linear(3 * dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, src: Tensor, dst: Tensor) -> Tensor:
        """`src [B]`, `dst [B]` embedding rows -> logits `[B]`."""
        a, b = self.embed(src), self.embed(dst)
        return self.mlp(torch.cat([a, b, a * b], dim=-1)).squeeze(-1)


class LinkModel:
    """A learned scorer of directed pairs (see the module docstring): `model(src [B], dst [B],
    t [B]) -> [B]` float64 logits, higher for likelier links.

    Args:
        nodes: node ids 0 .. nodes - 1 get an embedding (`EdgeStream.nodes`); others are unknown.
        dim: embedding size.
        hidden: width of the MLP's hidden layer.
        epochs: passes over the events of the first `update` (or `fit`).
        lr: Adam's learning rate.
        batch_size: positives per training step (each with one random negative).
        online_steps: Adam steps on each later `update`'s events (0: frozen after training).
        unknown_rate: the chance that a training endpoint is replaced by the unknown node.
        seed: the initialization, the shuffles, the negatives and the replacements.
        device: where the network lives ("cpu" by default; "auto" for CUDA when present).
        progress: show a progress bar while training.
    """

    def __init__(
        self,
        nodes: int,
        dim: int = 32,
        hidden: int = 64,
        epochs: int = 5,
        lr: float = 1e-2,
        batch_size: int = 200,
        online_steps: int = 3,
        unknown_rate: float = 0.1,
        seed: int = 0,
        device: str | torch.device = "cpu",
        progress: bool = False,
    ) -> None:
        for name, value, low in [
            ("nodes", nodes, 1),
            ("dim", dim, 1),
            ("hidden", hidden, 1),
            ("epochs", epochs, 1),
            ("batch_size", batch_size, 1),
            ("online_steps", online_steps, 0),
        ]:
            if value < low:
                raise ValueError(f"{name}={value} must be >= {low}")
        if not lr > 0:
            raise ValueError(f"lr={lr} must be > 0")
        if not 0 <= unknown_rate < 1:
            raise ValueError(f"unknown_rate={unknown_rate} must be in [0, 1)")
        self.nodes, self.epochs, self.batch_size = nodes, epochs, batch_size
        self.online_steps, self.unknown_rate, self.progress = online_steps, unknown_rate, progress
        self.device = resolve_device(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = _LinkNet(nodes + 1, dim, hidden).to(self.device)  # row `nodes`: unknown
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.rng = np.random.default_rng(seed)
        self.known = np.zeros(nodes, dtype=bool)  # nodes with a learned embedding
        self.destinations = np.zeros(nodes, dtype=bool)  # the negatives' destinations
        self.fitted = False

    def __call__(self, src: np.ndarray, dst: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
        """`[B]` float64 logits of the pairs (src[k], dst[k]); `t` is not used."""
        self.net.eval()
        with torch.no_grad():
            logits = self.net(self._rows(src), self._rows(dst))
        return logits.double().cpu().numpy()

    def fit(self, src: np.ndarray, dst: np.ndarray, t: np.ndarray | None = None) -> LinkModel:
        """Train `epochs` passes over the events `[E]` (shuffled, in steps of `batch_size`);
        returns the model."""
        src, dst = self._learn(src, dst)
        steps = -(-len(src) // self.batch_size)
        bar = tqdm(
            total=self.epochs * steps, disable=not self.progress, desc="link model", unit="step"
        )
        for _ in range(self.epochs):
            order = self.rng.permutation(len(src))
            for first in range(0, len(src), self.batch_size):
                rows = order[first : first + self.batch_size]
                loss = self._step(src[rows], dst[rows])
                bar.update()
            bar.set_postfix(loss=f"{loss:.3f}")
        bar.close()
        self.fitted = True
        return self

    def update(self, src: np.ndarray, dst: np.ndarray, t: np.ndarray | None = None) -> None:
        """Learn the events `[E]`: the first call trains (`fit`), later ones take
        `online_steps` Adam steps on them (a node first seen starts as the unknown node). So
        `evaluate` trains a fresh model; one `fit` beforehand takes the training edges that
        `evaluate` feeds it as one more online update."""
        if not self.fitted:
            self.fit(src, dst, t)
            return
        if self.online_steps == 0 or not len(src):
            return
        src, dst = self._learn(src, dst)
        for _ in range(self.online_steps):
            self._step(src, dst)

    def _learn(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Check the events, mark their nodes known (a new node's embedding starts as the
        unknown node's) and their destinations as negatives' destinations."""
        src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
        if src.shape != dst.shape or src.ndim != 1 or not len(src):
            raise ValueError(f"src {src.shape}, dst {dst.shape}: need two equal [E], E >= 1")
        if min(src.min(), dst.min()) < 0:
            raise ValueError("node ids must be >= 0")
        inside = np.concatenate([src[src < self.nodes], dst[dst < self.nodes]])
        new = np.unique(inside[~self.known[inside]])
        if self.fitted and len(new):
            with torch.no_grad():
                weight = self.net.embed.weight
                weight[torch.as_tensor(new, device=self.device)] = weight[self.nodes].clone()
        self.known[new] = True
        self.destinations[dst[dst < self.nodes]] = True
        if not self.destinations.any():
            raise ValueError(f"no destination below nodes={self.nodes}: nothing to learn")
        return src, dst

    def _rows(self, ids: np.ndarray) -> Tensor:
        """Embedding rows of node ids `[B]`: their own if known, else the unknown node's."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and ids.min() < 0:
            raise ValueError("node ids must be >= 0")
        inside = ids < self.nodes
        known = np.zeros(len(ids), dtype=bool)
        known[inside] = self.known[ids[inside]]
        return torch.as_tensor(np.where(known, ids, self.nodes), device=self.device)

    def _step(self, src: np.ndarray, dst: np.ndarray) -> float:
        """One Adam step of binary cross-entropy: the events `[B]` against as many random
        negatives (each source with a uniform learned destination)."""
        pool = np.flatnonzero(self.destinations)
        negative = pool[self.rng.integers(len(pool), size=len(dst))]
        both_src, both_dst = np.r_[src, src], np.r_[dst, negative]
        rows_src, rows_dst = self._rows(both_src), self._rows(both_dst)
        if self.unknown_rate:
            drop = self.rng.random((2, len(both_src))) < self.unknown_rate
            rows_src[torch.as_tensor(drop[0], device=self.device)] = self.nodes
            rows_dst[torch.as_tensor(drop[1], device=self.device)] = self.nodes
        labels = torch.cat([torch.ones(len(src)), torch.zeros(len(src))]).to(self.device)
        self.net.train()
        loss = nn.functional.binary_cross_entropy_with_logits(self.net(rows_src, rows_dst), labels)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())
