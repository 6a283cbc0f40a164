import inspect
import itertools

import pytest
import torch

from interp.diffusion import EmpiricalDenoiser
from interp.studies.clocks.basins import BasinResult, basin_radius, basin_returns, measure_basins

SIGMAS = torch.tensor([0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6])


def parity_split(d: int = 8, n_train: int = 12, seed: int = 0):
    """Even-parity strings of length d as signals: n_train training ones and the unseen rest."""
    bits = torch.tensor(list(itertools.product([0, 1], repeat=d)))
    valid = bits[bits.sum(-1) % 2 == 0].float() - 0.5
    order = torch.randperm(len(valid), generator=torch.Generator().manual_seed(seed))
    return valid[order[:n_train]], valid[order[n_train:]]


def test_training_points_have_basins_and_unseen_valid_points_none():
    train, unseen = parity_split()
    D = EmpiricalDenoiser(train)
    targets = torch.cat([train[:6], unseen[:6]])
    r = measure_basins(D, targets, SIGMAS, 8, steps=8, generator=torch.Generator().manual_seed(0))
    assert isinstance(r, BasinResult) and r.returns.shape == (12, 7) and r.radius.shape == (12,)
    # The memorizing denoiser brings every small perturbation of a training string back ...
    assert bool((r.returns[:6, :3] == 1).all())
    assert bool((r.radius[:6] >= 0.1).all())
    # ... and carries every start near an unseen valid string to a training string instead.
    assert bool((r.returns[6:] == 0).all())
    assert bool((r.radius[6:] == 0).all())


def test_basin_returns_per_model_targets_share_the_noise():
    train, _ = parity_split()
    D = EmpiricalDenoiser(torch.stack([train, train]))  # two models, same data
    targets = torch.stack([train[:3], train[:3]])  # [models, T, d]
    returns = basin_returns(D, targets, SIGMAS, repeats=4, steps=6)
    assert returns.shape == (2, 3, 7)
    # Same data, same targets, same noise: identical return curves.
    assert torch.equal(returns[0], returns[1])
    g = torch.Generator().manual_seed(5)
    again = basin_returns(D, targets, SIGMAS, 4, 6, torch.Generator().manual_seed(5))
    assert torch.equal(basin_returns(D, targets, SIGMAS, 4, 6, g), again)


def test_zero_sigma_starts_at_the_target():
    train, unseen = parity_split()
    D = EmpiricalDenoiser(train)
    returns = basin_returns(D, torch.cat([train[:2], unseen[:2]]), torch.tensor([0.0]), 2, 4)
    assert returns.flatten().tolist() == [1.0, 1.0, 1.0, 1.0]


def test_radius_on_synthetic_return_curves():
    sigmas = torch.tensor([0.1, 0.2, 0.4, 0.8, 1.6])
    returns = torch.tensor(
        [
            [1.0, 0.9, 0.6, 0.2, 0.7],  # a far return past a failing level is not a basin
            [0.4, 0.9, 0.9, 0.9, 0.9],  # fails at the smallest sigma: no basin
            [1.0, 1.0, 1.0, 1.0, 0.5],  # exactly at the level counts
            [0.0, 0.0, 0.0, 0.0, 0.0],
        ]
    )
    expected = torch.tensor([0.4, 0.0, 1.6, 0.0])
    torch.testing.assert_close(basin_radius(returns, sigmas), expected)
    # The order of the sigma grid does not matter.
    perm = torch.tensor([3, 0, 4, 2, 1])
    torch.testing.assert_close(basin_radius(returns[:, perm], sigmas[perm]), expected)
    # A stricter level shrinks the basins; leading axes pass through.
    strict = basin_radius(returns[None].expand(2, 4, 5), sigmas, level=0.95)
    torch.testing.assert_close(strict, torch.tensor([[0.1, 0.0, 0.8, 0.0]] * 2))


def test_basin_input_validation():
    train, _ = parity_split()
    D = EmpiricalDenoiser(train)
    with pytest.raises(ValueError, match="repeats"):
        basin_returns(D, train[:2], SIGMAS, repeats=0)
    # Wrong shapes: the suite's signature check refuses them first (TypeError, both shapes
    # named); unchecked, as a user runs it, the function's own message does.
    for fn, args, message in [
        (basin_returns, (D, train[:2], torch.tensor([[0.1]])), "sigmas"),
        (basin_returns, (D, train[0], SIGMAS), "targets"),
        (basin_radius, (torch.ones(3, 4), SIGMAS), "last axis"),
    ]:
        with pytest.raises(TypeError, match="Type-check error"):
            fn(*args)
        with pytest.raises(ValueError, match=message):
            inspect.unwrap(fn)(*args)


def test_empirical_basins_of_a_task_per_model():
    from interp.studies.clocks.basins import basin_targets, empirical_basins
    from interp.tasks.rules import rule_task

    task = rule_task("parity", d=8, N=[4, 16], seed=0)  # two models, their own strings
    targets = basin_targets(task, n=4, seed=1)
    radii = empirical_basins(task, targets, sigmas=(0.05, 0.2, 0.4), repeats=6)
    assert radii["training"].shape == (2, 4) and radii["novel"].shape == (2, 4)
    # The memorizing optimum holds a basin around each of its own strings and none elsewhere.
    assert bool((radii["training"] >= 0.2).all()) and bool((radii["novel"] == 0).all())
    # Model 1's training strings are unseen for model 0 (its first 4 are model 0's: nested sets).
    other = {"training": task.data[1:2, 4:8].expand(2, 4, 8)}
    cross = empirical_basins(task, other, sigmas=(0.05, 0.2), repeats=4)["training"]
    assert bool((cross[0] == 0).all()) and bool((cross[1] > 0).all())


@pytest.mark.parametrize(
    "rule, d, group", [("parity", 6, None), ("group_parity", 6, 3), ("group_parity", 8, 2)]
)
def test_the_population_denoiser_is_the_empirical_one_of_every_valid_string(rule, d, group):
    """Uniform over the valid strings: the closed form equals the posterior mean computed by
    enumerating them (the empirical denoiser of all of them), at every noise level."""
    from interp.diffusion import EmpiricalDenoiser
    from interp.studies.clocks import ParityDenoiser
    from interp.tasks.bitrules import all_valid, to_signal

    everything = EmpiricalDenoiser(to_signal(all_valid(rule, d, group)).double())
    closed = ParityDenoiser(d, group)
    x = torch.randn(64, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for sigma in (0.1, 0.3, 1.0, 5.0):
        s = torch.full((64,), sigma, dtype=torch.float64)
        torch.testing.assert_close(closed(x, s), everything(x, s))


def test_population_basins_hold_seen_and_unseen_strings_alike():
    from interp.studies.clocks import basin_targets, empirical_basins, population_basins
    from interp.tasks.rules import rule_task

    task = rule_task("group_parity", d=8, group=2, N=[4, 8], seed=0)
    targets = basin_targets(task, n=4)
    population = population_basins(task, targets, repeats=4)
    empirical = empirical_basins(task, targets, repeats=4)
    assert (population["novel"] > 0).all() and (empirical["novel"] == 0).all()
    with pytest.raises(ValueError, match="exact for parity"):
        population_basins(rule_task("sudoku", N=2, seed=0))
