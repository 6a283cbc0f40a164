"""Fact capacity of a tiny GPT (the counterpart of examples/fact_capacity.py's FactNet): how many
random name -> 2-digit facts it stores as the fact base grows.

    python examples/fact_capacity_gpt.py [--threads 1] [--d-model 32] [--figures DIR]
    python examples/fact_capacity_gpt.py --name-codes [--no-selection] [--d-model 16]

One fact GPT per fact base size N = 250 ... 2000 (`GPTConfig(names=N)`: a token per name, the
ten digits, read-out over the digits; 1 block, d_model 32, 2 heads, MLP 128), 1000 full-batch
AdamW steps at lr 3e-3 on the expected cross-entropy (teacher forcing) under flat or Zipf 1
frequencies. Prints the facts recalled exactly (greedy decoding), the trainable parameters (all,
and without the N name embeddings, which grow with N) and the bits stored per parameter; writes
the capacity curve to figures/fact_capacity_gpt/. About two minutes on one thread.

`--name-codes`: the GPT at a FIXED size, its names fixed random codes (`GPTConfig(name_codes=True)`:
one shared name token, a code per name that is not trained), so its trainable parameters do not
grow with N: d_model 16 (3680 parameters), N = 250 ... 4000, 3000 steps at lr 2e-3, flat and
Zipf 1; then (unless `--no-selection`) selection at N = 4000, Zipf 1, as
examples/fact_capacity.py does for FactNet: 300 steps on the base as it comes, 2700 on a cap of M
names flat over them, the lowest-loss ones or random ones. Writes figures/fact_capacity_gpt/
codes_capacity.html and codes_selection.html. About 4 minutes for the sweep and 5 for the
selection on one thread.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import interp
from interp.figures import write_figures
from interp.models.gpt import GPT, GPTConfig
from interp.studies.facts import random_subset, select_by_loss
from interp.studies.facts.plots import capacity_figure, selection_figure
from interp.tasks.facts import bits_stored, fact_task, facts_known

NAMES = [250, 500, 1000, 2000]
CODED_NAMES = [250, 500, 1000, 2000, 4000]
KEEP = [400, 700, 1000]
CODED_LR = 2e-3


def _coded(n: int, d_model: int, models: int = 1) -> GPTConfig:
    return GPTConfig(
        names=n,
        d=2,
        d_model=d_model,
        n_layers=1,
        n_heads=2,
        d_mlp=4 * d_model,
        models=models,
        name_codes=True,
    )


def _capacity(names, make_cfg, steps: int, lr: float, label: str, row) -> dict[str, list[float]]:
    """Facts known per N for flat and Zipf 1 frequencies, one GPT per N (`make_cfg(n)`); each
    result printed by `row(frequencies, n, known, task, cfg)`; curves keyed `label, frequencies`."""
    curves = {}
    for exponent in (0.0, 1.0):
        name = "flat" if exponent == 0 else f"Zipf {exponent:g}"
        known_n = []
        for n in names:
            task = fact_task(names=n, digits=2, exponent=exponent, seed=0)
            cfg = make_cfg(n)
            config = interp.TrainConfig(steps=steps, lr=lr, loss="ce", log_every=steps)
            known = interp.train(GPT(cfg), task, config, progress=False, device="cpu").metrics[
                "facts_known"
            ][-1]
            row(name, n, known, task, cfg)
            known_n.append(known.item())
        curves[f"{label}, {name}"] = known_n
    return curves


def name_codes(args: argparse.Namespace) -> None:
    """The capacity of a coded GPT of one size against N, then selection at the largest N."""
    start = time.perf_counter()
    d_model = args.d_model or 16
    print(f"GPT with fixed name codes, d_model {d_model}, {args.steps} steps at lr {CODED_LR:g}")
    print("| frequencies | N | facts known | parameters | bits/param |")
    print("|---|---|---|---|---|")

    def row(name, n, known, task, cfg) -> None:
        bits = bits_stored(known, task, cfg.parameters).item()
        print(f"| {name} | {n} | {int(known.item())} | {cfg.parameters} | {bits:.2f} |")

    curves = _capacity(CODED_NAMES, lambda n: _coded(n, d_model), args.steps, CODED_LR,
                       f"coded GPT d_model {d_model}", row)  # fmt: skip
    figures = {"codes_capacity": capacity_figure(CODED_NAMES, curves, title="Coded GPT")}
    print(f"\n{time.perf_counter() - start:.0f} s for the sweep")
    if not args.no_selection:
        start = time.perf_counter()
        n = CODED_NAMES[-1]
        controls = {f"{k.split(', ')[1]} over all {n}": c[-1] for k, c in curves.items()}
        figures["codes_selection"] = coded_selection(d_model, args.steps, controls)
        print(f"\n{time.perf_counter() - start:.0f} s for the selection")
    for path in write_figures(figures, args.figures):
        print(f"figure: {path}")


def coded_selection(d_model: int, steps: int, controls: dict[str, float]):
    """Loss-based selection against a random cap at N = 4000, Zipf 1, one model per cap."""
    n, warmup = CODED_NAMES[-1], steps // 10
    task = fact_task(names=[n] * len(KEEP), digits=2, exponent=1.0, seed=0)
    cfg = _coded(n, d_model, models=len(KEEP))
    warm = interp.TrainConfig(steps=warmup, lr=CODED_LR, loss="ce", log_every=warmup)
    rest = interp.TrainConfig(steps=steps - warmup, lr=CODED_LR, loss="ce", log_every=steps)
    print(f"\n| N = {n}, Zipf 1 | " + " | ".join(f"keep {k}" for k in KEEP) + " |")
    print("|---|" + "---|" * len(KEEP))
    curves = {}
    for name in ("lowest loss", "random"):
        model = interp.train(GPT(cfg), task, warm, progress=False, device="cpu").model
        chosen = (
            select_by_loss(model, task, KEEP)
            if name == "lowest loss"
            else random_subset(task, KEEP)
        )
        model = interp.train(model, chosen, rest, progress=False, device="cpu").model
        known = facts_known(model.recall(n), task)
        print(f"| {name} | " + " | ".join(str(int(k)) for k in known.tolist()) + " |")
        curves[name] = known.tolist()
    return selection_figure(KEEP, curves, controls, title=f"Coded GPT: selection at N = {n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--d-model", type=int, help="default 32; 16 with --name-codes")
    parser.add_argument("--steps", type=int, help="default 1000; 3000 with --name-codes")
    parser.add_argument("--name-codes", action="store_true", help="fixed name codes, fixed size")
    parser.add_argument("--no-selection", action="store_true", help="--name-codes: sweep only")
    parser.add_argument("--figures", type=Path, default=Path("figures/fact_capacity_gpt"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.name_codes:
        args.steps = args.steps or 3000
        name_codes(args)
        return
    args.d_model, args.steps = args.d_model or 32, args.steps or 1000
    start = time.perf_counter()
    print("| frequencies | N | facts known | parameters (without names) | bits/param (without) |")
    print("|---|---|---|---|---|")

    def row(name, n, known, task, cfg) -> None:
        inner = cfg.parameters - n * cfg.d_model  # without the name embeddings
        bits, bits_inner = (bits_stored(known, task, p).item() for p in (cfg.parameters, inner))
        print(
            f"| {name} | {n} | {int(known.item())} | {cfg.parameters} ({inner}) "
            f"| {bits:.3f} ({bits_inner:.2f}) |"
        )

    width = args.d_model
    curves = _capacity(
        NAMES,
        lambda n: GPTConfig(names=n, d=2, d_model=width, n_layers=1, n_heads=2, d_mlp=4 * width),
        args.steps, 3e-3, f"GPT d_model {width}", row,
    )  # fmt: skip
    fig = capacity_figure(NAMES, curves, title="Facts stored by a tiny GPT")
    paths = write_figures({"capacity": fig}, args.figures)
    print(f"\n{time.perf_counter() - start:.0f} s; figure: {paths[0]}")


if __name__ == "__main__":
    main()
