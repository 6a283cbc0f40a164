"""Generative training into runs: ensembles train as their models would alone, runs round-trip
and resume exactly, and the generation curve sees a GPT memorize its training strings."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

import interp
from interp.core.runs import CheckpointError, load_run
from interp.core.training import BatchedOptimizer, TrainConfig, resume, train
from interp.models.dit import DiT, DiTConfig
from interp.models.gpt import GPT, GPTConfig
from interp.models.mlp import MLP, MLPConfig
from interp.studies.clocks.basins import basin_curve, basin_targets
from interp.studies.clocks.clocks import measure_clocks
from interp.studies.clocks.generation import generate, generation_curve
from interp.tasks.rules import rule_task

DIT = dict(d=8, d_model=16, n_layers=1, n_heads=2)
GPT_TINY = dict(d=8, d_model=16, n_layers=1, n_heads=2, d_mlp=32)
EDM = TrainConfig(steps=12, lr=3e-3, loss="edm", batch_size=32, log_every=3, save_log=4)
CE = TrainConfig(steps=12, lr=3e-3, loss="ce", batch_size=32, log_every=3, save_log=4)
KINDS = {  # a fresh ensemble of 2 models, and how it trains
    "dit": (lambda: DiT(DiTConfig(**DIT, models=2)), EDM),
    "gpt": (lambda: GPT(GPTConfig(**GPT_TINY, models=2)), CE),
}


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.weights(), b.weights()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], msg=k)


def test_a_dit_ensemble_trains_as_its_models_alone():
    task = rule_task("parity", d=8, N=[8, 16], seed=[0, 3])
    model = DiT(DiTConfig(**DIT, models=2, seed=(5, 6)))
    alone = [model.select(m) for m in range(2)]  # copies, before training
    both = train(model, task, EDM, progress=False)
    for m in range(2):
        single = train(alone[m], task.select(m), EDM, progress=False)
        assert single.model.cfg.seed == (5 + m,)
        assert_same_weights(both.model.select(m), single.model)
        torch.testing.assert_close(
            both.metrics["train_loss"][:, m], single.metrics["train_loss"][:, 0]
        )


@pytest.mark.parametrize("batch_size", [32, None])
def test_a_gpt_ensemble_trains_exactly_as_its_models_alone(batch_size):
    """Each bridge runs on its own strings and takes its own optimizer step: bit for bit what
    the model does alone (drawn batches and full batches)."""
    task = rule_task("parity", d=8, N=[8, 16], seed=[0, 3])
    model = GPT(GPTConfig(**GPT_TINY, models=2, seed=(5, 6)))
    alone = [model.select(m) for m in range(2)]
    initial = {k: v.clone() for k, v in model.weights().items()}
    config = replace(CE, batch_size=batch_size, save_log=0)
    both = train(model, task, config, device="cpu", progress=False)
    assert both.metrics["train_loss"].shape == (5, 2)
    for m in range(2):
        single = train(alone[m], task.select(m), config, device="cpu", progress=False)
        mine = both.model.select(m).weights()
        assert mine.keys() == single.model.weights().keys()
        for k, v in single.model.weights().items():
            assert torch.equal(mine[k], v), k
        assert torch.equal(both.metrics["train_loss"][:, m], single.metrics["train_loss"][:, 0])
    trained = both.model.weights()
    assert not any(
        torch.equal(trained[k], initial[k]) for k in ("0.embed.weight", "1.embed.weight")
    )


def test_generate_draws_bits_from_a_dit_and_a_gpt():
    for model in (
        DiT(DiTConfig(**DIT, models=3, seed=0)),
        GPT(GPTConfig(**GPT_TINY, models=3, seed=0, zero_unembed=False)),
    ):
        bits = generate(model, 10, torch.Generator().manual_seed(0), steps=4)
        assert bits.shape == (3, 10, 8) and bits.dtype == torch.long
        assert set(bits.unique().tolist()) <= {0, 1}
        assert torch.equal(bits, interp.generate(model, 10, torch.Generator().manual_seed(0), 4))
        assert not torch.equal(bits[0], bits[1])  # each model draws from its own weights
    with pytest.raises(ValueError, match="samples=0"):
        generate(model, 0)
    with pytest.raises(ValueError, match="a DiT or GPT ensemble; got MLP"):
        generate(MLP(MLPConfig(p=5, width=4)), 10)


def test_a_dit_run_round_trips(tmp_path):
    task = rule_task("group_parity", d=8, group=4, N=[8, 12], seed=0)
    result = train(DiT(DiTConfig(**DIT, models=2)), task, EDM, out=tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    assert run.steps[0] == 0 and run.steps[-1] == 12
    assert isinstance(run.model(), DiT)
    assert_same_weights(run.model(), result.model)
    assert torch.equal(run.task.data, task.data) and torch.equal(run.task.mask, task.mask)
    assert run.config["task"]["kind"] == "rules" and run.config["model"]["kind"] == "dit"
    assert run.metrics["train_loss"].shape == (5, 2)  # steps 0, 3, 6, 9, 12
    bits = generate(run.model(), 10, torch.Generator().manual_seed(0), steps=4)
    assert bits.shape == (2, 10, 8) and set(bits.unique().tolist()) <= {0, 1}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_generative_run_resumes_where_it_would_have_ended(tmp_path, monkeypatch, kind):
    task = rule_task("parity", d=8, N=[8, 16], seed=0)
    fresh, config = KINDS[kind]
    whole = train(fresh(), task, config, out=tmp_path / "whole", progress=False)

    step = BatchedOptimizer.step
    calls = []

    def crash(self):
        calls.append(1)
        if len(calls) == 8:
            raise KeyboardInterrupt("power cut")
        step(self)

    monkeypatch.setattr(BatchedOptimizer, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(fresh(), task, config, out=tmp_path / "cut", progress=False)
    monkeypatch.setattr(BatchedOptimizer, "step", step)
    assert load_run(tmp_path / "cut").steps[-1] < 8
    resumed = resume(tmp_path / "cut", device="cpu", progress=False)
    assert_same_weights(resumed.model, whole.model)
    torch.testing.assert_close(resumed.metrics["train_loss"], whole.metrics["train_loss"])
    assert load_run(tmp_path / "cut").steps == load_run(tmp_path / "whole").steps


def test_the_generation_curve_sees_a_gpt_memorize_its_training_strings(tmp_path):
    """16 even-parity strings of 8 bits, 300 Adam steps (about 4 s): samples start at chance
    (valid 0.5, copies 16/256) and end on the training strings (measured: 1.000 and 1.000)."""
    task = rule_task("parity", d=8, N=16, seed=0)
    config = TrainConfig(steps=300, lr=3e-3, loss="ce", batch_size=64, save_log=8)
    gpt = GPT(GPTConfig(d=8, d_model=32, n_layers=2, n_heads=4, d_mlp=128, seed=0))
    train(gpt, task, config, out=tmp_path / "gpt", progress=False)
    steps, stats = generation_curve(tmp_path / "gpt", samples=256)
    assert steps == load_run(tmp_path / "gpt").steps
    assert stats.valid.shape == (len(steps), 1)
    assert abs(stats.valid[0, 0] - 0.5) < 0.1 and stats.memorized[0, 0] < 0.15
    assert stats.memorized[-1, 0] >= 0.9 and stats.valid[-1, 0] >= 0.9
    torch.testing.assert_close(stats.novel_valid, stats.valid - stats.memorized)
    clocks = measure_clocks(stats, steps)
    assert 0 < int(clocks.tau_rule[0]) <= int(clocks.tau_mem[0]) <= 300


def test_bad_generative_input_is_refused(tmp_path):
    task = rule_task("parity", d=8, N=[8, 8], seed=0)
    dit = DiT(DiTConfig(**DIT, models=2))
    never = tmp_path / "never"
    with pytest.raises(ValueError, match="loss 'ce': a dit trains with edm"):
        train(dit, task, TrainConfig(loss="ce"), out=never, progress=False)
    with pytest.raises(ValueError, match="loss 'edm': a gpt trains with ce"):
        train(GPT(GPTConfig(d=8, models=2)), task, EDM, out=never, progress=False)
    with pytest.raises(ValueError, match="the model has d=6 but the task has d=8"):
        train(DiT(DiTConfig(d=6, models=2)), task, EDM, out=never, progress=False)
    with pytest.raises(ValueError, match="the model has 1 models but the task has 2"):
        train(DiT(DiTConfig(**DIT)), task, EDM, out=never, progress=False)
    with pytest.raises(ValueError, match="the model has 1 models but the task has 2"):
        train(GPT(GPTConfig(d=8)), task, TrainConfig(loss="ce"), out=never, progress=False)
    with pytest.raises(ValueError, match="batch_size=0"):
        TrainConfig(loss="edm", batch_size=0)
    with pytest.raises(ValueError, match="a mlp model takes a 'modular' task, not 'rules'"):
        train(MLP(MLPConfig(p=8, width=4, models=2)), task, TrainConfig(), progress=False)
    unknown = "cannot train a object; trainable kinds: dit, fact_net, gpt"
    with pytest.raises(ValueError, match=unknown):
        train(object(), task, EDM, out=never, progress=False)
    assert not never.exists()
    # One loop for every kind: SGD trains a DiT too.
    sgd = TrainConfig(steps=2, lr=1e-3, loss="edm", optimizer="sgd", batch_size=4)
    assert torch.isfinite(train(dit, task, sgd, progress=False).metrics["train_loss"]).all()


def test_basin_targets_and_curve_over_a_dit_run(tmp_path):
    task = rule_task("parity", d=8, N=[8, 16], seed=0)
    train(DiT(DiTConfig(**DIT, models=2)), task, EDM, out=tmp_path / "run", progress=False)
    targets = basin_targets(task, n=6, seed=1)
    assert targets["training"].shape == (2, 6, 8) and targets["novel"].shape == (2, 6, 8)
    assert task.is_training_sample(targets["training"]).all()
    assert not task.is_training_sample(targets["novel"]).any()
    assert task.valid(targets["novel"]).all()
    run = load_run(tmp_path / "run")
    steps, radii = basin_curve(run, targets, sigmas=(0.1, 0.3), repeats=4, steps=[0, 12])
    assert steps == [0, 12]
    assert radii["training"].shape == radii["novel"].shape == (2, 2, 6)
    levels = torch.tensor([0.0, 0.1, 0.3])
    assert torch.isin(radii["training"], levels).all() and torch.isin(radii["novel"], levels).all()
    # At init D = c_skip x only shrinks the signal: no bit flips at sigma 0.1, so every target
    # returns there, seen or not.
    assert (radii["training"][0] >= 0.1).all() and (radii["novel"][0] >= 0.1).all()
    # Checkpoints stacked as models: the same targets and starts, the same radii.
    _, stacked = basin_curve(run, targets, sigmas=(0.1, 0.3), repeats=4, steps=[0, 12], stack=2)
    assert all(torch.equal(stacked[name], radii[name]) for name in radii)


def test_the_generation_curve_of_a_dit_is_the_same_stacked_or_step_by_step(tmp_path):
    task = rule_task("parity", d=8, N=[8, 16], seed=0)
    train(DiT(DiTConfig(**DIT, models=2)), task, EDM, out=tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    steps, alone = generation_curve(run, samples=64, stack=1)
    _, stacked = generation_curve(run, samples=64, stack=len(steps))
    assert stacked.valid.shape == (len(steps), 2)
    for field in ("valid", "memorized", "novel_valid"):
        assert torch.equal(getattr(stacked, field), getattr(alone, field))
    with pytest.raises(ValueError, match="per_chunk=0 must be an integer >= 1"):
        generation_curve(run, samples=8, stack=0)


def test_basins_refuse_a_gpt_run_and_a_task_without_unseen_strings(tmp_path):
    task = rule_task("parity", d=4, N=8, seed=0)  # all 8 even strings of 4 bits
    with pytest.raises(ValueError, match="trained on every valid string"):
        basin_targets(task)
    config = TrainConfig(steps=2, lr=1e-3, loss="ce", batch_size=4, save_log=2)
    gpt = GPT(GPTConfig(d=4, d_model=8, n_layers=1, n_heads=2))
    train(gpt, task, config, out=tmp_path / "gpt", progress=False)
    with pytest.raises(CheckpointError, match="basins need a diffusion"):
        basin_curve(tmp_path / "gpt")


def test_the_shipped_diffusion_run_shows_both_clocks():
    """checkpoints/dit_group2_d16 (examples/clocks_demo.py, 512 samples): valid 0.84 / 0.82 at
    step 305, copies 0.68 / 0.31 at step 3000. Checked here on 256 samples."""
    run = load_run(Path(__file__).parents[1] / "checkpoints" / "dit_group2_d16")
    assert run.config["command"].startswith("interp train rules")
    assert run.task.N == (16, 64) and run.task.config.rule == "group_parity"
    steps, stats = generation_curve(run, samples=256, steps=[0, 305, 3000])
    assert (stats.valid[0] <= 0.05).all()  # chance is 1/256
    assert (stats.valid[1] >= 0.7).all() and (stats.novel_valid[1] >= 0.4).all()  # the rule
    assert stats.memorized[2, 0] >= 0.5 > stats.memorized[2, 1]  # N = 16 copies, N = 64 invents
