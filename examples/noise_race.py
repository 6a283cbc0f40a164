"""The race between wrong and clean labels, measured over seeds, and what decides it.

    python examples/noise_race.py [--out figures/noise_race] [--threads 2]

p 97, width 500, full-batch AdamW at lr 1e-3 (slow enough for the race to be resolved: at lr 1e-2
everything is fit within 20 steps), six seeds per noise level (0.1, 0.35, 0.6, 0.8) as one
ensemble, metrics every 2 steps. Prints, per noise level, the step at which 50% and 90% of the
wrong labels and of the clean training labels are fit (mean +- sd over seeds) and their ratio;
then, at noise 0.35 (checkpoints every 3 steps), the mean first-fit step of clean and of wrong
labels grouped by `repeats` (other training pairs in the same row or column with the same
label). Writes two figures. About two minutes on the 2-core CPU.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import plotly.graph_objects as go
import torch

import interp
from interp.figures import MODEL_COLORS
from interp.studies.label_noise.race import crossing_step, fit_steps, repeats

P, WIDTH, LR, STEPS, SEEDS = 97, 500, 1e-3, 150, [0, 1, 2, 3, 4, 5]
NOISES = (0.1, 0.35, 0.6, 0.8)
LEVELS = (0.5, 0.9)


def _train(noise: float, out: Path | None = None):
    task = interp.modular_task(p=P, noise=noise, seed=SEEDS)
    model = interp.MLP(interp.MLPConfig(p=P, width=WIDTH, models=len(SEEDS), seed=tuple(SEEDS)))
    cfg = interp.TrainConfig(steps=STEPS, lr=LR, log_every=2, save_every=3 if out else 0)
    return task, interp.train(model, task, cfg, out=out, device="cpu", progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the figures (HTML) here")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    print("| noise | level | wrong labels fit at | clean labels fit at | clean / wrong |")
    print("|---|---|---|---|---|")
    ratios = {level: [] for level in LEVELS}
    for noise in NOISES:
        _, result = _train(noise)
        m = result.metrics
        for level in LEVELS:
            wrong = crossing_step(m["train_noisy_acc"], m["step"], level)
            clean = crossing_step(m["train_clean_acc"], m["step"], level)
            ratio = clean / wrong
            ratios[level].append((ratio.mean().item(), ratio.std().item()))
            print(
                f"| {noise} | {level:.0%} | {wrong.mean():.1f} +- {wrong.std():.1f} "
                f"| {clean.mean():.1f} +- {clean.std():.1f} "
                f"| {ratio.mean():.3f} +- {ratio.std():.3f} |",
                flush=True,
            )
    with tempfile.TemporaryDirectory() as tmp:
        task, _ = _train(0.35, Path(tmp) / "run")
        first = fit_steps(interp.load_run(Path(tmp) / "run"))
    counts = repeats(task)
    groups = {"clean": task.train & ~task.noisy, "wrong": task.noisy}
    print("\nnoise 0.35: mean first-fit step by repeats in the label's row and column")
    print("| repeats | clean: labels | clean: step | wrong: labels | wrong: step |")
    print("|---|---|---|---|---|")
    bins = [(0, 0), (1, 1), (2, 2), (3, 10**6)]
    by_group = {name: [] for name in groups}
    for lo, hi in bins:
        cells = []
        for name, group in groups.items():
            sel = group & (counts >= lo) & (counts <= hi) & first.isfinite()
            mean = first[sel].mean().item() if sel.any() else float("nan")
            by_group[name].append(mean)
            cells += [f"{int(sel.sum())}", f"{mean:.1f}"]
        label = f"{lo}" if lo == hi else f">= {lo}"
        print(f"| {label} | " + " | ".join(cells) + " |")
    for name, group in groups.items():
        print(f"mean repeats of {name} labels: {counts[group].mean():.2f}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        fig = go.Figure()
        for k, level in enumerate(LEVELS):
            mean, sd = zip(*ratios[level])
            fig.add_trace(go.Scatter(
                x=list(NOISES), y=list(mean), error_y={"type": "data", "array": list(sd)},
                mode="lines+markers", name=f"{level:.0%} fit", line={"color": MODEL_COLORS[k]},
            ))  # fmt: skip
        fig.add_hline(y=1.0, line={"dash": "dot", "color": "gray"})
        fig.update_layout(
            title="Clean labels take longer: steps to fit clean / steps to fit wrong (6 seeds)",
            xaxis_title="label noise", yaxis_title="ratio of fit steps", template="plotly_white",
        )  # fmt: skip
        fig.write_html(args.out / "race_ratio.html")
        fig = go.Figure()
        names = ["0", "1", "2", ">= 3"]
        for k, (name, means) in enumerate(by_group.items()):
            fig.add_trace(go.Bar(x=names, y=means, name=f"{name} labels",
                                 marker={"color": MODEL_COLORS[k]}))  # fmt: skip
        fig.update_layout(
            title="What decides the race: labels repeated in their row or column fit first",
            xaxis_title="other training pairs in the same row or column with the same label",
            yaxis_title="mean first-fit step", barmode="group", template="plotly_white",
        )  # fmt: skip
        fig.write_html(args.out / "race_repeats.html")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
