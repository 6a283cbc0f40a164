"""The 8x8 digits with imposed class imbalance: exact counts, a fixed held-out set, round trips
through a run folder, one-line errors, and the per-class generation metrics."""

import pytest
import torch

import interp
from interp.core.registry import task_class
from interp.studies.imbalance.digits import (
    centroid_class,
    class_denoising_loss,
    class_generation,
)
from interp.tasks.digits import SIGMA_DATA, DigitsConfig, DigitsTask, digit_images, digits_task


def _rows_in(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`[len(a)]` whether each row of a is a row of b."""
    return (a[:, None] == b[None]).all(-1).any(-1)


def test_the_imbalance_counts_are_exact_and_the_images_are_the_digits_asked_for():
    weights = [(0.5, 0.3, 0.2), (0.98, 0.01, 0.01)]
    task = digits_task(classes=(0, 1, 7), weights=weights, n=[100, 120], seed=[0, 1])
    counts = [task.labels[m][task.mask[m]].bincount().tolist() for m in range(2)]
    assert counts == [[50, 30, 20], [118, 1, 1]]
    assert task.mask.sum(1).tolist() == [100, 120] and task.data.shape == (2, 120, 64)
    images, digits = digit_images()
    real = task.index[task.mask]
    assert torch.equal(digits[real], torch.tensor([0, 1, 7])[task.labels[task.mask]])
    assert torch.equal(task.data[task.mask], images[real])
    assert (task.data[~task.mask] == 0).all() and (task.index[~task.mask] == -1).all()
    for m in range(2):  # without replacement, and never a held-out image
        rows = task.index[m][task.mask[m]]
        assert len(rows.unique()) == len(rows)
        assert not _rows_in(task.test, task.data[m][task.mask[m]]).any()
    assert task.test.shape == (3 * 28, 64) and task.test_labels.bincount().tolist() == [28] * 3
    assert abs(float(images.std()) - SIGMA_DATA) < 0.01
    assert images.min() == -1 and images.max() == 1


def test_draws_follow_the_seed_and_the_held_out_set_is_fixed_per_digit():
    index = digits_task(n=40, seed=[3, 3, 4]).index
    assert torch.equal(index[0], index[1]) and not torch.equal(index[0], index[2])
    assert torch.equal(index[2], digits_task(n=40, seed=4).index[0])
    one_zero = digits_task(classes=(1, 0), n=40)
    one_seven = digits_task(classes=(1, 7), n=40)
    assert torch.equal(one_zero.test[:28], one_seven.test[:28])  # digit 1's held-out images
    assert torch.equal(one_zero.test[28:], digits_task(n=40).test[:28])  # digit 0's
    assert task_class("digits") is DigitsTask


def test_a_digits_run_saves_and_loads_the_same_task(tmp_path):
    task = digits_task(weights=[(0.5, 0.5), (0.9, 0.1)], n=20, seed=[0, 1])
    dit = interp.DiT(
        interp.DiTConfig(d=64, d_model=8, n_layers=1, n_heads=2, models=2, sigma_data=SIGMA_DATA)
    )
    cfg = interp.TrainConfig(steps=2, lr=1e-3, loss="edm", batch_size=4, log_every=1)
    interp.train(dit, task, cfg, out=tmp_path / "run", device="cpu", progress=False)
    run = interp.load_run(tmp_path / "run")
    assert run.task.config == task.config and run.steps == [0, 2]
    for name in ("data", "labels", "mask", "index", "test", "test_labels"):
        assert torch.equal(getattr(run.task, name), getattr(task, name)), name
    assert run.model().cfg.sigma_data == SIGMA_DATA
    assert DigitsConfig.from_dict(task.config.to_dict()) == task.config
    wrong = interp.DiT(interp.DiTConfig(d=8, d_model=8, n_heads=2, models=2))
    with pytest.raises(ValueError, match="d=8 but the task has d=64"):
        interp.train(wrong, task, cfg, device="cpu", progress=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(classes=(0, 10)), "must be digits 0-9"),
        (dict(classes=(3, 3)), "repeats a digit"),
        (dict(weights=(0.9, 0.2)), r"weights=\(0.9, 0.2\) must be 2 numbers > 0 summing to 1"),
        (dict(weights=(0.5, 0.3, 0.2)), "must be 2 numbers"),
        (dict(weights=0.5), "one weight per class"),
        (dict(weights=(0.98, 0.02), n=200), "196 images of digit 0; it needs 1 to 150"),
        (dict(weights=(0.999, 0.001)), "model 0: .* give 0 images of digit 1"),
        (dict(weights=[(0.5, 0.5)] * 3, seed=[0, 1]), "seed has 2 values; expected 1 or 3"),
        (dict(n=1), "n=1 must be an integer >= 2"),
        (dict(n_test=0), "n_test=0 must be an integer >= 1"),
        (dict(n_test=180), "n_test=180 holds out every image of digit 0"),
    ],
)
def test_bad_values_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        digits_task(**kwargs)


def test_copies_are_memorized_with_their_class_and_blends_are_not():
    task = digits_task(weights=[(0.8, 0.2), (0.5, 0.5)], n=[40, 150], seed=[0, 1])
    data, labels, mask = task.data[0], task.labels[0], task.mask[0]
    zeros, ones = data[mask & (labels == 0)], data[mask & (labels == 1)]
    blends = torch.stack([(zeros[0] + zeros[1]) / 2, (ones[0] + ones[1]) / 2])
    samples = torch.cat([zeros[:5], ones[:3], blends])  # [10, 64]: model 0's copies, 2 blends
    g = class_generation(task, torch.stack([samples, samples]))
    assert g.classes[0].tolist() == [0] * 5 + [1] * 3 + [0, 1]
    assert g.memorized[0].tolist() == [True] * 8 + [False, False]
    assert (g.ratio[0, :8] == 0).all() and (g.ratio[0, 8:] > 1 / 3).all()
    assert torch.allclose(g.share[0], torch.tensor([0.6, 0.4]))
    assert torch.allclose(g.memorized_fraction[0], torch.tensor([5 / 6, 3 / 4]))
    shared = _rows_in(samples[:8], task.data[1][task.mask[1]])  # model 1 trained on these too
    assert g.memorized[1, :8].tolist() == shared.tolist() and 0 < shared.sum() < 8
    only_zeros = class_generation(task, zeros[:4].expand(2, -1, -1))
    assert only_zeros.share[:, 1].tolist() == [0, 0]
    assert only_zeros.memorized_fraction[:, 1].isnan().all()
    with pytest.raises(ValueError, match=r"need \[2, S, 64\]"):
        class_generation(task, samples)


def test_the_centroid_classifier_and_the_per_class_denoising_loss():
    task = digits_task(n=40)
    assert float((centroid_class(task, task.test) == task.test_labels).float().mean()) > 0.95
    two = digits_task(weights=[(0.5, 0.5), (0.9, 0.1)], n=40)
    dit = interp.DiT(interp.DiTConfig(d=64, d_model=8, n_heads=2, models=2, sigma_data=SIGMA_DATA))
    test = class_denoising_loss(dit, two)
    assert test.shape == (2, 2) and torch.equal(test[0], test[1])  # F = 0 at init: same D
    assert torch.equal(test, class_denoising_loss(dit, two))  # the same draws every call
    train = class_denoising_loss(dit, two, "train")
    assert train.shape == (2, 2) and not torch.equal(train[0], train[1])  # their own images
    with pytest.raises(ValueError, match="split='val' must be 'test' or 'train'"):
        class_denoising_loss(dit, two, "val")
