"""The high-dimensional theory of the Rules-and-Facts model, solved numerically from the equations.

Every learner of `interp.studies.raf.learners` minimizes sum_i loss(y_i, f(x_i)) + lam/2 ||w||^2
with f linear in some features of x. As d -> infinity at fixed alpha = n / d, three overlaps of
the fitted model concentrate: m = E[f z] (with the teacher's field z = w* . x / sqrt d), q = E[f^2]
on fresh points, and V, the response of a training score to its own sample. They solve a
replica-symmetric fixed point (the state evolution of the matching AMP algorithm), which splits
into a part set by the features and a part set by the loss ("channel"):

    features:  V = < omega r >,  m = m_hat < beta r >,  q = m_hat^2 < beta omega r^2 >
                                                          + q_hat < omega^2 r^2 >,
               r = 1 / (lam + V_hat omega)
    channel:   with omega_f ~ N(0, q) the cavity field of a training point, y its label, and
               h = prox_{V loss(y, .)}(omega_f), g = (h - omega_f) / V:
               V_hat = alpha_p E[1 - dh/domega_f] / V,  q_hat = alpha_p E[g^2],
               m_hat = alpha_p E[g (z - m omega_f / q)] / (1 - m^2 / q)

where < . > averages over the eigenvalues omega of the features' covariance (beta weighs each by
its overlap with the teacher) and alpha_p = n / p is the number of samples per trained weight.
The features part (Gaussian equivalence) covers:

- ridge on x: one eigenvalue, omega = beta = 1, alpha_p = alpha;
- a dot-product kernel, K = mu_1^2 X X^T / d + mu_star^2 I on the training set: features mu_1 x
  (omega = beta = mu_1^2) plus a private slot per training point, which turns the loss into its
  Moreau envelope of width gamma = mu_star^2 / lam and the training score into
  prox_{(V + gamma) loss}(omega_f); an RBF kernel is linearized first (El Karoui 2010);
- random features sigma(F x / sqrt d) / sqrt p, F [p = kappa d, d] Gaussian: sigma acts as
  mu_1 F x / sqrt d + mu_star xi, so omega = mu_1^2 s + mu_star^2 and beta = kappa mu_1^2 s over the
  Marchenko-Pastur law of the eigenvalues s of F F^T / d (ratio kappa), alpha_p = alpha / kappa.

Readouts: E_gen = arccos(m / sqrt q) / pi. E_mem: a fact's label is independent of its cavity
field, and for the square and hinge losses (slope -1 at margin 0) its training score has the
wrong sign exactly when y omega_f < -(V + gamma), so E_mem = 1/2 erfc((V + gamma) / sqrt(2 q)).

`bayes_optimal` solves the Bayes-optimal state evolution of the same teacher (Gaussian prior,
the channel P(y | z) = (1 - eps) [y = sign z] + eps / 2): q = q_hat / (1 + q_hat),
q_hat = alpha E_xi sum_y (dZ/domega)^2 / Z, Z(y; omega, 1 - q) = eps/2 + (1 - eps) Phi(y omega
/ sqrt(1 - q)), and E_gen = arccos(sqrt q) / pi.

These are derived here from the model's definition (the paper's code is not used); the
derivation is written out in docs/raf.md. Both losses are convex, so the replica-symmetric fixed
point is exact; it is found by damped iteration.

Examples:
    >>> t = state_evolution(alpha=2.0, eps=0.2, lam=1.0)               # ridge, lambda 1
    >>> round(t.e_gen, 4), round(t.e_mem, 3)                           # the paper: 0.2485, 0.216
    (0.2485, 0.216)
    >>> round(bayes_optimal(alpha=2.0, eps=0.2).e_gen, 3)              # the paper: 0.243
    0.243
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from scipy.special import erfc, ndtr

from interp.studies.raf.learners import RBF, DotProduct

__all__ = [
    "RandomFeatures",
    "Theory",
    "Bayes",
    "activation_coefficients",
    "linearize",
    "state_evolution",
    "bayes_optimal",
]

Loss = Literal["square", "hinge"]
LOSSES = ("square", "hinge")

# Gaussian integrals over xi ~ N(0, 1): Gauss-Legendre on the pieces of [-12, 12] between the
# kinks of the integrand (the hinge's prox has two), exact to double precision on smooth pieces.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(160)


def _gauss_nodes(kinks: tuple[float, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Nodes xi and weights (summing to 1) for E f(xi), xi ~ N(0, 1), with f smooth between
    the `kinks`."""
    edges = np.unique(np.clip([-12.0, *kinks, 12.0], -12.0, 12.0))
    xs, ws = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        xs.append((hi - lo) / 2 * _GL_X + (hi + lo) / 2)
        ws.append((hi - lo) / 2 * _GL_W)
    x, w = np.concatenate(xs), np.concatenate(ws)
    return x, w * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


@dataclass(frozen=True)
class RandomFeatures:
    """The feature map sigma(F x / sqrt d) / sqrt p of `learners.random_features`: p = kappa d
    Gaussian rows, sigma in sign / tanh / relu."""

    kappa: float
    activation: Literal["sign", "tanh", "relu"] = "sign"


Features = None | DotProduct | RBF | RandomFeatures


class Theory(NamedTuple):
    """The fixed point of one learner: its errors and overlaps.

    Attributes:
        e_gen: arccos(m / sqrt q) / pi, the rule error on fresh points.
        e_mem: 1/2 erfc((V + gamma) / sqrt(2 q)), the fraction of facts not reproduced.
        m, q, V: the overlaps (teacher-score correlation, score variance, response).
        iterations: damped iterations to converge.
    """

    e_gen: float
    e_mem: float
    m: float
    q: float
    V: float
    iterations: int


class Bayes(NamedTuple):
    """The Bayes-optimal fixed point: `e_gen` = arccos(sqrt q) / pi and the overlap `q`."""

    e_gen: float
    q: float


def activation_coefficients(activation: str) -> tuple[float, float, float]:
    """(mu_0, mu_1, mu_star) of an activation under g ~ N(0, 1): mu_0 = E sigma(g), mu_1 =
    E g sigma(g), mu_star^2 = E sigma(g)^2 - mu_0^2 - mu_1^2.

    Examples:
        >>> [round(v, 4) for v in activation_coefficients("sign")]   # 0, sqrt(2/pi), ...
        [0.0, 0.7979, 0.6028]
    """
    functions = {"sign": np.sign, "tanh": np.tanh, "relu": lambda g: np.maximum(g, 0.0)}
    if activation not in functions:
        raise ValueError(f"activation={activation!r}; expected one of {', '.join(functions)}")
    xi, weights = _gauss_nodes((0.0,))  # sign and relu have their kink at 0
    s = functions[activation](xi)
    mu0, mu1 = float(weights @ s), float(weights @ (xi * s))
    return mu0, mu1, math.sqrt(max(float(weights @ s**2) - mu0**2 - mu1**2, 0.0))


def linearize(kernel: DotProduct | RBF) -> DotProduct:
    """The dot-product form of a kernel on Gaussian points in high dimension: an RBF kernel
    exp(-gamma ||x - z||^2 / d) = k(x . z / d) with k(t) = exp(-2 gamma (1 - t)) acts as mu_1^2 =
    k'(0) on X X^T / d and mu_star^2 = k(1) - k(0) - k'(0) on the diagonal (its constant part
    k(0) 1 1^T is left out: the labels have mean 0).

    Examples:
        >>> k = linearize(RBF(1.0))
        >>> round(k.mu_1**2, 4), round(k.mu_star**2, 4)    # 2 e^-2, 1 - 3 e^-2
        (0.2707, 0.594)
    """
    if isinstance(kernel, DotProduct):
        return kernel
    g = kernel.gamma
    k0 = math.exp(-2 * g)
    return DotProduct(math.sqrt(2 * g * k0), math.sqrt(1.0 - k0 - 2 * g * k0))


def _marchenko_pastur(ratio: float, nodes: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues s and weights (summing to 1) of F F^T / d, F [p, d] ~ N(0, 1), ratio = p / d:
    Gauss-Chebyshev nodes on the bulk [(1 - sqrt r)^2, (1 + sqrt r)^2] (density sqrt((b - s)(s -
    a)) / (2 pi r s)), plus the atom 1 - 1/r at 0 when p > d."""
    a, b = (1 - math.sqrt(ratio)) ** 2, (1 + math.sqrt(ratio)) ** 2
    theta = (np.arange(nodes) + 0.5) * math.pi / nodes
    s = (a + b) / 2 + (b - a) / 2 * np.cos(theta)
    w = ((b - a) / 2) ** 2 * np.sin(theta) ** 2 / (2 * math.pi * ratio * s) * (math.pi / nodes)
    if ratio > 1:
        s, w = np.append(s, 0.0), np.append(w, 1.0 - 1.0 / ratio)
    return s, w / w.sum()


def _spectrum(features: Features, lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(omega, weights, beta, p / d) of the features' covariance and the slot width gamma."""
    if features is None:
        one = np.ones(1)
        return one, one, one, 1.0
    if isinstance(features, DotProduct | RBF):
        k = linearize(features)
        one = np.ones(1)
        return k.mu_1**2 * one, one, k.mu_1**2 * one, 1.0
    if isinstance(features, RandomFeatures):
        kappa = features.kappa
        if not (isinstance(kappa, int | float) and math.isfinite(kappa) and kappa > 0):
            raise ValueError(f"kappa={kappa!r} must be a finite number > 0")
        _, mu1, mu_star = activation_coefficients(features.activation)
        s, w = _marchenko_pastur(kappa)
        return mu1**2 * s + mu_star**2, w, kappa * mu1**2 * s, kappa
    raise ValueError(
        f"features={features!r}; expected None (ridge on x), DotProduct, RBF or RandomFeatures"
    )


def _prox(loss: Loss, t: np.ndarray, v: float) -> tuple[np.ndarray, np.ndarray]:
    """The proximal map of a margin loss in the margin t = y omega: u = argmin (u - t)^2 / (2 v)
    + loss(u), with du/dt. Square: loss (1 - u)^2 / 2; hinge: max(0, 1 - u)."""
    if loss == "square":
        return (t + v) / (1 + v), np.full_like(t, 1 / (1 + v))
    u = np.where(t < 1 - v, t + v, np.where(t < 1, 1.0, t))
    return u, np.where((t >= 1 - v) & (t < 1), 0.0, 1.0)


def _channel(
    loss: Loss, alpha_p: float, eps: float, m: float, q: float, v: float, gamma: float
) -> tuple[float, float, float]:
    """(V_hat, q_hat, m_hat) of the loss, enveloped by the memory slot of width gamma."""
    v_star = max(1.0 - m * m / q, 1e-300)
    shrink = v / (v + gamma)
    # P(y | omega) steps at omega = 0 over a width sqrt(q v_star) / m in xi: small as E_gen -> 0
    width = math.sqrt(q * v_star) / max(abs(m), 1e-300)
    rule_scale = tuple(k * width for k in (-8, -3, -1, 0, 1, 3, 8))
    v_hat = q_hat = m_hat = 0.0
    for y in (1.0, -1.0):
        # the hinge's prox bends where the margin y omega is 1 - (V + gamma) and 1
        kinks = (y * (1 - v - gamma) / math.sqrt(q), y / math.sqrt(q)) if loss == "hinge" else ()
        xi, weights = _gauss_nodes(kinks + rule_scale)
        omega = math.sqrt(q) * xi
        a = m * omega / (q * math.sqrt(v_star))
        p_y = (1 - eps) * ndtr(y * a) + eps / 2  # P(y | omega): rule sign(z), or a fact
        # prox of the Moreau envelope M_gamma loss: omega + V/(V+gamma) (prox_(V+gamma) - omega)
        u, du = _prox(loss, y * omega, v + gamma)
        h = omega + shrink * (y * u - omega)
        g = (h - omega) / v
        v_hat += weights @ (p_y * shrink * (1 - du)) / v
        q_hat += weights @ (p_y * g**2)
        # E[g (z - m omega / q) | omega, y] = y sqrt(v_star) phi(a) (1 - eps) for rule samples
        m_hat += y * (1 - eps) * (weights @ (np.exp(-0.5 * a * a) * g)) / math.sqrt(2 * math.pi)
    return alpha_p * v_hat, alpha_p * q_hat, alpha_p * m_hat / math.sqrt(v_star)


def _check(alpha: float, eps: float, lam: float | None = None) -> None:
    for name, value, ok in (
        ("alpha", alpha, lambda v: v > 0),
        ("eps", eps, lambda v: 0 <= v <= 1),
        ("lam", 1.0 if lam is None else lam, lambda v: v > 0),
    ):
        if not (isinstance(value, numbers.Real) and math.isfinite(value) and ok(value)):
            allowed = "in [0, 1]" if name == "eps" else "> 0"
            raise ValueError(f"{name}={value!r} must be a finite number {allowed}")


def state_evolution(
    alpha: float,
    eps: float,
    lam: float,
    loss: Loss = "square",
    features: Features = None,
    *,
    damping: float = 0.5,
    tol: float = 1e-10,
    max_iter: int = 20_000,
) -> Theory:
    """Solve the fixed point of one learner: `loss` "square" (ridge, kernel ridge, random
    features) or "hinge" (SVM) with penalty lam/2 ||w||^2 on `features`: None (linear on x), a
    `DotProduct` or `RBF` kernel, or `RandomFeatures(kappa, activation)`.

    Raises:
        ValueError: a parameter out of range, or no convergence in `max_iter` iterations
            (the message names the parameters).

    Examples:
        >>> t = state_evolution(2.0, 0.2, 1e-2, features=RandomFeatures(kappa=1.0))
        >>> round(t.e_gen, 2), round(t.e_mem, 2)          # the paper: 0.40, 0.16
        (0.4, 0.16)
        >>> round(state_evolution(5.0, 0.2, 1e-3, "hinge", DotProduct(1, 1)).e_mem, 4)
        0.0
    """
    _check(alpha, eps, lam)
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r}; expected one of {', '.join(LOSSES)}")
    omega, w, beta, ratio = _spectrum(features, lam)
    gamma = linearize(features).mu_star ** 2 / lam if isinstance(features, DotProduct | RBF) else 0
    alpha_p = alpha / ratio
    m, q, v = 0.1, 1.0, 1.0
    for it in range(1, max_iter + 1):
        v_hat, q_hat, m_hat = _channel(loss, alpha_p, eps, m, q, v, gamma)
        r = 1.0 / (lam + v_hat * omega)
        new = (
            m_hat * (w @ (beta * r)),
            m_hat**2 * (w @ (beta * omega * r * r)) + q_hat * (w @ (omega**2 * r * r)),
            w @ (omega * r),
        )
        if not all(math.isfinite(x) for x in new):
            break
        change = abs(new[0] - m) + abs(new[1] - q) + abs(new[2] - v)
        m, q, v = ((1 - damping) * old + damping * x for old, x in zip((m, q, v), new))
        if change < tol:
            e_gen = math.acos(min(max(m / math.sqrt(q), -1.0), 1.0)) / math.pi
            e_mem = 0.5 * float(erfc((v + gamma) / math.sqrt(2 * q))) if eps > 0 else 0.0
            return Theory(e_gen, e_mem, m, q, v, it)
    raise ValueError(
        f"state evolution did not converge (alpha={alpha}, eps={eps}, lam={lam}, loss={loss}, "
        f"features={features}); try a smaller damping"
    )


def bayes_optimal(
    alpha: float, eps: float, *, damping: float = 0.5, tol: float = 1e-12, max_iter: int = 20_000
) -> Bayes:
    """The Bayes-optimal E_gen of the Rules-and-Facts teacher at `alpha` samples per dimension
    with a fraction `eps` of facts (no learner reaches below it).

    Examples:
        >>> [round(bayes_optimal(a, 0.2).e_gen, 3) for a in (1, 5, 10)]  # paper: .308 .147 .085
        [0.308, 0.147, 0.085]
    """
    _check(alpha, eps)
    q = 0.1
    for _ in range(max_iter):
        v = 1.0 - q
        width = math.sqrt(v / q)  # Z steps at omega = 0 over sqrt(v) in omega
        xi, weights = _gauss_nodes(tuple(k * width for k in (-8, -3, -1, 0, 1, 3, 8)))
        omega = math.sqrt(q) * xi
        dz2 = ((1 - eps) * np.exp(-0.5 * omega**2 / v) / math.sqrt(2 * math.pi * v)) ** 2
        q_hat = alpha * sum(
            weights @ (dz2 / (eps / 2 + (1 - eps) * ndtr(y * omega / math.sqrt(v))))
            for y in (1.0, -1.0)
        )
        new = min(q_hat / (1 + q_hat), 1 - 1e-15)
        if abs(new - q) < tol:
            q = new
            break
        q = (1 - damping) * q + damping * new
    return Bayes(math.acos(math.sqrt(q)) / math.pi, q)
