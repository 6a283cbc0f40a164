"""Two clocks: when a generative model learns the rule (tau_rule) and when it starts copying its
training strings (tau_mem), against dataset size, rule complexity, model size and model kind,
with the score basins of seen and unseen valid strings over training.

    python examples/two_clocks.py [--sweeps parity_N,pairs_N,complexity,size]
                                  [--runs runs/clocks] [--out figures/clocks] [--steps S]

Trains (or reuses, or resumes) every run under --runs with `interp.train`:
- parity_N: even-parity strings of 12 bits, N = 16, 32, 64, 128: one batched DiT ensemble and one
  batched GPT ensemble over N (one GPT per N, each seeded 0 as it would be alone), 3000 steps
  each;
- pairs_N: 18-bit strings whose every pair of bits has even parity (group parity, G = 2: 512
  valid strings), N = 8 ... 128: one DiT ensemble (20000 steps) and one GPT ensemble over N
  (3000 steps), so both clocks ring for both kinds; plus the score basins of training and unseen
  valid strings over the DiT's training;
- complexity: group parity of 18 bits with groups of G = 2, 3, 6, 9 (2^9, 2^12, 2^15, 2^16
  valid strings), N = 256, one DiT (d_model 64) per G, 10000 steps;
- size: group parity G = 3 of 18 bits, N = 256, DiT width d_model = 16 ... 128, 10000 steps
  (the d_model 64 run is the complexity sweep's G = 3 run).
Then measures every checkpoint (`interp.generation_curve`: valid / memorized / novel-valid
fractions of 512 samples) and the clocks (`interp.measure_clocks`: tau_rule at the valid
fraction 80% (and 50%) of the way from chance to 1, tau_mem at half of the samples copied), prints
markdown tables, and writes results_<sweep>.json under --runs and plotly figures under --out.
Each sweep can run in its own process (`--sweeps size` and `--sweeps pairs_N` side by side).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import interp
from interp.core.runs import Run
from interp.figures import write_figures
from interp.studies.clocks import (
    GenerationStats,
    basin_targets,
    empirical_basins,
    plots,
    threshold_above_chance,
)

DIT = dict(d_model=32, n_layers=2, n_heads=4)
GPT = dict(d_model=32, n_layers=2, n_heads=4, d_mlp=128)
SWEEPS = ("parity_N", "pairs_N", "complexity", "size")
# steps per sweep: the DiT memorizes slowly, so its N sweep on pairs trains longest
STEPS = {"parity_N": 3000, "pairs_N": 20000, "gpt": 3000, "complexity": 10000, "size": 10000}
PARITY_NS = (16, 32, 64, 128)
PAIRS_NS = (8, 16, 32, 64, 128)
GROUPS = (2, 3, 6, 9)
WIDTHS = (16, 32, 64, 128)
GROUP_WIDTH = 64  # d_model of the complexity sweep


def train(name: str, model, task, loss: str, root: Path, steps: int) -> Run:
    """Train `model` (a fresh DiT or GPT ensemble) into root/name, or reuse a finished run
    there, or resume a cut one."""
    path = root / name
    config = interp.TrainConfig(
        steps=steps, lr=3e-3, loss=loss, batch_size=128, log_every=50, save_log=25
    )
    if not (path / "config.json").exists():
        print(f"train {name}", flush=True)
    command = "examples/two_clocks.py"
    try:
        interp.train(model, task, config, out=path, command=command, reuse=True)
    except ValueError as e:
        raise SystemExit(f"{e}: pick another --runs folder") from None
    return interp.load_run(path)


def clocks_of(run: Run, samples: int) -> tuple[list[int], GenerationStats, list]:
    """Steps, generation stats, and the clocks with tau_rule at 80% and at 50% of the way from
    chance to 1 (the second separates runs that cross 80% between the same two checkpoints)."""
    steps, stats = interp.generation_curve(run, samples=samples)
    clocks = [
        interp.measure_clocks(
            stats, steps, rule_threshold=threshold_above_chance(run.task.chance_rate, f)
        )
        for f in (0.8, 0.5)
    ]
    return steps, stats, clocks


def row(label: str, run: Run, stats, both, m: int) -> dict:
    n, (clocks, half) = run.task.N[m], both
    return {
        "setting": label,
        "N": n,
        "tau_rule (50%)": int(half.tau_rule[m]),
        "tau_rule": int(clocks.tau_rule[m]),
        "tau_mem": int(clocks.tau_mem[m]),
        "window": int(clocks.width[m]),
        "valid (end)": float(stats.valid[-1, m]),
        "x chance (end)": round(float(stats.valid[-1, m]) / run.task.chance_rate, 1),
        "memorized (end)": float(stats.memorized[-1, m]),
        "copies if uniform": n / run.task.n_valid,
        "novel valid (best)": float(stats.novel_valid[:, m].max()),
    }


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|---" * len(keys) + "|"]
    for r in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in r.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def n_sweep(name: str, rule: str, d: int, group: int | None, ns, steps: dict, args) -> tuple:
    """One DiT ensemble and one GPT ensemble over N (every GPT seeded 0, so each trains as it
    would alone); the DiT's run comes back for the basins."""
    rows, figures = [], {}
    task = interp.rule_task(rule, d=d, group=group, N=list(ns), seed=0)  # nested sets
    dit_model = interp.DiT(interp.DiTConfig(d=d, **DIT, models=len(ns), seed=0))
    dit = train(f"{name}_dit", dit_model, task, "edm", args.runs, steps["dit"])
    s, stats, clocks = clocks_of(dit, args.samples)
    rows += [row("DiT", dit, stats, clocks, m) for m in range(len(ns))]
    figures[f"clocks_{name}_dit"] = plots.clocks_figure(
        s, stats, clocks[0], labels=[f"N={n}" for n in ns]
    )
    gpt_model = interp.GPT(interp.GPTConfig(d=d, **GPT, models=len(ns), seed=[0] * len(ns)))
    gpt = train(f"{name}_gpt", gpt_model, task, "ce", args.runs, steps["gpt"])
    _, gstats, gclocks = clocks_of(gpt, args.samples)
    rows += [row("GPT", gpt, gstats, gclocks, m) for m in range(len(ns))]
    taus = {
        f"{kind} {clock}": [r[clock] for r in rows if r["setting"] == kind]
        for kind in ("DiT", "GPT")
        for clock in ("tau_rule", "tau_mem")
    }
    figures[f"taus_{name}"] = plots.tau_against(list(ns), taus, xlabel="N (training strings)")
    return rows, figures, dit


def basins(dit: Run, ns, every: int = 1, repeats: int = 16) -> tuple[list[dict], dict]:
    """Mean basin radius of 16 training and 16 unseen valid strings per model at every
    `every`-th saved step (the last included), `repeats` starts per target and sigma, and under
    each model's empirical optimal denoiser (the memorizing optimum, last row)."""
    targets = basin_targets(dit.task)
    chosen = dit.steps[::-every][::-1]
    steps_b, radii = interp.basin_curve(dit, targets, repeats=repeats, steps=chosen)
    optimum = empirical_basins(dit.task, targets, repeats=repeats)
    optimum = {k: v.mean(-1) for k, v in optimum.items()}

    def means(at, train, novel) -> dict:
        return {
            "step": at,
            **{f"N={n} training": float(train[m].mean()) for m, n in enumerate(ns)},
            **{f"N={n} unseen": float(novel[m].mean()) for m, n in enumerate(ns)},
        }

    rows = [means(s, radii["training"][i], radii["novel"][i]) for i, s in enumerate(steps_b)]
    rows.append(means("optimal denoiser", optimum["training"], optimum["novel"]))
    figures = {
        f"basins_N{n}": plots.basin_radii(
            steps_b,
            radii["training"][:, m],
            radii["novel"][:, m],
            title=f"Basin radius, N = {n}",
            reference=(float(optimum["training"][m]), float(optimum["novel"][m])),
        )
        for m, n in enumerate(ns)
    }
    return rows, figures


def run_sweep(sweep: str, args) -> tuple[dict[str, list[dict]], dict]:
    steps = {k: args.steps or v for k, v in STEPS.items()}
    if sweep == "parity_N":
        s = {"dit": steps["parity_N"], "gpt": steps["parity_N"]}
        rows, figures, dit = n_sweep("N", "parity", 12, None, PARITY_NS, s, args)
        basin_rows, basin_figures = basins(dit, PARITY_NS)
        return {"parity_N": rows, "parity_basins": basin_rows}, {**figures, **basin_figures}
    if sweep == "pairs_N":
        s = {"dit": steps["pairs_N"], "gpt": steps["gpt"]}
        rows, figures, dit = n_sweep("pairs", "group_parity", 18, 2, PAIRS_NS, s, args)
        basin_rows, basin_figures = basins(dit, PAIRS_NS, every=2, repeats=8)  # 5 models: halved
        figures.update({f"pairs_{k}": v for k, v in basin_figures.items()})
        return {"pairs_N": rows, "pairs_basins": basin_rows}, figures

    def group_run(g: int, width: int) -> Run:  # shared by both sweeps
        task = interp.rule_task("group_parity", d=18, group=g, N=256, seed=0)
        model = interp.DiT(interp.DiTConfig(d=18, **{**DIT, "d_model": width}, seed=0))
        return train(f"group18_g{g}_w{width}", model, task, "edm", args.runs, steps[sweep])

    rows = []
    if sweep == "complexity":
        for g in GROUPS:
            run = group_run(g, GROUP_WIDTH)
            _, stats, clocks = clocks_of(run, args.samples)
            rows.append(row(f"G={g}", run, stats, clocks, 0))
        x, xlabel = list(GROUPS), "G (bits per parity constraint)"
    else:
        for w in WIDTHS:
            run = group_run(3, w)
            _, stats, clocks = clocks_of(run, args.samples)
            rows.append(row(f"d_model={w}", run, stats, clocks, 0))
        x, xlabel = list(WIDTHS), "d_model"
    figure = plots.tau_against(x, {"tau_rule": [r["tau_rule"] for r in rows]}, xlabel=xlabel)
    return {sweep: rows}, {f"taus_{sweep}": figure}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweeps", default=",".join(SWEEPS), help=f"any of {', '.join(SWEEPS)}")
    parser.add_argument("--runs", type=Path, default=Path("runs/clocks"))
    parser.add_argument("--out", type=Path, default=Path("figures/clocks"))
    parser.add_argument("--steps", type=int, default=None, help="steps of every run (smoke tests)")
    parser.add_argument("--samples", type=int, default=512)
    args = parser.parse_args()
    sweeps = [s for s in args.sweeps.split(",") if s]
    bad = [s for s in sweeps if s not in SWEEPS]
    if bad or not sweeps:
        parser.error(f"--sweeps {args.sweeps!r}: choose from {', '.join(SWEEPS)}")
    start = time.perf_counter()
    args.runs.mkdir(parents=True, exist_ok=True)
    for sweep in sweeps:
        results, figures = run_sweep(sweep, args)
        for name, rows in results.items():
            print(f"\n## {name}\n\n{table(rows)}", flush=True)
        (args.runs / f"results_{sweep}.json").write_text(json.dumps(results, indent=1))
        paths = write_figures(figures, args.out)
        print(f"\nwrote {len(paths)} figures to {args.out}/", flush=True)
    print(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
