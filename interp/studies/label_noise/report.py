"""One HTML page per run: every figure of one model's analyses, readable offline.

    interp report checkpoints/add_p97_noise080 --out reports/add_p97_noise080

writes `report.html` and one `plotly.min.js` beside it (the page loads it once; every figure is a
div), and with kaleido >= 1 and a Chromium or Chrome also `png/<figure>.png` per figure. The page
holds the run's setup, a table of raw against extracted accuracies, and one section per figure:
training (with the extracted test accuracy at every saved step), extraction methods, the Fourier
view (spectra, phases, dominant share, IPR), the logit circuit of all neurons and of the most
periodic ones, the partitions (ablations scored on the run's own training loss) and their
kept-fraction curves, and linear probes of the hidden activations at a few saved steps.

`build_report` analyses a run into figures in memory; `write_report` writes the page (both
have runnable examples).
"""

from __future__ import annotations

import html
import importlib.metadata
import importlib.util
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io
import plotly.offline
import torch
from torch import Tensor

import probes
from interp.core.device import resolve_device
from interp.core.hooks import cache_activations
from interp.core.metrics import Accuracies
from interp.core.runs import Run, load_run
from interp.figures import lines
from interp.fourier import Spectrum, extract_frequencies, group_labels
from interp.models.mlp import MLP
from interp.studies.label_noise import fourier_plots, plots
from interp.studies.label_noise.circuit import logit_circuit
from interp.studies.label_noise.extraction import compare_extraction, extraction_curve
from interp.studies.label_noise.partition import (
    IPR_KEEP,
    KEPT_FRACTIONS,
    PARTITION_METHODS,
    kept_fraction_curve,
    partition_neurons,
)
from interp.tasks.modular import ModularTask

__all__ = ["Report", "Section", "build_report", "write_report", "png_browser", "PROBE_STEPS"]

PROBE_STEPS = 5  # saved steps the rule probe reads: one linear fit per step
PLOTLY_JS = "plotly.min.js"
# figure id -> height in pixels; the others get 450
HEIGHTS = {"spectrum": 700, "circuit": 800, "circuit_periodic": 800}
METHOD_COLORS = ("#1f77b4", "#2ca02c", "#9467bd")  # one per partition method
PNG_HINT = "pip install kaleido, and apt-get install -y chromium or set BROWSER_PATH"
PARTITION_TEXT = {
    "heldout": "Task-agnostic: removing a neuron raises the training loss on held-out examples "
    "(y) and on the training set (x); above the diagonal it serves the held-out examples more, "
    "so it is called general.",
    "labels": "With the noisy mask known: the loss rise on clean (y) against noisy (x) training "
    "examples when the neuron is removed; above the diagonal it serves the clean labels more.",
    "ipr": f"Doshi et al.'s split: the {IPR_KEEP:.0%} of neurons with the highest IPR (the most "
    "periodic) are called general.",
}
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1150px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin: 2em 0 0.3em; border-bottom: 1px solid #ddd; }
code { font-size: 0.85em; background: #f4f4f4; padding: 0.1em 0.3em; word-break: break-all; }
nav a { margin-right: 0.9em; white-space: nowrap; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.25em 0.9em; text-align: right; border-bottom: 1px solid #e4e4e4; }
th:first-child, td:first-child { text-align: left; }
.meta { color: #555; margin: 0.2em 0; }
"""


@dataclass
class Section:
    """One figure of the report: its id (the div is `figure-<id>`, the PNG `<id>.png`), a
    heading and a sentence saying what it shows."""

    id: str
    heading: str
    text: str
    figure: go.Figure


@dataclass
class Report:
    """Everything on one report page: the run, the model, the accuracy table (method ->
    `Accuracies` `[1]`) and the figures in page order."""

    run: Run
    model: int
    table: dict[str, Accuracies]
    sections: list[Section]

    def write(self, out: str | Path, png: bool = True) -> Path:
        """Write `out/report.html` and `out/plotly.min.js` (overwritten), and with `png` also
        `out/png/<id>.png` per figure when kaleido and a browser are there (else print one line
        saying how to get them). Returns the path of `report.html`."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / PLOTLY_JS).write_text(plotly.offline.get_plotlyjs(), encoding="utf-8")
        page = out / "report.html"
        page.write_text(_page(self), encoding="utf-8")
        if png:
            browser = png_browser()
            if isinstance(browser, Path):
                _write_pngs(self.sections, out / "png")
            else:
                print(f"png: skipped ({browser}); for PNGs: {PNG_HINT}")
        return page


def build_report(
    run: Run | str | Path,
    model: int = 0,
    probe_steps: int = PROBE_STEPS,
    device: str | torch.device = "auto",
) -> Report:
    """Analyse one model of a run at its last saved step, for `Report.write`.

    Args:
        run: a run folder or `Run` of `MLP`s with logged metrics.
        model: which model of the ensemble.
        probe_steps: how many saved steps (spread over training, the last included) the rule
            probe reads.
        device: where the analyses run ("auto": CUDA when present).

    Returns:
        A `Report` whose sections hold every figure (ids: training, extraction, spectrum,
        phases, dominant_share, ipr, circuit, circuit_periodic, partition_<method>,
        kept_fraction, frequency_probe, rule_probe).

    Examples:
        >>> mlp = interp.MLP(interp.MLPConfig(p=23, width=64, seed=0))      # a small run
        >>> noisy = interp.modular_task(p=23, noise=0.2, seed=0)
        >>> run = interp.train(mlp, noisy, interp.TrainConfig(steps=300, save_log=3),
        ...                    tmp / "run", device="cpu", progress=False).run
        >>> report = build_report(run, probe_steps=2, device="cpu")
        >>> {name: round(float(acc.test[0]), 1) for name, acc in report.table.items()}
        {'raw': 0.0, 'neuron': 0.8, 'key': 0.0, 'logits': 1.0, 'baseline': 1.0,
         'pooled baseline': 1.0}
        >>> [section.id for section in report.sections][:3]
        ['training', 'extraction', 'spectrum']
        >>> report.sections[0].text.split("(")[-1]      # the training curves' caption ends
        'best 0.989, at step 17).'
    """
    run = run if isinstance(run, Run) else load_run(run)
    models = run.config["model"].get("models", 1)
    if not 0 <= model < models:
        raise ValueError(f"model={model} is out of range: {run.path} holds models 0..{models - 1}")
    if probe_steps < 1:
        raise ValueError(f"probe_steps={probe_steps} must be >= 1")
    if not run.metrics:
        raise ValueError(f"{run.path} has no logged metrics; the report needs a trained run")
    if run.kind != "mlp":
        raise ValueError(f"{run.path} holds a {run.kind!r} model; the report needs an MLP run")
    device = resolve_device(device)
    net = run.model(device=device)
    net, task = net.select([model]), run.task.select([model])
    at = f"model {model}, step {run.steps[-1]}"

    table = compare_extraction(net, task)
    steps, curve = extraction_curve(run, device=device)  # every saved step, every model
    spectrum = extract_frequencies(net, op=task.config.op)
    sections = [
        *_training_sections(run, model, steps, curve, table),
        *_fourier_sections(net, task, spectrum, at),
        *_partition_sections(net, task, run.config["train"]["loss"], at),
        *_probe_sections(
            run, model, spectrum, steps, curve["raw"].test[:, model], probe_steps, device
        ),
    ]
    return Report(run, model, table, sections)


def write_report(
    run: Run | str | Path,
    out: str | Path,
    model: int = 0,
    probe_steps: int = PROBE_STEPS,
    png: bool = True,
    device: str | torch.device = "auto",
) -> Path:
    """`build_report(run, model, probe_steps, device).write(out, png)`: the report page of one
    model.

    Args:
        run: a run folder or `Run` of `MLP`s with logged metrics.
        out: the report folder, created if needed (an existing file there is refused before
            the analyses run).
        model: which model of the ensemble.
        probe_steps: saved steps the rule probe reads.
        png: also write PNGs when kaleido and a browser are there (see `Report.write`).
        device: where the analyses run ("auto": CUDA when present).

    Returns:
        The path of `report.html`.

    Examples:
        >>> task = interp.modular_task(p=23, noise=0.2, seed=0)      # a small run, 20% noise
        >>> model = interp.MLP(interp.MLPConfig(p=23, width=64, seed=0))
        >>> config = interp.TrainConfig(steps=300, save_log=3)
        >>> run = interp.train(model, task, config, tmp / "run", device="cpu", progress=False).run
        >>> page = write_report(run, tmp / "report", png=False)
        >>> page.relative_to(tmp).as_posix(), page.stat().st_size > 100_000
        ('report/report.html', True)
    """
    if Path(out).exists() and not Path(out).is_dir():  # fail before the analyses run
        raise ValueError(f"out={out} is a file; the report needs a folder")
    return build_report(run, model, probe_steps, device).write(out, png)


def png_browser() -> Path | str:
    """The browser kaleido would drive to render PNGs, or a phrase saying what is missing.

    kaleido >= 1 drives a Chromium-based browser through choreographer, which looks at the
    `BROWSER_PATH` environment variable, then a browser kaleido downloaded (`kaleido_get_chrome`),
    then `chromium`, `google-chrome`, ... on the PATH and their usual places (/usr/bin/chromium).
    """
    if importlib.util.find_spec("kaleido") is None:
        return "kaleido is not installed"
    version = importlib.metadata.version("kaleido")
    if int(version.split(".")[0]) < 1:
        return f"kaleido {version} is too old (plotly needs kaleido >= 1)"
    from choreographer.browsers.chromium import Chromium

    found = Chromium.find_browser(skip_local=False)
    return Path(found) if found else "no Chromium or Chrome found"


def _write_pngs(sections: list[Section], folder: Path) -> None:
    """One PNG per figure, all in one browser session."""
    folder.mkdir(parents=True, exist_ok=True)
    plotly.io.write_images(
        [s.figure for s in sections],
        [folder / f"{s.id}.png" for s in sections],
        width=1100,
        height=[HEIGHTS.get(s.id, 450) for s in sections],
    )


# ---------------------------------------------------------------------------------------------
# sections


def _training_sections(
    run: Run, model: int, steps: list[int], curve: dict[str, Accuracies], table: dict
) -> list[Section]:
    extracted = curve["neuron"].test[:, model]  # [steps]
    best = int(extracted.argmax())
    training = plots.training_curves(run.metrics, model, extracted=(torch.tensor(steps), extracted))
    bars = plots.extraction_bars(table)
    bars.update_layout(title=f"Accuracy by extraction method, model {model}, step {steps[-1]}")
    return [
        Section(
            "training",
            "Training",
            "Accuracy against step on the clean and noisy training labels and the test set; "
            "markers: the test accuracy of the network extracted by per-neuron frequency "
            f"projection at each saved step (best {float(extracted[best]):.3f}, "
            f"at step {steps[best]}).",
            training,
        ),
        Section(
            "extraction",
            "Extraction methods",
            "The raw network beside each extraction method and the two labels-only baselines, "
            "which are what the 'logits' method gets from the labels alone, with no network.",
            bars,
        ),
    ]


def _fourier_sections(net: MLP, task: ModularTask, spectrum: Spectrum, at: str) -> list[Section]:
    ipr = fourier_plots.ipr_histogram(spectrum)
    ipr.update_layout(title=f"Inverse participation ratio per neuron, {at}", showlegend=False)
    keys = spectrum.key_frequencies(0)
    periodic = partition_neurons(net, task, "ipr").general  # [1, neurons]
    n_periodic = int(periodic.sum())
    return [
        Section(
            "spectrum",
            "Neuron spectra",
            "Each neuron's Fourier power over the frequencies of U, V and W together, as shares "
            "of its total, sorted by dominant frequency. Key frequencies "
            f"({len(keys)} of {spectrum.power.shape[-1]}): {_list(keys)}.",
            fourier_plots.spectrum_heatmap(spectrum, 0, title=f"Neuron spectra, {at}"),
        ),
        Section(
            "phases",
            "Frequencies and phases",
            "Every neuron at its dominant frequency and its phase there in U, V and W; larger, "
            "brighter markers put more of their power on that one frequency.",
            fourier_plots.neuron_phase_map(
                spectrum, 0, title=f"Neuron frequencies and phases, {at}"
            ),
        ),
        Section(
            "dominant_share",
            "Dominant frequencies",
            "How much of the network each frequency dominates (each neuron votes with the power "
            "on its dominant frequency); red: the key frequencies.",
            fourier_plots.dominant_share(spectrum, 0, title=f"Share of dominant power, {at}"),
        ),
        Section(
            "ipr",
            "Periodicity (IPR)",
            "Per-neuron inverse participation ratio: 1 for a single pure frequency, near "
            f"1/(F+1) for noise. Median {float(spectrum.ipr[0].median()):.3f}.",
            ipr,
        ),
        Section(
            "circuit",
            "Logit circuit",
            "Neurons grouped by dominant frequency (largest groups on top) and the sum of each "
            "group's read-out weights over the output residue c: a group that carries the rule "
            "writes a clean wave at its own frequency.",
            plots.logit_circuit(
                logit_circuit(net, spectrum, op=task.config.op),
                0,
                title=f"Logit circuit, all neurons, {at}",
            ),
        ),
        Section(
            "circuit_periodic",
            "Logit circuit of the periodic neurons",
            f"The same for the {n_periodic} most periodic neurons only (the general side of the "
            "'ipr' partition), so that memorizing neurons sharing a dominant frequency do not "
            "drown its wave.",
            plots.logit_circuit(
                logit_circuit(net, spectrum, keep=periodic, op=task.config.op),
                0,
                title=f"Logit circuit, the {n_periodic} highest-IPR neurons, {at}",
            ),
        ),
    ]


def _partition_sections(net: MLP, task: ModularTask, loss: str, at: str) -> list[Section]:
    """A section per partition method, its ablations scored on `loss` (the run's training
    loss: what removing a neuron costs the objective the network fit), and the kept-fraction
    curves of all methods."""
    sections, kept = [], {}
    for method in PARTITION_METHODS:
        part = partition_neurons(net, task, method, loss=loss)
        general = int(part.general.sum())
        sections.append(
            Section(
                f"partition_{method}",
                f"Partition: {method}",
                f"{PARTITION_TEXT[method]} {general} of {net.cfg.width} neurons are general.",
                plots.partition_scores(part, 0, title=f"Partition by {method!r}, {at}"),
            )
        )
        curve = kept_fraction_curve(net, task, part)
        kept[f"{method}: test"] = curve.test[:, 0].tolist()
        if task.noisy.any():
            kept[f"{method}: train noisy"] = curve.train_noisy[:, 0].tolist()
    figure = lines(
        KEPT_FRACTIONS,
        kept,
        xlabel="kept fraction of neurons (highest scores first)",
        ylabel="accuracy",
        title=f"Accuracy against kept fraction of neurons, {at}",
        log_x=False,
    )
    # One colour per method; test solid, train noisy dotted.
    for trace in figure.data:
        method, metric = trace.name.split(": ")
        color = METHOD_COLORS[PARTITION_METHODS.index(method)]
        trace.update(line={"color": color, "dash": "solid" if metric == "test" else "dot"})
    text = (
        "Accuracy of the network pruned to its highest-scoring neurons, for each partition "
        "method's score (test on the examples the method did not look at): how concentrated "
        "the rule and the memory are."
    )
    return [*sections, Section("kept_fraction", "Kept fraction", text, figure)]


def _probe_sections(
    run: Run,
    model: int,
    spectrum: Spectrum,
    steps: list[int],
    network_test: Tensor,
    probe_steps: int,
    device: torch.device,
) -> list[Section]:
    """Probes of one model's hidden activations: the frequency probe at the last step and the
    rule probe at `probe_steps` saved steps beside `network_test` `[steps]`."""
    task = run.task.select([model])
    labels, train = task.labels.numpy(), task.train[0].numpy()

    def features(step: int) -> np.ndarray:
        net = run.model(step, device=device).select([model])
        return cache_activations(net, task, "hook_post")["hook_post"][0].cpu().numpy()

    last = steps[-1]
    # Over the op's group: the discrete log of s for multiplicative ops (rows with s = 0 left out).
    values, kept, n = (
        t.numpy() if hasattr(t, "numpy") else t
        for t in group_labels(task.labels, task.p, task.config.op)
    )
    freq = probes.frequency_probe(features(last)[kept], values, n, train[kept])
    best = int(np.argmax(freq.r2))
    chosen = _spread(steps, probe_steps)
    rule = [probes.rule_probe(features(s), labels, train).score for s in chosen]
    network = [float(network_test[steps.index(s)]) for s in chosen]
    return [
        Section(
            "frequency_probe",
            "Frequency probe",
            "Held-out R^2 of a linear probe from the hidden activations to cos and sin of "
            f"2 pi f s / p, s the true result, at step {last} (best: f = "
            f"{int(freq.frequencies[best])}, R^2 {float(freq.r2[best]):.3f}); red: the key "
            "frequencies of the weights.",
            plots.probe_r2(
                freq.frequencies,
                freq.r2,
                key=spectrum.key_frequencies(0),
                title=f"Frequency probe on the hidden activations, model {model}, step {last}",
            ),
        ),
        Section(
            "rule_probe",
            "Rule probe",
            "Held-out accuracy of a linear probe from the hidden activations to the true result, "
            f"at {len(chosen)} saved steps, beside the network's own test accuracy: where the "
            "probe is above the network, the rule is readable inside a network whose output "
            "does not use it.",
            lines(
                chosen,
                {"rule probe (held-out)": rule, "network test": network},
                xlabel="step",
                ylabel="accuracy",
                title=f"Rule probe against the network, model {model}",
            ),
        ),
    ]


# ---------------------------------------------------------------------------------------------
# helpers


def _spread(steps: list[int], k: int) -> list[int]:
    """`k` of the positive saved steps (all steps when none is positive), evenly by index so
    log-spaced checkpoints stay log-spaced, the last always included."""
    pool = [s for s in steps if s > 0] or steps
    if k >= len(pool):
        return pool
    if k == 1:
        return [pool[-1]]
    return [pool[round(i * (len(pool) - 1) / (k - 1))] for i in range(k)]


def _list(values: list[int]) -> str:
    return ", ".join(map(str, values)) if values else "none"


def _page(report: Report) -> str:
    run, model, sections = report.run, report.model, report.sections
    task, cfg, train = run.task.config, run.config["model"], run.config["train"]
    name = run.path.name or str(run.path)
    setup = (
        f"(a {task.op} b) mod {task.p}, train fraction {task.train_fraction[model]}, "
        f"label noise {task.noise[model]}; width {cfg['width']}, act {cfg['act']}, init "
        f"{cfg['init']}; {train['optimizer']} lr {_at(train['lr'], model)}, weight decay "
        f"{_at(train['weight_decay'], model)}, {train['steps']} steps ({train['loss']} loss); "
        f"saved steps {run.steps[0]}..{run.steps[-1]} ({len(run.steps)})."
    )
    command = run.config.get("command")
    head = [f.name for f in fields(Accuracies)]
    rows = "".join(
        f"<tr><td>{html.escape(method)}</td>"
        + "".join(f"<td>{float(getattr(acc, f)[0]):.3f}</td>" for f in head)
        + "</tr>\n"
        for method, acc in report.table.items()
    )
    nav = " ".join(f'<a href="#{s.id}">{html.escape(s.heading)}</a>' for s in sections)
    body = "\n".join(
        f'<section id="{s.id}">\n<h2>{html.escape(s.heading)}</h2>\n'
        f"<p>{html.escape(s.text)}</p>\n"
        + s.figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"figure-{s.id}",
            default_height=HEIGHTS.get(s.id, 450),
            config={"responsive": True},
        )
        + "\n</section>"
        for s in sections
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>interp report: {html.escape(name)}, model {model}</title>
<script src="{PLOTLY_JS}"></script>
<style>{STYLE}</style>
</head>
<body>
<h1>{html.escape(name)}, model {model}</h1>
<p class="meta">{html.escape(str(run.path))}: {html.escape(setup)}</p>
{f'<p class="meta">command: <code>{html.escape(command)}</code></p>' if command else ""}
<nav>{nav}</nav>
<h2 id="accuracies">Accuracies at step {run.steps[-1]}</h2>
<p>Raw network against the networks extracted from its weights and the labels-only baselines
(train noisy: fit to the noisy labels, so low is good for an extracted network).</p>
<table>
<tr><th>network</th>{"".join(f"<th>{f.replace('_', ' ')}</th>" for f in head)}</tr>
{rows}</table>
{body}
</body>
</html>
"""


def _at(values: list | float, model: int) -> float:
    """A training hyperparameter of one model: a list holds one per model, or one for all."""
    if not isinstance(values, list):
        return values
    return values[model] if len(values) > 1 else values[0]
