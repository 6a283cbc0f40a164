import json
import re

import pytest
import torch

from interp.tasks.modular import (
    OPS,
    ModularConfig,
    ModularTask,
    group_order,
    is_prime,
    modular_task,
)
from interp.tasks.rules import rule_task


def _divide(a: int, b: int, p: int) -> int:
    return next(c for c in range(p) if (c * b) % p == a)


# Brute-force references, written without the library's tensor ops or modular inverses.
BRUTE = {
    "add": lambda a, b, p: (a + b) % p,
    "subtract": lambda a, b, p: (a - b) % p,
    "multiply": lambda a, b, p: (a * b) % p,
    "divide": _divide,
    "square_sum": lambda a, b, p: (a * a + b * b) % p,
    "cube_sum": lambda a, b, p: (a**3 + b**3) % p,
}

TASK_TENSORS = ("inputs", "labels", "train", "noisy", "train_labels")


def assert_same_task(x, y) -> None:
    assert x.config == y.config
    for name in TASK_TENSORS:
        assert torch.equal(getattr(x, name), getattr(y, name)), name


def test_every_op_has_a_reference():
    assert set(BRUTE) == set(OPS)


def test_is_prime():
    brute = [n for n in range(60) if n >= 2 and all(n % d for d in range(2, n))]
    assert [n for n in range(60) if is_prime(n)] == brute


@pytest.mark.parametrize("p", [7, 11])
@pytest.mark.parametrize("op", sorted(OPS))
def test_labels_match_brute_force(op, p):
    task = modular_task(p=p, op=op)
    pairs = [tuple(pair) for pair in task.inputs.tolist()]
    expected_pairs = {(a, b) for a in range(p) for b in range(p) if op != "divide" or b != 0}
    assert len(pairs) == len(expected_pairs) and set(pairs) == expected_pairs
    assert task.inputs.dtype == task.labels.dtype == torch.long
    assert task.labels.tolist() == [BRUTE[op](a, b, p) for a, b in pairs]


@pytest.mark.parametrize("p", [4, 9, 15])
def test_divide_rejects_composite_p(p):
    with pytest.raises(ValueError, match=f"p={p}"):
        modular_task(p=p, op="divide")
    modular_task(p=p, op="multiply")  # only divide needs a prime


def test_divide_excludes_zero_divisor():
    task = modular_task(p=11, op="divide")
    assert len(task.labels) == 11 * 10
    assert (task.inputs[:, 1] != 0).all()


def test_exact_noise_and_train_counts():
    fracs, noises = [0.3, 0.5, 0.5, 0.9, 0.7], [0.0, 0.35, 0.8, 0.6, 0.99]
    task = modular_task(p=23, train_fraction=fracs, noise=noises, seed=[0, 1, 2, 3, 4])
    n = 23 * 23
    n_train, n_noisy = task.train.sum(1), task.noisy.sum(1)
    for m, (frac, xi) in enumerate(zip(fracs, noises)):
        assert n_train[m] == round(frac * n)
        assert n_noisy[m] == round(xi * round(frac * n))
    assert torch.equal(task.clean.sum(1), n_train - n_noisy)


def test_masks_are_consistent():
    task = modular_task(p=13, train_fraction=[0.4, 0.8], noise=[0.3, 0.6], seed=[5, 6])
    assert task.train.dtype == task.noisy.dtype == torch.bool
    assert task.train.shape == task.noisy.shape == task.train_labels.shape == (2, 169)
    assert not (task.noisy & ~task.train).any()  # noisy is a subset of train
    assert torch.equal(task.test, ~task.train)
    assert torch.equal(task.clean, task.train & ~task.noisy)


def test_noisy_labels_are_wrong_and_the_rest_clean():
    task = modular_task(p=17, train_fraction=0.7, noise=[0.2, 0.5, 0.9], seed=[0, 1, 2])
    clean = task.labels.expand(task.models, -1)
    assert ((task.train_labels >= 0) & (task.train_labels < 17)).all()
    assert (task.train_labels[task.noisy] != clean[task.noisy]).all()
    assert torch.equal(task.train_labels[~task.noisy], clean[~task.noisy])  # test labels too


def test_wrong_labels_are_uniform_over_wrong_values():
    """Chi-square of the label shift (wrong - true) mod p over the p - 1 nonzero shifts."""
    p, models = 31, 8
    task = modular_task(p=p, train_fraction=0.9, noise=0.9, seed=list(range(models)))
    shift = (task.train_labels - task.labels)[task.noisy] % p
    counts = torch.bincount(shift, minlength=p).double()
    assert counts[0] == 0
    expected = len(shift) / (p - 1)
    assert expected > 150  # a big enough sample for the bound below
    chi2 = ((counts[1:] - expected) ** 2 / expected).sum().item()
    dof = p - 2
    assert chi2 < dof + 8 * (2 * dof) ** 0.5  # ~8 sigma: loose, never flaky


def test_noisy_examples_spread_over_the_table():
    """Flipped labels are a random part of the split, not e.g. the first rows of the table."""
    task = modular_task(p=31, train_fraction=0.5, noise=0.3, seed=0)
    rows = torch.nonzero(task.noisy[0]).flatten().double()
    assert abs(rows.mean().item() / (31 * 31) - 0.5) < 0.1


def test_config_regenerates_identical_tensors():
    task = modular_task(p=11, op="subtract", train_fraction=[0.3, 0.6], noise=0.4, seed=[7, 8])
    assert_same_task(ModularTask.from_config(task.config), task)


def test_same_seed_same_task_whatever_the_ensemble():
    solo = modular_task(p=11, train_fraction=0.6, noise=0.3, seed=5)
    ensemble = modular_task(p=11, train_fraction=[0.2, 0.6], noise=[0.1, 0.3], seed=[1, 5])
    assert_same_task(ensemble.select([1]), solo)


def test_different_seeds_give_different_splits_and_noise():
    task = modular_task(p=11, noise=0.5, seed=[0, 1])
    assert not torch.equal(task.train[0], task.train[1])
    assert not torch.equal(task.noisy[0], task.noisy[1])


def test_same_seed_shares_the_split_across_noise_rates():
    task = modular_task(p=11, noise=[0.1, 0.5], seed=3)
    assert torch.equal(task.train[0], task.train[1])
    assert task.noisy[0].sum() < task.noisy[1].sum()


def test_scalars_broadcast_over_models():
    cfg = modular_task(p=7, train_fraction=0.4, noise=[0.1, 0.2, 0.3], seed=9).config
    assert cfg.models == 3
    assert cfg.train_fraction == (0.4, 0.4, 0.4)
    assert cfg.noise == (0.1, 0.2, 0.3)
    assert cfg.seed == (9, 9, 9)
    single = modular_task(p=7, seed=0)
    assert single.models == 1 and single.train.shape == (1, 49)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"noise": [0.1, 0.2], "seed": [0, 1, 2]}, "noise"),
        ({"train_fraction": [0.5, 0.6, 0.7], "seed": [0, 1]}, "seed"),
        ({"train_fraction": [0.5, 0.6], "noise": [0.0, 0.1, 0.2]}, "train_fraction"),
    ],
)
def test_mismatched_lengths_raise(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} has 2 values"):
        modular_task(p=7, **kwargs)


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"train_fraction": 0.0}, "train_fraction=0.0"),
        ({"train_fraction": 1.0}, "train_fraction=1.0"),
        ({"train_fraction": [0.5, 1.5]}, "train_fraction=1.5"),
        ({"train_fraction": -0.2}, "train_fraction=-0.2"),
        ({"noise": -0.1}, "noise=-0.1"),
        ({"noise": 1.0}, "noise=1.0"),
        ({"noise": [0.2, 1.3]}, "noise=1.3"),
        ({"p": 2}, "p=2"),
        ({"p": 7.0}, "p=7.0"),
        ({"op": "power"}, "'power'"),
        ({"noise": float("nan")}, "noise=nan"),
        ({"seed": 0.5}, "seed=0.5 must be an integer"),
        ({"seed": [0, True]}, "seed=True must be an integer"),
        ({"noise": "0.1"}, "noise='0.1' must be a number"),
        ({"train_fraction": [0.5, None]}, "train_fraction=None must be a number"),
    ],
)
def test_out_of_range_arguments_raise_naming_the_value(kwargs, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        modular_task(**{"p": 7, **kwargs})


def test_select_picks_models_consistently():
    task = modular_task(p=11, train_fraction=[0.3, 0.5, 0.7], noise=[0.0, 0.2, 0.4], seed=[1, 2, 3])
    sub = task.select([2, 0])
    assert sub.config.seed == (3, 1)
    assert sub.config.train_fraction == (0.7, 0.3)
    assert sub.config.noise == (0.4, 0.0)
    assert sub.models == 2 and sub.p == 11
    for name in ("train", "noisy", "train_labels"):
        assert torch.equal(getattr(sub, name), getattr(task, name)[[2, 0]])
    assert torch.equal(sub.labels, task.labels) and torch.equal(sub.inputs, task.inputs)
    assert_same_task(ModularTask.from_config(sub.config), sub)  # the sub-config regenerates it


def test_config_dict_round_trip():
    cfg = modular_task(p=13, op="divide", train_fraction=[0.3, 0.8], noise=0.25, seed=[4, 2]).config
    d = cfg.to_dict()
    assert d["seed"] == [4, 2] and d["noise"] == [0.25, 0.25]
    restored = ModularConfig.from_dict(json.loads(json.dumps(d)))
    assert restored == cfg
    assert_same_task(ModularTask.from_config(restored), ModularTask.from_config(cfg))


def test_from_dict_validates():
    d = modular_task(p=7).config.to_dict() | {"noise": [1.5]}
    with pytest.raises(ValueError, match="noise=1.5"):
        ModularConfig.from_dict(d)


def test_from_dict_names_an_unknown_or_missing_key():
    d = modular_task(p=7).config.to_dict()
    with pytest.raises(ValueError, match="unknown key 'noise_rate'"):
        ModularConfig.from_dict(d | {"noise_rate": [0.1]})
    del d["op"]
    with pytest.raises(ValueError, match="missing key 'op'"):
        ModularConfig.from_dict(d)
    with pytest.raises(ValueError, match="must be a JSON object; got list"):
        ModularConfig.from_dict([7, "add"])


def test_a_split_without_a_training_or_a_held_out_pair_is_refused():
    # 97 * 97 = 9409 pairs; the split trains on round(train_fraction * 9409) of them
    with pytest.raises(ValueError, match="train_fraction=5e-05 gives 0 training pairs of 9409"):
        modular_task(p=97, train_fraction=0.00005)
    with pytest.raises(ValueError, match="gives 9409 training pairs of 9409"):
        modular_task(p=97, train_fraction=0.99999)
    with pytest.raises(ValueError, match="gives 0 training pairs"):
        modular_task(p=7, train_fraction=[0.5, 0.01], seed=[0, 1])  # any one model
    assert modular_task(p=97, train_fraction=0.0001).train.sum().item() == 1  # 0.94 rounds up


@pytest.mark.parametrize("p", [3, 7, 13, 97])
def test_group_order_turns_multiplication_into_addition(p):
    order = group_order(p, "multiply")
    assert sorted(order.tolist()) == list(range(1, p))  # every nonzero residue once
    i, j = torch.meshgrid(torch.arange(p - 1), torch.arange(p - 1), indexing="ij")
    assert ((order[i] * order[j]) % p == order[(i + j) % (p - 1)]).all()
    assert torch.equal(group_order(p, "divide"), order)
    for op in ("add", "subtract", "square_sum"):
        assert group_order(p, op) is None


def test_group_order_needs_a_prime():
    with pytest.raises(ValueError, match="prime p; got p=15"):
        group_order(15, "multiply")


@pytest.mark.parametrize(
    "make",
    [
        lambda: modular_task(p=7, seed="12"),
        lambda: rule_task("parity", d=6, N=4, seed="12"),
    ],
)
def test_a_string_seed_is_one_bad_value_not_two_models(make):
    with pytest.raises(ValueError, match="seed='12' must be an integer"):
        make()
