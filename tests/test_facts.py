"""The synthetic fact base: reproducible draws, Zipf frequencies, sampling by frequency, and the
exact-match count that capacity is measured with."""

import math

import pytest
import torch

from interp.tasks.facts import FactConfig, bits_stored, fact_task, facts_known


def test_the_fact_base_is_reproducible_and_padded():
    a, b = fact_task(names=[50, 200], digits=4, seed=[0, 1]), fact_task([50, 200], 4, seed=[0, 1])
    assert torch.equal(a.values, b.values) and torch.equal(a.frequency, b.frequency)
    assert a.values.min() >= 0 and a.values.max() <= 9
    assert not a.mask[0, 50:].any() and (a.frequency[0, 50:] == 0).all()
    assert FactConfig.from_dict(a.config.to_dict()) == a.config


@pytest.mark.parametrize("exponent", [0.0, 1.0, 1.5])
def test_frequencies_follow_zipf(exponent):
    task = fact_task(names=100, exponent=exponent)
    ranked = task.frequency[0].sort(descending=True).values
    assert ranked.sum().item() == pytest.approx(1.0)
    expected = (torch.arange(100, dtype=torch.float64) + 1) ** -exponent
    torch.testing.assert_close(ranked, expected / expected.sum())


def test_names_are_drawn_by_frequency():
    task = fact_task(names=20, exponent=1.0)
    names = task.sample_names(200_000, torch.Generator().manual_seed(0))[0]
    shares = torch.bincount(names, minlength=20).double() / len(names)
    torch.testing.assert_close(shares, task.frequency[0], atol=0.005, rtol=0.0)


def test_exact_match_counts_whole_values_only():
    task = fact_task(names=[3, 5], digits=3)
    predicted = task.values.clone()
    predicted[1, 0, 2] = (predicted[1, 0, 2] + 1) % 10  # one digit wrong: not known
    predicted[0, 3:] = 7  # padding never counts, whatever is predicted there
    assert facts_known(predicted, task).tolist() == [3, 4]
    bits = bits_stored(torch.tensor([3, 4]), task, parameters=10)
    torch.testing.assert_close(
        bits, torch.tensor([3.0, 4.0], dtype=torch.float64) * 3 * math.log2(10) / 10
    )
    with pytest.raises(ValueError, match="need \\(2, 5, 3\\)"):
        facts_known(predicted[:, :2], task)


def test_bad_values_are_named():
    with pytest.raises(ValueError, match="names=0"):
        fact_task(names=0)
    with pytest.raises(ValueError, match="digits=19"):
        fact_task(digits=19)
    with pytest.raises(ValueError, match="exponent=-1"):
        fact_task(exponent=-1)
