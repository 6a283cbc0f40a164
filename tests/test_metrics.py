import inspect
import math
import re

import pytest
import torch

from interp.core.metrics import (
    Accuracies,
    accuracies,
    evaluate,
    first_step,
    per_example_loss,
    predicted,
)
from interp.models.mlp import MLP, MLPConfig
from interp.models.restricted import RestrictedLogits, RestrictedLogitsConfig
from interp.tasks.modular import ModularTask, modular_task
from interp.tasks.rules import rule_task

P = 3


def tiny_task() -> ModularTask:
    """p = 3 addition, 9 pairs, two models with hand-picked masks.

    pair:            0  1  2  3  4  5  6  7  8
    (a, b):         00 01 02 10 11 12 20 21 22
    clean label:     0  1  2  1  2  0  2  0  1
    model 0: train on 0-5, pairs 1 and 4 noisy (labels 2 and 0); test 6-8
    model 1: train on 0-2, no noise; test 3-8
    """
    a, b = torch.cartesian_prod(torch.arange(P), torch.arange(P)).T
    labels = (a + b) % P
    train = torch.tensor([[1, 1, 1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0, 0]]).bool()
    noisy = torch.tensor([[0, 1, 0, 0, 1, 0, 0, 0, 0], [0] * 9]).bool()
    train_labels = labels.repeat(2, 1)
    train_labels[0, 1], train_labels[0, 4] = 2, 0
    config = modular_task(p=P, seed=[0, 1]).config  # the masks below are by hand
    return ModularTask(config, torch.stack([a, b], 1), labels, train, noisy, train_labels)


def test_accuracies_of_hand_made_predictions():
    task = tiny_task()
    pred = torch.tensor(
        [
            # clean train 0, 2, 3, 5: right, wrong, right, -1 -> 2/4
            # noisy 1, 4: the noisy label 2 (fit), the clean label 2 (not fit) -> 1/2
            # test 6, 7, 8: right, right, out of range -> 2/3
            [0, 2, 1, 1, 2, -1, 2, 0, 3],
            # clean train 0, 1, 2: all right; test 3-8: right on 3 and 8 only -> 2/6
            [0, 1, 2, 1, 0, 1, 0, 1, 1],
        ]
    )
    acc = accuracies(pred, task)
    # Against the labels trained on (noisy ones included): pairs 0, 1, 3 of 0-5 -> 3/6.
    assert acc.train.tolist() == [pytest.approx(3 / 6), 1.0]
    assert acc.train_clean.tolist() == [pytest.approx(2 / 4), 1.0]
    assert acc.train_noisy[0].item() == pytest.approx(1 / 2)
    assert math.isnan(acc.train_noisy[1].item())
    assert acc.test.tolist() == [pytest.approx(2 / 3), pytest.approx(2 / 6)]


def test_clean_labels_everywhere_score_perfect_except_on_noise():
    task = tiny_task()
    acc = accuracies(task.labels.repeat(2, 1), task)
    assert acc.train.tolist() == [pytest.approx(4 / 6), 1.0]
    assert acc.train_clean.tolist() == [1.0, 1.0]
    assert acc.test.tolist() == [1.0, 1.0]
    assert acc.train_noisy[0].item() == 0.0  # noisy labels are always wrong ones
    # Predicting the training labels fits the noise and nothing is lost on clean pairs.
    acc = accuracies(task.train_labels, task)
    assert acc.train.tolist() == [1.0, 1.0]
    assert acc.train_noisy[0].item() == 1.0
    assert acc.train_clean.tolist() == [1.0, 1.0]


def test_no_answer_is_always_wrong():
    task = tiny_task()
    acc = accuracies(torch.full((2, 9), -1), task)
    assert acc.train.tolist() == [0.0, 0.0]
    assert acc.train_clean.tolist() == [0.0, 0.0]
    assert acc.test.tolist() == [0.0, 0.0]
    assert acc.train_noisy[0].item() == 0.0
    assert math.isnan(acc.train_noisy[1].item())


def test_evaluate_scores_a_model_on_each_models_split():
    """Restricted logits with one cosine at frequency 1 peak at c = a + b: a perfect model."""
    p = 11
    task = modular_task(p=p, noise=[0.0, 0.3], seed=[0, 1])
    cos, sin = torch.zeros(2, (p - 1) // 2), torch.zeros(2, (p - 1) // 2)
    cos[:, 0] = 1.0
    model = RestrictedLogits(
        RestrictedLogitsConfig(p=p, op="add", models=2), weights={"cos_coef": cos, "sin_coef": sin}
    )
    acc = evaluate(model, task)
    assert acc.test.tolist() == [1.0, 1.0]
    assert acc.train_clean.tolist() == [1.0, 1.0]
    assert math.isnan(acc.train_noisy[0].item())
    assert acc.train_noisy[1].item() == 0.0
    clean_share = (task.clean.sum(1) / task.train.sum(1)).tolist()
    assert acc.train.tolist() == [1.0, pytest.approx(clean_share[1])]
    # Negating the coefficients moves the peak away from the right answer.
    flipped = RestrictedLogits(model.cfg, weights={"cos_coef": -cos, "sin_coef": sin})
    assert evaluate(flipped, task).test.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("batch_size", [1, 7, 16384])
def test_evaluate_equals_scoring_the_argmax(batch_size):
    task = modular_task(p=7, noise=0.3, seed=[0, 1, 2])
    model = MLP(MLPConfig(p=7, width=12, models=3))
    with torch.no_grad():
        want = accuracies(model(task.inputs).argmax(-1), task)
    got = evaluate(model, task, batch_size=batch_size)
    for name in ("train", "train_clean", "train_noisy", "test"):
        torch.testing.assert_close(getattr(got, name), getattr(want, name), equal_nan=True)


def test_evaluate_needs_one_model_per_task_model():
    task = modular_task(p=7, seed=[0, 1])
    with pytest.raises(ValueError, match="3 models but the task has 2"):
        evaluate(MLP(MLPConfig(p=7, width=4, models=3)), task)
    with pytest.raises(ValueError, match="2 models but the task has 3"):
        evaluate(MLP(MLPConfig(p=7, width=4, models=2)), modular_task(p=7, seed=[0, 1, 2]))


def test_evaluate_checks_its_test_mask_and_batch_size():
    task = modular_task(p=7, seed=[0, 1])
    model = MLP(MLPConfig(p=7, width=4, models=2))
    expected = r"test must be a bool mask \(2, 49\); got "
    with pytest.raises(ValueError, match=expected + r"torch.bool \(3, 49\)"):
        evaluate(model, task, test=torch.ones(3, 49, dtype=torch.bool))
    with pytest.raises(ValueError, match=expected + r"torch.float32 \(2, 49\)"):
        evaluate(model, task, test=task.test.float())
    with pytest.raises(ValueError, match="batch_size=0 must be >= 1"):
        evaluate(model, task, batch_size=0)
    half = task.test & (torch.arange(49) < 25)
    with torch.no_grad():
        want = accuracies(model(task.inputs).argmax(-1), task, test=half)
    assert evaluate(model, task, test=half).test.tolist() == want.test.tolist()


def test_evaluate_needs_the_models_p():
    model = MLP(MLPConfig(p=31, width=4))
    with pytest.raises(ValueError, match="p=31 but the task has p=29"):
        evaluate(model, modular_task(p=29))
    restricted = RestrictedLogits(RestrictedLogitsConfig(p=7, op="add"))
    with pytest.raises(ValueError, match="p=7 but the task has p=11"):
        evaluate(restricted, modular_task(p=11))


def test_evaluate_needs_a_modular_task():
    task = rule_task("parity", d=6, N=8)
    model = MLP(MLPConfig(p=7, width=4))
    with pytest.raises(TypeError, match="ModularTask"):  # the signature, checked in the suite
        evaluate(model, task)
    with pytest.raises(ValueError, match="mlp model takes a 'modular' task, not 'rules'"):
        inspect.unwrap(evaluate)(model, task)  # unchecked, as a user runs it


def test_accuracies_to_dict_and_str():
    acc = Accuracies(
        train=torch.tensor([0.75, 0.5]),
        train_clean=torch.tensor([1.0, 0.25]),
        train_noisy=torch.tensor([0.5, float("nan")]),
        test=torch.tensor([0.875, 0.0]),
    )
    d = acc.to_dict()
    assert list(d) == ["train", "train_clean", "train_noisy", "test"]
    assert d["train"] == [0.75, 0.5]
    assert d["train_clean"] == [1.0, 0.25]
    assert d["test"] == [0.875, 0.0]
    assert d["train_noisy"][0] == 0.5 and math.isnan(d["train_noisy"][1])
    lines = str(acc).splitlines()
    assert len(lines) == 3
    assert lines[0].split() == ["model", "train", "train-clean", "train-noisy", "test"]
    assert lines[1].split() == ["0", "0.750", "1.000", "0.500", "0.875"]
    assert lines[2].split() == ["1", "0.500", "0.250", "nan", "0.000"]
    # Columns are right-aligned under their headers.
    ends = [[m.end() for m in re.finditer(r"\S+", line)] for line in lines]
    assert ends[0] == ends[1] == ends[2]


def test_first_step_finds_the_first_crossing():
    values = torch.tensor([[0.1, 0.5, float("nan")], [0.95, 0.6, 0.2], [0.8, 0.9, 0.3]])
    steps = torch.tensor([0, 5, 10])
    assert first_step(values, steps, 0.9).tolist() == [5, 10, -1]
    assert first_step(values, [0, 5, 10], 0.0).tolist() == [0, 0, 5]  # nan never reaches
    assert first_step(values, steps, 2.0).tolist() == [-1, -1, -1]


def test_first_step_checks_shapes():
    with pytest.raises(ValueError, match=r"\[steps, models\] with 2 steps"):
        first_step(torch.zeros(3, 2), [0, 1], 0.5)
    with pytest.raises(TypeError, match="steps models"):  # the signature, checked in the suite
        first_step(torch.zeros(3), [0, 1, 2], 0.5)
    with pytest.raises(ValueError, match="with 3 steps"):
        inspect.unwrap(first_step)(torch.zeros(3), [0, 1, 2], 0.5)  # unchecked, as a user runs it


def test_accuracies_stack_adds_a_steps_axis():
    a = Accuracies(*(torch.tensor([i, i + 0.5]) for i in range(4)))
    b = Accuracies(*(torch.tensor([i + 10, i + 10.5]) for i in range(4)))
    stacked = Accuracies.stack([a, b])
    assert stacked.test.tolist() == [[3, 3.5], [13, 13.5]]
    assert stacked.train.shape == (2, 2)
    with pytest.raises(ValueError, match="at least one"):
        Accuracies.stack([])


def test_predicted_is_argmax_ties_and_nan_included():
    logits = torch.randint(0, 3, (4, 50, 31)).float()  # many ties
    logits[0, 0, 5], logits[1, 3] = float("nan"), float("nan")
    logits[2, 7, 9] = float("inf")
    assert torch.equal(predicted(logits), logits.argmax(-1))


def test_per_example_mse_is_the_one_hot_formula_bit_for_bit():
    gen = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(3, 40, 13, generator=gen), torch.randint(0, 13, (3, 40))
    diff = logits - torch.nn.functional.one_hot(targets, 13).float()
    assert torch.equal(per_example_loss(logits, targets, "mse"), (diff * diff).mean(-1))
    # with autograd: the same values and the same gradient
    x = logits.clone().requires_grad_()
    per_example_loss(x, targets, "mse").sum().backward()
    assert torch.allclose(x.grad, 2 * diff / 13)
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    assert torch.equal(per_example_loss(logits, targets, "ce"), ce)
