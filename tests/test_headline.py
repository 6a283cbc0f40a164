"""The headline's mechanics at a size the suite trains in seconds: a network trained with 80% of
its labels wrong fits every wrong label and none of the rule, yet per-neuron frequency
extraction from its weights alone recovers the rule, better than any per-class vote of the labels.

p 31, width 512, train fraction 0.9, 150 full-batch AdamW steps. Seeds 0-9: raw test 0.01-0.06,
train-noisy 1.000; per-neuron extraction test 0.99-1.00 (per-class labels-only baseline 0.72-0.86).
"""

from pathlib import Path

import pytest
import torch

from interp.core.metrics import evaluate, first_step
from interp.core.runs import load_run
from interp.core.training import TrainConfig, train
from interp.models.mlp import MLP, MLPConfig
from interp.studies.label_noise.extraction import (
    FOURIER_METHODS,
    compare_extraction,
    extract,
    extraction_curve,
)
from interp.tasks.modular import modular_task

SEEDS = (0, 1)


@pytest.fixture(scope="module")
def noisy80(tmp_path_factory):
    task = modular_task(p=31, train_fraction=0.9, noise=0.8, seed=list(SEEDS))
    model = MLP(MLPConfig(p=31, width=512, models=len(SEEDS), seed=SEEDS))
    config = TrainConfig(steps=150, lr=1e-2, log_every=1, save_log=6)
    out = tmp_path_factory.mktemp("noise80") / "run"
    result = train(model, task, config, out=out, device="cpu", progress=False)
    return result, load_run(out)


def test_extraction_pulls_the_rule_out_of_a_network_that_memorized_80pct_noise(noisy80):
    result, run = noisy80
    table = compare_extraction(result.model, run.task)
    raw, neuron, baseline = table["raw"], table["neuron"], table["baseline"]
    report = {k: v.test.tolist() for k, v in table.items()}
    assert (raw.train_noisy >= 0.99).all(), raw.train_noisy  # every wrong label is fit ...
    assert (raw.test <= 0.1).all(), report  # ... and the network's own answers are wrong
    assert (neuron.test >= 0.95).all(), report  # the weights hold the rule
    assert (neuron.train_noisy <= 0.05).all(), neuron.train_noisy  # and the noise is gone
    # Weight space beats a majority vote of the labels of each class.
    assert (neuron.test >= baseline.test + 0.05).all(), report


def test_logits_method_scores_what_the_pooled_labels_score(noisy80):
    """Restricted logits are one function of (s - c) for every class: from labels alone, the
    most common offset over all pairs gives the same answers."""
    result, run = noisy80
    table = compare_extraction(result.model, run.task, methods=["logits"])
    torch.testing.assert_close(table["logits"].test, table["pooled baseline"].test)
    assert (table["logits"].test > table["baseline"].test).all()


def test_extraction_curve_follows_the_saved_steps(noisy80):
    result, run = noisy80
    steps, curve = extraction_curve(run, methods=FOURIER_METHODS)
    assert steps == run.steps and steps[0] == 0 and steps[-1] == 150
    assert set(curve) == {"raw", *FOURIER_METHODS, "baseline", "pooled baseline"}
    for acc in curve.values():
        assert acc.test.shape == (len(steps), len(SEEDS))
    final = evaluate(run.model(), run.task)
    torch.testing.assert_close(curve["raw"].test[-1], final.test)
    torch.testing.assert_close(curve["raw"].train_noisy[-1], final.train_noisy)
    # The labels-only baselines do not depend on the step; the init holds no rule.
    assert (curve["baseline"].test == curve["baseline"].test[0]).all()
    assert (curve["neuron"].test[0] <= 0.2).all(), curve["neuron"].test[0]
    assert (curve["neuron"].test[-1] >= 0.95).all(), curve["neuron"].test[-1]
    only = extraction_curve(run, steps=[0, 150])[1]
    torch.testing.assert_close(only["neuron"].test, curve["neuron"].test[[0, -1]])


def test_the_noise_is_memorized_within_the_logged_steps(noisy80):
    result, _ = noisy80
    m = result.metrics
    noisy = first_step(m["train_noisy_acc"], m["step"], 0.9)
    assert ((noisy > 0) & (noisy < 150)).all(), noisy
    assert (first_step(m["test_acc"], m["step"], 0.5) == -1).all()


def test_multiplication_is_extracted_over_the_exponent():
    """a * b mod 31 at 80% noise: the weights are waves over the discrete log, so extraction
    over the residue finds nothing and extraction over the exponent finds the rule.
    Seeds 0-2: raw 0.01-0.07, over the residue 0.02-0.06, over the exponent 0.87-0.97."""
    seeds = [0, 2]
    task = modular_task(p=31, op="multiply", train_fraction=0.9, noise=0.8, seed=seeds)
    model = MLP(MLPConfig(p=31, width=512, models=2, seed=seeds))
    model = train(model, task, TrainConfig(steps=150), device="cpu", progress=False).model
    raw = evaluate(model, task)
    residue = evaluate(extract(model), task)
    table = compare_extraction(model, task, methods=["neuron"])  # takes the op from the task
    report = f"raw {raw.test}, residue {residue.test}, exponent {table['neuron'].test}"
    assert (raw.train_noisy >= 0.99).all() and (raw.test <= 0.1).all(), report
    assert (residue.test <= 0.15).all(), report
    assert (table["neuron"].test >= 0.85).all(), report
    assert (table["neuron"].train_noisy <= 0.05).all(), report


def test_the_shipped_headline_run_holds_its_claims():
    """checkpoints/add_p97_noise080 (p 97, 80% wrong labels): it fits every wrong label with 1%
    test accuracy of its own, and per-neuron extraction from its weights reaches 0.99 test."""
    run = load_run(Path(__file__).parents[1] / "checkpoints" / "add_p97_noise080")
    assert run.task.p == 97 and run.task.config.noise == (0.8,)
    table = compare_extraction(run.model(), run.task, methods=["neuron"])
    assert table["raw"].train_noisy[0] >= 0.99 and table["raw"].test[0] <= 0.05
    assert table["neuron"].test[0] >= 0.99, table["neuron"].test
    assert table["neuron"].train_noisy[0] <= 0.01
