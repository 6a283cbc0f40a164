"""Pull the generalizing structure out of a trained network, by frequency.

Methods (`interp.extract(model, method=...)`):
- "neuron" (default): project every neuron's U[k], V[k] and W[:, k] onto its own dominant
  frequency. Weight space: the extracted network computes every output from its own weights,
  which come from the trained weights alone.
- "key": project every weight row onto the model's key frequencies (shared by all neurons).
  Weight space too.
- "logits": Nanda et al.'s restricted logits: keep only the cos/sin(2 pi f (s - c) / p)
  components of the logit table, s = a op b, for the key frequencies f.
- "agnostic": told nothing (no op, no Fourier basis): find the group law in the weights
  (`agnostic.find_group_law`), then "neuron" over the found labels. Slower (a search: about a
  second per model at p 31, 7-15 s at p 97 on two CPU cores) and limited to where the rule
  outweighs the memorized labels in pooled votes (docs/noise_frontier.md).

A trap (see DESIGN.md): "logits" fits one function of (s - c) to the network's whole logit
table, so it averages the outputs along each symmetry class (all pairs with the same s) and then
pools all classes into one shared profile. For a network that merely memorized its labels it
returns what the labels give with no help from the weights: `symmetry_baseline(task)` (majority
label per class) and `symmetry_baseline(task, pooled=True)` (the most common offset label - s over
all pairs; the rule itself while clean labels outnumber each wrong offset, even at 95% noise).
Read "logits" next to both; `compare_extraction` reports them side by side.

Examples:
    A network that fit 80% wrong training labels:
    >>> from interp.studies import label_noise
    >>> run = interp.load_run("checkpoints/add_p97_noise080")
    >>> model, task = run.model(), run.task
    >>> interp.evaluate(model, task).test                 # [models]: the raw network
    tensor([0.0106])
    >>> clean = interp.extract(model)                     # same shapes, hooks and I/O as model
    >>> interp.evaluate(clean, task).test
    tensor([0.9911])
    >>> interp.evaluate(interp.extract(model, "logits", op="add"), task).test
    tensor([1.])
    >>> label_noise.symmetry_baseline(task, pooled=True).test  # what "logits" gets for free
    tensor([1.])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import torch
from jaxtyping import Bool
from torch import Tensor, nn

from interp.core.device import resolve_device
from interp.core.metrics import Accuracies, accuracies, evaluate
from interp.core.runs import Run, load_run
from interp.fourier import extract_frequencies, over_group, project_onto_frequencies
from interp.models.mlp import MLP
from interp.models.restricted import RestrictedLogits
from interp.studies.label_noise.agnostic import find_group_law, project_over_law
from interp.tasks.modular import OPS, ModularTask, group_order

__all__ = [
    "EXTRACTION_METHODS",
    "FOURIER_METHODS",
    "extract",
    "compare_extraction",
    "extraction_curve",
    "symmetry_baseline",
    "prune",
]

EXTRACTION_METHODS = ("neuron", "key", "logits", "agnostic")
# What `compare_extraction` and `extraction_curve` run unless told: the Fourier methods.
FOURIER_METHODS = ("neuron", "key", "logits")
# Hidden neurons analysed in one batched call of `extraction_curve` (64 models of width 500).
CURVE_CHUNK_NEURONS = 64 * 500


def extract(
    model: MLP,
    method: str = "neuron",
    *,
    op: str | None = None,
    key_threshold: float = 0.5,
    progress: bool = False,
) -> nn.Module:
    """Extract the frequency structure of every model of an ensemble.

    Args:
        model: a trained `MLP` (any number of models).
        method: "neuron" (per-neuron dominant-frequency projection, default), "key" (projection
            onto the key frequencies), "logits" (restricted logits; needs `op`), or "agnostic"
            (per-neuron projection over a group law found in the weights; ignores `op`).
        op: the task's operation. Needed for "logits". For the Fourier methods it picks
            the group whose waves to look for: "multiply" and "divide" are addition of discrete
            logs, so their weights are read over the exponent (`group_order`; residue 0, outside
            the group, is kept as trained); every other op (or None) over the residue.
        key_threshold: passed to `extract_frequencies` for "key" and "logits".
        progress: a bar over the "agnostic" method's search (seconds at p 97; the other
            methods take well under a second).

    Returns:
        For "neuron", "key" and "agnostic", an `MLP` with the same config and projected weights
        `U`, `V` `[models, neurons, p]`, `W` `[models, p, neurons]` (biases kept); for "logits", a
        `RestrictedLogits`. Both evaluate, hook and save like any interp model.
    """
    if method not in EXTRACTION_METHODS:
        raise ValueError(f"method {method!r} is not one of {', '.join(EXTRACTION_METHODS)}")
    if not isinstance(model, MLP):
        raise TypeError(f"extract takes an interp MLP; got {type(model).__name__}")
    if op is not None and op not in OPS:
        raise ValueError(f"op {op!r} is not one of {', '.join(OPS)}")
    if method == "agnostic":
        return project_over_law(model, find_group_law(model, progress=progress))
    if method == "logits":
        if op is None:
            raise ValueError(f"method 'logits' needs op= one of {', '.join(OPS)}")
        spectrum = extract_frequencies(model, key_threshold=key_threshold)
        return RestrictedLogits.from_model(model, op, spectrum.key)
    weights = model.weights()
    # Every neuron's rows indexed by residue: U[k], V[k] and W[:, k], each [models, neurons, p],
    # read over the op's group (`over_group`: the discrete log for multiplicative ops).
    residue = {"U": weights["U"], "V": weights["V"], "W": weights["W"].transpose(1, 2)}
    spectrum = extract_frequencies(model, key_threshold=key_threshold, op=op)
    # One frequency per neuron ([models, neurons]) or a key mask per model ([models, 1, F]).
    freqs = spectrum.dominant if method == "neuron" else spectrum.key[:, None, :]
    order = group_order(model.cfg.p, op) if op is not None else None
    clean = {}
    for name, row in residue.items():
        projected = project_onto_frequencies(over_group(row, op), freqs)
        if order is None:
            clean[name] = projected
        else:  # back to residue order; residue 0, outside the group, keeps its trained weights
            clean[name] = row.clone().index_copy_(-1, order.to(row.device), projected)
    weights["U"], weights["V"], weights["W"] = clean["U"], clean["V"], clean["W"].transpose(1, 2)
    return MLP(model.cfg, model.device, weights)


def compare_extraction(
    model: MLP, task: ModularTask, methods: Sequence[str] = FOURIER_METHODS
) -> dict[str, Accuracies]:
    """The raw network beside each extraction method and the labels-only baseline.

    Args:
        model: a trained `MLP` ensemble with `task.models` models.
        task: the task it trained on (its split and noisy labels).
        methods: extraction methods to run, in order.

    Returns:
        `{"raw": ..., <method>: ..., "baseline": ..., "pooled baseline": ...}`, each
        `Accuracies` `[models]`; the baselines are `symmetry_baseline` per class and pooled.

    Examples:
        >>> run = interp.load_run("checkpoints/add_p97_noise080")   # 80% wrong labels
        >>> table = interp.compare_extraction(run.model(), run.task)
        >>> {name: round(float(acc.test[0]), 3) for name, acc in table.items()}
        {'raw': 0.011, 'neuron': 0.991, 'key': 0.014, 'logits': 1.0, 'baseline': 1.0,
         'pooled baseline': 1.0}
    """
    table = {"raw": evaluate(model, task)}
    for method in methods:
        table[method] = evaluate(extract(model, method, op=task.config.op), task)
    table["baseline"] = symmetry_baseline(task)
    table["pooled baseline"] = symmetry_baseline(task, pooled=True)
    return table


def extraction_curve(
    run: Run | str | Path,
    methods: Sequence[str] = ("neuron",),
    steps: Sequence[int] | None = None,
    device: str | torch.device = "auto",
    stack: int | None = None,
) -> tuple[list[int], dict[str, Accuracies]]:
    """`compare_extraction` at every saved step of a run: when does the rule come out?

    Args:
        run: a run folder or `Run`.
        methods: extraction methods to run at each step.
        steps: saved steps to use (default: all of them).
        device: where the analyses run ("auto": CUDA when present).
        stack: checkpoints analysed side by side in one batched call (default: 1 on a CPU,
            where the forwards over the p^2 table are bound by compute and cache, else enough
            for 32,000 hidden neurons); the same numbers for any value.

    Returns:
        `(steps, table)` with the keys of `compare_extraction`, each `Accuracies` with fields
        `[steps, models]` (on the CPU).

    Examples:
        >>> steps, curve = interp.extraction_curve("checkpoints/add_p97_noise080",
        ...                                        steps=[25, 100, 1000], device="cpu")
        >>> curve["raw"].test[:, 0]     # test accuracy of model 0 over training
        tensor([0.0074, 0.0070, 0.0106])
        >>> curve["neuron"].test[:, 0]  # the same network, extracted
        tensor([0.9998, 1.0000, 0.9911])
    """
    run = run if isinstance(run, Run) else load_run(run)
    steps = run.saved(steps)  # before any work starts
    device = resolve_device(device)
    task = run.task.to(device)
    models = task.models
    # Checkpoints side by side along the models axis: a chunk of `stack` steps is one ensemble
    # of stack x models models, analysed in one batched call (per-model analyses, so the same
    # numbers as step by step).
    if stack is None:  # a CPU is fastest step by step (measured: 0.8x stacked)
        width = run.config["model"]["width"]
        stack = 1 if device.type == "cpu" else max(1, CURVE_CHUNK_NEURONS // (models * width))
    parts: dict[str, list[Tensor]] = {}
    for chunk, ensemble in run.stacked(steps, stack, device):
        table = compare_extraction(ensemble, task.select(list(range(models)) * len(chunk)), methods)
        for name, acc in table.items():
            parts.setdefault(name, []).append(
                torch.stack([getattr(acc, f.name).reshape(len(chunk), models) for f in fields(acc)])
            )
    return steps, {
        name: Accuracies(*torch.cat(chunks, dim=1).to("cpu")) for name, chunks in parts.items()
    }


def symmetry_baseline(
    task: ModularTask, models: Sequence[int] | None = None, pooled: bool = False
) -> Accuracies:
    """The labels-only baselines of the "logits" method: no network at all.

    Per class (default): every pair is predicted as the majority *training* label (noisy labels
    included) among the training pairs of its symmetry class (same clean result s = a op b); ties
    go to the smaller label, and classes without training pairs are predicted wrong.

    Pooled (`pooled=True`): the restricted logits are one function of (s - c) shared by every
    class, fitted on all pairs at once, so they pool the labels of all classes. The pooled baseline
    does the same from labels alone: it finds the most common offset d = (label - s) mod p over
    all training pairs and predicts s + d for every pair. While clean labels outnumber each single
    wrong offset (noise < 1 - 1/p for uniform wrong labels) that is d = 0 and the rule itself.

    Returns:
        `Accuracies` `[models]` of that prediction.
    """
    task = task.select(models) if models is not None else task
    p, m = task.p, task.models
    device = task.train.device
    cls = task.labels.expand(m, -1)
    rows = torch.arange(m, device=device)[:, None].expand_as(cls)[task.train]
    if pooled:
        offsets = torch.zeros(m, p, device=device)  # [models, offset]
        flat = ((task.train_labels - cls) % p)[task.train]
        offsets.index_put_((rows, flat), torch.ones_like(flat, dtype=torch.float), accumulate=True)
        return accuracies((cls + offsets.argmax(-1, keepdim=True)) % p, task)
    counts = torch.zeros(m, p, p, device=device)  # [models, class s, label]
    flat = (cls * p + task.train_labels)[task.train]
    counts.view(m, -1).index_put_(
        (rows, flat), torch.ones_like(flat, dtype=torch.float), accumulate=True
    )
    majority = counts.argmax(-1)  # argmax returns the first (smallest) label on ties
    seen = counts.sum(-1) > 0
    pred = torch.where(seen, majority, torch.full_like(majority, -1)).gather(1, cls)
    return accuracies(pred, task)


def prune(model: MLP, keep: Bool[Tensor, "models neurons"]) -> MLP:
    """Zero every neuron not in `keep` (its U, V rows, W column and input bias).

    Args:
        model: an `MLP` ensemble.
        keep: `[models, neurons]` bool, the neurons to keep.

    Returns:
        A new `MLP` with the same config.

    Examples:
        Doshi et al.: drop the 70% least periodic neurons:
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")  # 35% wrong labels
        >>> ipr = interp.extract_frequencies(run.model()).ipr            # [models, neurons]
        >>> pruned = prune(run.model(), ipr >= ipr.quantile(0.7, dim=1, keepdim=True))
        >>> int((pruned.W != 0).any(1).sum())                             # neurons left
        150
        >>> print(interp.evaluate(pruned, run.task))       # the rule kept, the noise dropped
        model   train  train-clean  train-noisy    test
            0   0.650        1.000        0.000   1.000
    """
    shape = (model.cfg.models, model.cfg.width)
    if tuple(keep.shape) != shape or keep.dtype != torch.bool:
        raise ValueError(f"keep must be a bool mask {shape}; got {keep.dtype} {tuple(keep.shape)}")
    keep = keep.to(model.device)
    weights = model.weights()
    weights["U"] = weights["U"] * keep[..., None]
    weights["V"] = weights["V"] * keep[..., None]
    weights["W"] = weights["W"] * keep[:, None, :]
    if "b_in" in weights:
        weights["b_in"] = weights["b_in"] * keep
    return MLP(model.cfg, model.device, weights)
