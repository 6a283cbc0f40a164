"""Batched ensemble training versus the same models trained one after another.

Trains M two-layer MLPs (Doshi setup: p 97, train fraction 0.5, label noise 0.35, AdamW lr 1e-2,
full-batch MSE) as one batched ensemble, then the same M models (same seeds, same splits) one at a
time in the same process, and prints steps per second for each and the ratio. Beside them, written
outside the library as a user of PyTorch alone would: a plain loop (`nn.Module` + `AdamW`, one
model after another) and PyTorch's `torch.func` ensemble (stacked parameters, `vmap` over
`functional_call`, one AdamW), on the same training sets. All training goes
through `interp.train`, so this measures the library, setup and the two metric passes per
call (step 0 and the last step) included.

Usage:
    python benchmarks/ensemble_speed.py --models 16 --device cpu        # 2-core CPU target: 2x
    python benchmarks/ensemble_speed.py --models 64 --device cuda       # GPU target: 20x
    python benchmarks/ensemble_speed.py --models 4 --steps 5 --repeats 1  # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import torch

from interp.core.device import resolve_device
from interp.core.training import TrainConfig, train
from interp.models.mlp import MLP, MLPConfig
from interp.tasks.modular import ModularTask, modular_task

# Default steps per timed run, chosen so that the default run takes 1-2 minutes with 16 models on
# a 2-core CPU and with 64 models on one H100.
DEFAULT_STEPS = {"cpu": 15, "cuda": 400}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _machine(device: torch.device) -> dict:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
        cpuinfo = Path("/proc/cpuinfo")
        if cpuinfo.exists():
            models = [
                ln.split(":", 1)[1].strip()
                for ln in cpuinfo.read_text().splitlines()
                if ln.startswith("model name")
            ]
            name = models[0] if models else name
    return {
        "device": str(device),
        "device_name": name,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


TF32 = False  # --tf32: the library's arms train with TrainConfig(tf32=True)


def _timed_train(
    model: MLP, task: ModularTask, steps: int, device: torch.device
) -> tuple[float, MLP]:
    """Seconds taken by one `train` call (CUDA synchronized on both sides), and the model."""
    cfg = TrainConfig(steps=steps, lr=1e-2, log_every=steps, tf32=TF32)  # metrics: 0 and last
    _sync(device)
    start = time.perf_counter()
    result = train(model, task, cfg, device=device, progress=False)
    _sync(device)
    return time.perf_counter() - start, result.model


class _PlainMLP(torch.nn.Module):
    """The same two-layer network written plainly, as a user of PyTorch alone would."""

    def __init__(self, p: int, width: int) -> None:
        super().__init__()
        std = 0.5 / (2 * width) ** (1 / 3)
        self.U = torch.nn.Parameter(torch.randn(p, width) * std)
        self.V = torch.nn.Parameter(torch.randn(p, width) * std)
        self.W = torch.nn.Parameter(torch.randn(width, p) * std)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        pre = self.U[pairs[:, 0]] + self.V[pairs[:, 1]]
        return (pre * pre) @ self.W


def _data(task: ModularTask, i: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Model i's training pairs and one-hot targets."""
    rows = task.train[i]
    pairs, labels = task.inputs[rows].to(device), task.train_labels[i][rows].to(device)
    return pairs, torch.nn.functional.one_hot(labels, task.p).float()


def _plain_loop(task: ModularTask, args, steps: int, device: torch.device) -> float:
    """Seconds to train every model with `nn.Module` + `torch.optim.AdamW`, one after another."""
    data = [_data(task, i, device) for i in range(task.models)]
    _sync(device)
    start = time.perf_counter()
    for pairs, targets in data:
        model = _PlainMLP(task.p, args.width).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.98), weight_decay=0.0)
        for _ in range(steps):
            opt.zero_grad()
            ((model(pairs) - targets) ** 2).mean().backward()
            opt.step()
    _sync(device)
    return time.perf_counter() - start


def _vmap_ensemble(task: ModularTask, args, steps: int, device: torch.device) -> float:
    """Seconds to train every model as one `torch.func` ensemble (stack_module_state, vmap over
    functional_call, one AdamW on the stacked parameters): PyTorch's model-ensembling recipe.
    Training sets of different sizes are padded with zero-weight rows."""
    from torch.func import functional_call, stack_module_state

    data = [_data(task, i, device) for i in range(task.models)]
    n = max(len(pairs) for pairs, _ in data)
    pairs = torch.stack([torch.cat([x, x[: n - len(x)]]) for x, _ in data])
    targets = torch.stack([torch.cat([y, y[: n - len(y)]]) for _, y in data])
    weight = torch.stack(
        [(torch.arange(n, device=device) < len(x)).float() / len(x) for x, _ in data]
    )
    modules = [_PlainMLP(task.p, args.width).to(device) for _ in range(task.models)]
    params, buffers = stack_module_state(modules)
    base = _PlainMLP(task.p, args.width).to("meta")

    def loss(params, buffers, x, y, w):
        return (((functional_call(base, (params, buffers), (x,)) - y) ** 2).mean(-1) * w).sum()

    batched_loss = torch.vmap(loss)
    opt = torch.optim.AdamW(params.values(), lr=1e-2, betas=(0.9, 0.98), weight_decay=0.0)
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        batched_loss(params, buffers, pairs, targets, weight).sum().backward()
        opt.step()
    _sync(device)
    return time.perf_counter() - start


def _mlp(args: argparse.Namespace, seeds: list[int], device: torch.device) -> MLP:
    cfg = MLPConfig(p=args.p, width=args.width, models=len(seeds), seed=tuple(seeds))
    return MLP(cfg, device)


def _peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB (torch.cuda peak)"
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return f"{kib / 2**20:.2f} GiB (peak RSS of this process)"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=64, help="ensemble size M")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"steps per timed run (default {DEFAULT_STEPS['cpu']} on CPU, "
        f"{DEFAULT_STEPS['cuda']} on CUDA)",
    )
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--p", type=int, default=97)
    parser.add_argument("--noise", type=float, default=0.35)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument(
        "--sequential-models",
        type=int,
        default=None,
        help="time only the first K sequential models and extrapolate (default: all M)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats; medians reported")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps of each, first")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--tf32", action="store_true", help="the library's arms with TF32 matmuls (CUDA only)"
    )
    args = parser.parse_args(argv)
    global TF32
    TF32 = args.tf32

    device = resolve_device(args.device)
    m = args.models
    k = m if args.sequential_models is None else min(args.sequential_models, m)
    steps = args.steps
    if steps is None:
        steps = DEFAULT_STEPS["cuda" if device.type == "cuda" else "cpu"]
    if min(m, k, steps, args.repeats) < 1 or args.warmup < 0:
        parser.error("--models, --sequential-models, --steps, --repeats must be >= 1")
    machine = _machine(device)
    print(" | ".join(f"{key}: {value}" for key, value in machine.items()))
    print(
        f"p={args.p} width={args.width} noise={args.noise} full batch, AdamW lr 1e-2, "
        f"M={m} models, {steps} steps per run, {args.repeats} repeats (median)"
    )
    if k < m:
        print(f"sequential: timing {k} of {m} models, per-model rate extrapolated to all {m}")

    seeds = list(range(m))
    task = modular_task(p=args.p, noise=args.noise, seed=seeds)
    singles = [task.select([i]) for i in range(k)]

    if args.warmup:  # not timed: first CUDA kernels, allocator, thread pools
        warm_b, _ = _timed_train(_mlp(args, seeds, device), task, args.warmup, device)
        warm_s, _ = _timed_train(_mlp(args, seeds[:1], device), singles[0], args.warmup, device)
        eta = args.repeats * (warm_b + k * warm_s) * steps / args.warmup
        print(f"warm-up done; timed part should take roughly {eta:.0f} s", flush=True)

    if args.warmup:
        _plain_loop(task.select([0]), args, args.warmup, device)
        _vmap_ensemble(task, args, args.warmup, device)
    batched, sequential, plain, vmapped = [], [], [], []
    for _ in range(args.repeats):  # interleaved, so every arm sees the same machine load
        plain.append(_plain_loop(task.select(list(range(k))), args, steps, device))
        vmapped.append(_vmap_ensemble(task, args, steps, device))
        seconds, ensemble = _timed_train(_mlp(args, seeds, device), task, steps, device)
        batched.append(seconds)
        total, alone = 0.0, []
        for i in range(k):
            seconds, single = _timed_train(_mlp(args, [i], device), singles[i], steps, device)
            total += seconds
            alone.append(single)
        sequential.append(total)

    # The ensemble trains each model as it would alone, up to float reassociation.
    drift = max((ensemble.W[i] - single.W[0]).abs().max().item() for i, single in enumerate(alone))
    t_b, t_s = statistics.median(batched), statistics.median(sequential)
    t_plain, t_vmap = statistics.median(plain), statistics.median(vmapped)
    results = {
        "machine": machine,
        "args": {**vars(args), "json": str(args.json) if args.json else None, "steps": steps},
        "sequential_models_timed": k,
        "batched_seconds": batched,
        "sequential_seconds": sequential,
        "batched_ensemble_steps_per_s": steps / t_b,
        "batched_model_steps_per_s": m * steps / t_b,
        "sequential_model_steps_per_s": k * steps / t_s,
        "sequential_seconds_all_models": t_s * m / k,
        "speedup": (m * steps / t_b) / (k * steps / t_s),
        "plain_loop_seconds": plain,
        "plain_loop_model_steps_per_s": k * steps / t_plain,
        "vmap_seconds": vmapped,
        "vmap_model_steps_per_s": m * steps / t_vmap,
        "speedup_over_plain_loop": (m * steps / t_b) / (k * steps / t_plain),
        "speedup_over_vmap": (m * steps / t_b) / (m * steps / t_vmap),
        "max_weight_difference": drift,
        "peak_memory": _peak_memory(device),
    }
    extrapolated = " (extrapolated)" if k < m else ""
    print(
        f"batched:    {t_b:8.2f} s  {results['batched_ensemble_steps_per_s']:9.2f} ensemble steps/s"
        f"  {results['batched_model_steps_per_s']:9.1f} model-steps/s"
    )
    print(
        f"sequential: {results['sequential_seconds_all_models']:8.2f} s{extrapolated}"
        f"  {results['sequential_model_steps_per_s']:9.1f} model-steps/s"
        f"  ({k} models timed)"
    )
    print(
        f"plain PyTorch loop:  {results['plain_loop_model_steps_per_s']:9.1f} model-steps/s   "
        f"torch.func vmap ensemble: {results['vmap_model_steps_per_s']:9.1f} model-steps/s"
    )
    print(f"batched / sequential: {results['speedup']:.2f}x")
    print(
        f"batched / plain loop: {results['speedup_over_plain_loop']:.2f}x   "
        f"batched / vmap: {results['speedup_over_vmap']:.2f}x"
    )
    print(f"max |W_batched - W_alone| over timed models: {drift:.2e}")
    print(f"peak memory: {results['peak_memory']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
