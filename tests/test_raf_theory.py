"""The Rules-and-Facts state evolution: the paper's anchors, closed forms, the two rates, and
theory against simulation at d 200-300."""

import math
from functools import partial

import pytest
import torch

from interp.studies.raf import RBF, DotProduct, kernel_ridge, measure, random_features, ridge, svm
from interp.studies.raf.theory import (
    RandomFeatures,
    activation_coefficients,
    bayes_optimal,
    linearize,
    state_evolution,
)
from interp.tasks.raf import raf_task

EPS = 0.2


def _ridge_closed_form(alpha: float, eps: float, lam: float) -> tuple[float, float]:
    """The square-loss fixed point of ridge on x with every Gaussian integral done by hand:
    V_hat = alpha / (1 + V), m_hat = alpha c / (1 + V), q_hat = alpha (1 - 2 c m + q) / (1 + V)^2
    with c = E[y z] = (1 - eps) sqrt(2 / pi)."""
    c = (1 - eps) * math.sqrt(2 / math.pi)
    m, q, v = 0.1, 1.0, 1.0
    for _ in range(5000):
        v_hat, m_hat = alpha / (1 + v), alpha * c / (1 + v)
        q_hat = alpha * (1 - 2 * c * m + q) / (1 + v) ** 2
        r = 1 / (lam + v_hat)
        m, q, v = (
            0.5 * a + 0.5 * b for a, b in zip((m, q, v), (m_hat * r, (m_hat**2 + q_hat) * r * r, r))
        )
    return math.acos(m / math.sqrt(q)) / math.pi, 0.5 * math.erfc(v / math.sqrt(2 * q))


@pytest.mark.parametrize(
    "alpha, lam, features, e_gen, e_mem",
    [
        (2.0, 1.0, None, 0.2485, 0.216),
        (5.0, 1.0, None, 0.1686, 0.374),
        (2.0, 1e-3, DotProduct(1, 1), 0.2485, 0.0),
        (5.0, 1e-3, DotProduct(1, 1), 0.1686, 0.0),
        (5.0, 10.0, DotProduct(1, 1), 0.179, 0.226),
    ],
)
def test_square_loss_meets_the_papers_theory(alpha, lam, features, e_gen, e_mem):
    t = state_evolution(alpha, EPS, lam, features=features)
    assert t.e_gen == pytest.approx(e_gen, abs=6e-4)
    assert t.e_mem == pytest.approx(e_mem, abs=6e-4)


def test_random_features_meet_the_papers_kappa_sweep():
    anchors = {0.5: (0.41, 0.30), 1: (0.40, 0.16), 2: (0.42, 0), 4: (0.36, 0), 8: (0.31, 0)}
    for kappa, (e_gen, e_mem) in anchors.items():
        t = state_evolution(2.0, EPS, 1e-2, features=RandomFeatures(kappa))
        assert (round(t.e_gen, 2), round(t.e_mem, 2)) == (e_gen, e_mem), kappa


def test_bayes_optimal_meets_the_paper_and_bounds_every_learner():
    for alpha, e_gen in ((1, 0.308), (2, 0.243), (5, 0.147), (10, 0.085)):
        bayes = bayes_optimal(alpha, EPS).e_gen
        assert bayes == pytest.approx(e_gen, abs=6e-4)
        for loss, features, lam in (
            ("square", None, 1.0),
            ("square", DotProduct(1, 1), 10.0),
            ("hinge", DotProduct(1, 1), 1.0),
            ("square", RandomFeatures(4.0), 1e-2),
        ):
            assert state_evolution(alpha, EPS, lam, loss, features).e_gen >= bayes - 1e-9
    assert bayes_optimal(3.0, 1.0).e_gen == pytest.approx(0.5)  # all facts: nothing to learn


def test_the_quadrature_channel_equals_the_closed_form():
    for alpha, lam in ((0.5, 0.1), (2.0, 1.0), (5.0, 3.0)):
        t = state_evolution(alpha, EPS, lam)
        closed = _ridge_closed_form(alpha, EPS, lam)
        assert (t.e_gen, t.e_mem) == pytest.approx(closed, abs=1e-8)


def test_a_kernel_generalizes_as_ridge_with_penalty_lam_plus_mu_star_squared():
    # on fresh points the slots are invisible: mu_1^2 X X^T/d + (mu_star^2 + lam) I is ridge
    kernel = state_evolution(3.0, EPS, 0.5, features=DotProduct(2.0, 1.5))
    plain = state_evolution(3.0, EPS, (0.5 + 1.5**2) / 2.0**2)
    assert kernel.e_gen == pytest.approx(plain.e_gen, abs=1e-9)
    assert kernel.e_mem < plain.e_mem  # the slots store facts that ridge cannot


def test_kernel_ridge_decays_as_alpha_to_the_minus_half_and_bayes_as_alpha_to_the_minus_one():
    def slope(f):
        return math.log(f(3000.0) / f(300.0)) / math.log(10.0)

    krr = slope(lambda a: state_evolution(a, EPS, 1e-3, features=DotProduct(1, 1)).e_gen)
    bayes = slope(lambda a: bayes_optimal(a, EPS).e_gen)
    assert krr == pytest.approx(-0.5, abs=0.01) and bayes == pytest.approx(-1.0, abs=0.01)


def test_activation_coefficients_and_the_rbf_linearization_in_closed_form():
    assert activation_coefficients("sign") == pytest.approx(
        (0.0, math.sqrt(2 / math.pi), math.sqrt(1 - 2 / math.pi)), abs=1e-12
    )
    relu = (1 / math.sqrt(2 * math.pi), 0.5, math.sqrt(0.25 - 1 / (2 * math.pi)))
    assert activation_coefficients("relu") == pytest.approx(relu, abs=1e-12)
    k = linearize(RBF(0.5))
    assert (k.mu_1**2, k.mu_star**2) == pytest.approx((math.exp(-1), 1 - 2 * math.exp(-1)))


@pytest.mark.parametrize(
    "name, learner, theory",
    [
        ("ridge", partial(ridge, lam=1.0), dict(lam=1.0)),
        (
            "kernel",
            partial(kernel_ridge, kernel=DotProduct(1, 1), lam=3.0),
            dict(lam=3.0, features=DotProduct(1, 1)),
        ),
        (
            "svm",
            partial(svm, kernel=DotProduct(1, 1), lam=1.0),
            dict(lam=1.0, loss="hinge", features=DotProduct(1, 1)),
        ),
    ],
)
def test_theory_agrees_with_simulation_at_d_300(name, learner, theory):
    torch.manual_seed(0)
    for alpha in (1.0, 3.0):
        task = raf_task(d=300, alpha=alpha, eps=EPS, seed=[0, 1], n_test=4000)
        errs = measure(task, learner)
        t = state_evolution(alpha, EPS, **theory)
        assert sum(e.e_gen for e in errs) / 2 == pytest.approx(t.e_gen, abs=0.03), (name, alpha)
        assert sum(e.e_mem for e in errs) / 2 == pytest.approx(t.e_mem, abs=0.03), (name, alpha)


def test_random_features_theory_agrees_with_simulation_at_d_400():
    # 4 draws of 160 facts: E_mem's standard error is about 0.018 at kappa 0.5
    task = raf_task(d=400, alpha=2.0, eps=EPS, seed=[0, 1, 2, 3], n_test=4000)
    for kappa in (0.5, 1.0, 4.0):
        errs = [
            measure(task.select([m]), partial(random_features, kappa=kappa, lam=1e-2, seed=m))[0]
            for m in range(4)
        ]
        t = state_evolution(2.0, EPS, 1e-2, features=RandomFeatures(kappa))
        assert sum(e.e_gen for e in errs) / 4 == pytest.approx(t.e_gen, abs=0.03), kappa
        assert sum(e.e_mem for e in errs) / 4 == pytest.approx(t.e_mem, abs=0.03), kappa


def test_bad_theory_inputs_raise_one_line_errors():
    with pytest.raises(ValueError, match="alpha=-1"):
        state_evolution(-1, EPS, 1.0)
    with pytest.raises(ValueError, match=r"eps=1\.5"):
        bayes_optimal(2.0, 1.5)
    with pytest.raises(ValueError, match="lam=0"):
        state_evolution(2.0, EPS, 0)
    with pytest.raises(ValueError, match="loss='log'"):
        state_evolution(2.0, EPS, 1.0, "log")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kappa=0"):
        state_evolution(2.0, EPS, 1.0, features=RandomFeatures(0))
    with pytest.raises(ValueError, match="activation='gelu'"):
        activation_coefficients("gelu")
    with pytest.raises(ValueError, match="features="):
        state_evolution(2.0, EPS, 1.0, features="linear")  # type: ignore[arg-type]
