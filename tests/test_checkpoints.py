import json
import os
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import interp
from interp.core.runs import (
    FORMAT_VERSION,
    TENSOR_FORMAT_VERSION,
    CheckpointError,
    load_run,
    parse_step_file,
    save_model,
    step_file,
)
from interp.core.training import NonFiniteError, TrainConfig, resume, train
from interp.models.mlp import MLP, MLPConfig
from interp.models.restricted import RestrictedLogits
from interp.studies.label_noise.extraction import extract
from interp.tasks.modular import modular_task
from interp.tasks.rules import rule_task


def load(path: Path, step: int | None = None) -> torch.nn.Module:
    """The model of a run folder or of one step file."""
    folder, file_step = parse_step_file(path)
    return load_run(folder).model(file_step if step is None else step)


P, WIDTH, MODELS = 13, 16, 2
TASK = dict(p=P, train_fraction=[0.5, 0.6], noise=[0.2, 0.0], seed=[4, 5])


def fresh_model() -> MLP:
    return MLP(MLPConfig(p=P, width=WIDTH, models=MODELS, seed=(1, 2)))


def fit(config: TrainConfig, out: Path | None = None, model: MLP | None = None, reuse=False):
    task = modular_task(**TASK)
    model = fresh_model() if model is None else model
    return train(model, task, config, out=out, device="cpu", progress=False, reuse=reuse)


def assert_same_metrics(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, equal_nan=True, msg=key)


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.iterdir())}


ROUND_TRIP = TrainConfig(steps=20, lr=(1e-2, 2e-2), weight_decay=(0.0, 1.0), log_every=5)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A run trained into a folder, saving every 5 steps, and its in-memory result."""
    path = tmp_path_factory.mktemp("saved") / "run"
    config = TrainConfig(**{**ROUND_TRIP.to_dict(), "save_every": 5})
    result = fit(config, out=path)
    return path, config, result


@pytest.fixture
def copy(saved, tmp_path):
    """A private copy of the saved run, free to corrupt."""
    return Path(shutil.copytree(saved[0], tmp_path / "run"))


# ---------------------------------------------------------------------------------------------
# round trip


def test_run_round_trips(saved):
    path, config, result = saved
    assert result.run == path
    run = load_run(path)
    assert run.steps == [0, 5, 10, 15, 20]
    assert TrainConfig.from_dict(run.config["train"]) == config
    assert run.config["model"] == {"kind": "mlp", **fresh_model().cfg.to_dict()}
    assert run.config["task"]["seed"] == [4, 5]
    assert run.config["format_version"] == FORMAT_VERSION
    assert run.config["interp_version"] == interp.__version__
    task = modular_task(**TASK)
    for name in ("train", "noisy", "train_labels", "inputs", "labels"):
        assert torch.equal(getattr(run.task, name), getattr(task, name)), name
    assert run.task.config == task.config
    assert_same_metrics(run.metrics, result.metrics)
    assert_same_weights(run.model(), result.model)
    assert_same_weights(run.model(20), result.model)
    assert_same_weights(run.model(0), fresh_model())
    assert not run.model().training


@pytest.mark.parametrize("step", [5, 15])
def test_saved_steps_hold_the_weights_of_that_step(saved, step):
    path, _, _ = saved
    # AdamW has no schedule, so the first `step` updates of a longer run are a shorter run.
    shorter = fit(TrainConfig(**{**ROUND_TRIP.to_dict(), "steps": step}))
    assert_same_weights(load_run(path).model(step), shorter.model)
    assert_same_weights(load(step_file(path, step)), shorter.model)
    tensors = load_run(path).tensors(step)
    assert {"task.train", "task.noisy", "task.train_labels"} <= tensors.keys()


def test_load_takes_a_folder_or_a_step_file(saved):
    path, _, result = saved
    assert_same_weights(load(path), result.model)
    assert_same_weights(load(path / "step_0000020.safetensors"), result.model)
    assert_same_weights(load(path / "step_0000000.safetensors"), fresh_model())
    assert_same_weights(load(path, step=0), fresh_model())
    assert_same_weights(interp.load_run(path / "step_0000010.safetensors").model(20), result.model)


def test_log_spaced_saves(tmp_path):
    fit(TrainConfig(steps=100, save_log=3, log_every=50), out=tmp_path / "run")
    assert load_run(tmp_path / "run").steps == [0, 1, 10, 100]


def test_training_into_an_empty_existing_folder_is_allowed(tmp_path):
    fit(TrainConfig(steps=2), out=tmp_path)
    assert load_run(tmp_path).steps == [0, 2]


# ---------------------------------------------------------------------------------------------
# resume


class Crash(RuntimeError):
    pass


def crash_after(model: MLP, updates: int):
    """Raise in the forward pass of training update number `updates` + 1, after `updates`
    updates; the forwards that log metrics run without grad and are not counted."""
    count = 0

    def hook(module, inputs, output):
        nonlocal count
        if torch.is_grad_enabled():
            count += 1
            if count > updates:
                raise Crash(f"killed after {updates} updates")

    return model.hook_logits.register_forward_hook(hook)


def crash_before_anything(model: MLP):
    def hook(module, inputs, output):
        raise Crash("killed at once")

    return model.hook_logits.register_forward_hook(hook)


@pytest.mark.parametrize(
    "config",
    [
        # The resumed step (10) is a logged step here, and not in the second config.
        TrainConfig(steps=30, lr=(1e-2, 3e-2), weight_decay=(0.0, 1.0), log_every=5, save_every=10),
        TrainConfig(
            steps=30, optimizer="sgd", lr=0.5, momentum=0.9, batch_size=8, log_every=3, save_log=4
        ),
    ],
    ids=["adamw-full-batch", "sgd-minibatch"],
)
def test_resume_ends_where_an_uninterrupted_run_ends(tmp_path, config):
    whole = fit(config, out=tmp_path / "whole")

    model = fresh_model()
    crash_after(model, updates=17)
    with pytest.raises(Crash):
        fit(config, out=tmp_path / "crashed", model=model)
    crashed = load_run(tmp_path / "crashed")
    assert crashed.steps[-1] < 17 < config.steps  # died between two checkpoints
    assert int(crashed.metrics["step"][-1]) < 17

    resumed = resume(tmp_path / "crashed", device="cpu", progress=False)
    assert_same_weights(resumed.model, whole.model)
    assert_same_metrics(resumed.metrics, whole.metrics)
    assert_same_metrics(load_run(tmp_path / "crashed").metrics, whole.metrics)
    assert sorted(os.listdir(tmp_path / "crashed")) == sorted(os.listdir(tmp_path / "whole"))
    for step in load_run(tmp_path / "whole").steps:
        a = load_run(tmp_path / "whole").tensors(step)
        b = load_run(tmp_path / "crashed").tensors(step)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), step


def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start(saved, copy):
    """Only config.json was written (and a stale temporary file): resume trains from step 0
    and ends where the uninterrupted run ended, leaving the same files."""
    for f in copy.iterdir():
        if f.name != "config.json":
            f.unlink()
    (copy / ".step_0000000.safetensors.123.tmp").write_bytes(b"half a file")
    resumed = resume(copy, device="cpu", progress=False)
    assert_same_weights(resumed.model, saved[2].model)
    assert sorted(os.listdir(copy)) == sorted(os.listdir(saved[0]))


def test_resume_removes_stale_temporary_files(copy):
    (copy / ".metrics.safetensors.999.tmp").write_bytes(b"")
    resume(copy, device="cpu", progress=False)
    assert not list(copy.glob(".*.tmp"))


def test_resume_refuses_a_state_from_another_run(copy, tmp_path):
    other = fit(
        TrainConfig(steps=2),
        model=MLP(MLPConfig(p=P, width=WIDTH + 1, models=MODELS)),
        out=tmp_path / "other",
    )
    shutil.copy(other.run / "state.safetensors", copy / "state.safetensors")
    with pytest.raises(CheckpointError) as error:
        resume(copy, device="cpu", progress=False)
    one_line_naming(error, "state.safetensors")


@pytest.mark.parametrize(
    "change, name",
    [
        ({"train": None}, "train"),
        ({"train": {"steps": 20, "colour": "red"}}, "colour"),
        ({"model": 5}, "model"),
        ({"model": {"kind": "mlp", "p": P, "width": WIDTH, "models": 2, "depth": 3}}, "depth"),
        ({"model": {"p": P, "width": WIDTH, "models": 2}}, "kind"),
        ({"model": {"kind": "transformer"}}, "transformer"),
        ({"task": {"kind": "modular", "p": P}}, "op"),
    ],
    ids=[
        "no-train",
        "unknown-train-key",
        "model-5",
        "unknown-model-key",
        "no-kind",
        "unknown-kind",
        "missing-task-key",
    ],
)
def test_bad_configs_are_one_line_errors(copy, change, name):
    config = json.loads((copy / "config.json").read_text())
    for key, value in change.items():
        if value is None:
            del config[key]
        else:
            config[key] = value
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as error:
        run = load_run(copy)
        run.model()
        _ = run.task
        resume(copy, device="cpu", progress=False)
    one_line_naming(error, name)


def test_a_config_edited_after_training_is_refused(copy):
    edit_config(copy, task={"noise": [0.9, 0.0]})  # trained at 0.2: the stored mask says so
    with pytest.raises(CheckpointError, match="edited") as error:
        _ = load_run(copy).task
    one_line_naming(error, "step_0000020.safetensors")


def test_non_finite_weights_in_a_step_file_are_refused(copy):
    tensors = load_file(str(copy / STEP))
    tensors["U"][1, 0, 0] = float("nan")
    meta = {"format": "interp-run", "format_version": str(TENSOR_FORMAT_VERSION), "step": "10"}
    save_file(tensors, str(copy / STEP), metadata=meta)
    with pytest.raises(CheckpointError, match=r"U .*NaN.*\[1\]") as error:
        load_run(copy).model(10)
    one_line_naming(error, STEP)


def test_training_that_diverges_stops_and_keeps_its_last_good_checkpoint(tmp_path):
    config = TrainConfig(steps=60, lr=(1e-2, 1e6), log_every=5, save_every=5)
    with pytest.raises(NonFiniteError, match=r"step \d+ \(models \[1\]\)") as error:
        fit(config, out=tmp_path / "run")
    one_line_naming(error, "step")
    run = load_run(tmp_path / "run")
    assert run.steps and run.steps[-1] < 60
    assert torch.isfinite(run.model().weights()["U"]).all()  # the last good checkpoint loads


def test_a_failed_start_leaves_no_folder(tmp_path):
    model = fresh_model()
    crash_before_anything(model)
    with pytest.raises(Crash):
        fit(TrainConfig(steps=5), out=tmp_path / "run", model=model)
    assert not (tmp_path / "run").exists()
    fit(TrainConfig(steps=5), out=tmp_path / "run")  # the same folder works at once


def test_save_model_refuses_a_task_that_does_not_fit(tmp_path):
    with pytest.raises(ValueError, match="p=11"):
        save_model(fresh_model(), tmp_path / "a", modular_task(p=11, seed=[0, 1]))
    with pytest.raises(ValueError, match="modular"):
        save_model(fresh_model(), tmp_path / "b", rule_task("parity", d=6, N=4, seed=[0, 1]))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# ---------------------------------------------------------------------------------------------
# refusing to overwrite


def test_training_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "config.json").write_text("{}")
    before = files(tmp_path)
    with pytest.raises(FileExistsError, match=str(tmp_path)):
        fit(TrainConfig(steps=2), out=tmp_path)
    assert files(tmp_path) == before


def test_training_refuses_a_file_as_its_folder(tmp_path):
    (tmp_path / "run").write_text("a file")
    with pytest.raises(FileExistsError):
        fit(TrainConfig(steps=2), out=tmp_path / "run")
    assert (tmp_path / "run").read_text() == "a file"


def test_save_model_refuses_a_non_empty_folder(saved):
    path = saved[0]
    before = files(path)
    with pytest.raises(FileExistsError):
        save_model(fresh_model(), path)
    assert files(path) == before


# ---------------------------------------------------------------------------------------------
# corrupt inputs


def one_line_naming(error: pytest.ExceptionInfo, name: str) -> None:
    message = str(error.value)
    assert "\n" not in message, message
    assert name in message, message


STEP = "step_0000010.safetensors"


def test_truncated_step_file(copy):
    data = (copy / STEP).read_bytes()
    for cut in (1, 100, len(data) // 2, len(data) - 4):
        (copy / STEP).write_bytes(data[:-cut])
        with pytest.raises(CheckpointError) as error:
            load_run(copy).model(10)
        one_line_naming(error, STEP)
    # The other steps still load.
    load_run(copy).model(5)


def test_garbage_step_file(copy):
    gen = torch.Generator().manual_seed(0)
    for garbage in (torch.randint(0, 256, (2000,), generator=gen), torch.zeros(0)):
        (copy / STEP).write_bytes(bytes(garbage.to(torch.uint8).tolist()))
        with pytest.raises(CheckpointError) as error:
            load_run(copy).model(10)
        one_line_naming(error, STEP)


def test_step_file_from_another_program(copy):
    save_file({"U": torch.zeros(1)}, str(copy / STEP))
    with pytest.raises(CheckpointError, match="not an interp checkpoint") as error:
        load_run(copy).model(10)
    one_line_naming(error, STEP)


def test_step_file_of_a_future_format_version(copy):
    tensors = load_file(str(copy / STEP))
    meta = {"format": "interp-run", "format_version": "99", "step": "10"}
    save_file(tensors, str(copy / STEP), metadata=meta)
    with pytest.raises(CheckpointError, match="99") as error:
        load_run(copy).model(10)
    one_line_naming(error, STEP)


def test_config_that_is_not_json(copy):
    (copy / "config.json").write_text('{"format": "interp-run", "format_version": 1,')
    with pytest.raises(CheckpointError) as error:
        load_run(copy)
    one_line_naming(error, "config.json")
    (copy / "config.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CheckpointError) as error:
        load_run(copy)
    one_line_naming(error, "config.json")


def edit_config(path: Path, **changes) -> None:
    config = json.loads((path / "config.json").read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            config[key].update(value)
        else:
            config[key] = value
    (path / "config.json").write_text(json.dumps(config))


def test_config_of_a_future_format_version(copy):
    edit_config(copy, format_version=99)
    with pytest.raises(CheckpointError, match="99") as error:
        load_run(copy)
    one_line_naming(error, "config.json")


def test_a_format_1_run_loads_with_a_warning_and_upgrades_in_place(copy, capsys):
    from interp.cli import main

    config = json.loads((copy / "config.json").read_text())
    config.pop("provenance", None)
    (copy / "config.json").write_text(json.dumps({**config, "format_version": 1}))
    steps = {f.name: f.read_bytes() for f in copy.glob("step_*.safetensors")}
    with pytest.warns(
        UserWarning, match=f"run format version 1, read as version 2 .*upgrade {copy}"
    ):
        run = load_run(copy)
    assert run.config["format_version"] == 2 and run.config["provenance"]["torch"] is None
    before = interp.evaluate(run.model(), run.task).test
    assert main(["upgrade", str(copy)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"{copy}: run format 1 -> 2 (config.json rewritten, checkpoints kept)"
    )
    upgraded = json.loads((copy / "config.json").read_text())
    assert upgraded == {**config, "format_version": 2, "provenance": run.config["provenance"]}
    assert {f.name: f.read_bytes() for f in copy.glob("step_*.safetensors")} == steps
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the upgraded run loads silently, with the same weights
        assert torch.equal(interp.evaluate(load_run(copy).model(), run.task).test, before)
    assert main(["upgrade", str(copy)]) == 0
    assert "run format 2 -> 2 (nothing to do)" in capsys.readouterr().out
    edit_config(copy, format_version=3)
    assert main(["upgrade", str(copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run format version 3 is newer than this interp reads" in err
    assert main(["upgrade", str(copy / "nothing")]) == 2


def test_a_new_run_records_what_wrote_it(tmp_path):
    task = modular_task(p=5)
    train(MLP(MLPConfig(p=5, width=4)), task, TrainConfig(steps=1), out=tmp_path / "run",
          device="cpu", progress=False)  # fmt: skip
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["format_version"] == FORMAT_VERSION == 2
    assert config["provenance"] == {
        "torch": torch.__version__,
        "device": "cpu",
        "threads": torch.get_num_threads(),
    }


def test_config_of_another_program(copy):
    (copy / "config.json").write_text(json.dumps({"model": {}}))
    with pytest.raises(CheckpointError) as error:
        load_run(copy)
    one_line_naming(error, "config.json")


def test_config_whose_width_does_not_match_the_tensors(copy):
    edit_config(copy, model={"width": WIDTH + 1})
    run = load_run(copy)
    with pytest.raises(CheckpointError) as error:
        run.model(10)
    one_line_naming(error, STEP)


def test_config_whose_task_does_not_match_the_masks(copy):
    edit_config(copy, task={"p": P + 4, "seed": [4, 5]})
    with pytest.raises(CheckpointError) as error:
        _ = load_run(copy).task
    one_line_naming(error, "step_0000020.safetensors")


def test_missing_config(copy):
    (copy / "config.json").unlink()
    with pytest.raises(CheckpointError) as error:
        load_run(copy)
    one_line_naming(error, "config.json")
    with pytest.raises(CheckpointError):
        load(copy / STEP)


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no-such-run"):
        load_run(tmp_path / "no-such-run")


def test_step_that_is_not_saved(saved):
    with pytest.raises(ValueError, match=r"step 7 .*\[0, 5, 10, 15, 20\]"):
        load_run(saved[0]).model(7)


def test_run_without_step_files(copy):
    for f in copy.glob("step_*.safetensors"):
        f.unlink()
    run = load_run(copy)
    assert run.steps == []
    with pytest.raises(CheckpointError, match="no step_"):
        run.model()


# ---------------------------------------------------------------------------------------------
# files on disk


def test_writes_leave_no_temporary_files(saved):
    names = os.listdir(saved[0])
    assert sorted(names) == [
        "config.json",
        "metrics.safetensors",
        "state.safetensors",
        *(f"step_{s:07d}.safetensors" for s in (0, 5, 10, 15, 20)),
    ]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], ids=oct)
def test_files_get_the_permissions_of_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        fit(TrainConfig(steps=2), out=tmp_path / "run")
        save_model(fresh_model(), tmp_path / "model")
    finally:
        os.umask(old)
    for folder in ("run", "model"):
        for f in (tmp_path / folder).iterdir():
            assert f.stat().st_mode & 0o777 == 0o666 & ~umask, f


def test_extracted_models_save_and_load(memorizing, tmp_path):
    model, task = memorizing.model, memorizing.task
    for name, extracted in [
        ("neuron", extract(model)),
        ("logits", extract(model, "logits", op="add")),
    ]:
        path = save_model(extracted, tmp_path / name, task)
        assert sorted(os.listdir(path)) == ["config.json", "step_0000000.safetensors"]
        loaded = load(path)
        assert type(loaded) is type(extracted)
        assert loaded.cfg == extracted.cfg
        with torch.no_grad():
            assert torch.equal(loaded(task.inputs), extracted(task.inputs)), name
        run = load_run(path)
        assert torch.equal(run.task.train_labels, task.train_labels)
        assert torch.equal(run.task.noisy, task.noisy)
    assert isinstance(load(tmp_path / "logits"), RestrictedLogits)


def test_save_model_without_a_task(tmp_path):
    model = fresh_model()
    save_model(model, tmp_path / "m")
    assert_same_weights(load(tmp_path / "m"), model)
    with pytest.raises(CheckpointError, match="no task"):
        _ = load_run(tmp_path / "m").task


def test_save_model_refuses_other_modules(tmp_path):
    with pytest.raises(TypeError, match="Linear"):
        save_model(torch.nn.Linear(2, 2), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_reuse_loads_a_finished_run_resumes_a_cut_one_and_refuses_another(saved, copy, tmp_path):
    path, config, result = saved
    again = fit(config, out=path, reuse=True)  # finished: nothing trains, nothing is written
    assert_same_weights(again.model, result.model)
    assert_same_metrics(again.metrics, result.metrics)
    for f in copy.iterdir():  # cut before its first checkpoint
        if f.name != "config.json":
            f.unlink()
    resumed = fit(config, out=copy, reuse=True)
    assert_same_weights(resumed.model, result.model)
    other = TrainConfig(**{**config.to_dict(), "lr": (0.5, 0.5)})
    with pytest.raises(ValueError, match="train config differs"):
        fit(other, out=path, reuse=True)
    with pytest.raises(FileExistsError):
        fit(config, out=path)  # without reuse a full folder is still refused
