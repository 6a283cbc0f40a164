"""Where a spectral method loses the group law: the pair graph of a noisy table (issue 15 part 2).

A network that memorized its labels holds its training table and nothing more
(`rule_spread.py`), so finding the law from its weights is finding it from a table in which a
share eps = 1 - noise of the training entries obey s(a) + s(b) = s(c) mod p. No single token
says anything about its label: an entry fixes one token's label only given the other two. Pairs
of tokens do better: two entries that share a token tie two differences together,

    a o b = c, a' o b = c'   =>   s(a') - s(a) = s(c') - s(c)     (and likewise sharing a or c),

so the graph on ordered pairs (x, y), with an edge for each two entries that share a token, holds
the law as p classes of pairs, one per difference s(y) - s(x) (a planted partition, the
level-2 lift of the equations). Each pair has about 3 p f^2 neighbours, of which 3 p f^2 eps^2
are in its class; for p classes of a dense graph the spectrum separates them where
(in-class degree)^2 / degree = 3 p f^2 eps^4 exceeds about 1, that is where its square root
K = f eps^2 sqrt(3 p) does (the Kesten-Stigum point of a planted partition, below which no known
polynomial method recovers the classes).

For each (noise, train fraction) given this prints K, the top eigenvalues of the centred pair
graph, and the share of each top eigenvector's norm that lies in the planted classes (the
constant-per-class part; a random vector: (p - 1) / (p^2 - p)). The table is the task's own
training labels (the table the weights hold). About 10 s a setting on two CPU cores.

Usage: python examples/agnostic_pair_graph.py [--p 97] [--settings 0.5:0.5 0.7:0.5 0.8:0.5]
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

import interp


def pair_graph(a: np.ndarray, b: np.ndarray, c: np.ndarray, p: int) -> sp.csr_matrix:
    """Adjacency `[p^2, p^2]` over ordered pairs (x, y) = node x p + y: for every two entries
    a o b = c that share b, (a, a') ~ (c, c'); that share a, (b, b') ~ (c, c'); that share c,
    (a, a') ~ (b', b). Pairs (x, x) are left out; symmetric."""
    rows, cols = [], []
    for shared, left, right in ((b, a, c), (a, b, c), (c, a, b)):
        for token in range(p):
            idx = np.flatnonzero(shared == token)
            i, j = (x.ravel() for x in np.meshgrid(idx, idx, indexing="ij"))
            i, j = i[i != j], j[i != j]
            u = left[i] * p + left[j]
            v = right[i] * p + right[j] if shared is not c else right[j] * p + right[i]
            keep = (u // p != u % p) & (v // p != v % p)
            rows.append(u[keep])
            cols.append(v[keep])
    r, q = np.concatenate(rows), np.concatenate(cols)
    graph = sp.coo_matrix((np.ones(len(r)), (r, q)), shape=(p * p, p * p)).tocsr()
    return ((graph + graph.T) / 2).tocsr()


def measure(p: int, noise: float, fraction: float, k: int, seed: int) -> None:
    task = interp.modular_task(p=p, op="add", noise=noise, train_fraction=fraction, seed=seed)
    train = task.train[0].numpy()
    (a, b), c = task.inputs.numpy()[train].T, task.train_labels[0].numpy()[train]
    graph = pair_graph(a, b, c, p)
    off = np.array([x != y for x in range(p) for y in range(p)], dtype=float)
    degree = float(np.asarray(graph.sum(1)).ravel()[off > 0].mean())
    mean = degree / off.sum()

    def centred(v: np.ndarray) -> np.ndarray:  # the graph minus its mean, on pairs x != y
        return (graph @ v - off * mean * (off * v).sum()) * off

    op = sla.LinearOperator((p * p, p * p), matvec=centred, dtype=float)
    values, vectors = sla.eigsh(op, k=k, which="LA")
    order = np.argsort(-values)
    values, vectors = values[order], vectors[:, order]
    diff = np.array([(y - x) % p for x in range(p) for y in range(p)])  # truth: s = identity
    sizes = np.bincount(diff, weights=off, minlength=p)
    shares = []
    for v in vectors.T:
        means = np.bincount(diff, weights=v * off, minlength=p) / np.maximum(sizes, 1)
        shares.append(float((means[diff] ** 2 * off).sum() / (v**2).sum()))
    eps = 1 - noise
    print(
        f"noise {noise}, train fraction {fraction}: K = f eps^2 sqrt(3p) = "
        f"{fraction * eps**2 * np.sqrt(3 * p):.2f}; degree {degree:.1f}, in-class "
        f"{3 * p * fraction**2 * eps**2:.1f}"
    )
    print(f"  top eigenvalues: {np.array2string(values[:8], precision=1)}")
    print(
        f"  in the planted classes: {np.array2string(np.array(shares[:8]), precision=3)} "
        f"(best of {k}: {max(shares):.3f}; a random vector {(p - 1) / off.sum():.4f})"
    )


def noise_and_fraction(text: str) -> tuple[float, float]:
    """One --settings value, NOISE:TRAIN_FRACTION (an argparse type: a bad one is one line)."""
    try:
        noise, fraction = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not NOISE:TRAIN_FRACTION, e.g. 0.8:0.5"
        ) from None
    return noise, fraction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p", type=int, default=97)
    parser.add_argument(
        "--settings", nargs="+", type=noise_and_fraction,
        default=[(0.5, 0.5), (0.6, 0.5), (0.7, 0.5), (0.8, 0.5), (0.8, 0.95)],
        help="noise:train-fraction pairs",
    )  # fmt: skip
    parser.add_argument("--eigenvectors", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for noise, fraction in args.settings:
        measure(args.p, noise, fraction, args.eigenvectors, args.seed)


if __name__ == "__main__":
    main()
