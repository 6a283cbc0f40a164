"""The binary rules themselves: exact counts, vectorized checkers and exact uniform samplers of
the strings of d bits that obey each rule, and the map between bits and diffusion signals.

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

Examples:
    >>> RULES["sudoku"].count(32, None), bool(is_valid(torch.tensor([0, 1, 1, 0]), "parity"))
    (288, True)
    >>> to_bits(to_signal(torch.tensor([1, 0, 1]))).tolist()
    [1, 0, 1]
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["RULES", "Rule", "is_valid", "sample_valid", "all_valid", "to_signal", "to_bits"]

# `all_valid` refuses to list more strings than this.
ENUMERATE_MAX = 2**20


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

    Examples:
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

    Examples:
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

    Examples:
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
