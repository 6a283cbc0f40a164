"""The two times of the random-features score model (Bonnaire, Urfin, Biroli, Mezard 2025).

    python examples/rf_clocks.py [--runs runs] [--out figures/rf_clocks] [--sweeps anchor,width]

anchor: their recipe, d 50, p 2000, t 0.1, n = 100 / 200 / 400 / 800, two seeds, full-batch
  gradient descent at lr 0.004 d / Delta_t, 20000 steps (one batched ensemble of 8 models).
width: how tau_mem's growth with n changes as p / d grows: d 25, p = 250 / 1000 / 4000
  (p / d = 10 / 40 / 160), n = 50 / 100 / 200 / 400, three seeds, 20000 steps (one run per p).

Every run is trained into --runs (or reused when it is there, resumed when it was cut). Prints
tau_gen, tau_mem and the log-log slope of tau_mem against n per setting, f_mem of each model's
denoisings of fresh noisy points (d1 / d2 < 1/3, bootstrap standard error), and writes the
figures. The thresholds are the library's defaults (`interp.studies.rf_clocks`): tau_gen within
5% of the drop to the test-loss minimum, tau_mem at 1.2 x the minimum.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import interp
from interp.diffusion import memorized_fraction
from interp.figures import write_figures
from interp.models.random_features import RandomFeatures, RandomFeaturesConfig
from interp.studies.rf_clocks import denoise, loglog_slope, score_clocks
from interp.studies.rf_clocks.plots import loss_curves, times_against_n
from interp.tasks.mixtures import mixture_task, ou_coefficients

T, STEPS, LR_SCALE = 0.1, 20000, 0.004
SWEEPS = {
    "anchor": [dict(d=50, p=2000, n=(100, 200, 400, 800), seeds=(0, 1))],
    "width": [dict(d=25, p=p, n=(50, 100, 200, 400), seeds=(0, 1, 2)) for p in (250, 1000, 4000)],
}


def trained(setting: dict, root: Path, steps: int) -> interp.core.runs.Run:
    """The run of one setting (an ensemble over seed x n), trained or reused."""
    d, p = setting["d"], setting["p"]
    grid = [(s, n) for s in setting["seeds"] for n in setting["n"]]
    seeds, ns = [s for s, _ in grid], [n for _, n in grid]
    task = mixture_task(d=d, n=ns, seed=seeds, n_test=2048)
    model = RandomFeatures(RandomFeaturesConfig(d=d, p=p, t=T, models=len(grid), seed=seeds))
    lr = LR_SCALE * d / ou_coefficients(T)[1]
    config = interp.TrainConfig(
        steps=steps, lr=lr, optimizer="sgd", log_every=50, log_log=100, save_log=8
    )
    path = root / f"rf_d{d}_p{p}"
    if not (path / "config.json").exists():
        print(f"train d {d}, p {p}: {len(grid)} models", flush=True)
    interp.train(model, task, config, out=path, command="examples/rf_clocks.py", reuse=True)
    return interp.load_run(path)


def report(run: interp.core.runs.Run, figures: dict) -> list[dict]:
    """The table rows of one run, and its figures."""
    metrics, cfg = run.metrics, run.config
    clocks = score_clocks(metrics["test_loss"], metrics["step"])
    ns, seeds = cfg["task"]["n"], cfg["task"]["seed"]
    model, task = run.model(), run.task
    denoised = denoise(model, task.test[:512], torch.Generator().manual_seed(0))
    # each model against its own points (the padding rows of smaller n are not points)
    fits = [memorized_fraction(denoised[m], task.data[m][task.mask[m]]) for m in range(len(ns))]
    f_mem, se = torch.stack([f for f, _ in fits]), torch.stack([s for _, s in fits])
    d, p, lr = cfg["model"]["d"], cfg["model"]["p"], cfg["train"]["lr"][0]
    name = f"d{d}_p{p}"
    figures[f"losses_{name}"] = loss_curves(
        metrics, clocks, [f"n={n}, seed {s}" for n, s in zip(ns, seeds)]
    )
    rows = []
    for seed in sorted(set(seeds)):
        mine = [m for m, s in enumerate(seeds) if s == seed]
        slope = loglog_slope([ns[m] for m in mine], [int(clocks.tau_mem[m]) for m in mine])
        for m in mine:
            rows.append(
                {
                    "d": d,
                    "p": p,
                    "p/d": p // d,
                    "seed": seed,
                    "n": ns[m],
                    "tau_gen": int(clocks.tau_gen[m]),
                    "tau_mem": int(clocks.tau_mem[m]),
                    "best_step": int(clocks.best_step[m]),
                    "best_test": round(float(clocks.best_loss[m]), 4),
                    "final_train": round(float(metrics["train_loss"][-1, m]), 4),
                    "final_test": round(float(metrics["test_loss"][-1, m]), 4),
                    "f_mem": round(float(f_mem[m]), 3),
                    "f_mem_se": round(float(se[m]), 3),
                    "slope": round(slope, 2),
                    "lr": round(lr, 4),
                }
            )
    first = [m for m, s in enumerate(seeds) if s == seeds[0]]
    sub = score_clocks(metrics["test_loss"][:, first], metrics["step"])
    slope = loglog_slope([ns[m] for m in first], sub.tau_mem.tolist())
    figures[f"times_{name}"] = times_against_n([ns[m] for m in first], sub, slope)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("figures/rf_clocks"))
    parser.add_argument("--sweeps", default="anchor,width", help="comma-separated: anchor,width")
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args()
    chosen = args.sweeps.split(",")
    unknown = [s for s in chosen if s not in SWEEPS]
    if unknown:
        parser.error(f"--sweeps {unknown[0]!r}: choose from {', '.join(SWEEPS)}")
    figures: dict = {}
    columns = [
        "d",
        "p",
        "p/d",
        "seed",
        "n",
        "tau_gen",
        "tau_mem",
        "best_step",
        "best_test",
        "final_train",
        "final_test",
        "f_mem",
        "f_mem_se",
        "slope",
    ]
    for sweep in chosen:
        rows = [
            row for s in SWEEPS[sweep] for row in report(trained(s, args.runs, args.steps), figures)
        ]
        print(f"\n## {sweep} (steps; x lr {rows[0]['lr']} for training time)\n")
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        for row in rows:
            print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    paths = write_figures(figures, args.out)
    print(f"\nwrote {len(paths)} figures to {args.out}/")


if __name__ == "__main__":
    main()
