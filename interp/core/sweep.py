"""Sweeps: a grid planned into shards, each shard one batched ensemble trained into a run folder
of its own, run in this process (the default) or on a Ray cluster.

A shard is what a run's config.json holds: a task entry, a model entry and a train config (plain
dicts, so a shard pickles to a Ray worker and is written to the sweep's plan), plus the grid
point of each of its models. `plan_modular` cuts a modular-arithmetic grid into shards of at
most `shard_size` models that share p, width and steps (what one ensemble must share); any study
can build its own `Shard`s.

`sweep(shards, root)` writes the plan to `root/sweep.json` (a rerun must ask for the same plan)
and trains each shard into `root/<shard name>` with `train(..., reuse=True)`: a shard is done
when its run holds its last step, so a rerun skips finished shards, resumes interrupted ones and
starts the rest. A shard that fails is retried (`retries`) and then reported in the result,
never lost: its folder keeps what it saved, and the next rerun resumes it. With `ray=True` (a
local cluster, `ray.init()`) or `ray="ADDRESS"` (join a running one) each shard is one Ray task
of one CPU; Ray is an optional extra (`pip install -e .[ray]`) and is imported only then. The
result is one table: a row per model of every shard, its grid point and its last metrics.

Weights do not depend on where a shard ran: a shard on a Ray worker gives the same bits as in
process at the same torch thread count (`threads`, default 1 on workers and as the caller set it
in process; BLAS sums in another order on another thread count).

Examples:
    >>> shards = plan_modular(p=7, width=[8, 16], seed=[0, 1, 2], noise=[0.0, 0.3], steps=20,
    ...                       shard_size=4)
    >>> [(s.name, len(s.rows)) for s in shards]        # width 8: 6 models in shards of 4 and 2
    [('w8_s0', 4), ('w8_s1', 2), ('w16_s0', 4), ('w16_s1', 2)]
    >>> shards[1].rows[0]
    {'width': 8, 'seed': 2, 'noise': 0.0, 'lr': 0.01, 'wd': 0.0, 'train_fraction': 0.5}
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from interp.core.runs import write_json
from interp.core.tracking import check_loggers

__all__ = ["Shard", "SweepResult", "plan_modular", "run_shard", "sweep", "PLAN"]

PLAN = "sweep.json"


@dataclass(frozen=True)
class Shard:
    """One batched ensemble of a sweep.

    Attributes:
        name: its folder under the sweep's root.
        task, model: the config.json entries (`{"kind": ..., **config}`) of its task and model.
        train: its `TrainConfig` as a dict.
        rows: per model, the grid point it stands for (for the table).
    """

    name: str
    task: dict
    model: dict
    train: dict
    rows: tuple[dict[str, Any], ...] = field(default=())

    def build(self) -> tuple[Any, Any, Any]:
        """(model, task, TrainConfig), fresh from the entries."""
        from interp.core.registry import model_class, task_class
        from interp.core.training import TrainConfig

        model_spec = {k: v for k, v in self.model.items() if k != "kind"}
        task_spec = {k: v for k, v in self.task.items() if k != "kind"}
        model_cls, task_cls = model_class(self.model["kind"]), task_class(self.task["kind"])
        model = model_cls(model_cls.config_class.from_dict(model_spec))
        task = task_cls.from_config(task_cls.config_class.from_dict(task_spec))
        return model, task, TrainConfig.from_dict(self.train)


@dataclass
class SweepResult:
    """What `sweep` returns.

    Attributes:
        table: a row per model of every finished shard: `shard`, `model` (its index in the
            shard), the grid point and the metrics at the last logged step.
        failed: `{shard name: the last error}` for the shards that failed every try.
        seconds: `{shard name: wall seconds}` of the shards trained (or loaded) this time.
    """

    table: list[dict[str, Any]]
    failed: dict[str, str]
    seconds: dict[str, float]


def _values(name: str, values: Any) -> list:
    values = (
        list(values) if isinstance(values, Sequence) and not isinstance(values, str) else [values]
    )
    if not values:
        raise ValueError(f"{name}: give at least one value")
    if len(set(values)) != len(values):
        raise ValueError(f"{name}={values}: a value is repeated")
    return values


def plan_modular(
    p: int,
    width: int | Sequence[int],
    seed: int | Sequence[int] = 0,
    noise: float | Sequence[float] = 0.0,
    lr: float | Sequence[float] = 1e-2,
    wd: float | Sequence[float] = 0.0,
    train_fraction: float | Sequence[float] = 0.5,
    *,
    op: str = "add",
    steps: int = 1000,
    shard_size: int = 64,
    model: dict | None = None,
    train: dict | None = None,
) -> list[Shard]:
    """Shards of the modular grid width x seed x noise x lr x wd x train_fraction: per width, the
    other axes' product in order, cut into shards of at most `shard_size` models. `model`: more
    `MLPConfig` fields (act, init, ...); `train`: more `TrainConfig` fields (loss, batch_size,
    save_log, ...). Every config is validated here, before anything runs."""
    from interp.core.training import TrainConfig
    from interp.models.mlp import MLPConfig
    from interp.tasks.modular import modular_task

    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size={shard_size!r} must be an integer >= 1")
    axes = {
        "seed": _values("seed", seed),
        "noise": _values("noise", noise),
        "lr": _values("lr", lr),
        "wd": _values("wd", wd),
        "train_fraction": _values("train_fraction", train_fraction),
    }
    points = [dict(zip(axes, values)) for values in itertools.product(*axes.values())]
    shards = []
    for w in _values("width", width):
        for k in range(math.ceil(len(points) / shard_size)):
            chunk = points[k * shard_size : (k + 1) * shard_size]
            column = {name: [pt[name] for pt in chunk] for name in axes}
            task = modular_task(p, op, column["train_fraction"], column["noise"], column["seed"])
            cfg = MLPConfig(p=p, width=w, models=len(chunk), seed=tuple(column["seed"]),
                            **(model or {}))  # fmt: skip
            train_cfg = TrainConfig(steps=steps, lr=tuple(column["lr"]),
                                    weight_decay=tuple(column["wd"]), **(train or {}))  # fmt: skip
            shards.append(
                Shard(
                    name=f"w{w}_s{k}",
                    task={"kind": task.kind, **task.config.to_dict()},
                    model={"kind": "mlp", **cfg.to_dict()},
                    train=train_cfg.to_dict(),
                    rows=tuple({"width": w, **pt} for pt in chunk),
                )
            )
    return shards


def run_shard(
    shard: Shard,
    root: str | Path,
    device: str = "auto",
    threads: int | None = None,
    loggers: Sequence[Any] = (),
) -> dict[str, list[float]]:
    """Train (or load, or resume) one shard into `root/shard.name`; its metrics at the last
    logged step, one value per model. `threads`: set torch's thread count first (a Ray worker);
    `loggers`: experiment trackers (`interp.core.tracking`), each started under the shard's
    name."""
    from interp.core.training import train

    if threads is not None:
        torch.set_num_threads(threads)
    model, task, config = shard.build()
    result = train(model, task, config, out=Path(root) / shard.name, device=device,
                   progress=False, command=f"sweep shard {shard.name}", reuse=True,
                   loggers=loggers)  # fmt: skip
    return {k: v[-1].tolist() for k, v in result.metrics.items() if k != "step"}


def _claim(root: Path, shards: Sequence[Shard]) -> None:
    """Write the plan into `root`, or check that the plan there is this one."""
    import json

    names = [s.name for s in shards]
    if len(set(names)) != len(names):
        raise ValueError("shard names must be unique")
    plan = {"shards": [asdict(s) | {"rows": list(s.rows)} for s in shards]}
    path = root / PLAN
    if path.exists():
        if json.loads(path.read_text()) != json.loads(json.dumps(plan)):
            raise ValueError(f"{root} holds another sweep (its {PLAN} differs); choose a new root")
        return
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} exists, is not empty and holds no {PLAN}; choose a new root")
    root.mkdir(parents=True, exist_ok=True)
    write_json(path, plan)


def sweep(
    shards: Sequence[Shard],
    root: str | Path,
    *,
    ray: bool | str = False,
    retries: int = 1,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = True,
    loggers: Sequence[Any] = (),
) -> SweepResult:
    """Run every shard into `root` (see the module docstring): in this process, or on Ray
    (`ray=True`: a local cluster; a string: the address of a running one). One progress bar over
    the shards. `loggers` (`interp.core.tracking`) get every shard's models, under the shard's
    name (on Ray, each worker gets a copy and writes its own files).

    Raises:
        ValueError: `root` holds another sweep's plan, or bad arguments.
        FileExistsError: `root` is a non-empty folder that holds no sweep.
    """
    from tqdm.auto import tqdm

    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries={retries!r} must be an integer >= 0")
    loggers = check_loggers(loggers)
    shards, root = list(shards), Path(root)
    if not shards:
        raise ValueError("no shard to run")
    _claim(root, shards)
    bar = tqdm(total=len(shards), desc="shards", unit="shard", disable=not progress)
    metrics, failed, seconds = {}, {}, {}
    if ray is False:
        for shard in shards:
            for _ in range(retries + 1):
                start = time.perf_counter()
                try:
                    metrics[shard.name] = run_shard(shard, root, device, threads, loggers)
                    seconds[shard.name] = time.perf_counter() - start
                    failed.pop(shard.name, None)
                    break
                except Exception as e:  # a failed shard is retried, then reported
                    failed[shard.name] = f"{type(e).__name__}: {e}"
            bar.update()
    else:
        metrics, failed, seconds = _on_ray(
            shards, root, ray, retries, device, threads, bar, loggers
        )
    bar.close()
    table = [
        {"shard": s.name, "model": i, **row, **{k: v[i] for k, v in metrics[s.name].items()}}
        for s in shards
        if s.name in metrics
        for i, row in enumerate(s.rows)
    ]
    return SweepResult(table, failed, seconds)


def _on_ray(shards, root, address, retries, device, threads, bar, loggers):
    try:
        import ray
    except ImportError:
        raise ValueError("ray is not installed: pip install -e .[ray]") from None
    if not ray.is_initialized():
        ray.init(address=None if address is True else address, include_dashboard=False,
                 log_to_driver=False)  # fmt: skip

    @ray.remote(num_cpus=1)
    def task(shard: Shard) -> tuple[dict[str, list[float]], float]:
        start = time.perf_counter()
        out = run_shard(shard, root, device, 1 if threads is None else threads, loggers)
        return out, time.perf_counter() - start

    pending = {task.remote(s): (s, 0) for s in shards}
    metrics, failed, seconds = {}, {}, {}
    while pending:
        (ref,), _ = ray.wait(list(pending), num_returns=1)
        shard, attempt = pending.pop(ref)
        try:
            metrics[shard.name], seconds[shard.name] = ray.get(ref)
            failed.pop(shard.name, None)
        except Exception as e:  # a worker's error or a lost worker: retry, then report
            failed[shard.name] = f"{type(e).__name__}: {e}".splitlines()[0]
            if attempt < retries:
                pending[task.remote(shard)] = (shard, attempt + 1)
                continue
        bar.update()
    return metrics, failed, seconds
