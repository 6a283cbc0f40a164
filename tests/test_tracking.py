"""Experiment tracking: real TensorBoard event files read back by TensorBoard's own reader, real
W&B offline run files read back record by record, and nothing imported unless asked for."""

import json
import struct
import subprocess
import sys

import pytest
import torch

import interp
from interp.core.tracking import TensorBoard, WandB, model_tags

NOISE = [0.0, 0.5]


def _train(tmp_path, loggers, out=None):
    task = interp.modular_task(p=7, noise=NOISE, seed=[0, 1])
    model = interp.MLP(interp.MLPConfig(p=7, width=8, models=2))
    config = interp.TrainConfig(steps=6, log_every=3, lr=[1e-2, 3e-3])
    return interp.train(model, task, config, out=out, device="cpu", progress=False,
                        loggers=loggers)  # fmt: skip


def test_tensorboard_events_hold_every_models_metrics_and_hyper_parameters(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = _train(tmp_path, [TensorBoard(tmp_path / "tb")], out=tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "tb" / "run").iterdir()) == [
        "model_000",
        "model_001",
    ]
    for i in range(2):
        events = EventAccumulator(str(tmp_path / "tb" / "run" / f"model_{i:03d}"))
        events.Reload()
        assert set(result.metrics) - {"step"} <= set(events.Tags()["scalars"])
        for name in ("train_loss", "test_acc"):
            logged = events.Scalars(name)
            assert [e.step for e in logged] == [0, 3, 6]
            expected = result.metrics[name][:, i].tolist()
            assert [e.value for e in logged] == pytest.approx(expected, rel=1e-6)
        # The HParams tab: the model's own noise and learning rate.
        hparams = events.PluginTagToContent("hparams")
        content = b"".join(hparams.values())
        assert b"task.noise" in content and b"train.lr" in content


def _wandb_records(path):
    """The records of a W&B transaction log (`run-*.wandb`): a 7-byte header, then LevelDB-log
    blocks of 32 KiB, each chunk with a 7-byte header (crc, length, type), holding protobufs."""
    from wandb.proto import wandb_internal_pb2

    data, records, pending = path.read_bytes(), [], b""
    assert data[:4] == b":W&B"
    pos, block = 7, 32768
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's zero trailer
            pos += block - pos % block
            continue
        length, kind = struct.unpack("<HB", data[pos + 4 : pos + 7])
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
        elif kind == 0:
            break
    return records


def test_wandb_offline_runs_hold_every_models_history_config_and_tags(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):  # nothing shared
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    result = _train(tmp_path, [WandB(tmp_path / "wb")])
    import wandb

    wandb.teardown()  # the service process writes the logs: read them once it has exited
    logs = sorted((tmp_path / "wb" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(logs) == 2  # one W&B run per model
    seen = {}
    for log in logs:
        records = _wandb_records(log)
        run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
        i = int(run.display_name.rsplit("_", 1)[1])
        assert run.run_group == "run"
        config = {u.key: json.loads(u.value_json) for u in run.config.update}
        assert config["task.noise"] == NOISE[i]
        assert f"task.noise={NOISE[i]}" in run.tags
        history = [
            {
                item.key or ".".join(item.nested_key): json.loads(item.value_json)
                for item in r.history.item
            }
            for r in records
            if r.WhichOneof("record_type") == "history"
        ]
        assert [h["_step"] for h in history] == [0, 3, 6]
        assert [h["train_loss"] for h in history] == pytest.approx(
            result.metrics["train_loss"][:, i].tolist(), rel=1e-6
        )
        seen[i] = True
    assert seen == {0: True, 1: True}


def test_model_tags_take_each_models_own_value():
    task = interp.modular_task(p=7, noise=NOISE, seed=[0, 1])
    entry = {"task": {"kind": task.kind, **task.config.to_dict()}, "train": {"lr": [1e-2, 3e-3]}}
    tags = model_tags(entry, 2)
    assert [t["task.noise"] for t in tags] == NOISE and [t["train.lr"] for t in tags] == [
        1e-2,
        3e-3,
    ]
    assert tags[0]["task.p"] == tags[1]["task.p"] == 7


def test_bad_loggers_are_refused_before_training(tmp_path):
    with pytest.raises(TypeError, match="lacks start, log, close"):
        _train(tmp_path, [object()], out=tmp_path / "never")
    with pytest.raises(TypeError, match="not paths"):
        _train(tmp_path, [str(tmp_path)], out=tmp_path / "never")
    assert not (tmp_path / "never").exists()
    with pytest.raises(ValueError, match="mode 'cloud' is not one of offline, online, disabled"):
        WandB(tmp_path, mode="cloud")


def test_a_logger_is_closed_when_training_fails(tmp_path):
    class Recorder:
        def __init__(self):
            self.calls = []

        def start(self, name, tags):
            self.calls.append(("start", name, len(tags)))

        def log(self, step, metrics):
            self.calls.append(("log", step, tuple(metrics["train_loss"].shape)))
            raise RuntimeError("tracker down")

        def close(self):
            self.calls.append(("close",))

    recorder = Recorder()
    with pytest.raises(RuntimeError, match="tracker down"):
        _train(tmp_path, [recorder])
    assert recorder.calls == [("start", "run", 2), ("log", 0, (2,)), ("close",)]


def test_no_tracker_is_imported_unless_asked_for():
    code = (
        "import sys, interp\n"
        "task = interp.modular_task(p=5)\n"
        "interp.train(interp.MLP(interp.MLPConfig(p=5, width=4)), task,\n"
        "             interp.TrainConfig(steps=2), device='cpu', progress=False)\n"
        "print(sorted(m for m in ('tensorboard', 'wandb') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert torch.get_num_threads() >= 1


def test_the_command_line_sends_training_to_tensorboard(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from interp.cli import main

    argv = ["train", "modular", "--p", "7", "--width", "8", "--noise", "0.0", "0.5", "--epochs",
            "4", "--log-every", "2", "--out", str(tmp_path / "run"), "--tensorboard",
            str(tmp_path / "tb"), "--no-progress"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    for i in range(2):
        events = EventAccumulator(str(tmp_path / "tb" / "run" / f"model_{i:03d}"))
        events.Reload()
        assert [e.step for e in events.Scalars("train_loss")] == [0, 2, 4]
