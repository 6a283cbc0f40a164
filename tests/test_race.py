"""The race between wrong and clean labels: repeats in a row or column, fit steps, crossings."""

import pytest
import torch

import interp
from interp.studies.label_noise.race import crossing_step, fit_steps, repeats


def test_clean_labels_repeat_only_through_wrong_ones():
    clean = interp.modular_task(p=11, noise=0.0, seed=[0, 1])
    assert repeats(clean).max() == 0  # a Latin square: each class once per row and column
    task = interp.modular_task(p=11, noise=0.5, seed=[0, 1])
    counts = repeats(task)
    assert (counts[~task.train] == 0).all()
    # brute force for one model: same row or column, same training label, another training pair
    a, b = task.inputs[:, 0], task.inputs[:, 1]
    train, label = task.train[0], task.train_labels[0]
    for i in torch.nonzero(train).flatten()[:40].tolist():
        same = train & (label == label[i]) & ((a == a[i]) | (b == b[i]))
        same[i] = False
        brute = int((same & (a == a[i])).sum() + (same & (b == b[i])).sum())
        assert counts[0, i] == brute
    assert counts[task.noisy].mean() > counts[task.train & ~task.noisy].mean()


def test_fit_steps_read_each_label_off_the_checkpoints(tmp_path):
    task = interp.modular_task(p=11, noise=0.3, seed=[0, 1])
    model = interp.MLP(interp.MLPConfig(p=11, width=64, models=2, seed=(0, 1)))
    cfg = interp.TrainConfig(steps=60, lr=1e-2, log_every=10, save_every=5)
    interp.train(model, task, cfg, out=tmp_path / "r", progress=False)
    first = fit_steps(interp.load_run(tmp_path / "r"))
    assert first.shape == (2, 121) and first[~task.train].isinf().all()
    assert first[task.train].isfinite().float().mean() > 0.9  # nearly every label gets fit
    assert set(first[first.isfinite()].unique().tolist()) <= set(range(0, 61, 5))


def test_crossing_steps_interpolate_and_say_never():
    values = torch.tensor([[0.0, 0.6, 0.0], [0.5, 0.8, 0.1], [1.0, 0.9, 0.2]])
    out = crossing_step(values, [0, 10, 20], 0.5)
    assert out[0] == 10 and out[1] == 0 and out[2].isnan()
    assert crossing_step(values, [0, 10, 20], 0.75)[0] == pytest.approx(15.0)
    with pytest.raises(ValueError, match="3 steps"):
        crossing_step(values[:2], [0, 10, 20], 0.5)
