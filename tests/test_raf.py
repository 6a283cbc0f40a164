"""The Rules-and-Facts task and its learners: the draw, the closed forms, and the two errors."""

import math

import pytest
import torch

from interp.studies.raf import (
    RBF,
    DotProduct,
    errors,
    kernel_ridge,
    measure,
    random_features,
    ridge,
    svm,
)
from interp.tasks.raf import RafConfig, raf_task


def test_the_draw_is_reproducible_and_pads_to_the_largest_n():
    a = raf_task(d=8, alpha=[1.0, 2.5], eps=[0.0, 0.3], seed=[3, 4], n_test=50)
    b = raf_task(d=8, alpha=[1.0, 2.5], eps=[0.0, 0.3], seed=[3, 4], n_test=50)
    for name in ("teacher", "data", "labels", "facts", "mask", "test", "test_labels"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert a.n == (8, 20) and a.data.shape == (2, 20, 8) and a.data.dtype == torch.float64
    assert a.mask.sum(1).tolist() == [8, 20] and not a.data[0, 8:].any()
    assert not a.labels[0, 8:].any() and not a.facts[0, 8:].any()
    one = raf_task(d=8, alpha=2.5, eps=0.3, seed=4, n_test=50)
    assert torch.equal(a.select(1).data, one.data) and torch.equal(a.select([1]).facts, one.facts)
    assert torch.equal(a.select(1).test_labels, one.test_labels)
    assert RafConfig.from_dict(a.config.to_dict()) == a.config
    assert set(a.stored()) == {"data", "labels", "mask", "facts"}


def test_facts_are_exactly_round_eps_n_with_random_labels_and_the_rest_follow_the_rule():
    task = raf_task(d=20, alpha=[50.0, 10.0], eps=[0.5, 0.25], seed=[0, 1], n_test=200)
    assert task.facts.sum(1).tolist() == [500, 50] == list(task.config.n_facts)
    rule = task.rule(task.data)
    real = task.mask & ~task.facts
    assert torch.equal(rule[real], task.labels[real])
    assert set(task.labels[task.mask].unique().tolist()) == {-1.0, 1.0}
    # Random labels agree with the rule about half the time (500 facts: std 0.022).
    agree = (rule[0][task.facts[0]] == task.labels[0][task.facts[0]]).double().mean().item()
    assert 0.4 < agree < 0.6
    assert torch.equal(task.test_labels, task.rule(task.test))


def test_ridge_is_the_least_squares_solution():
    task = raf_task(d=12, alpha=3.0, eps=0.2, n_test=30)
    x, y, lam = task.data[0], task.labels[0], 0.7
    # min ||X w / sqrt d - y||^2 + lam ||w||^2 as one stacked least-squares problem
    a = torch.cat([x / math.sqrt(12), math.sqrt(lam) * torch.eye(12, dtype=x.dtype)])
    w = torch.linalg.lstsq(a, torch.cat([y, torch.zeros(12, dtype=x.dtype)])).solution
    scores = ridge(x, y, task.test, lam)
    assert torch.allclose(scores.train, x @ w / math.sqrt(12))
    assert torch.allclose(scores.test, task.test @ w / math.sqrt(12))
    # The dot-product kernel without memory slots is the same ridge, in its dual form.
    dual = kernel_ridge(x, y, task.test, DotProduct(mu_1=1.0, mu_star=0.0), lam)
    assert torch.allclose(dual.train, scores.train) and torch.allclose(dual.test, scores.test)


def test_memory_slots_interpolate_the_facts_and_ridge_does_not():
    task = raf_task(d=100, alpha=2.0, eps=0.2, n_test=500)
    x, y, facts, rule = task.data[0], task.labels[0], task.facts[0], task.test_labels[0]
    kernel = errors(kernel_ridge(x, y, task.test, DotProduct(1.0, 1.0), 1e-6), y, facts, rule)
    linear = errors(ridge(x, y, task.test, 1.0), y, facts, rule)
    assert kernel.e_mem == 0.0 and linear.e_mem > 0.1
    assert errors(kernel_ridge(x, y, task.test, RBF(1.0), 1e-6), y, facts, rule).e_mem == 0.0
    assert errors(svm(x, y, task.test, DotProduct(1.0, 1.0), 1e-4), y, facts, rule).e_mem == 0.0
    # p = 4 d = 400 > n = 200 features interpolate too.
    assert errors(random_features(x, y, task.test, 4.0, 1e-6), y, facts, rule).e_mem == 0.0


def test_many_clean_samples_generalize_and_features_are_reproducible():
    task = raf_task(d=20, alpha=[100.0, 1.0], eps=0.0, seed=[0, 1], n_test=2000)
    big, small = measure(task, lambda x, y, t: ridge(x, y, t, 1.0))
    assert big.e_gen < 0.06 < small.e_gen and big.e_mem == small.e_mem == 0.0
    x, y = task.data[1, :20], task.labels[1, :20]
    a, b = (random_features(x, y, task.test, 2.0, 0.1, "relu", seed=5) for _ in range(2))
    assert torch.equal(a.test, b.test)
    assert not torch.equal(a.test, random_features(x, y, task.test, 2.0, 0.1, "relu", 6).test)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"d": 0}, "d=0"),
        ({"d": 4, "alpha": 0.1}, "alpha=0.1"),
        ({"d": 4, "alpha": float("nan")}, "alpha=nan"),
        ({"d": 4, "eps": 1.5}, "eps=1.5"),
        ({"d": 4, "seed": 1.0}, "seed=1.0"),
        ({"d": 4, "n_test": 0}, "n_test=0"),
        ({"d": 4, "alpha": [1.0, 2.0], "seed": [0, 1, 2]}, "alpha has 2 values"),
    ],
)
def test_bad_task_inputs_raise_one_line_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        raf_task(**kwargs)


def test_bad_learner_inputs_raise():
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.ones(6, dtype=torch.float64)
    with pytest.raises(ValueError, match="lam=0"):
        ridge(x, y, x, 0)
    with pytest.raises(ValueError, match=r"expected \[n, d\], \[n\], \[k, d\]"):
        kernel_ridge(x, y[:5], x, DotProduct(), 1.0)
    with pytest.raises(ValueError, match=r"expected \[n, d\]"):
        ridge(x, y, x[:, :2], 1.0)
    with pytest.raises(ValueError, match="kappa=0.1"):
        random_features(x, y, x, 0.1, 1.0)
    with pytest.raises(ValueError, match="activation='gelu'"):
        random_features(x, y, x, 1.0, 1.0, "gelu")  # type: ignore[arg-type]


def test_the_raf_command_prints_both_errors_per_alpha(capsys):
    import json

    from interp.cli import main

    args = ["raf", "--d", "40", "--alpha", "2", "--seed", "0", "1", "--n-test", "500"]
    assert main([*args, "--learner", "kernel", "--lam", "1e-3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert len(rows) == 1 and rows[0]["e_mem"] == 0.0 and 0.1 < rows[0]["e_gen"] < 0.45
    assert main([*args, "--learner", "ridge"]) == 0
    assert "alpha    eps   E_gen   E_mem" in capsys.readouterr().out
    assert main([*args, "--eps", "1.5"]) == 2
    assert "eps" in capsys.readouterr().err
