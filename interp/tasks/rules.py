"""Rule tasks for generative models: strings of d bits drawn uniformly from a rule's valid set.

A model trained on N valid strings first learns to generate *valid* strings (the rule, at
tau_rule) and later reproduces its *training* strings (memorization, at tau_mem). A task is
pure data: each model's N distinct training strings, regenerated exactly from a `RuleConfig`.

Rules, their checkers and samplers: `interp.tasks.bitrules`.

Examples:
    >>> task = rule_task("parity", d=16, N=[64, 256], seed=0)   # 2 models sharing one seed
    >>> task.data.shape, task.mask.sum(1)                         # [models, N_max, d], N
    (torch.Size([2, 256, 16]), tensor([ 64, 256]))
    >>> bool(task.valid(task.data[task.mask]).all()), task.chance_rate
    (True, 0.5)
    >>> torch.equal(task.data[0, :64], task.data[1, :64])       # the same seed: nested sets
    True
    >>> task.is_training_sample(task.data[:, :2]).tolist()      # [models, samples]
    [[True, True], [True, True]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from interp.tasks.base import TaskConfig
from interp.tasks.bitrules import (
    RULES,
    Rule,
    _bits_dtype,
    _default_d,
    _pack,
    _rule,
    _sort_rows,
    all_valid,
    is_valid,
)
from interp.tasks.modular import _per_model

__all__ = ["RuleConfig", "RuleTask", "rule_task"]

# A rule with at most this many valid strings draws its datasets from the full list (a random
# permutation); a larger one from iid draws with repeats dropped. Both are uniform.
SMALL_SET = 2**16
# The iid path draws chunks of 1024, 2048, ... strings (capped): a schedule that does not depend
# on N, so with one seed the first N distinct strings are the same whatever N is.
_FIRST_CHUNK, _MAX_CHUNK = 1024, 2**20


@dataclass(frozen=True)
class RuleConfig(TaskConfig):
    """Everything needed to regenerate a rule task; one entry per model in the tuples.

    Attributes:
        rule: one of `RULES`.
        d: string length (32 for the puzzles).
        N: per model, the number of distinct training strings (at most `n_valid`).
        group: the group size of "group_parity" (a divisor of d), None for the other rules.
        seed: per model, seed of the draw. Models sharing a seed get nested training sets: the
            one with the smaller N holds the first rows of the larger.
    """

    rule: str
    d: int
    N: tuple[int, ...]
    group: int | None
    seed: tuple[int, ...]

    @classmethod
    def _validated(cls, **fields: Any) -> RuleConfig:
        return _rule_config(**fields)


def _rule_config(
    rule: str = "parity",
    d: int | None = None,
    N: int | Sequence[int] = 256,
    group: int | None = None,
    seed: int | Sequence[int] = 0,
) -> RuleConfig:
    """Validate and broadcast arguments into a `RuleConfig` (scalars apply to every model).

    d=None takes a puzzle's size (32), else 16.
    """
    d = _default_d(rule, d)
    spec = _rule(rule, d, group)
    sizes = [len(v) for v in (N, seed) if isinstance(v, Sequence) and not isinstance(v, str)]
    if 0 in sizes:
        raise ValueError("N and seed sequences must not be empty")
    models = max(sizes, default=1)
    ns, seeds = _per_model("N", N, models), _per_model("seed", seed, models)
    count = spec.count(d, group)
    for n in ns:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= count:
            raise ValueError(f"N={n!r} must be an integer in [1, {count}] (the valid strings)")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int):
            raise ValueError(f"seed={s!r} must be an integer")
    return RuleConfig(rule=rule, d=d, N=tuple(ns), group=group, seed=tuple(seeds))


@dataclass
class RuleTask:
    """Per-model training sets of distinct valid strings, padded to one tensor.

    Attributes:
        config: the `RuleConfig` that regenerates this task.
        data: `[models, N_max, d]` long bits; row i < N[m] of model m is its i-th training
            string (in draw order), the rows after it are padding (zeros).
        mask: `[models, N_max]` bool, the real rows (`mask.sum(1)` is N).
    """

    config: RuleConfig
    data: Tensor
    mask: Tensor

    kind: ClassVar[str] = "rules"
    config_class: ClassVar[type] = RuleConfig

    @property
    def models(self) -> int:
        return self.data.shape[0]

    @property
    def d(self) -> int:
        return self.config.d

    @property
    def N(self) -> tuple[int, ...]:
        return self.config.N

    @property
    def n_valid(self) -> int:
        """How many strings of length d obey the rule."""
        return RULES[self.config.rule].count(self.d, self.config.group)

    @property
    def chance_rate(self) -> float:
        """The valid fraction of uniformly random strings."""
        return self.n_valid / 2**self.d

    def train_set(self, model: int) -> Tensor:
        """`[N[model], d]` long, the training strings of one model, without padding."""
        return self.data[model, : self.N[model]]

    def valid(self, bits: Tensor) -> Tensor:
        """`[..., d]` bits -> `[...]` bool, whether each string obeys the task's rule."""
        self._check_length(bits)
        return is_valid(bits, self.config.rule, self.config.group)

    def is_training_sample(self, samples: Tensor) -> Tensor:
        """Whether each sample is exactly one of its own model's training strings.

        Args:
            samples: `[models, ..., d]` bits (bool or integer; round signals with `to_bits`).

        Returns:
            `[models, ...]` bool, on the device of `samples` (which must match `data`'s).

        Examples:
            >>> task = rule_task("sudoku", N=[1, 2], seed=0)  # one seed: nested training sets
            >>> task.is_training_sample(task.data[[1, 1]]).tolist()  # model 1's set, to each
            [[True, False], [True, True]]
        """
        _bits_dtype(samples)
        self._check_length(samples)
        if samples.shape[0] != self.models:
            raise ValueError(f"samples have {samples.shape[0]} models; the task has {self.models}")
        batch = samples.shape[1:-1]
        samples = samples.flatten(1, -2)  # [models, S, d]
        # Rows (model, packed bits): a sample matches iff its row equals a real training row.
        train = _keyed(self.data)[self.mask]
        queries = _keyed(samples).flatten(0, 1)
        order, first = _sort_rows(torch.cat([train, queries]))
        ids = torch.empty_like(order)
        ids[order] = first.cumsum(0) - 1  # equal rows, equal ids
        seen = torch.zeros(len(order), dtype=torch.bool, device=order.device)
        seen[ids[: len(train)]] = True
        return seen[ids[len(train) :]].view(self.models, *batch)

    def _check_length(self, bits: Tensor) -> None:
        if bits.dim() == 0 or bits.shape[-1] != self.d:
            raise ValueError(f"bits have shape {tuple(bits.shape)}; expected [..., d={self.d}]")

    def to(self, device: torch.device | str) -> RuleTask:
        return RuleTask(self.config, self.data.to(device), self.mask.to(device))

    def select(self, models: Sequence[int] | int) -> RuleTask:
        """The sub-task of the given model indices (an int keeps the axis: 1 model)."""
        idx = [models] if isinstance(models, int) else list(models)
        cfg = self.config
        sub = RuleConfig(
            cfg.rule,
            cfg.d,
            tuple(cfg.N[i] for i in idx),
            cfg.group,
            tuple(cfg.seed[i] for i in idx),
        )
        n_max = max(sub.N)
        return RuleTask(sub, self.data[idx, :n_max], self.mask[idx, :n_max])

    @classmethod
    def from_config(cls, config: RuleConfig) -> RuleTask:
        """Regenerate the task described by `config` (what a run loader calls)."""
        return _make_rule_task(config)

    def stored(self) -> dict[str, Tensor]:
        """What a step file keeps of the task: the training strings and their mask."""
        return {"data": self.data.to(torch.uint8), "mask": self.mask}

    def check_stored(self, stored: dict[str, Tensor], where: str) -> None:
        """Raise `ValueError` unless `stored` holds exactly this task's training strings."""
        for name, value in self.stored().items():
            got = stored.get(name)
            same = got is not None and got.shape == value.shape
            if not (same and torch.equal(got.to(value.dtype), value)):
                raise ValueError(f"{where}: task.{name} does not match the task in config.json")


def _keyed(bits: Tensor) -> Tensor:
    """`[models, S, d]` -> `[models, S, 1 + words]` long rows (model index, packed bits)."""
    models, s = bits.shape[:2]
    model = torch.arange(models, device=bits.device)[:, None, None].expand(models, s, 1)
    return torch.cat([model, _pack(bits)], -1)


def _first_occurrences(bits: Tensor) -> Tensor:
    """`[R, d]` -> the increasing indices of the first row of each distinct string."""
    order, first = _sort_rows(_pack(bits))
    return order[first].sort().values


def _distinct_draws(spec: Rule, n: int, d: int, group: int | None, gen: torch.Generator) -> Tensor:
    """`[n, d]` uint8: the first n distinct strings of an iid uniform stream, a uniform draw
    without replacement (each new string is uniform over those not yet drawn)."""
    kept = torch.zeros(0, d, dtype=torch.uint8)
    chunk = _FIRST_CHUNK
    while len(kept) < n:
        drawn = torch.cat([kept, spec.sample(chunk, d, group, gen)])
        kept = drawn[_first_occurrences(drawn)]
        chunk = min(2 * chunk, _MAX_CHUNK)
    return kept[:n]


def _make_rule_task(config: RuleConfig) -> RuleTask:
    """Regenerate the task described by `config`, on the CPU (what a run loader calls).

    Each model draws its N distinct strings uniformly without replacement from its seed: a
    random permutation of every valid string when there are at most `SMALL_SET`, else the
    first N distinct strings of an iid uniform stream. Either way a smaller N with the same seed
    gives the first rows of a larger one.
    """
    rule, d, group = config.rule, config.d, config.group
    spec = _rule(rule, d, group)
    count = spec.count(d, group)
    everything = all_valid(rule, d, group).to(torch.uint8) if count <= SMALL_SET else None
    n_max = max(config.N)
    data = torch.zeros(config.models, n_max, d, dtype=torch.long)
    mask = torch.zeros(config.models, n_max, dtype=torch.bool)
    for m, (n, seed) in enumerate(zip(config.N, config.seed)):
        gen = torch.Generator().manual_seed(seed)
        if everything is not None:
            rows = everything[torch.randperm(count, generator=gen)[:n]]
        else:
            rows = _distinct_draws(spec, n, d, group, gen)
        data[m, :n] = rows
        mask[m, :n] = True
    return RuleTask(config, data, mask)


def rule_task(
    rule: str = "parity",
    d: int | None = None,
    N: int | Sequence[int] = 256,
    group: int | None = None,
    seed: int | Sequence[int] = 0,
) -> RuleTask:
    """Generate a rule task; sequences (N, seed) give one value per model, scalars are shared.

    Examples:
        >>> task = rule_task("group_parity", d=12, group=3, N=[10, 100, 256], seed=[0, 1, 2])
        >>> task.data.shape, task.n_valid, task.chance_rate
        (torch.Size([3, 256, 12]), 256, 0.0625)
    """
    return _make_rule_task(_rule_config(rule, d, N, group, seed))
