"""Two clocks of a diffusion model's training: when it learns the rule, when it memorizes.

Generated bit strings are scored per model as rule-valid, memorized (an exact copy of a training
string) and novel-valid (valid, not a copy). Over training, tau_rule is the first step at which
enough samples are valid and tau_mem the first at which enough are copies; the innovation window
[tau_rule, tau_mem] is where the model makes new valid strings (Wang, Finn & Liu 2026: tau_mem
grows ~linearly with the dataset size N, tau_rule with the rule's complexity). For continuous
data a sample counts as memorized when it is much nearer its nearest training point than the
second nearest: d1 / d2 < 1/3 (Bonnaire et al. 2025).

Examples:
    Two DiTs on group parity, trained on N = 16 and N = 64 strings:
    >>> run = interp.load_run("checkpoints/dit_group2_d16")
    >>> task, steps = run.task, [97, 305, 3000]                   # three saved steps
    >>> stats = [generation_stats(interp.generate(run.model(step), 128,
    ...                                           torch.Generator().manual_seed(0)),
    ...                           task.valid, task.data, task.mask) for step in steps]
    >>> rule = threshold_above_chance(task.chance_rate)           # 0.8 of the way to 1
    >>> c = measure_clocks(GenerationStats.stack(stats), steps, rule_threshold=rule)
    >>> c.tau_rule, c.tau_mem, c.width                      # [models] each, -1: never reached
    (tensor([305, 305]), tensor([3000,   -1]), tensor([2695,   -1]))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
from jaxtyping import Bool, Shaped
from torch import Tensor

from interp.core.metrics import first_step

__all__ = [
    "GenerationStats",
    "generation_stats",
    "exact_matches",
    "Clocks",
    "measure_clocks",
    "threshold_above_chance",
    "clocks_by_n",
]

# A random bit string is valid under parity half the time; 0.9 is 80% of the way from that
# chance level to 1 (`threshold_above_chance(0.5)`), far above what luck gives.
RULE_THRESHOLD = 0.9
# A model that has learnt the rule perfectly and draws uniformly among V valid strings copies a
# training string with probability N / V; 0.5 is above that while N < V / 2, so reaching it
# means the model prefers its training strings, not that it generalizes onto them by chance.
MEM_THRESHOLD = 0.5


@dataclass
class GenerationStats:
    """Per-model fractions of generated samples, each `[models]` (or `[steps, models]` stacked).

    Attributes:
        valid: samples that satisfy the rule.
        memorized: samples that exactly match one of the model's training strings.
        novel_valid: samples that are valid and not memorized: what the model invents.
    """

    valid: Tensor
    memorized: Tensor
    novel_valid: Tensor

    def to_dict(self) -> dict[str, list]:
        return {f.name: getattr(self, f.name).tolist() for f in fields(self)}

    @classmethod
    def stack(cls, items: Sequence[GenerationStats]) -> GenerationStats:
        """Stack per-step stats (`[models]` each) into one with fields `[steps, models]`."""
        if not items:
            raise ValueError("stack needs at least one GenerationStats")
        return cls(*(torch.stack([getattr(s, f.name) for s in items]) for f in fields(cls)))


def _as_bits(bits: Tensor, name: str) -> Tensor:
    """Bool bits from a bool or integer 0/1 tensor; floats are refused (signals are ambiguous)."""
    if bits.dtype == torch.bool:
        return bits
    if bits.is_floating_point() or bits.is_complex():
        raise ValueError(
            f"{name} has dtype {bits.dtype}: need bits (bool or integer 0/1); "
            "turn signals into bits with x > 0"
        )
    if not bool(((bits == 0) | (bits == 1)).all()):
        raise ValueError(f"{name} holds values other than 0 and 1: need bits")
    return bits.bool()


def _pack(bits: Tensor) -> Tensor:
    """`[..., d]` bool -> `[..., ceil(d / 63)]` int64 words, equal iff the bit strings are."""
    d = bits.shape[-1]
    words = max(1, -(-d // 63))
    padded = torch.nn.functional.pad(bits.long(), (0, words * 63 - d))
    shifts = torch.arange(63, device=bits.device)
    return (padded.reshape(*bits.shape[:-1], words, 63) << shifts).sum(-1)


def exact_matches(samples: Tensor, training: Tensor, mask: Tensor | None = None) -> Tensor:
    """Which samples are exact copies of one of their model's training strings.

    Bit strings are packed into int64 words and matched in one sort (`torch.unique`) over all
    models at once, so the cost is O((S + N) log(S + N)) per model, not S x N.

    Args:
        samples: `[models, S, d]` bits (bool or integer 0/1).
        training: `[models, N, d]` bits per model, or `[N, d]` shared by every model.
        mask: `training.shape[:-1]` bool, the training rows that count (None: all).

    Returns:
        `[models, S]` bool.

    Examples:
        >>> exact_matches(torch.tensor([[[1, 0], [1, 1]]]), torch.tensor([[1, 1], [0, 0]]))
        tensor([[False,  True]])
    """
    samples, training = _as_bits(samples, "samples"), _as_bits(training, "training")
    if samples.dim() != 3 or training.dim() not in (2, 3):
        raise ValueError(
            f"samples {tuple(samples.shape)}, training {tuple(training.shape)}: "
            "need [models, S, d] and [models, N, d] or [N, d]"
        )
    models, n_samples, d = samples.shape
    if training.dim() == 2:
        training = training.expand(models, *training.shape)
        mask = None if mask is None else mask.expand(models, *mask.shape)
    if training.shape[0] != models or training.shape[-1] != d:
        raise ValueError(
            f"training of shape {tuple(training.shape)} does not match samples "
            f"{tuple(samples.shape)}: need [{models}, N, {d}] or [N, {d}]"
        )
    if mask is not None and (mask.shape != training.shape[:-1] or mask.dtype != torch.bool):
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} and dtype {mask.dtype}: "
            f"need bool {tuple(training.shape[:-1])}"
        )

    def keyed(bits: Tensor) -> Tensor:  # [models, rows, 1 + words]: the model index, then the bits
        index = torch.arange(models, device=bits.device)[:, None, None]
        return torch.cat([index.expand(*bits.shape[:-1], 1), _pack(bits)], -1)

    sample_keys = keyed(samples).flatten(0, 1)
    train_keys = keyed(training)
    train_keys = train_keys.flatten(0, 1) if mask is None else train_keys[mask]
    unique, ids = torch.unique(torch.cat([sample_keys, train_keys]), dim=0, return_inverse=True)
    seen = torch.zeros(len(unique), dtype=torch.bool, device=ids.device)
    seen[ids[len(sample_keys) :]] = True
    return seen[ids[: len(sample_keys)]].reshape(models, n_samples)


def generation_stats(
    samples: Shaped[Tensor, "models samples d"],
    valid_fn: Callable[[Tensor], Tensor],
    training: Shaped[Tensor, "*models train d"],
    mask: Bool[Tensor, "*models train"] | None = None,
) -> GenerationStats:
    """Valid, memorized and novel-valid fractions of each model's generated bit strings.

    Args:
        samples: `[models, S, d]` generated bits (bool or integer 0/1; from signals, `x > 0`
            or `to_bits`).
        valid_fn: the rule, `bits [models, S, d] -> [models, S]` bool (e.g. even parity).
        training: `[models, N, d]` each model's training bits, or `[N, d]` shared.
        mask: `training.shape[:-1]` bool, the training rows that count (padding excluded).

    Returns:
        `GenerationStats` with fields `[models]`.

    Examples:
        >>> from interp.diffusion import EmpiricalDenoiser, sample
        >>> from interp.tasks.bitrules import is_valid, to_bits, to_signal
        >>> task = interp.rule_task("parity", d=10, N=[8, 32], seed=0)
        >>> valid = lambda bits: is_valid(bits, "parity")
        >>> noise = torch.randint(0, 2, (2, 512, 10), generator=torch.Generator().manual_seed(0))
        >>> s = generation_stats(noise, valid, task.data, task.mask)  # random strings
        >>> s.valid, s.memorized, s.novel_valid                    # [2] each
        (tensor([0.4824, 0.5039]), tensor([0.0137, 0.0293]), tensor([0.4688, 0.4746]))
        >>> D = EmpiricalDenoiser(to_signal(task.data), mask=task.mask)  # the loss's optimum
        >>> bits = to_bits(sample(D, (2, 512, 10), generator=torch.Generator().manual_seed(0)))
        >>> generation_stats(bits, valid, task.data, task.mask).memorized   # copies only
        tensor([1., 1.])
    """
    memorized = exact_matches(samples, training, mask)
    valid = valid_fn(_as_bits(samples, "samples"))
    if valid.shape != memorized.shape:
        raise ValueError(
            f"valid_fn returned shape {tuple(valid.shape)}: need [models, S] = "
            f"{tuple(memorized.shape)}"
        )
    valid = valid.bool()
    return GenerationStats(
        valid=valid.float().mean(-1),
        memorized=memorized.float().mean(-1),
        novel_valid=(valid & ~memorized).float().mean(-1),
    )


@dataclass
class Clocks:
    """The two clocks of each model, `[models]` long each; -1 where a clock never rings.

    Attributes:
        tau_rule: first step at which the valid fraction reaches `rule_threshold`.
        tau_mem: first step at which the memorized fraction reaches `mem_threshold`.
        width: tau_mem - tau_rule, the length of the innovation window [tau_rule, tau_mem];
            0 when the model memorizes no later than it learns the rule (an empty window),
            -1 when either clock never rings (the window is open or undefined).
        rule_threshold, mem_threshold: the levels used.
    """

    tau_rule: Tensor
    tau_mem: Tensor
    width: Tensor
    rule_threshold: float
    mem_threshold: float

    def __str__(self) -> str:
        rows = ["model  tau_rule   tau_mem     width"]
        columns = (self.tau_rule.tolist(), self.tau_mem.tolist(), self.width.tolist())
        for i, (r, m, w) in enumerate(zip(*columns)):
            rows.append(f"{i:>5}  {r:>8}  {m:>8}  {w:>8}")
        return "\n".join(rows)


def threshold_above_chance(chance: float, fraction: float = 0.8) -> float:
    """A valid-fraction threshold `fraction` of the way from a rule's chance rate to 1.

    chance + fraction (1 - chance): the same demand on every rule, whether random strings are
    valid half the time (parity: 0.9) or almost never (0.8). Pass the result as
    `measure_clocks(..., rule_threshold=...)`.

    Examples:
        >>> threshold_above_chance(interp.rule_task("parity", d=16).chance_rate)
        0.9
    """
    if not 0 <= chance <= 1 or not 0 <= fraction <= 1:
        raise ValueError(f"chance={chance}, fraction={fraction}: both must be in [0, 1]")
    return chance + fraction * (1 - chance)


def measure_clocks(
    stats: GenerationStats,
    steps: Sequence[int] | Tensor,
    rule_threshold: float = RULE_THRESHOLD,
    mem_threshold: float = MEM_THRESHOLD,
) -> Clocks:
    """tau_rule, tau_mem and the innovation window from stats measured over training.

    Default thresholds: valid fraction 0.9, chosen for parity, where a random string is valid
    half the time: 0.9 is 80% of the way from chance to 1. For another rule pass
    `threshold_above_chance(chance)` to keep that meaning. Memorized fraction 0.5: a model
    that learnt the rule and draws uniformly among V valid strings copies one of its N training
    strings with probability N / V, below 0.5 while N < V / 2, so crossing it means the model
    prefers its training strings over the rule's other strings.

    Args:
        stats: `GenerationStats` with fields `[steps, models]` (`GenerationStats.stack`).
        steps: the training step of each row, `[steps]`, ascending.
        rule_threshold: the valid fraction that sets tau_rule.
        mem_threshold: the memorized fraction that sets tau_mem.

    Returns:
        `Clocks` with fields `[models]`.

    Examples:
        >>> per_step_stats = [  # one model: (valid, memorized) at four steps
        ...     GenerationStats(torch.tensor([v]), torch.tensor([m]), torch.tensor([v - m]))
        ...     for v, m in [(0.5, 0.0), (0.95, 0.1), (0.97, 0.3), (0.99, 0.6)]]
        >>> c = measure_clocks(GenerationStats.stack(per_step_stats), [0, 500, 1000, 1500])
        >>> print(c)
        model  tau_rule   tau_mem     width
            0       500      1500      1000
    """
    tau_rule = first_step(stats.valid, steps, rule_threshold)
    tau_mem = first_step(stats.memorized, steps, mem_threshold)
    both = (tau_rule >= 0) & (tau_mem >= 0)
    width = torch.where(both, (tau_mem - tau_rule).clamp_min(0), torch.full_like(tau_rule, -1))
    return Clocks(tau_rule, tau_mem, width, rule_threshold, mem_threshold)


def clocks_by_n(clocks: Clocks, task: Any) -> tuple[list[int], dict[str, list[int]]]:
    """Both clocks against N, one curve per seed: `(sizes, {"tau_mem[, seed s]": [tau per
    size], "tau_rule[, seed s]": ...})`, -1 where a seed has no model of that N or the clock
    never rang.

    Examples:
        >>> task = interp.rule_task("parity", d=8, N=[8, 16], seed=0)
        >>> tau_rule, tau_mem = torch.tensor([5, 5]), torch.tensor([40, 90])
        >>> c = Clocks(tau_rule, tau_mem, tau_mem - tau_rule, 0.9, 0.5)
        >>> clocks_by_n(c, task)
        ([8, 16], {'tau_mem': [40, 90], 'tau_rule': [5, 5]})
    """
    seeds = list(task.config.seed)
    sizes = sorted(set(task.N))
    taus: dict[str, list[int]] = {}
    for seed in sorted(set(seeds)):
        named = "" if len(set(seeds)) == 1 else f", seed {seed}"
        model_of = {n: m for m, (n, s) in enumerate(zip(task.N, seeds)) if s == seed}
        for clock in ("tau_mem", "tau_rule"):
            tau = getattr(clocks, clock).tolist()
            taus[clock + named] = [tau[model_of[n]] if n in model_of else -1 for n in sizes]
    return sizes, taus
