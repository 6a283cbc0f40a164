"""Learners of one model's Rules-and-Facts training set, and the two errors that judge them.

Each learner takes the training points `x [n, d]`, their +-1 labels `y [n]` and test points
`x_test [k, d]`, and returns the scores (pre-sign predictions) on both as `Scores(train [n],
test [k])`; the penalty is lambda/2 ||w||^2 on the sum of the losses over the n samples:

- `ridge`: the square loss 1/2 (y - w . x / sqrt d)^2, in closed form.
- `kernel_ridge`: the same in the kernel's feature space, f = K(., X) (K + lambda I)^-1 y.
- `svm`: the hinge loss, by scikit-learn's `SVC(kernel="precomputed", C=1/lambda)` (which also
  fits an intercept).
- `random_features`: ridge on sigma(F x / sqrt d) / sqrt p, F `[p = round(kappa d), d]` ~ N(0, 1).

A dot-product kernel acts as K = mu_1^2 X X^T / d + mu_star^2 I on the training set: mu_star^2
is a memory slot of each training point that fresh points do not see. `errors` gives E_gen (the
fraction of test points whose sign differs from the rule) and E_mem (the fraction of facts whose
training label is not reproduced).

Examples:
    >>> from interp.tasks.raf import raf_task
    >>> task = raf_task(d=40, alpha=2.0, eps=0.2, n_test=2000)
    >>> x, y, facts = task.data[0], task.labels[0], task.facts[0]
    >>> e_ridge = errors(ridge(x, y, task.test, lam=1.0), y, facts, task.test_labels[0])
    >>> e_kernel = errors(kernel_ridge(x, y, task.test, DotProduct(1.0, 1.0), lam=1e-3), y,
    ...                   facts, task.test_labels[0])
    >>> 0 < e_ridge.e_mem, e_kernel.e_mem, 0.1 < e_ridge.e_gen < 0.4   # the kernel memorizes
    (True, 0.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from interp.tasks.raf import RafTask

__all__ = [
    "Scores",
    "Errors",
    "DotProduct",
    "RBF",
    "ridge",
    "kernel_ridge",
    "svm",
    "random_features",
    "errors",
    "measure",
]


class Scores(NamedTuple):
    """Pre-sign predictions of a fitted learner: `train [n]` and `test [k]`."""

    train: Tensor
    test: Tensor


class Errors(NamedTuple):
    """E_gen, the rule error on fresh points, and E_mem, the fraction of facts not reproduced."""

    e_gen: float
    e_mem: float


@dataclass(frozen=True)
class DotProduct:
    """A dot-product kernel as it acts in high dimension: mu_1^2 x . z / d, plus mu_star^2 on
    the diagonal of the training Gram matrix only (a point's own memory slot)."""

    mu_1: float = 1.0
    mu_star: float = 1.0

    def __call__(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        """The Gram matrix of `x [n, d]` (z None, with the slots) or the cross kernel of
        `x [k, d]` against the training points `z [n, d]`: `[n, n]` or `[k, n]`."""
        other = x if z is None else z
        k = self.mu_1**2 * (x @ other.T) / x.shape[-1]
        if z is None:
            k = k + self.mu_star**2 * torch.eye(len(x), dtype=k.dtype, device=k.device)
        return k


@dataclass(frozen=True)
class RBF:
    """The Gaussian kernel exp(-gamma ||x - z||^2 / d) (distances scaled by d, so that gamma
    means the same in every dimension)."""

    gamma: float = 1.0

    def __call__(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        """`[n, n]` Gram matrix of `x [n, d]` (z None) or `[k, n]` cross kernel against `z`."""
        other = x if z is None else z
        return torch.exp(-self.gamma * torch.cdist(x, other).square() / x.shape[-1])


Kernel = DotProduct | RBF


def _check(x: Tensor, y: Tensor, x_test: Tensor, lam: float) -> None:
    if x.dim() != 2 or y.shape != x.shape[:1] or x_test.dim() != 2 or x_test.shape[1] != x.shape[1]:
        raise ValueError(
            f"x {tuple(x.shape)}, y {tuple(y.shape)}, x_test {tuple(x_test.shape)}: "
            "expected [n, d], [n], [k, d]"
        )
    if not (isinstance(lam, int | float) and math.isfinite(lam) and lam > 0):
        raise ValueError(f"lam={lam!r} must be a finite number > 0")


def ridge(x: Tensor, y: Tensor, x_test: Tensor, lam: float) -> Scores:
    """Ridge regression w = argmin sum 1/2 (y - w . x / sqrt d)^2 + lam/2 ||w||^2, i.e.
    w = (X^T X / d + lam I)^-1 X^T y / sqrt d; scores w . x / sqrt d.

    Examples:
        >>> x = torch.eye(2, dtype=torch.float64)
        >>> ridge(x, torch.tensor([1.0, -1.0], dtype=torch.float64), x, lam=0.5).train.tolist()
        [0.5, -0.5]
    """
    _check(x, y, x_test, lam)
    d = x.shape[1]
    gram = x.T @ x / d + lam * torch.eye(d, dtype=x.dtype, device=x.device)
    w = torch.linalg.solve(gram, x.T @ y.to(x.dtype)) / math.sqrt(d)  # [d]
    return Scores(x @ w / math.sqrt(d), x_test @ w / math.sqrt(d))


def kernel_ridge(x: Tensor, y: Tensor, x_test: Tensor, kernel: Kernel, lam: float) -> Scores:
    """Kernel ridge: dual weights a = (K + lam I)^-1 y, scores K a on the training points and
    K(x_test, X) a on the test points.

    Examples:
        >>> x = torch.eye(2, dtype=torch.float64)
        >>> y = torch.tensor([1.0, -1.0], dtype=torch.float64)
        >>> s = kernel_ridge(x, y, x, DotProduct(0.0, 1.0), lam=1.0)  # memory only: no test signal
        >>> s.train.tolist(), s.test.tolist()
        ([0.5, -0.5], [0.0, 0.0])
    """
    _check(x, y, x_test, lam)
    gram = kernel(x)  # [n, n]
    a = torch.linalg.solve(gram + lam * torch.eye(len(x), dtype=gram.dtype), y.to(gram.dtype))
    return Scores(gram @ a, kernel(x_test, x) @ a)


def svm(x: Tensor, y: Tensor, x_test: Tensor, kernel: Kernel, lam: float) -> Scores:
    """Soft-margin SVM, sum hinge(y f) + lam/2 ||w||^2, as scikit-learn's
    `SVC(kernel="precomputed", C=1/lam)` (with its intercept); scores = decision function.

    Examples:
        >>> x = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
        >>> y = torch.tensor([1.0, -1.0], dtype=torch.float64)
        >>> svm(x, y, x, DotProduct(1.0, 0.0), lam=1e-3).train.sign().tolist()
        [1.0, -1.0]
    """
    from sklearn.svm import SVC  # scikit-learn loads only when an SVM is fitted

    _check(x, y, x_test, lam)
    model = SVC(kernel="precomputed", C=1.0 / lam)
    model.fit(kernel(x).cpu().numpy(), y.cpu().numpy())
    scores = [model.decision_function(k.cpu().numpy()) for k in (kernel(x), kernel(x_test, x))]
    return Scores(*(torch.as_tensor(s, dtype=x.dtype, device=x.device) for s in scores))


# Offsets the features' seed from the tasks' seeds: F drawn from a task's own seed would start
# with its teacher w* and leak the rule.
FEATURE_SEED = 2_000_000_011

_ACTIVATIONS = {"sign": torch.sign, "tanh": torch.tanh, "relu": torch.relu}


def random_features(
    x: Tensor,
    y: Tensor,
    x_test: Tensor,
    kappa: float,
    lam: float,
    activation: Literal["sign", "tanh", "relu"] = "sign",
    seed: int = 0,
) -> Scores:
    """Random features f = a . sigma(F x / sqrt d) / sqrt p with F `[p, d]` ~ N(0, 1), p =
    round(kappa d) rows drawn from `seed` (offset by FEATURE_SEED), and a = argmin sum 1/2 (y -
    f)^2 + lam/2 ||a||^2 (ridge on the features, solved in the smaller of p and n dimensions).

    Examples:
        >>> x = torch.randn(30, 10, dtype=torch.float64)
        >>> y = x[:, 0].sign()
        >>> s = random_features(x, y, x, kappa=8.0, lam=1e-3)     # p = 80 > n = 30
        >>> bool((s.train.sign() == y).all())
        True
    """
    _check(x, y, x_test, lam)
    if not (
        isinstance(kappa, int | float) and math.isfinite(kappa) and round(kappa * x.shape[1]) >= 1
    ):
        raise ValueError(f"kappa={kappa!r} must be a finite number with round(kappa d) >= 1")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation={activation!r}; expected one of {', '.join(_ACTIVATIONS)}")
    d, p = x.shape[1], round(kappa * x.shape[1])
    gen = torch.Generator().manual_seed(FEATURE_SEED + seed)
    f = torch.randn(p, d, generator=gen, dtype=x.dtype).to(x.device)
    sigma = _ACTIVATIONS[activation]
    phi, phi_test = (sigma(z @ f.T / math.sqrt(d)) / math.sqrt(p) for z in (x, x_test))  # [., p]
    y = y.to(x.dtype)
    if p <= len(x):
        eye = torch.eye(p, dtype=x.dtype, device=x.device)
        a = torch.linalg.solve(phi.T @ phi + lam * eye, phi.T @ y)
    else:
        eye = torch.eye(len(x), dtype=x.dtype, device=x.device)
        a = phi.T @ torch.linalg.solve(phi @ phi.T + lam * eye, y)
    return Scores(phi @ a, phi_test @ a)


def errors(scores: Scores, labels: Tensor, facts: Tensor, test_labels: Tensor) -> Errors:
    """E_gen and E_mem of one fitted model: `labels [n]` its +-1 training labels, `facts [n]`
    bool, `test_labels [k]` the rule on the test points. A score of exactly 0 reproduces
    nothing, so it counts as an error; E_mem is 0 when there is no fact.

    Examples:
        >>> s = Scores(torch.tensor([1.0, -2.0, 0.5]), torch.tensor([1.0, 1.0]))
        >>> errors(s, torch.tensor([1.0, 1.0, -1.0]), torch.tensor([False, True, True]),
        ...        torch.tensor([1.0, -1.0]))
        Errors(e_gen=0.5, e_mem=1.0)
    """
    wrong = scores.train * labels <= 0
    e_mem = wrong[facts].double().mean().item() if facts.any() else 0.0
    return Errors((scores.test * test_labels <= 0).double().mean().item(), e_mem)


def measure(task: RafTask, learner: Callable[[Tensor, Tensor, Tensor], Scores]) -> list[Errors]:
    """Fit `learner(x [n, d], y [n], x_test [k, d])` on each model's training set (padding left
    out) and judge it on the shared test points: one `Errors` per model.

    Examples:
        >>> from interp.tasks.raf import raf_task
        >>> task = raf_task(d=20, alpha=[1.0, 2.0], eps=0.0, seed=[0, 1], n_test=500)
        >>> [e.e_mem for e in measure(task, lambda x, y, t: ridge(x, y, t, lam=1.0))]  # no facts
        [0.0, 0.0]
    """
    out = []
    for m, n in enumerate(task.n):
        x, y, facts = task.data[m, :n], task.labels[m, :n], task.facts[m, :n]
        out.append(errors(learner(x, y, task.test), y, facts, task.test_labels[m]))
    return out
