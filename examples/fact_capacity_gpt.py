"""Fact capacity of a tiny GPT (the counterpart of examples/fact_capacity.py's FactNet): how many
random name -> 2-digit facts it stores as the fact base grows.

    python examples/fact_capacity_gpt.py [--threads 1] [--d-model 32] [--figures DIR]

One fact GPT per fact base size N = 250 ... 2000 (`GPTConfig(names=N)`: a token per name, the
ten digits, read-out over the digits; 1 block, d_model 32, 2 heads, MLP 128), 1000 full-batch
AdamW steps at lr 3e-3 on the expected cross-entropy (teacher forcing) under flat or Zipf 1
frequencies. Prints the facts recalled exactly (greedy decoding), the trainable parameters (all,
and without the N name embeddings, which grow with N) and the bits stored per parameter; writes
the capacity curve to figures/fact_capacity_gpt/. About two minutes on one thread.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import interp
from interp.figures import write_figures
from interp.models.gpt import GPT, GPTConfig
from interp.studies.facts.plots import capacity_figure
from interp.tasks.facts import bits_stored, fact_task

NAMES = [250, 500, 1000, 2000]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--d-model", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--figures", type=Path, default=Path("figures/fact_capacity_gpt"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    print("| frequencies | N | facts known | parameters (without names) | bits/param (without) |")
    print("|---|---|---|---|---|")
    curves = {}
    for exponent in (0.0, 1.0):
        name = "flat" if exponent == 0 else f"Zipf {exponent:g}"
        known_n = []
        for n in NAMES:
            task = fact_task(names=n, digits=2, exponent=exponent, seed=0)
            width = args.d_model
            cfg = GPTConfig(names=n, d=2, d_model=width, n_layers=1, n_heads=2, d_mlp=4 * width)
            config = interp.TrainConfig(steps=args.steps, lr=3e-3, loss="ce", log_every=250)
            result = interp.train(GPT(cfg), task, config, progress=False, device="cpu")
            known = result.metrics["facts_known"][-1]
            inner = cfg.parameters - n * cfg.d_model  # without the name embeddings
            bits, bits_inner = (bits_stored(known, task, p).item() for p in (cfg.parameters, inner))
            print(
                f"| {name} | {n} | {int(known.item())} | {cfg.parameters} ({inner}) "
                f"| {bits:.3f} ({bits_inner:.2f}) |"
            )
            known_n.append(known.item())
        curves[f"GPT d_model {args.d_model}, {name}"] = known_n
    fig = capacity_figure(NAMES, curves, title="Facts stored by a tiny GPT")
    paths = write_figures({"capacity": fig}, args.figures)
    print(f"\n{time.perf_counter() - start:.0f} s; figure: {paths[0]}")


if __name__ == "__main__":
    main()
