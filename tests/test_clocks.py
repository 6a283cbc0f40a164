import pytest
import torch

from interp.diffusion.memorization import is_memorized_continuous, memorization_ratio
from interp.studies.clocks.clocks import (
    MEM_THRESHOLD,
    RULE_THRESHOLD,
    GenerationStats,
    exact_matches,
    generation_stats,
    measure_clocks,
    threshold_above_chance,
)


def even_parity(bits: torch.Tensor) -> torch.Tensor:
    return bits.long().sum(-1) % 2 == 0


# Model 0 trains on three strings; model 1 on two, plus a padding row that must not count.
TRAINING = torch.tensor(
    [
        [[0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0]],
        [[1, 1, 1, 1], [0, 1, 1, 0], [1, 0, 0, 0]],
    ]
)
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]]).bool()
SAMPLES = torch.tensor(
    [
        # copy, copy, valid but model 1's string (novel for model 0), invalid, copy
        [[0, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]],
        # the padding row (invalid, not a copy), copy, novel valid, copy, invalid
        [[1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 1, 1], [0, 1, 1, 0], [1, 1, 1, 0]],
    ]
)


def test_exact_matches_on_hand_made_strings():
    expected = [[True, True, False, False, True], [False, True, False, True, False]]
    assert exact_matches(SAMPLES, TRAINING, MASK).tolist() == expected
    # Without the mask the padding row of model 1 counts.
    assert exact_matches(SAMPLES, TRAINING).tolist()[1] == [True, True, False, True, False]
    # Shared training strings: every model against the same set; bool input works alike.
    shared = exact_matches(SAMPLES.bool(), TRAINING[0].bool())
    assert shared.tolist() == [[True, True, False, False, True], [False] * 5]


def test_generation_stats_counts_exactly():
    s = generation_stats(SAMPLES, even_parity, TRAINING, MASK)
    torch.testing.assert_close(s.valid, torch.tensor([4 / 5, 3 / 5]))
    torch.testing.assert_close(s.memorized, torch.tensor([3 / 5, 2 / 5]))
    torch.testing.assert_close(s.novel_valid, torch.tensor([1 / 5, 1 / 5]))
    stacked = GenerationStats.stack([s, s, s])
    assert stacked.valid.shape == (3, 2)


def test_exact_matches_agree_with_brute_force_on_long_strings():
    g = torch.Generator().manual_seed(0)
    d = 70  # more than one packed word
    training = torch.randint(0, 2, (3, 40, d), generator=g)
    samples = torch.randint(0, 2, (3, 60, d), generator=g)
    samples[:, :20] = training[:, torch.randperm(40, generator=g)[:20]]  # 20 copies each
    samples[:, 20:30] = training[:, :10]
    samples[:, 20:30, 65] ^= 1  # one bit off, in the second word: not copies
    brute = (samples[:, :, None, :] == training[:, None, :, :]).all(-1).any(-1)
    got = exact_matches(samples, training)
    assert torch.equal(got, brute)
    assert got[:, :20].all() and not got[:, 20:30].any()


def test_generation_stats_validation():
    with pytest.raises(ValueError, match="to_bits|x > 0"):
        generation_stats(SAMPLES.float() - 0.5, even_parity, TRAINING)
    with pytest.raises(ValueError, match="valid_fn"):
        generation_stats(SAMPLES, lambda bits: bits.sum(), TRAINING)
    with pytest.raises(ValueError, match="other than 0 and 1"):
        exact_matches(SAMPLES * 2, TRAINING)


def test_clocks_on_synthetic_curves():
    steps = [0, 100, 200, 300, 400]
    # Columns are models: 0 learns the rule at 200, memorizes at 300 (window 100);
    # 1 learns and memorizes at 100 (window 0); 2 never learns the rule (-1);
    # 3 memorizes (100) before it learns the rule (300): an empty window, width 0.
    valid = torch.tensor(
        [
            [0.50, 0.50, 0.50, 0.50],
            [0.60, 0.90, 0.50, 0.50],
            [0.95, 0.90, 0.60, 0.50],
            [0.97, 0.95, 0.70, 0.95],
            [0.99, 0.99, 0.80, 1.00],
        ]
    )
    memorized = torch.tensor(
        [
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.6, 0.0, 0.8],
            [0.1, 0.7, 0.0, 0.9],
            [0.5, 0.8, 0.7, 1.0],
            [0.9, 0.9, 1.0, 1.0],
        ]
    )
    c = measure_clocks(GenerationStats(valid, memorized, valid - memorized), steps)
    assert c.tau_rule.tolist() == [200, 100, -1, 300]
    assert c.tau_mem.tolist() == [300, 100, 300, 100]
    assert c.width.tolist() == [100, 0, -1, 0]
    assert (c.rule_threshold, c.mem_threshold) == (RULE_THRESHOLD, MEM_THRESHOLD) == (0.9, 0.5)
    # Never memorizing leaves tau_mem and the width at -1.
    c = measure_clocks(GenerationStats(valid, memorized, valid), steps, mem_threshold=1.01)
    assert c.tau_mem.tolist() == [-1] * 4 and c.width.tolist() == [-1] * 4
    assert str(c).splitlines()[1].split() == ["0", "200", "-1", "-1"]


def test_threshold_above_chance():
    assert threshold_above_chance(0.5) == pytest.approx(0.9)
    assert threshold_above_chance(0.0) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="chance"):
        threshold_above_chance(1.5)


def test_memorization_ratio_on_hand_made_points():
    training = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
    samples = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.5, 0.0], [1.5, 0.0]], dtype=torch.float64)
    expected = torch.tensor([1 / 2, 0.0, 0.5 / 2.5, 1.0], dtype=torch.float64)
    torch.testing.assert_close(memorization_ratio(samples, training), expected)
    # Leading axes and streaming the training points one by one give the same.
    batched = memorization_ratio(samples.expand(2, 4, 2), training, max_elements=1)
    torch.testing.assert_close(batched, expected.expand(2, 4))
    assert is_memorized_continuous(samples, training).tolist() == [False, True, True, False]
    # Duplicate training points: d1 = d2 = 0 is a copy, not nan.
    dup = torch.tensor([[1.0, 1.0], [1.0, 1.0], [5.0, 5.0]])
    assert memorization_ratio(torch.tensor([[1.0, 1.0]]), dup).tolist() == [0.0]
    with pytest.raises(ValueError, match="N >= 2"):
        memorization_ratio(samples, training[:1])
