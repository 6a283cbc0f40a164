"""Generative training into runs: ensembles train as their models would alone, runs round-trip
and resume exactly, and the generation curve sees a GPT memorize its training strings."""

from pathlib import Path

import pytest
import torch

from interp.studies.clocks.basins import basin_curve, basin_targets
from interp.core.runs import CheckpointError, load_run
from interp.studies.clocks.clocks import measure_clocks
from interp.studies.clocks.generation import generate_bits, generation_curve, train_generative
from interp.models.dit import DiT, DiTConfig
from interp.models.gpt import GPTConfig
from interp.tasks.rules import rule_task
from interp.core.training import BatchedOptimizer, TrainConfig, resume

DIT = dict(d=8, d_model=16, n_layers=1, n_heads=2)
EDM = TrainConfig(steps=12, lr=3e-3, loss="edm", batch_size=32, log_every=3, save_log=4)


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], msg=k)


def test_a_dit_ensemble_trains_as_its_models_alone():
    task = rule_task("parity", d=8, N=[8, 16], seed=[0, 3])
    both = train_generative(DiTConfig(**DIT, models=2, seed=(5, 6)), task, EDM, progress=False)
    for m, seed in enumerate((5, 6)):
        alone = train_generative(
            DiTConfig(**DIT, models=1, seed=(seed,)), task.select([m]), EDM, progress=False
        )
        assert_same_weights(both.model.select([m]), alone.model)
        torch.testing.assert_close(
            both.metrics["train_loss"][:, m], alone.metrics["train_loss"][:, 0]
        )


def test_a_dit_run_round_trips(tmp_path):
    task = rule_task("group_parity", d=8, group=4, N=[8, 12], seed=0)
    result = train_generative(
        DiTConfig(**DIT, models=2), task, EDM, out=tmp_path / "run", progress=False
    )
    run = load_run(tmp_path / "run")
    assert run.steps[0] == 0 and run.steps[-1] == 12
    assert isinstance(run.model(), DiT)
    assert_same_weights(run.model(), result.model)
    assert torch.equal(run.task.data, task.data) and torch.equal(run.task.mask, task.mask)
    assert run.config["task"]["kind"] == "rules" and run.config["model"]["kind"] == "dit"
    assert run.metrics["train_loss"].shape == (5, 2)  # steps 0, 3, 6, 9, 12
    bits = generate_bits(run.model(), 10, torch.Generator().manual_seed(0), steps=4)
    assert bits.shape == (2, 10, 8) and set(bits.unique().tolist()) <= {0, 1}


def test_a_generative_run_resumes_where_it_would_have_ended(tmp_path, monkeypatch):
    task = rule_task("parity", d=8, N=[8, 16], seed=0)
    config = DiTConfig(**DIT, models=2)
    whole = train_generative(config, task, EDM, out=tmp_path / "whole", progress=False)

    step = BatchedOptimizer.step
    calls = []

    def crash(self):
        calls.append(1)
        if len(calls) == 8:
            raise KeyboardInterrupt("power cut")
        step(self)

    monkeypatch.setattr(BatchedOptimizer, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train_generative(config, task, EDM, out=tmp_path / "cut", progress=False)
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
    gpt = GPTConfig(d=8, d_model=32, n_layers=2, n_heads=4, d_mlp=128, seed=0)
    train_generative(gpt, task, config, out=tmp_path / "gpt", progress=False)
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
    dit = DiTConfig(**DIT, models=2)
    with pytest.raises(ValueError, match="loss 'ce': a dit trains with 'edm'"):
        train_generative(dit, task, TrainConfig(loss="ce"), progress=False)
    with pytest.raises(ValueError, match="model d=6 but the task's strings have d=8"):
        train_generative(DiTConfig(d=6, models=2), task, EDM, progress=False)
    with pytest.raises(ValueError, match="the model has 1 models but the task has 2"):
        train_generative(DiTConfig(**DIT), task, EDM, progress=False)
    with pytest.raises(ValueError, match="a GPT run trains one model but the task has 2"):
        train_generative(GPTConfig(d=8), task, TrainConfig(loss="ce"), progress=False)
    with pytest.raises(ValueError, match="optimizer 'sgd'"):
        train_generative(dit, task, TrainConfig(loss="edm", optimizer="sgd"), progress=False)
    with pytest.raises(TypeError, match="DiTConfig or GPTConfig"):
        train_generative(object(), task, EDM, progress=False)
    assert not (tmp_path / "never").exists()


def test_basin_targets_and_curve_over_a_dit_run(tmp_path):
    task = rule_task("parity", d=8, N=[8, 16], seed=0)
    train_generative(DiTConfig(**DIT, models=2), task, EDM, out=tmp_path / "run", progress=False)
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


def test_basins_refuse_a_gpt_run_and_a_task_without_unseen_strings(tmp_path):
    task = rule_task("parity", d=4, N=8, seed=0)  # all 8 even strings of 4 bits
    with pytest.raises(ValueError, match="trained on every valid string"):
        basin_targets(task)
    config = TrainConfig(steps=2, lr=1e-3, loss="ce", batch_size=4, save_log=2)
    train_generative(
        GPTConfig(d=4, d_model=8, n_layers=1, n_heads=2),
        task,
        config,
        out=tmp_path / "gpt",
        progress=False,
    )
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
