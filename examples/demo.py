"""The demo: analyse a shipped noisy-label checkpoint, print its raw accuracies next to the
extracted ones, and write figures.

    python examples/demo.py [--run checkpoints/add_p97_noise080] [--out figures]

The network below was trained on (a + b) mod 97 with 80% of its training labels replaced by wrong
ones: it fits every wrong label and answers 1% of the test pairs right, yet projecting each neuron
onto its dominant frequency removes the memorized part and keeps the rule. `--run
checkpoints/doshi_p97_noise035_wd0` shows the same at 35% noise (Doshi et al.'s coexistence phase).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import interp
from interp.figures import write_figures
from interp.studies.label_noise import fourier_plots, plots

DEFAULT_RUN = Path(__file__).resolve().parent.parent / "checkpoints" / "add_p97_noise080"
NAMES = {
    "raw": "raw network",
    "neuron": "extract: neuron",
    "key": "extract: key",
    "logits": "extract: logits",
    "baseline": "labels only: per class",
    "pooled baseline": "labels only: pooled",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN, help="run folder to analyse")
    parser.add_argument("--out", type=Path, default=Path("figures"), help="folder for figures")
    args = parser.parse_args()
    start = time.perf_counter()

    run = interp.load_run(args.run)
    task, model = run.task, run.model()
    cfg, tcfg = run.config["model"], run.config["train"]
    print(f"run       {run.path}")
    print(
        f"task      (a {task.config.op} b) mod {task.p}, train fraction "
        f"{task.config.train_fraction[0]}, label noise {task.config.noise[0]}"
    )
    print(
        f"model     width {cfg['width']}, act {cfg['act']}, init {cfg['init']}; "
        f"{tcfg['optimizer']} lr {tcfg['lr'][0]} wd {tcfg['weight_decay'][0]}, "
        f"{tcfg['steps']} full-batch steps ({tcfg['loss']})"
    )
    print(f"command   {run.config.get('command')}\n")

    results = {NAMES[k]: v for k, v in interp.compare_extraction(model, task).items()}

    print(f"{'':<24}{'train':>8}{'train-clean':>13}{'train-noisy':>13}{'test':>8}")
    for name, acc in results.items():
        print(
            f"{name:<24}{acc.train[0]:>8.3f}{acc.train_clean[0]:>13.3f}"
            f"{acc.train_noisy[0]:>13.3f}{acc.test[0]:>8.3f}"
        )
    print("(train-noisy: agreement with the *wrong* training labels; lower = less memorized.)")
    print("(labels only: no network. 'logits' fits one function of (a + b - c) to the network's")
    print(" outputs, which pools the labels of every class: it scores what the pooled vote of the")
    print(" labels scores and proves nothing about the weights; see")
    print(" interp/studies/label_noise/extraction.py.)")

    spectrum = interp.extract_frequencies(model)
    clean_spectrum = interp.extract_frequencies(interp.extract(model))
    print(
        f"\nneurons: median IPR {spectrum.ipr.median():.3f} raw -> "
        f"{clean_spectrum.ipr.median():.3f} extracted; "
        f"{len(spectrum.key_frequencies(0))} key frequencies of {spectrum.power.shape[-1]}"
    )

    # Extracted test accuracy at every saved step, beside the training curves.
    steps, curve = interp.extraction_curve(run, methods=["neuron"])
    extracted_test = curve["neuron"].test[:, 0]
    figures = {
        "spectrum_raw": fourier_plots.spectrum_heatmap(
            spectrum, title="Raw network: power per frequency"
        ),
        "spectrum_extracted": fourier_plots.spectrum_heatmap(
            clean_spectrum, title="Extracted network: one frequency per neuron"
        ),
        "dominant_share": fourier_plots.dominant_share(spectrum),
        "ipr": fourier_plots.ipr_histogram(spectrum),
        "training": plots.training_curves(
            run.metrics, extracted=(torch.tensor(steps), extracted_test)
        ),
        "extraction": plots.extraction_bars(results),
    }
    paths = write_figures(figures, args.out)
    print(
        "\nextracted test accuracy over training: "
        + ", ".join(f"{s}: {a:.2f}" for s, a in zip(steps, extracted_test.tolist()))
    )
    print(f"wrote {len(paths)} figures to {args.out}/ in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
