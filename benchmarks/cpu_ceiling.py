"""How much the second CPU core speeds up one model: the ceiling on what batching can gain.

Batching an ensemble saves per-step overhead and lets the models share the cores; on a CPU where
one model's full-batch step already runs near the machine's throughput, the best a batched
ensemble can do is to keep every core busy with its own model. This prints one model's training
rate (Doshi setup, p 97, width 512, full batch, through `interp.train`) on 1 thread and on all
threads, interleaved, and the ceiling that implies if each core kept its one-thread rate with
the others busy (an upper estimate: the cores share memory bandwidth):
threads x rate(1 thread) / rate(all threads).

It then measures that ceiling instead of estimating it: the gradients of `threads`
models (one ensemble's fused CPU step), once as one ensemble on all threads and once split, each
model in its own Python thread on one intra-op thread (so every core runs its own model at the
same time), and prints the split's speed-up.

Usage:
    python benchmarks/cpu_ceiling.py [--steps 40] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import torch

from interp.core.fused import Workspace
from interp.core.objectives import objective_for
from interp.core.training import TrainConfig, train
from interp.models.mlp import MLP, MLPConfig
from interp.tasks.modular import modular_task


def rate(threads: int, steps: int) -> float:
    """Steps per second of one model trained for `steps` steps on `threads` threads."""
    torch.set_num_threads(threads)
    task = modular_task(p=97, noise=0.35, seed=[0])
    model = MLP(MLPConfig(p=97, width=512, models=1, seed=(0,)), torch.device("cpu"))
    train(model, task, TrainConfig(steps=3, lr=1e-2, log_every=3), device="cpu", progress=False)
    start = time.perf_counter()
    cfg = TrainConfig(steps=steps, lr=1e-2, log_every=steps)
    train(model, task, cfg, device="cpu", progress=False)
    return steps / (time.perf_counter() - start)


def split_speedup(threads: int, repeats: int) -> tuple[float, float]:
    """Seconds for the gradients of `threads` models: as one ensemble on all threads,
    and split into one model per Python thread, each on one intra-op thread (median of
    `repeats` rounds of 5 calls each)."""
    task = modular_task(p=97, noise=0.35, seed=list(range(threads)))
    cfg = MLPConfig(p=97, width=512, models=threads, seed=tuple(range(threads)))
    ensemble = MLP(cfg, torch.device("cpu"))
    objective = objective_for(ensemble, task, TrainConfig(), torch.device("cpu"))
    alone = [MLP(MLPConfig(p=97, width=512, models=1, seed=(i,))) for i in range(threads)]
    data = objective.inputs, objective.targets, objective.weight

    works = [Workspace() for _ in range(threads + 1)]  # kept scratch, as training keeps it

    def step(model: MLP, rows: slice, work: Workspace) -> None:
        model.zero_grad(set_to_none=True)
        model.fused_gradients(*(x[rows] for x in data), "mse", 1, work)

    def together() -> None:
        step(ensemble, slice(None), works[-1])

    pool = ThreadPoolExecutor(threads)

    def split() -> None:
        for f in [pool.submit(step, m, slice(i, i + 1), works[i]) for i, m in enumerate(alone)]:
            f.result()

    times: dict[str, list[float]] = {"together": [], "split": []}
    for _ in range(repeats):
        for name, fn, n_threads in (("together", together, threads), ("split", split, 1)):
            torch.set_num_threads(n_threads)
            fn()  # warm-up
            start = time.perf_counter()
            for _ in range(5):
                fn()
            times[name].append((time.perf_counter() - start) / 5)
    torch.set_num_threads(threads)
    return statistics.median(times["together"]), statistics.median(times["split"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    full = torch.get_num_threads()
    rates: dict[int, list[float]] = {1: [], full: []}
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        for threads in rates:
            rates[threads].append(rate(threads, args.steps))
    one, all_ = (statistics.median(rates[t]) for t in (1, full))
    print(f"one model, 1 thread: {one:.1f} steps/s; {full} threads: {all_:.1f} steps/s")
    ceiling = full * one / all_
    print(f"estimated ceiling for a batched ensemble (one model per core): {ceiling:.2f}x")
    together, split = split_speedup(full, args.repeats)
    print(
        f"{full} models' gradients: one ensemble on {full} threads"
        f" {together * 1e3:.1f} ms, one model per thread {split * 1e3:.1f} ms:"
        f" measured ceiling {together / split:.2f}x"
    )


if __name__ == "__main__":
    main()
