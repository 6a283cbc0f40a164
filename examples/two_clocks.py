"""Two clocks: when a generative model learns the rule (tau_rule) and when it starts copying its
training strings (tau_mem), against dataset size, rule complexity, model size and model kind,
with the score basins of seen and unseen valid strings over training.

    python examples/two_clocks.py [--runs runs/clocks] [--out figures/clocks] [--steps 3000]

Trains (or reuses, or resumes) every run under --runs with `interp.train_generative`:
- N: even-parity strings of 12 bits, N = 16, 32, 64, 128: one batched DiT ensemble, and one GPT
  per N;
- complexity: group parity of 12 bits with groups of G = 2, 3, 4, 6, 12 (G = 12 is plain
  parity: one constraint over all bits; G = 2 is six two-bit constraints), N = 32;
- size: parity, N = 64, DiT width d_model = 16, 32, 64.
Then measures every checkpoint (`interp.generation_curve`: valid / memorized / novel-valid
fractions of 512 samples) and the clocks (`interp.measure_clocks`: tau_rule at the valid
fraction 80% of the way from chance to 1, tau_mem at half of the samples copied), the basin radii
of training and unseen valid strings over the DiT's training at N = 32 (`interp.basin_curve`),
prints markdown tables and writes plotly figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import interp
from interp import plots

D = 12
DIT = dict(d=D, d_model=32, n_layers=2, n_heads=4)
GPT = dict(d=D, d_model=32, n_layers=2, n_heads=4, d_mlp=128)
NS = (16, 32, 64, 128)
GROUPS = (2, 3, 4, 6, 12)
WIDTHS = (16, 32, 64)


def train(name: str, model_cfg, task, loss: str, root: Path, steps: int) -> interp.Run:
    """Train into root/name, or reuse a finished run there, or resume a cut one."""
    path = root / name
    if (path / "config.json").exists():
        run = interp.load_run(path)
        if run.steps and run.steps[-1] == steps:
            return run
        interp.resume(path)
        return interp.load_run(path)
    config = interp.TrainConfig(
        steps=steps, lr=3e-3, loss=loss, batch_size=128, log_every=50, save_log=25
    )
    print(f"train {name}")
    interp.train_generative(model_cfg, task, config, out=path, command="examples/two_clocks.py")
    return interp.load_run(path)


def clocks_of(run: interp.Run, samples: int) -> tuple[list[int], interp.GenerationStats, dict]:
    steps, stats = interp.generation_curve(run, samples=samples)
    threshold = interp.threshold_above_chance(run.task.chance_rate)
    clocks = interp.measure_clocks(stats, steps, rule_threshold=threshold)
    return steps, stats, clocks


def row(label: str, run: interp.Run, stats, clocks, m: int) -> dict:
    return {
        "setting": label,
        "N": run.task.N[m],
        "tau_rule": int(clocks.tau_rule[m]),
        "tau_mem": int(clocks.tau_mem[m]),
        "window": int(clocks.width[m]),
        "valid (end)": float(stats.valid[-1, m]),
        "memorized (end)": float(stats.memorized[-1, m]),
        "novel valid (best)": float(stats.novel_valid[:, m].max()),
    }


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|---" * len(keys) + "|"]
    for r in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in r.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/clocks"))
    parser.add_argument("--out", type=Path, default=Path("figures/clocks"))
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--samples", type=int, default=512)
    args = parser.parse_args()
    start = time.perf_counter()
    results: dict[str, list[dict]] = {"N": [], "complexity": [], "size": []}
    figures = {}

    # tau_mem against N: one DiT ensemble, one GPT per N.
    task = interp.rule_task("parity", d=D, N=list(NS), seed=0)
    dit_cfg = interp.DiTConfig(**DIT, models=len(NS), seed=0)
    dit = train("N_dit", dit_cfg, task, "edm", args.runs, args.steps)
    steps, stats, clocks = clocks_of(dit, args.samples)
    results["N"] += [row("DiT", dit, stats, clocks, m) for m in range(len(NS))]
    figures["clocks_N_dit"] = plots.clocks_figure(
        steps, stats, clocks, labels=[f"N={n}" for n in NS]
    )
    for n in NS:
        gpt_task = interp.rule_task("parity", d=D, N=n, seed=0)
        gpt = train(
            f"N_gpt_{n}", interp.GPTConfig(**GPT, seed=0), gpt_task, "ce", args.runs, args.steps
        )
        _, gstats, gclocks = clocks_of(gpt, args.samples)
        results["N"].append(row("GPT", gpt, gstats, gclocks, 0))

    # tau_rule against rule complexity.
    for g in GROUPS:
        task_g = interp.rule_task("group_parity", d=D, group=g, N=32, seed=0)
        run = train(
            f"group_{g}", interp.DiTConfig(**DIT, seed=0), task_g, "edm", args.runs, args.steps
        )
        _, s, c = clocks_of(run, args.samples)
        results["complexity"].append(row(f"G={g}", run, s, c, 0))

    # tau_rule against model size.
    task_s = interp.rule_task("parity", d=D, N=64, seed=0)
    for w in WIDTHS:
        cfg = interp.DiTConfig(**{**DIT, "d_model": w}, seed=0)
        run = train(f"width_{w}", cfg, task_s, "edm", args.runs, args.steps)
        _, s, c = clocks_of(run, args.samples)
        results["size"].append(row(f"d_model={w}", run, s, c, 0))

    # Score basins of seen and unseen valid strings over the DiT ensemble's training.
    steps_b, radii = interp.basin_curve(dit)  # [steps, models, targets] per group
    results["basins"] = [
        {
            "step": s,
            **{f"N={n} training": float(radii["training"][i, m].mean()) for m, n in enumerate(NS)},
            **{f"N={n} novel": float(radii["novel"][i, m].mean()) for m, n in enumerate(NS)},
        }
        for i, s in enumerate(steps_b)
    ]
    for m, n in enumerate(NS):
        figures[f"basins_N{n}"] = plots.basin_radii(
            steps_b, radii["training"][:, m], radii["novel"][:, m]
        )

    for name, rows in results.items():
        print(f"\n## {name}\n\n{table(rows)}")
    args.runs.mkdir(parents=True, exist_ok=True)
    (args.runs / "results.json").write_text(json.dumps(results, indent=1))
    paths = plots.write_figures(figures, args.out)
    print(f"\nwrote {len(paths)} figures to {args.out}/ in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
