"""Generalization / memorization subnetworks: exact ablation effects, the three methods, and the
labels-known split separating noisy fit from clean fit on a network trained at 20% noise."""

import math

import pytest
import torch
import torch.nn.functional as F

from interp.core.metrics import evaluate
from interp.models.mlp import MLP, MLPConfig
from interp.studies.label_noise.extraction import prune
from interp.studies.label_noise.partition import (
    PARTITION_METHODS,
    ablation_effects,
    heldout_split,
    kept_fraction_curve,
    partition_neurons,
)
from interp.tasks.modular import group_order, modular_task


def losses(model: MLP, task, loss: str) -> torch.Tensor:
    """Per-example loss `[models, examples]` against the trained labels, by brute force."""
    logits = model(task.inputs)
    if loss == "ce":
        return F.cross_entropy(logits.transpose(1, 2), task.train_labels, reduction="none")
    target = F.one_hot(task.train_labels, task.p).float()
    return ((logits - target) ** 2).mean(-1)


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("init", ["doshi", "mean_field"])
def test_ablation_effects_equal_pruning_each_neuron_alone(loss, init):
    model = MLP(MLPConfig(p=7, width=5, models=2, init=init, seed=(0, 1)))
    task = modular_task(p=7, train_fraction=0.6, noise=0.3, seed=[0, 1])
    delta = ablation_effects(model, task, loss=loss, batch_size=10)
    assert delta.shape == (2, 5, 49)
    base = losses(model, task, loss)
    for k in range(5):
        keep = torch.ones(2, 5, dtype=torch.bool)
        keep[:, k] = False
        expected = losses(prune(model, keep), task, loss) - base
        torch.testing.assert_close(delta[:, k], expected.detach(), atol=1e-5, rtol=1e-4)


def test_labels_known_split_separates_noisy_fit_from_clean_fit(generalizing):
    """20% noise, p 23: the network fits 66-82% of its wrong labels while generalizing. Measured
    (seeds 0, 1): general subnetwork train-clean 1.000, train-noisy 0.42-0.43, test 0.90-0.95;
    memory subnetwork train-noisy 0.20-0.31 above its train-clean 0.13-0.21."""
    model, task = generalizing.model, generalizing.task
    part = partition_neurons(model, task, "labels")
    general, memory = part.subnetworks(model)
    raw = evaluate(model, task)
    g = evaluate(general, task, test=part.evaluation)
    m = evaluate(memory, task, test=part.evaluation)
    assert (g.train_clean >= 0.95).all(), g  # the general side keeps the rule ...
    assert (g.test >= 0.8).all(), g
    assert (g.train_noisy <= raw.train_noisy - 0.25).all(), (g, raw)  # ... and drops the noise
    assert (m.train_noisy > m.train_clean).all(), m  # the memory side leans to the noise
    assert (m.test <= 0.2).all(), m
    assert torch.equal(part.memory, ~part.general)
    assert set(part.effects) == {"clean", "noisy"}
    torch.testing.assert_close(part.scores, part.effects["clean"] - part.effects["noisy"])


def test_heldout_method_scores_on_half_the_test_set_and_leaves_the_rest(generalizing):
    model, task = generalizing.model, generalizing.task
    part = partition_neurons(model, task, "heldout", seed=3)
    scored = heldout_split(task, 0.5, seed=3)
    assert not (scored & part.evaluation).any()  # never evaluated on what it scored
    assert torch.equal(scored | part.evaluation, task.test)
    share = scored.sum(1) / task.test.sum(1)
    assert ((share > 0.4) & (share < 0.6)).all(), share
    assert set(part.effects) == {"heldout", "train"}
    assert part.general.shape == part.scores.shape == (task.models, model.cfg.width)


def test_ipr_method_keeps_the_most_periodic_neurons(generalizing):
    model, task = generalizing.model, generalizing.task
    part = partition_neurons(model, task, "ipr", ipr_keep=0.25)
    assert (part.general.sum(1) == 16).all()  # 25% of 64
    lowest_kept = torch.where(part.general, part.scores, torch.inf).amin(1)
    highest_dropped = torch.where(part.general, -torch.inf, part.scores).amax(1)
    assert (lowest_kept >= highest_dropped).all()
    assert torch.equal(part.evaluation, task.test)


def test_ipr_method_reads_multiplicative_ops_over_the_exponent():
    """Neurons 0-3 are waves over the exponent i of a = 3^i mod 7 (periodic for a * b), neurons
    4-7 waves over the residue (periodic for a + b): each op calls its own half general."""
    p, order = 7, group_order(7, "multiply")
    f = torch.tensor([1, 2, 3, 1])[:, None]
    exponent = torch.zeros(4, p).index_copy_(
        1, order, torch.cos(2 * math.pi * f * torch.arange(p - 1) / (p - 1))
    )
    residue = torch.cos(2 * math.pi * f * torch.arange(p) / p + 0.3)
    rows = torch.cat([exponent, residue])[None]  # [models=1, neurons=8, p]
    weights = {"U": rows, "V": rows, "W": rows.transpose(1, 2)}
    model = MLP(MLPConfig(p=p, width=8), weights=weights)
    for op, general in (("multiply", [True] * 4 + [False] * 4), ("add", [False] * 4 + [True] * 4)):
        part = partition_neurons(model, modular_task(p=p, op=op), "ipr", ipr_keep=0.5)
        assert part.general[0].tolist() == general, op


def test_kept_fraction_curve_runs_from_nothing_to_the_whole_network(generalizing):
    model, task = generalizing.model, generalizing.task
    part = partition_neurons(model, task, "labels")
    curve = kept_fraction_curve(model, task, part, fractions=[0.0, 0.5, 1.0])
    assert curve.test.shape == (3, task.models)
    assert (curve.test[0] <= 0.1).all()  # no neurons: constant zero logits, label 0 everywhere
    torch.testing.assert_close(curve.test[2], evaluate(model, task, test=part.evaluation).test)
    top = part.top(0.5)
    assert (top.sum(1) == 32).all()
    assert (torch.where(top, part.scores, torch.inf).amin(1) >= part.scores.median(1).values).all()


def test_bad_partition_input_is_refused(generalizing):
    model, task = generalizing.model, generalizing.task
    with pytest.raises(ValueError, match="method 'fourier' is not one of heldout, labels, ipr"):
        partition_neurons(model, task, "fourier")
    with pytest.raises(ValueError, match="loss 'l1' is not one of ce, mse"):
        partition_neurons(model, task, "labels", loss="l1")
    with pytest.raises(ValueError, match=r"holdout fraction=1.0 must lie in \(0, 1\)"):
        partition_neurons(model, task, "heldout", holdout=1.0)
    for method in PARTITION_METHODS:
        with pytest.raises(ValueError, match="model has 2 models but the task has 1"):
            partition_neurons(model, task.select(0), method)
        with pytest.raises(ValueError, match="p=23 but the task has p=29"):
            partition_neurons(model, modular_task(p=29, seed=[0, 1]), method)
    with pytest.raises(ValueError, match=r"fraction=1.5 must lie in \[0, 1\]"):
        partition_neurons(model, task, "ipr").top(1.5)
    assert PARTITION_METHODS == ("heldout", "labels", "ipr")
