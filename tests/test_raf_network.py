"""The library's two-layer network on the Rules-and-Facts task: the model, its objective in the
one loop, runs, and the rule-neuron / fact-neuron analyses."""

import json

import pytest
import torch

import interp
from interp.models.two_layer import TwoLayer, TwoLayerConfig
from interp.studies.raf.network import (
    ablate,
    extracted_rule_error,
    fact_neurons,
    neuron_drives,
    rule_direction,
)
from interp.tasks.raf import raf_task

D, WIDTH = 30, 128


@pytest.fixture(scope="module")
def trained():
    task = raf_task(d=D, alpha=2.0, eps=0.2, seed=[0, 1], n_test=2000)
    model = TwoLayer(TwoLayerConfig(d=D, width=WIDTH, models=2, seed=[0, 1]))
    cfg = interp.TrainConfig(steps=800, lr=1e-2, loss="mse", log_every=100)
    result = interp.train(model, task, cfg, device="cpu", progress=False)
    return task, model, result.metrics


def test_scores_are_sums_of_neuron_contributions_and_hooks_see_them():
    model = TwoLayer(TwoLayerConfig(d=8, width=16, models=3, seed=[0, 1, 2], act="tanh"))
    x = torch.randn(5, 8)
    score, cache = model.run_with_cache(x)
    assert score.shape == (3, 5) and cache["hook_pre"].shape == (3, 5, 16)
    torch.testing.assert_close(model.contributions(x).sum(-1), score)
    torch.testing.assert_close(model(x.expand(3, 5, 8)), score)
    with pytest.raises(ValueError, match=r"points of shape \(3, 5, 7\)"):
        model(torch.randn(5, 7))
    with pytest.raises(ValueError, match="act='gelu'"):
        TwoLayerConfig(d=8, act="gelu")
    with pytest.raises(ValueError, match="init_scale=0"):
        TwoLayerConfig(d=8, init_scale=0)


def test_the_network_stores_every_fact_and_learns_the_rule(trained):
    task, model, metrics = trained
    assert metrics["e_mem"][-1].tolist() == [0.0, 0.0]  # every fact reproduced
    assert metrics["rule_err"][-1].tolist() == [0.0, 0.0]
    assert all(e < 0.4 for e in metrics["e_gen"][-1].tolist())  # chance is 0.5
    # the logged errors are the analysis' errors of the unablated network
    errs = ablate(model, task, torch.zeros(2, WIDTH, dtype=torch.bool))
    assert [e.e_gen for e in errs] == pytest.approx(metrics["e_gen"][-1].tolist())


def test_ablating_the_fact_neurons_forgets_facts_and_ablating_the_rest_forgets_the_rule(trained):
    task, model, _ = trained
    facts = fact_neurons(neuron_drives(model, task))
    assert 0.1 < facts.double().mean() < 0.9
    base = ablate(model, task, torch.zeros_like(facts))
    no_facts, no_rule = ablate(model, task, facts), ablate(model, task, ~facts)
    for b, f, r in zip(base, no_facts, no_rule):
        assert f.e_mem > b.e_mem + 0.1  # conflicting facts fall back to the rule
        assert r.e_gen > f.e_gen + 0.1  # the rule lives in the other neurons
    everything = ablate(model, task, torch.ones_like(facts))  # a constant score
    assert all(abs(e.e_gen - 0.5) < 0.05 for e in everything)  # one sign for every point


def test_the_task_agnostic_partition_uses_the_networks_own_rule(trained):
    task, model, _ = trained
    u = rule_direction(model, task.test)
    teacher = task.teacher / task.teacher.norm(dim=1, keepdim=True)
    assert (u.double() * teacher).sum(1).min() > 0.4  # cos(u, w*): the teacher, roughly
    extracted = extracted_rule_error(model, task)
    assert extracted.max() < 0.4
    # each neuron's drive toward the network's own rule follows its drive toward the teacher's
    agnostic, mask = neuron_drives(model, task, agnostic=True), neuron_drives(model, task)
    for m in range(2):
        assert torch.corrcoef(torch.stack([agnostic.rule[m], mask.rule[m]]))[0, 1] > 0.4
    assert fact_neurons(agnostic).shape == (2, WIDTH)


def test_a_two_layer_run_saves_and_resumes_bit_exactly(tmp_path):
    task = raf_task(d=10, alpha=2.0, eps=0.2, seed=[0, 1], n_test=100)
    cfg = interp.TrainConfig(steps=20, lr=1e-2, loss="ce", batch_size=8, log_every=10)
    full = interp.train(TwoLayer(TwoLayerConfig(d=10, width=8, models=2)), task, cfg,
                        progress=False).model  # fmt: skip
    half = interp.TrainConfig(
        steps=10, lr=1e-2, loss="ce", batch_size=8, log_every=10, save_every=10
    )
    model = TwoLayer(TwoLayerConfig(d=10, width=8, models=2))
    interp.train(model, task, half, out=tmp_path / "r", progress=False)
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    config["train"]["steps"] = 20
    (tmp_path / "r" / "config.json").write_text(json.dumps(config))
    resumed = interp.resume(tmp_path / "r", progress=False).model
    assert torch.equal(resumed.W, full.W) and torch.equal(resumed.a, full.a)
    run = interp.load_run(tmp_path / "r")
    assert run.task.facts.shape == task.facts.shape and bool((run.task.facts == task.facts).all())


def test_bad_network_inputs_raise_one_line_errors(trained):
    task, model, _ = trained
    with pytest.raises(ValueError, match="neurons"):
        ablate(model, task, torch.zeros(2, WIDTH))
    with pytest.raises(ValueError, match="does not fit the task"):
        ablate(model, task.select([0]), torch.zeros(1, WIDTH, dtype=torch.bool))
    wrong_d = TwoLayer(TwoLayerConfig(d=D + 1, width=4, models=2))
    with pytest.raises(ValueError, match="d=31"):
        interp.train(wrong_d, task, interp.TrainConfig(steps=1), progress=False)


def test_the_raf_command_trains_the_network_and_ablates_its_fact_neurons(capsys):
    from interp.cli import main

    args = ["raf", "--learner", "network", "--d", "20", "--alpha", "2", "--seed", "0", "1"]
    args += ["--steps", "300", "--width", "64", "--n-test", "1000"]
    assert main([*args, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert row["e_mem"] == 0.0 and row["ablated_e_mem"] > 0.05 and row["e_gen"] < 0.45
    assert {"extracted_e_gen", "bayes_e_gen"} <= set(row) and "theory_e_gen" not in row
    assert main([*args, "--init-scale", "nan"]) == 2
    assert "--init-scale nan" in capsys.readouterr().err
