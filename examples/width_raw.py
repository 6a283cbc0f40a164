"""Does a wider network answer the rule itself? The raw network's own test accuracy against width
at a fixed label noise, one column per width, one row per weight decay (issue 15, part 3).

    python examples/width_raw.py [--noise 0.8] [--widths 64 256 1024 2048] [--wd 0 1 3 10]
        [--seeds 0 1] [--steps 1000] [--init doshi] [--lr 1e-2] [--out figures/width_raw]

Every width is one batched ensemble (one model per weight decay and seed) of Doshi's recipe (p 97,
x^2 activation, train fraction 0.5, full-batch AdamW with decoupled weight decay, MSE). Prints a
table of the raw network's test accuracy at the last step (mean over seeds, min-max beside it) and
one of how many of its wrong training labels it fits; `--out` also writes test accuracy against
width, one line per weight decay.
"""

from __future__ import annotations

import argparse
import time

import torch

import interp
from interp.figures import lines, write_figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noise", type=float, default=0.8)
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 256, 1024, 2048])
    parser.add_argument("--wd", type=float, nargs="+", default=[0.0, 1.0, 3.0, 10.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--log-every", type=int, default=10, help="steps between evaluations")
    parser.add_argument("--init", default="doshi", choices=("doshi", "standard", "mean_field"))
    parser.add_argument("--out", help="write the figure (test accuracy against width) here")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # decayed weights reach subnormal floats: slow on a CPU
    start = time.perf_counter()
    grid = [(wd, seed) for wd in args.wd for seed in args.seeds]
    seeds = tuple(seed for _, seed in grid)
    task = interp.modular_task(p=97, noise=args.noise, seed=seeds)
    cfg = interp.TrainConfig(
        steps=args.steps, lr=args.lr, weight_decay=[wd for wd, _ in grid], log_every=args.log_every
    )
    test, noisy, best, when = {}, {}, {}, {}  # width -> [wd, seed]
    for width in args.widths:
        model = interp.MLP(
            interp.MLPConfig(p=97, width=width, models=len(grid), seed=seeds, init=args.init)
        )
        metrics = interp.train(model, task, cfg, device="cpu", progress=False).metrics
        shape = (len(args.wd), len(args.seeds))
        test[width] = metrics["test_acc"][-1].view(shape)
        noisy[width] = metrics["train_noisy_acc"][-1].view(shape)
        best[width] = metrics["test_acc"].max(0).values.view(shape)  # early stopping's best
        when[width] = metrics["step"][metrics["test_acc"].argmax(0)].view(shape)
    print(
        f"noise {args.noise}, {args.init} init, lr {args.lr}, {args.steps} steps, "
        f"seeds {args.seeds}: raw test accuracy, mean (min-max)"
    )
    for title, table in (
        ("test at the last step", test),
        ("wrong labels fit at the last step", noisy),
        ("best test over training (logged steps)", best),
        ("step of the best test", when),
    ):
        print(
            f"\n| {title}: weight decay | " + " | ".join(f"width {w}" for w in args.widths) + " |"
        )
        print("|---" * (len(args.widths) + 1) + "|")
        for i, wd in enumerate(args.wd):
            cells = (
                f"{t[i].float().mean():.3f} ({t[i].min():.2f}-{t[i].max():.2f})"
                if t.is_floating_point()
                else "/".join(str(int(s)) for s in t[i])
                for t in (table[w] for w in args.widths)
            )
            print(f"| {wd:g} | " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - start:.0f} s")
    if args.out:
        fig = lines(
            args.widths,
            {
                f"weight decay {wd:g}": [test[w][i].mean() for w in args.widths]
                for i, wd in enumerate(args.wd)
            },  # fmt: skip
            "width",
            title=f"Raw network's test accuracy against width, {args.noise:.0%} wrong labels, "
            + (
                f"mean of {len(args.seeds)} seeds"
                if len(args.seeds) > 1
                else f"seed {args.seeds[0]}"
            ),
        )
        for path in write_figures({"width_raw": fig}, args.out):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
