"""Write the figures of the documentation site's guides into docs/img/ as PNGs, from the shipped
runs, with the library's own analyses and plots (the figures the examples and `interp report`
write as HTML). Needs the `png` extra (kaleido >= 1) and a Chromium; about 5 minutes on a
2-core CPU for all but rf_clocks (the basin curve and the fact-capacity sweep take most of it).

    python scripts/docs_figures.py [--only headline,rule_and_memory,two_clocks,facts,fidelity,...]

posterior_*, facts_*, rf_clocks_*: the figures of examples/posterior.py, fact_capacity.py and
rf_clocks.py --sweeps anchor (which trains its run into runs/docs_figures/ first, about half
an hour).
headline_*: the 80%-noise run's report figures (training with the extracted test accuracy, the
extraction methods against the baselines, the raw spectrum); rule_and_memory_*: its partition,
logit circuit and kept-fraction figures; two_clocks_*: examples/clocks_demo.py's clocks and
basin figures of the shipped diffusion run.
fidelity_*: examples/doshi_forgetting.py and width_raw.py (noise 0.35, widths 8-1024,
weight decay 0 and 1, seed 0), about 10 minutes of training.
noise_frontier_agnostic_scale (--only agnostic): examples/agnostic_scale.py with its defaults
(p 23, 31, 43, 61; four noise levels, four train fractions), about four minutes.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

import plotly.io
import torch

import interp
from interp.studies import clocks as clocks_study
from interp.studies.clocks import plots as clock_plots
from interp.studies.label_noise.report import HEIGHTS, build_report

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
NOISY = ROOT / "checkpoints" / "add_p97_noise080"
DIT = ROOT / "checkpoints" / "dit_group2_d16"
# report section id -> the guide's file name
REPORT_FIGURES = {
    "training": "headline_training",
    "extraction": "headline_extraction",
    "spectrum": "headline_spectrum",
    "partition_ipr": "rule_and_memory_partition_ipr",
    "circuit": "rule_and_memory_circuit",
    "kept_fraction": "rule_and_memory_kept_fraction",
}


def label_noise() -> None:
    report = build_report(NOISY, device="cpu")
    sections = [s for s in report.sections if s.id in REPORT_FIGURES]
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"{s.id}.png" for s in sections]
        plotly.io.write_images(
            [s.figure for s in sections],
            paths,
            width=1100,
            height=[HEIGHTS.get(s.id, 450) for s in sections],
        )
        for section, path in zip(sections, paths):
            shutil.copy(path, IMG / f"{REPORT_FIGURES[section.id]}.png")


def two_clocks() -> None:
    run = interp.load_run(DIT)
    task = run.task
    labels = [f"N={n}" for n in task.N]
    steps, stats = interp.generation_curve(run, samples=512, device="cpu")
    threshold = clocks_study.threshold_above_chance(task.chance_rate)
    clocks = interp.measure_clocks(stats, steps, rule_threshold=threshold)
    steps_b, radii = interp.basin_curve(run, device="cpu")
    figures = {"two_clocks_clocks": clock_plots.clocks_figure(steps, stats, clocks, labels=labels)}
    for m, label in enumerate(labels):
        figure = clock_plots.basin_radii(steps_b, radii["training"][:, m], radii["novel"][:, m])
        figure.update_layout(title=f"Basin radius of training and unseen valid strings, {label}")
        figures[f"two_clocks_basins_{label.replace('=', '')}"] = figure
    plotly.io.write_images(
        list(figures.values()), [IMG / f"{name}.png" for name in figures], width=1100, height=450
    )


def _example(name: str, argv: list[str], prefix: str) -> None:
    """Run `examples/<name>.py` with `argv`, writing the figures it writes (through
    `write_figures`) as docs/img/<prefix>_<figure>.png instead of HTML."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def as_png(figures: dict, out: object) -> list[Path]:
        paths = [IMG / f"{prefix}_{stem}.png" for stem in figures]
        plotly.io.write_images(list(figures.values()), paths, width=1100, height=500)
        return paths

    module.write_figures = as_png
    argv_before = sys.argv
    sys.argv = [name, *argv]
    try:
        module.main()
    finally:
        sys.argv = argv_before


def posterior() -> None:
    _example("posterior", [], "posterior")


def facts() -> None:
    _example("fact_capacity", ["--threads", "2"], "facts")


def rf_clocks() -> None:
    # The anchor sweep (their recipe): trains its run (about half an hour on a 2-core CPU), or
    # reuses it on a rerun.
    _example(
        "rf_clocks",
        ["--runs", str(ROOT / "runs" / "docs_figures"), "--sweeps", "anchor"],
        "rf_clocks",
    )


def fidelity() -> None:
    # The fidelity page's two figures, from the examples that measure them (about 15 minutes).
    _example("doshi_forgetting", ["--out", "unused"], "fidelity")
    widths = ["8", "16", "32", "64", "128", "512", "1024"]
    argv = ["--noise", "0.35", "--widths", *widths, "--wd", "0", "1", "--seeds", "0"]
    _example("width_raw", [*argv, "--log-every", "50", "--out", "unused"], "fidelity")


def agnostic() -> None:
    _example("agnostic_scale", ["--out", "unused"], "noise_frontier")


GUIDES = {
    "headline": label_noise,
    "rule_and_memory": label_noise,
    "two_clocks": two_clocks,
    "posterior": posterior,
    "facts": facts,
    "rf_clocks": rf_clocks,
    "fidelity": fidelity,
    "agnostic": agnostic,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(GUIDES), help="comma-separated guides")
    args = parser.parse_args()
    torch.set_num_threads(2)
    wanted = args.only.split(",")
    unknown = [g for g in wanted if g not in GUIDES]
    if unknown:
        parser.error(f"unknown guide {unknown[0]!r}; guides: {', '.join(GUIDES)}")
    IMG.mkdir(parents=True, exist_ok=True)
    for job in dict.fromkeys(GUIDES[g] for g in wanted):  # each job once
        start = time.perf_counter()
        job()
        print(f"{job.__name__}: {time.perf_counter() - start:.0f} s")
    print(f"wrote {IMG}")


if __name__ == "__main__":
    main()
