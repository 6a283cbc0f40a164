"""Generate from generative runs and score the strings over training: the data of both clocks.

`generate(model, samples)` draws strings from any generative ensemble (a `DiT` with the
deterministic Heun sampler, a `GPT` bit by bit), and `generation_curve` does it at every saved
step of a rule-task run: the fraction of strings that are rule-valid, that copy a training
string, and that are valid and new (`measure_clocks` turns that into tau_rule, tau_mem and the
innovation window).

A run to read is made by `interp.train(interp.DiT(...), interp.rule_task(...),
interp.TrainConfig(loss="edm", save_log=...), out=...)` or `interp train rules --model dit`; the
shipped `checkpoints/dit_group2_d16` (two DiTs on group parity, trained on N = 16 and N = 64
strings) holds the command that made it in its config.json.

Examples:
    >>> run = interp.load_run("checkpoints/dit_group2_d16")
    >>> steps, stats = interp.generation_curve(run, samples=128, steps=[97, 305, 3000],
    ...                                        device="cpu")
    >>> stats.valid                                      # [steps, models]
    tensor([[0.1953, 0.0156],
            [0.8359, 0.8984],
            [0.9688, 0.9844]])
    >>> print(interp.measure_clocks(stats, steps, rule_threshold=0.8))  # tau_rule, tau_mem
    model  tau_rule   tau_mem     width
        0       305      3000      2695
        1       305        -1        -1
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from jaxtyping import Integer
from torch import Tensor, nn
from tqdm.auto import tqdm

from interp.core.device import resolve_device
from interp.core.runs import CheckpointError, Run, load_run
from interp.diffusion import sample
from interp.models.dit import DiT
from interp.models.gpt import GPT
from interp.studies.clocks.clocks import GenerationStats, generation_stats
from interp.tasks.bitrules import to_bits

__all__ = ["generate", "generation_curve"]

# Strings sampled in one batched call of `generation_curve` (checkpoints stacked as models).
CURVE_CHUNK_SAMPLES = 16 * 512


@torch.no_grad()
def generate(
    model: nn.Module, samples: int, generator: torch.Generator | None = None, steps: int = 18
) -> Integer[Tensor, "models samples d"]:
    """`samples` strings from each model of a generative ensemble: `[models, samples, d]` long
    bits, on the model's device.

    A `DiT` samples with the deterministic Heun sampler from Gaussian noise (`steps` steps) and
    rounds; a `GPT` samples bit by bit. Randomness comes from `generator`, drawn on its own
    device and moved to the model's: a CPU generator serves a CUDA model, and one seed gives
    the same starting noise on every device.

    Examples:
        >>> run = interp.load_run("checkpoints/dit_group2_d16")      # the last step, 3000
        >>> bits = generate(run.model(), 128, torch.Generator().manual_seed(0))
        >>> bits.shape                                    # [models, samples, d]
        torch.Size([2, 128, 16])
        >>> run.task.valid(bits).float().mean(1)          # [models] valid fraction
        tensor([0.9688, 0.9844])
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples={samples!r} must be an integer >= 1")
    if isinstance(model, DiT):
        shape = (model.cfg.models, samples, model.cfg.d)
        return to_bits(sample(model, shape, steps=steps, generator=generator))
    if isinstance(model, GPT):
        return model.sample(samples, generator=generator).long()
    raise ValueError(f"generate needs a DiT or GPT ensemble; got {type(model).__name__}")


def generation_curve(
    run: Run | str | Path,
    samples: int = 512,
    steps: Sequence[int] | None = None,
    seed: int = 0,
    sampler_steps: int = 18,
    device: str | torch.device = "auto",
    stack: int | None = None,
) -> tuple[list[int], GenerationStats]:
    """Generate from every saved checkpoint of a rule-task run and score the strings.

    Args:
        run: a run folder or `Run` of a DiT or GPT trained on a rule task.
        samples: strings per model per checkpoint.
        steps: saved steps to use (default: all).
        seed: the sampling seed, the same at every step so steps differ only by the weights.
        sampler_steps: Heun steps for a DiT.
        device: where to sample ("auto": CUDA when present).
        stack: a DiT's checkpoints sampled side by side in one batched call (default: 1 on a
            CPU, where one step's batch already overflows the cache, else enough for about
            8192 strings); the same numbers for any value.

    Returns:
        `(steps, stats)`: `GenerationStats` with fields `[steps, models]` (valid, memorized,
        novel_valid fractions); feed it to `interp.measure_clocks(stats, steps)`.

    Examples:
        >>> run = interp.load_run("checkpoints/dit_group2_d16")      # N = 16 and 64 strings
        >>> steps, stats = generation_curve(run, samples=128, steps=[305, 956, 3000],
        ...                                 device="cpu")
        >>> stats.memorized[:, 0]                         # copies of training strings, N = 16
        tensor([0.1797, 0.3125, 0.6562])
    """
    run = run if isinstance(run, Run) else load_run(run)
    if run.config.get("task", {}).get("kind") != "rules":
        raise CheckpointError(f"{run.path}: not a rule-task run")
    steps = run.saved(steps)  # before any progress bar starts
    device = resolve_device(device)
    task = run.task.to(device)
    rows = []
    if run.kind != "dit":  # a GPT keeps one bridge per model: step by step
        for step in tqdm(steps, desc="generate", unit="ckpt", leave=False):
            gen = torch.Generator().manual_seed(seed)  # the same noise on every device
            bits = generate(run.model(step, device=device), samples, gen, sampler_steps)
            rows.append(generation_stats(bits, task.valid, task.data, task.mask))
        return steps, GenerationStats.stack(rows)
    # A DiT: checkpoints side by side along the models axis, each step's models starting
    # from the same noise (drawn as one step's ensemble would draw it), so the numbers are
    # those of sampling step by step.
    models = task.models
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn((models, samples, task.d), generator=gen)
    if stack is None:
        stack = 1 if device.type == "cpu" else max(1, CURVE_CHUNK_SAMPLES // (models * samples))
    with tqdm(total=len(steps), desc="generate", unit="ckpt", leave=False) as bar:
        for chunk, ensemble in run.stacked(steps, stack, device):
            start = noise.repeat(len(chunk), 1, 1)
            x = sample(ensemble, tuple(start.shape), sampler_steps, noise=start)
            for bits in to_bits(x).split(models):
                rows.append(generation_stats(bits, task.valid, task.data, task.mask))
            bar.update(len(chunk))
    return steps, GenerationStats.stack(rows)
