"""Rule neurons and fact neurons: the library's two-layer network trained on the Rules-and-Facts
task, taken apart.

    python examples/raf_network.py [--d 200] [--widths 64 256 1024] [--scales 1 0.05]

For each width and initial scale, one ensemble of three seeds (teacher, data and init from the
seed) is trained by `interp.train` (Adam, square loss on the +-1 labels, full batch) at alpha 2,
eps 0.2. Reported per setting, as the mean over the seeds: E_gen and E_mem of the network; the
E_gen of the rule read off it, sign(u . x); the share of neurons that the fact mask calls fact
neurons and E_gen / E_mem with them mean-ablated, then with the rule neurons ablated instead;
the same for the task-agnostic partition; and the share of neurons on which both agree.
The ridge theory at the same alpha, eps is printed for scale. Minutes on one CPU thread.
"""

from __future__ import annotations

import argparse
import time

import torch

import interp
from interp.models.two_layer import TwoLayer, TwoLayerConfig
from interp.studies.raf.network import ablate, extracted_rule_error, fact_neurons, neuron_drives
from interp.studies.raf.theory import bayes_optimal, state_evolution
from interp.tasks.raf import raf_task

ALPHA, EPS, SEEDS = 2.0, 0.2, [0, 1, 2]


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--d", type=int, default=200)
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.05])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    task = raf_task(d=args.d, alpha=ALPHA, eps=EPS, seed=SEEDS, n_test=10_000)
    ridge = state_evolution(ALPHA, EPS, 1.0)
    bayes = bayes_optimal(ALPHA, EPS).e_gen
    print(
        f"d {args.d}, alpha {ALPHA}, eps {EPS}, seeds {SEEDS}; theory: ridge lambda 1 E_gen "
        f"{ridge.e_gen:.3f} E_mem {ridge.e_mem:.3f}, Bayes E_gen {bayes:.3f}"
    )
    print(
        "| width | init | E_gen | E_mem | sign(u.x) E_gen | fact neurons (mask) "
        "| ablate them: E_gen, E_mem | ablate the rest: E_gen, E_mem | fact neurons (agnostic) "
        "| ablate them: E_gen, E_mem | ablate the rest: E_gen, E_mem | agree |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")

    def pair(errors) -> str:
        return f"{_mean(e.e_gen for e in errors):.3f}, {_mean(e.e_mem for e in errors):.3f}"

    for width in args.widths:
        for scale in args.scales:
            cfg = TwoLayerConfig(d=args.d, width=width, models=len(SEEDS), seed=SEEDS,
                                 init_scale=scale)  # fmt: skip
            model = TwoLayer(cfg)
            train = interp.TrainConfig(steps=args.steps, lr=args.lr, loss="mse", log_every=500)
            interp.train(model, task, train, device="cpu", progress=False)
            none = ablate(model, task, torch.zeros(len(SEEDS), width, dtype=torch.bool))
            mask = fact_neurons(neuron_drives(model, task))
            agnostic = fact_neurons(neuron_drives(model, task, agnostic=True))
            print(
                f"| {width} | {scale:g} | {pair(none).replace(', ', ' | ')} "
                f"| {extracted_rule_error(model, task).mean():.3f} "
                f"| {mask.double().mean():.2f} | {pair(ablate(model, task, mask))} "
                f"| {pair(ablate(model, task, ~mask))} "
                f"| {agnostic.double().mean():.2f} | {pair(ablate(model, task, agnostic))} "
                f"| {pair(ablate(model, task, ~agnostic))} "
                f"| {(agnostic == mask).double().mean():.2f} |",
                flush=True,
            )
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
