"""How much the second CPU core speeds up one model: the ceiling on what batching can gain.

Batching an ensemble saves per-step overhead and lets the models share the cores; on a CPU where
one model's full-batch step already runs near the machine's throughput, the best a batched
ensemble can do is to keep every core busy with its own model. This prints one model's training
rate (Doshi setup, p 97, width 512, full batch, through `interp.train`) on 1 thread and on all
threads, interleaved, and the ceiling that implies if each core kept its one-thread rate with
the others busy (an upper estimate: the cores share memory bandwidth):
threads x rate(1 thread) / rate(all threads).

Usage:
    python benchmarks/cpu_ceiling.py [--steps 40] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

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


if __name__ == "__main__":
    main()
