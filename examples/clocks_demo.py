"""The two clocks of a shipped diffusion run: when it learns the rule, when it starts copying.

    python examples/clocks_demo.py [--run checkpoints/dit_group2_d16] [--out figures/clocks_demo]

The shipped run is a batched ensemble of two diffusion transformers trained on 16-bit strings
whose every pair of bits has even parity (group parity, G = 2: 256 valid strings of 65536), one
on N = 16 of them and one on N = 64 (see checkpoints/README.md). For
every saved checkpoint it samples 512 strings per model and prints the valid, memorized and
novel-valid fractions, the clocks tau_rule and tau_mem, and the basin radii of training strings
against unseen valid strings; it writes the two figures (clocks.html, basins_N<n>.html).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import interp
from interp.figures import write_figures
from interp.studies import clocks as study
from interp.studies.clocks import plots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=Path("checkpoints/dit_group2_d16"))
    parser.add_argument("--out", type=Path, default=Path("figures/clocks_demo"))
    parser.add_argument("--samples", type=int, default=512)
    args = parser.parse_args()
    start = time.perf_counter()
    run = interp.load_run(args.run)
    task = run.task
    labels = [f"N={n}" for n in task.N]

    steps, stats = interp.generation_curve(run, samples=args.samples)
    threshold = study.threshold_above_chance(task.chance_rate)
    clocks = interp.measure_clocks(stats, steps, rule_threshold=threshold)
    print(f"{args.run}: {task.config.rule}, d={task.d}, N={list(task.N)}, steps {steps[-1]}")
    print(f"\nvalid / memorized / novel-valid fraction of {args.samples} samples per model")
    print("  step  " + "  ".join(f"{label:>21}" for label in labels))
    for i, step in enumerate(steps):
        cells = (
            f"{stats.valid[i, m]:.2f} / {stats.memorized[i, m]:.2f} / {stats.novel_valid[i, m]:.2f}"
            for m in range(task.models)
        )
        print(f"{step:>6}  " + "  ".join(f"{c:>21}" for c in cells))
    print(f"\nclocks (tau_rule at valid >= {threshold:.2f}, tau_mem at memorized >= 0.5; model m")
    print(f"trained on N = {list(task.N)}[m]; -1: never reached)\n{clocks}")

    steps_b, radii = interp.basin_curve(run)
    print("\n\nmean basin radius: training strings / unseen valid strings")
    print("  step  " + "  ".join(f"{label:>13}" for label in labels))
    for i, step in enumerate(steps_b):
        cells = (
            f"{radii['training'][i, m].mean():.2f} / {radii['novel'][i, m].mean():.2f}"
            for m in range(task.models)
        )
        print(f"{step:>6}  " + "  ".join(f"{c:>13}" for c in cells))

    figures = {"clocks": plots.clocks_figure(steps, stats, clocks, labels=labels)}
    for m, label in enumerate(labels):
        figures[f"basins_{label.replace('=', '')}"] = plots.basin_radii(
            steps_b, radii["training"][:, m], radii["novel"][:, m]
        )
    paths = write_figures(figures, args.out)
    print(f"\nwrote {len(paths)} figures to {args.out}/ in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
