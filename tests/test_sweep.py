"""Sweeps: the planner, the in-process runner (skip finished shards, resume cut ones, retry and
report failures, one table), and a real local Ray cluster giving the in-process bits."""

import json

import pytest
import torch

import interp
from interp.core.sweep import PLAN, Shard, plan_modular, run_shard, sweep


def _plan(steps=20, shard_size=2):
    train = {"log_every": 10, "save_every": 10}
    return plan_modular(p=7, width=8, seed=[0, 1], noise=[0.0, 0.3], steps=steps,
                        shard_size=shard_size, train=train)  # fmt: skip


def _same(a: list[dict], b: list[dict]) -> bool:
    """Tables equal, NaN included (a model without noisy labels has no noisy accuracy)."""
    return [json.dumps(r, sort_keys=True) for r in a] == [json.dumps(r, sort_keys=True) for r in b]


def test_the_planner_cuts_the_grid_into_shards_that_share_width():
    shards = plan_modular(p=7, width=[8, 16], seed=[0, 1, 2], lr=[1e-2, 1e-3], shard_size=4)
    assert [len(s.rows) for s in shards] == [4, 2, 4, 2]
    assert {s.model["width"] for s in shards[:2]} == {8}
    points = [(r["width"], r["seed"], r["lr"]) for s in shards for r in s.rows]
    assert len(set(points)) == 12  # every grid point once
    first = shards[0]
    assert first.model["seed"] == [r["seed"] for r in first.rows]
    assert first.train["lr"] == [r["lr"] for r in first.rows]
    with pytest.raises(ValueError, match="shard_size=0"):
        plan_modular(p=7, width=8, shard_size=0)
    with pytest.raises(ValueError, match="repeated"):
        plan_modular(p=7, width=8, seed=[1, 1])
    with pytest.raises(ValueError, match="noise"):
        plan_modular(p=7, width=8, noise=[1.5])


def test_a_shard_trains_as_the_same_ensemble_trained_directly(tmp_path):
    shard = _plan()[1]
    metrics = run_shard(shard, tmp_path)
    model, task, config = shard.build()
    direct = interp.train(model, task, config, progress=False)
    run = interp.load_run(tmp_path / shard.name)
    assert torch.equal(run.model().W, direct.model.W)
    assert metrics["test_acc"] == direct.metrics["test_acc"][-1].tolist()


def test_a_rerun_skips_finished_shards_and_resumes_a_cut_one(tmp_path):
    import shutil

    shards = _plan()
    first = sweep(shards, tmp_path / "s", progress=False)
    assert first.failed == {} and len(first.table) == 4
    assert {row["shard"] for row in first.table} == {"w8_s0", "w8_s1"}
    done, cut = tmp_path / "s" / "w8_s0", tmp_path / "s" / "w8_s1"
    weights = interp.load_run(cut).model().W.clone()
    stamp = {f.name: f.stat().st_mtime_ns for f in done.iterdir()}
    # shard 1 cut after its step-10 checkpoint: a 10-step run whose config asks for 20
    shutil.rmtree(cut)
    model, task, config = shards[1].build()
    half = interp.TrainConfig(**{**config.to_dict(), "steps": 10})
    interp.train(model, task, half, out=cut, progress=False)
    entry = json.loads((cut / "config.json").read_text())
    entry["train"]["steps"] = 20
    (cut / "config.json").write_text(json.dumps(entry))
    again = sweep(shards, tmp_path / "s", progress=False)
    assert again.failed == {} and _same(again.table, first.table)
    assert torch.equal(interp.load_run(cut).model().W, weights)  # resumed to the same bits
    assert {f.name: f.stat().st_mtime_ns for f in done.iterdir()} == stamp  # skipped


def test_a_failing_shard_is_retried_reported_and_the_others_finish(tmp_path):
    good, bad = _plan()
    broken = Shard(bad.name, bad.task, {**bad.model, "width": 0}, bad.train, bad.rows)
    result = sweep([good, broken], tmp_path / "s", retries=1, progress=False)
    assert list(result.failed) == ["w8_s1"] and "width=0" in result.failed["w8_s1"]
    assert {row["shard"] for row in result.table} == {"w8_s0"}


def test_a_root_holding_another_sweep_or_other_files_is_refused(tmp_path):
    sweep(_plan()[:1], tmp_path / "s", progress=False)
    assert json.loads((tmp_path / "s" / PLAN).read_text())["shards"][0]["name"] == "w8_s0"
    with pytest.raises(ValueError, match="another sweep"):
        sweep(_plan(steps=30)[:1], tmp_path / "s", progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds no sweep.json"):
        sweep(_plan()[:1], tmp_path / "other", progress=False)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_four_shards_on_a_local_ray_cluster_give_the_in_process_bits(tmp_path):
    ray = pytest.importorskip("ray")
    shards = plan_modular(p=7, width=8, seed=[0, 1, 2, 3], noise=[0.0, 0.3], steps=30,
                          shard_size=2)  # fmt: skip
    assert len(shards) == 4
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        local = sweep(shards, tmp_path / "local", progress=False)
    finally:
        torch.set_num_threads(threads)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = sweep(shards, tmp_path / "ray", ray=True, progress=False)
    finally:
        ray.shutdown()
    assert remote.failed == {} and _same(remote.table, local.table)
    for s in shards:
        a = interp.load_run(tmp_path / "local" / s.name).model().weights()
        b = interp.load_run(tmp_path / "ray" / s.name).model().weights()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_sweep_command_prints_one_table_and_refuses_another_plan(tmp_path, capsys):
    from interp.cli import main

    args = ["sweep", "--out", str(tmp_path / "g"), "--p", "7", "--width", "8", "--seed", "0", "1"]
    args += ["--noise", "0", "0.3", "--epochs", "10", "--shard-size", "3", "--no-progress"]
    assert main([*args, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert len(first["table"]) == 4 and first["failed"] == {}
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == [PLAN, "w8_s0", "w8_s1"]
    assert main([*args, "--json"]) == 0  # a rerun loads the finished shards
    assert _same(json.loads(capsys.readouterr().out)["table"], first["table"])
    assert main([*args[:-5], "--epochs", "20", "--no-progress"]) == 2
    assert "another sweep" in capsys.readouterr().err
    assert main([*args, "--shard-size", "0"]) == 2
    assert "shard_size=0" in capsys.readouterr().err
    assert interp.sweep.__module__ == "interp.core.sweep"
