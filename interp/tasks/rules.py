"""Rule tasks for generative models: strings of d bits drawn uniformly from a rule's valid set.

A model trained on N valid strings first learns to generate *valid* strings (the rule, at
tau_rule) and later reproduces its *training* strings (memorization, at tau_mem). A task is
pure data: each model's N distinct training strings, regenerated exactly from a `RuleConfig`.

Rules (`RULES`), each with an exact count, a vectorized checker and an exact uniform sampler:
    parity            an even number of ones: 2^(d-1) valid strings.
    group_parity      every consecutive group of `group` bits has even parity: 2^(d - d/group).
                      group = d is parity; a smaller group means more constraints.
    no_adjacent_ones  no two consecutive ones (a local constraint): Fibonacci F(d+2).
    balanced          exactly d/2 ones (a global count): C(d, d/2).
    latin_square      a 4x4 Latin square (every row and column holds 0-3 once) in d = 32: 576.
    sudoku            a 4x4 Sudoku (a Latin square whose 2x2 boxes also hold 0-3 once): 288.
A puzzle grid is 16 cells in row-major order, each symbol in 2 bits, high bit first.

Diffusion works on the signal `to_signal(bits)` in {-0.5, +0.5} (std 0.5 = EDM sigma_data) and
reads samples back with `to_bits` (rounding at 0).

Example:
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

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from interp.core.ensemble import config_from_dict
from interp.tasks.modular import _per_model

__all__ = [
    "RULES",
    "Rule",
    "RuleConfig",
    "RuleTask",
    "rule_task",
    "is_valid",
    "sample_valid",
    "all_valid",
    "to_signal",
    "to_bits",
]

# A rule with at most this many valid strings draws its datasets from the full list (a random
# permutation); a larger one from iid draws with repeats dropped. Both are uniform.
SMALL_SET = 2**16
# `all_valid` refuses to list more strings than this.
ENUMERATE_MAX = 2**20
# The iid path draws chunks of 1024, 2048, ... strings (capped): a schedule that does not depend
# on N, so with one seed the first N distinct strings are the same whatever N is.
_FIRST_CHUNK, _MAX_CHUNK = 1024, 2**20


@dataclass(frozen=True)
class Rule:
    """A set of valid binary strings, counted, checked, sampled and listed exactly.

    The callables take `group` (an int for a grouped rule, else None). `check` runs on the
    device of its input; `sample` and `enumerate` on the CPU.

    Attributes:
        name: the key in `RULES`.
        description: one line, for humans.
        count: `(d, group) -> int`, the number of valid strings of length d.
        check: `(bits [..., d] integer or bool, group) -> [...] bool`.
        sample: `(n, d, group, generator) -> [n, d] uint8`, n iid uniform valid strings.
        enumerate: `(d, group) -> [n_valid, d] uint8`, every valid string once, in any order.
        size: the only length allowed (a puzzle), or None.
        even_d: d must be even.
        grouped: the rule takes `group`, a divisor of d.
    """

    name: str
    description: str
    count: Callable[[int, int | None], int]
    check: Callable[[Tensor, int | None], Tensor]
    sample: Callable[[int, int, int | None, torch.Generator | None], Tensor]
    enumerate: Callable[[int, int | None], Tensor]
    size: int | None = None
    even_d: bool = False
    grouped: bool = False


def _all_strings(k: int) -> Tensor:
    """`[2^k, k]` uint8, every string of k bits in lexicographic order."""
    numbers = torch.arange(2**k)
    return torch.stack(
        [(numbers >> shift & 1).to(torch.uint8) for shift in range(k - 1, -1, -1)], 1
    )


# Parity and group parity: each group of G bits is G - 1 free bits and the parity bit after them.
def _group_check(bits: Tensor, group: int) -> Tensor:
    groups = bits.unflatten(-1, (bits.shape[-1] // group, group))
    return (groups.sum(-1) % 2 == 0).all(-1)


def _with_parity_bits(free: Tensor, group: int) -> Tensor:
    """`[n, groups * (group - 1)]` free bits -> `[n, groups * group]` with even groups."""
    free = free.unflatten(-1, (-1, group - 1))
    return torch.cat([free, free.sum(-1, keepdim=True, dtype=torch.uint8) % 2], -1).flatten(1)


def _group_sample(n: int, d: int, group: int, gen: torch.Generator | None) -> Tensor:
    free = torch.randint(0, 2, (n, d - d // group), generator=gen, dtype=torch.uint8)
    return _with_parity_bits(free, group)


# No two adjacent ones: c(k) strings of length k, c(0) = 1, c(1) = 2, c(k) = c(k-1) + c(k-2).
def _no_adjacent_counts(d: int) -> list[int]:
    counts = [1, 2]
    while len(counts) <= d:
        counts.append(counts[-1] + counts[-2])
    return counts


def _no_adjacent_check(bits: Tensor) -> Tensor:
    b = bits.bool()
    return ~(b[..., 1:] & b[..., :-1]).any(-1)


def _no_adjacent_sample(n: int, d: int, gen: torch.Generator | None) -> Tensor:
    """Left to right: after a 0 with `left` bits to go, a 1 leaves c(left - 2) completions of
    the c(left) (the next bit is forced to 0), so it comes with probability c(left - 2) / c(left),
    exact to float64 rounding (2^-53)."""
    counts = _no_adjacent_counts(d)
    u = torch.rand(n, d, generator=gen, dtype=torch.float64)
    bits = torch.zeros(n, d, dtype=torch.uint8)
    prev = torch.zeros(n, dtype=torch.bool)
    for i in range(d):
        left = d - i
        p_one = (counts[left - 2] if left >= 2 else 1) / counts[left]
        prev = ~prev & (u[:, i] < p_one)
        bits[:, i] = prev
    return bits


def _no_adjacent_enumerate(d: int) -> Tensor:
    # Strings of length k end in 0 (a string of length k-1 + "0") or in 01 (length k-2 + "01").
    by_length = [torch.zeros(1, 0, dtype=torch.uint8), torch.tensor([[0], [1]], dtype=torch.uint8)]
    for _ in range(2, d + 1):
        shorter, shortest = by_length[-1], by_length[-2]
        end_0 = F.pad(shorter, (0, 1))
        end_01 = torch.cat(
            [shortest, torch.tensor([[0, 1]], dtype=torch.uint8).expand(len(shortest), 2)], 1
        )
        by_length.append(torch.cat([end_0, end_01]))
    return by_length[d]


def _balanced_sample(n: int, d: int, gen: torch.Generator | None) -> Tensor:
    # The first d/2 positions of a uniform random permutation hold the ones.
    order = torch.rand(n, d, generator=gen, dtype=torch.float64).argsort(-1)
    return torch.zeros(n, d, dtype=torch.uint8).scatter_(1, order[:, : d // 2], 1)


def _balanced_enumerate(d: int) -> Tensor:
    # A left half with j ones beside a right half with d/2 - j ones (torch.combinations would
    # build all d^(d/2) tuples first).
    half = _all_strings(d // 2)
    ones = half.sum(-1)
    parts = []
    for j in range(d // 2 + 1):
        left, right = half[ones == j], half[ones == d // 2 - j]
        parts.append(
            torch.cat([left.repeat_interleave(len(right), 0), right.repeat(len(left), 1)], 1)
        )
    return torch.cat(parts)


# Puzzles: a 4x4 grid of symbols 0-3, 2 bits per cell.
def _cells(bits: Tensor) -> Tensor:
    """`[..., 32]` bits -> `[..., 4, 4]` long symbols (row-major, high bit first)."""
    return (2 * bits[..., 0::2].long() + bits[..., 1::2].long()).unflatten(-1, (4, 4))


def _grid_bits(grids: Tensor) -> Tensor:
    """`[n, 4, 4]` symbols -> `[n, 32]` uint8 bits (inverse of `_cells`)."""
    cells = grids.flatten(1)
    return torch.stack([cells // 2, cells % 2], -1).flatten(1).to(torch.uint8)


def _each_once(lines: Tensor) -> Tensor:
    """`[..., lines, 4]` symbols -> `[...]` bool: every line holds each of 0-3 exactly once."""
    return (F.one_hot(lines, 4).sum(-2) == 1).all(-1).all(-1)


def _boxes(grid: Tensor) -> Tensor:
    """`[..., 4, 4]` -> `[..., 4 boxes, 4 cells]`, the 2x2 boxes."""
    g = grid.unflatten(-1, (2, 2)).unflatten(-3, (2, 2))  # [..., box_row, row, box_col, col]
    return g.transpose(-3, -2).flatten(-4, -3).flatten(-2, -1)


def _puzzle_check(bits: Tensor, sudoku: bool) -> Tensor:
    grid = _cells(bits)
    ok = _each_once(grid) & _each_once(grid.transpose(-1, -2))
    return ok & _each_once(_boxes(grid)) if sudoku else ok


@functools.cache
def _puzzle_strings(sudoku: bool) -> Tensor:
    """`[576 or 288, 32]` uint8, every Latin square (or Sudoku) in lexicographic order."""
    perms = torch.tensor(list(itertools.permutations(range(4))))  # [24, 4], lexicographic
    grids = perms[:, None]  # [grids, rows so far, 4]
    for _ in range(3):  # add each row that repeats no symbol of a column above it
        grids = torch.cat([grids.repeat_interleave(24, 0), perms.repeat(len(grids), 1)[:, None]], 1)
        grids = grids[(grids[:, :-1] != grids[:, -1:]).all(-1).all(-1)]
    bits = _grid_bits(grids)
    return bits[_puzzle_check(bits, sudoku=True)] if sudoku else bits


def _puzzle_sample(n: int, sudoku: bool, gen: torch.Generator | None) -> Tensor:
    grids = _puzzle_strings(sudoku)
    return grids[torch.randint(len(grids), (n,), generator=gen)]


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in [
        Rule(
            "parity",
            "an even number of ones",
            count=lambda d, g: 2 ** (d - 1),
            check=lambda bits, g: bits.sum(-1) % 2 == 0,
            sample=lambda n, d, g, gen: _group_sample(n, d, d, gen),
            enumerate=lambda d, g: _with_parity_bits(_all_strings(d - 1), d),
        ),
        Rule(
            "group_parity",
            "every consecutive group of `group` bits has even parity",
            count=lambda d, g: 2 ** (d - d // g),
            check=lambda bits, g: _group_check(bits, g),
            sample=_group_sample,
            enumerate=lambda d, g: _with_parity_bits(_all_strings(d - d // g), g),
            grouped=True,
        ),
        Rule(
            "no_adjacent_ones",
            "no two consecutive ones",
            count=lambda d, g: _no_adjacent_counts(d)[d],
            check=lambda bits, g: _no_adjacent_check(bits),
            sample=lambda n, d, g, gen: _no_adjacent_sample(n, d, gen),
            enumerate=lambda d, g: _no_adjacent_enumerate(d),
        ),
        Rule(
            "balanced",
            "exactly d/2 ones",
            count=lambda d, g: math.comb(d, d // 2),
            check=lambda bits, g: bits.sum(-1) == bits.shape[-1] // 2,
            sample=lambda n, d, g, gen: _balanced_sample(n, d, gen),
            enumerate=lambda d, g: _balanced_enumerate(d),
            even_d=True,
        ),
        Rule(
            "latin_square",
            "a 4x4 Latin square: every row and column holds 0-3 once (2 bits per cell)",
            count=lambda d, g: len(_puzzle_strings(False)),
            check=lambda bits, g: _puzzle_check(bits, sudoku=False),
            sample=lambda n, d, g, gen: _puzzle_sample(n, False, gen),
            enumerate=lambda d, g: _puzzle_strings(False),
            size=32,
        ),
        Rule(
            "sudoku",
            "a 4x4 Sudoku: a Latin square whose 2x2 boxes also hold 0-3 once",
            count=lambda d, g: len(_puzzle_strings(True)),
            check=lambda bits, g: _puzzle_check(bits, sudoku=True),
            sample=lambda n, d, g, gen: _puzzle_sample(n, True, gen),
            enumerate=lambda d, g: _puzzle_strings(True),
            size=32,
        ),
    ]
}

# d when none is given: a puzzle's size, else this.
DEFAULT_D = 16


def _rule(rule: str, d: int, group: int | None) -> Rule:
    """The `Rule` named `rule` after checking that (d, group) suit it; one-line ValueErrors."""
    if rule not in RULES:
        raise ValueError(f"rule {rule!r} is not one of {', '.join(RULES)}")
    spec = RULES[rule]
    if isinstance(d, bool) or not isinstance(d, int) or d < 2:
        raise ValueError(f"d={d!r} must be an integer >= 2")
    if spec.size is not None and d != spec.size:
        raise ValueError(f"rule {rule!r} encodes a 4x4 grid in d={spec.size} bits; got d={d}")
    if spec.even_d and d % 2:
        raise ValueError(f"rule {rule!r} needs an even d; got d={d}")
    if spec.grouped:
        if isinstance(group, bool) or not isinstance(group, int) or group < 2 or d % group:
            raise ValueError(f"group={group!r} must divide d={d} with 2 <= group <= d")
    elif group is not None:
        raise ValueError(f"group={group!r} applies only to rule 'group_parity', not {rule!r}")
    return spec


def _bits_dtype(bits: Tensor) -> None:
    if bits.is_floating_point() or bits.is_complex():
        raise ValueError(f"bits have dtype {bits.dtype}; expected bool or integer (use to_bits)")


def is_valid(bits: Tensor, rule: str, group: int | None = None) -> Tensor:
    """Whether each string obeys `rule`; exact, batched, on the device of `bits`.

    Args:
        bits: `[..., d]` bool or integer 0/1 (round a diffusion sample with `to_bits` first).

    Returns:
        `[...]` bool.

    Example:
        >>> is_valid(torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0]]), "parity").tolist()
        [True, False]
    """
    _bits_dtype(bits)
    return _rule(rule, bits.shape[-1], group).check(bits, group)


def sample_valid(
    rule: str,
    n: int,
    d: int | None = None,
    group: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """`[n, d]` long: n iid uniform valid strings (repeats allowed), drawn on the CPU.

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> bits = sample_valid("no_adjacent_ones", 1000, 12, generator=gen)
        >>> bool(is_valid(bits, "no_adjacent_ones").all())
        True
    """
    d = _default_d(rule, d)
    return _rule(rule, d, group).sample(n, d, group, generator).long()


def _pack(bits: Tensor) -> Tensor:
    """`[..., d]` bits -> `[..., ceil(d / 63)]` long: 63 bits per word, first bit most
    significant, so rows of words sort as the strings do (lexicographically)."""
    words = []
    for start in range(0, bits.shape[-1], 63):
        word = torch.zeros(bits.shape[:-1], dtype=torch.long, device=bits.device)
        for bit in bits[..., start : start + 63].unbind(-1):
            word = (word << 1) | bit.long()
        words.append(word)
    return torch.stack(words, -1)


def _sort_rows(keys: Tensor) -> tuple[Tensor, Tensor]:
    """Stable lexicographic sort of `[R, W]` long rows (`torch.unique(dim=0)` is ~25x slower).

    Returns:
        order: `[R]`, `keys[order]` is sorted; equal rows keep their original order.
        first: `[R]` bool, in sorted order: the row differs from the one before it.
    """
    order = torch.arange(len(keys), device=keys.device)
    for col in reversed(range(keys.shape[1])):  # least significant word first
        order = order[keys[order, col].sort(stable=True).indices]
    ranked = keys[order]
    first = torch.ones(len(keys), dtype=torch.bool, device=keys.device)
    first[1:] = (ranked[1:] != ranked[:-1]).any(-1)
    return order, first


def all_valid(rule: str, d: int | None = None, group: int | None = None) -> Tensor:
    """`[n_valid, d]` long: every valid string once, in lexicographic order (first bit first).

    Raises a ValueError beyond `ENUMERATE_MAX` strings.

    Example:
        >>> all_valid("balanced", 4).tolist()
        [[0, 0, 1, 1], [0, 1, 0, 1], [0, 1, 1, 0], [1, 0, 0, 1], [1, 0, 1, 0], [1, 1, 0, 0]]
    """
    d = _default_d(rule, d)
    spec = _rule(rule, d, group)
    count = spec.count(d, group)
    if count > ENUMERATE_MAX:
        raise ValueError(f"rule {rule!r} has {count} valid strings at d={d}; at most 2^20 listed")
    rows = spec.enumerate(d, group)
    return rows[_sort_rows(_pack(rows))[0]].long()


def to_signal(bits: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """`bits - 0.5`: {0, 1} -> {-0.5, +0.5}, data of std 0.5 (the EDM sigma_data)."""
    return bits.to(dtype) - 0.5


def to_bits(x: Tensor) -> Tensor:
    """`(x > 0)` as long: a signal (or a diffusion sample) rounded back to bits."""
    return (x > 0).long()


def _default_d(rule: str, d: int | None) -> int:
    if d is not None:
        return d
    spec = RULES.get(rule)
    return spec.size if spec is not None and spec.size is not None else DEFAULT_D


@dataclass(frozen=True)
class RuleConfig:
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

    @property
    def models(self) -> int:
        return len(self.seed)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Any) -> RuleConfig:
        """Validate a stored config (unknown or missing keys, bad values: one-line ValueError)."""
        config_from_dict(cls, d, "rule task config")
        return _rule_config(**d)


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
    sizes = [len(v) for v in (N, seed) if isinstance(v, Sequence)]
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

        Example:
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

    Example:
        >>> task = rule_task("group_parity", d=12, group=3, N=[10, 100, 256], seed=[0, 1, 2])
        >>> task.data.shape, task.n_valid, task.chance_rate
        (torch.Size([3, 256, 12]), 256, 0.0625)
    """
    return _make_rule_task(_rule_config(rule, d, N, group, seed))
