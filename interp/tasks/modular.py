"""Modular arithmetic with label noise: every pair (a, b) of Z_p x Z_p, target (a op b) mod p.

A task is pure data: the full input table, its clean labels, and per-model masks (`train`,
`test`, `noisy`) plus the labels each model trains on. It is regenerated exactly from its
`ModularConfig`, so a run stores the config, not the data.

Examples:
    >>> task = modular_task(p=7, op="add", train_fraction=0.5, noise=0.2, seed=[0, 1])
    >>> task.inputs.shape, task.train.shape            # [examples, 2], [models, examples]
    (torch.Size([49, 2]), torch.Size([2, 49]))
    >>> bool((task.train_labels[task.noisy] != task.labels.expand(2, -1)[task.noisy]).all())
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar

import torch
from torch import Tensor

from interp.tasks.base import TaskConfig

__all__ = [
    "OPS",
    "ModularConfig",
    "ModularTask",
    "modular_task",
    "pairs",
    "is_prime",
    "MULTIPLICATIVE",
    "group_order",
]

# Ops that are addition in the exponent: with a = g^i, b = g^j, a * b = g^(i+j) and a / b = g^(i-j).
MULTIPLICATIVE = ("multiply", "divide")


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


def group_order(p: int, op: str) -> Tensor | None:
    """The residues in the order in which `op` becomes addition, or None when it already is.

    For "multiply" and "divide" (p prime) the nonzero residues g^0, g^1, ..., g^(p-2) of the
    smallest primitive root g: indexed this way, a op b is addition (subtraction) mod p - 1, so
    a generalizing network is made of waves over the exponent (discrete log) instead of over the
    residue. Residue 0 lies outside the group.

    Returns:
        None for the additive ops, else `[p - 1]` long.

    Examples:
        >>> group_order(7, "multiply")  # 3 is a primitive root of 7
        tensor([1, 3, 2, 6, 4, 5])
    """
    if op not in MULTIPLICATIVE:
        return None
    if not is_prime(p):
        raise ValueError(f"op {op!r} forms a cyclic group only for a prime p; got p={p}")
    for g in range(1, p):
        powers = [pow(g, i, p) for i in range(p - 1)]
        if len(set(powers)) == p - 1:
            return torch.tensor(powers, dtype=torch.long)
    raise AssertionError("unreachable: every prime has a primitive root")


def _inverse(b: Tensor, p: int) -> Tensor:
    """b^-1 mod p, elementwise, on b's device (a table lookup; residue 0 maps to 0)."""
    table = torch.tensor([pow(x, -1, p) if x else 0 for x in range(p)], device=b.device)
    return table[b]


# op name -> (a, b, p) -> (a op b) mod p, on long tensors.
OPS: dict[str, Callable[[Tensor, Tensor, int], Tensor]] = {
    "add": lambda a, b, p: (a + b) % p,
    "subtract": lambda a, b, p: (a - b) % p,
    "multiply": lambda a, b, p: (a * b) % p,
    "divide": lambda a, b, p: (a * _inverse(b, p)) % p,
    "square_sum": lambda a, b, p: (a * a + b * b) % p,
    "cube_sum": lambda a, b, p: (a**3 + b**3) % p,
}


def _values(name: str, value: Any, kind: type) -> tuple:
    """`value` as a tuple (a scalar is one value), each checked to be a `kind` (never a bool)."""
    many = isinstance(value, Sequence) and not isinstance(value, str)
    values = tuple(value) if many else (value,)
    what = "an integer" if kind is Integral else "a number"
    for v in values:
        if isinstance(v, bool) or not isinstance(v, kind):
            raise ValueError(f"{name}={v!r} must be {what}")
    return values


def _per_model(name: str, value: float | int | Sequence, models: int) -> tuple:
    many = isinstance(value, Sequence) and not isinstance(value, str)  # "12" is one value
    values = tuple(value) if many else (value,)
    if len(values) == 1:
        values = values * models
    if len(values) != models:
        raise ValueError(f"{name} has {len(values)} values; expected 1 or {models} (one per model)")
    return values


@dataclass(frozen=True)
class ModularConfig(TaskConfig):
    """Everything needed to regenerate a modular task; one entry per model in the tuples.

    Attributes:
        p: modulus (divide needs p prime).
        op: one of `OPS`.
        train_fraction: per model, fraction of the table used for training.
        noise: per model, label-noise rate xi: the fraction of *training* labels replaced by a
            uniformly random wrong label (exactly round(xi * n_train) of them).
        seed: per model, seed of the split and of the noise draw.
    """

    p: int
    op: str
    train_fraction: tuple[float, ...]
    noise: tuple[float, ...]
    seed: tuple[int, ...]

    @classmethod
    def _validated(cls, **fields: Any) -> ModularConfig:
        return _modular_config(**fields)


def _modular_config(
    p: int = 97,
    op: str = "add",
    train_fraction: float | Sequence[float] = 0.5,
    noise: float | Sequence[float] = 0.0,
    seed: int | Sequence[int] = 0,
) -> ModularConfig:
    """Validate and broadcast arguments into a `ModularConfig` (scalars apply to every model)."""
    if op not in OPS:
        raise ValueError(f"op {op!r} is not one of {', '.join(OPS)}")
    if not isinstance(p, int) or p < 3:
        raise ValueError(f"p={p!r} must be an integer >= 3")
    if op == "divide" and not is_prime(p):
        raise ValueError(f"op 'divide' needs a prime p; got p={p}")
    given = {
        "train_fraction": _values("train_fraction", train_fraction, Real),
        "noise": _values("noise", noise, Real),
        "seed": _values("seed", seed, Integral),
    }
    sizes = [len(v) for v in given.values()]
    if 0 in sizes:
        raise ValueError("seed, noise and train_fraction sequences must not be empty")
    models = max(sizes)
    fracs = tuple(float(f) for f in _per_model("train_fraction", given["train_fraction"], models))
    noises = tuple(float(x) for x in _per_model("noise", given["noise"], models))
    seeds = tuple(int(s) for s in _per_model("seed", given["seed"], models))
    n = p * p - (p if op == "divide" else 0)
    for f in fracs:
        if not 0.0 < f < 1.0:
            raise ValueError(f"train_fraction={f} must lie strictly between 0 and 1")
        if not 1 <= round(f * n) < n:
            raise ValueError(
                f"train_fraction={f} gives {round(f * n)} training pairs of {n}; "
                "at least one must train and one be held out"
            )
    for x in noises:
        if not 0.0 <= x < 1.0:
            raise ValueError(f"noise={x} must lie in [0, 1)")
    return ModularConfig(p=p, op=op, train_fraction=fracs, noise=noises, seed=seeds)


@dataclass
class ModularTask:
    """A modular-arithmetic table with per-model splits and noisy training labels.

    Attributes:
        config: the `ModularConfig` that regenerates this task.
        inputs: `[examples, 2]` long, the pairs (a, b); all of Z_p^2 (b != 0 for divide).
        labels: `[examples]` long, clean targets (a op b) mod p.
        train: `[models, examples]` bool, the training split of each model.
        noisy: `[models, examples]` bool, training examples whose label was replaced.
        train_labels: `[models, examples]` long, the labels each model is trained on
            (clean everywhere but on `noisy`, where it is a uniformly random wrong label).
    """

    config: ModularConfig
    inputs: Tensor
    labels: Tensor
    train: Tensor
    noisy: Tensor
    train_labels: Tensor

    kind: ClassVar[str] = "modular"
    config_class: ClassVar[type] = ModularConfig

    @property
    def p(self) -> int:
        return self.config.p

    @property
    def models(self) -> int:
        return self.train.shape[0]

    @property
    def test(self) -> Tensor:
        """`[models, examples]` bool: every example outside the training split (labels clean)."""
        return ~self.train

    @property
    def clean(self) -> Tensor:
        """`[models, examples]` bool: training examples that kept their true label."""
        return self.train & ~self.noisy

    def to(self, device: torch.device | str) -> ModularTask:
        moved = {k: getattr(self, k).to(device) for k in ("inputs", "labels", "train", "noisy")}
        return ModularTask(self.config, train_labels=self.train_labels.to(device), **moved)

    def select(self, models: Sequence[int] | int) -> ModularTask:
        """The sub-task of the given model indices (an int keeps the axis: 1 model)."""
        idx = [models] if isinstance(models, int) else list(models)
        cfg = self.config
        sub = ModularConfig(
            cfg.p,
            cfg.op,
            tuple(cfg.train_fraction[i] for i in idx),
            tuple(cfg.noise[i] for i in idx),
            tuple(cfg.seed[i] for i in idx),
        )
        return ModularTask(
            sub, self.inputs, self.labels, self.train[idx], self.noisy[idx], self.train_labels[idx]
        )

    @classmethod
    def from_config(cls, config: ModularConfig) -> ModularTask:
        """Regenerate the task described by `config` (what a run loader calls)."""
        return _make_task(config)

    def stored(self) -> dict[str, Tensor]:
        """What a step file keeps of the task: the split, the noisy mask and the labels."""
        return {"train": self.train, "noisy": self.noisy, "train_labels": self.train_labels.int()}

    def check_stored(self, stored: dict[str, Tensor], where: str) -> None:
        """Raise `ValueError` unless `stored` (a step file's task tensors) is exactly this task's
        split, noise and labels: a config edited after training is caught here."""
        for name, value in self.stored().items():
            got = stored.get(name)
            if got is None or tuple(got.shape) != tuple(value.shape):
                shape = "missing" if got is None else tuple(got.shape)
                raise ValueError(
                    f"{where}: task.{name} is {shape}; the config expects {tuple(value.shape)}"
                )
            if not torch.equal(got.to(value.dtype).cpu(), value.cpu()):
                raise ValueError(
                    f"{where}: task.{name} differs from the task its config regenerates "
                    "(was config.json edited after training?)"
                )


def modular_task(
    p: int = 97,
    op: str = "add",
    train_fraction: float | Sequence[float] = 0.5,
    noise: float | Sequence[float] = 0.0,
    seed: int | Sequence[int] = 0,
) -> ModularTask:
    """Generate a modular task; sequences give one value per model, scalars are shared.

    Each model gets its own split and noise draw from its seed, on the CPU, so the same
    (config, seed) gives the same task on every machine.

    Examples:
        >>> task = modular_task(p=97, noise=[0.0, 0.35, 0.8], seed=0)   # 3 models
        >>> task.noisy.sum(1) / task.train.sum(1)                         # exact rates
        tensor([0.0000, 0.3499, 0.8000])
    """
    return _make_task(_modular_config(p, op, train_fraction, noise, seed))


def pairs(p: int, op: str) -> Tensor:
    """`[examples, 2]` every pair (a, b) of Z_p x Z_p in row-major order; b != 0 for divide."""
    a, b = torch.cartesian_prod(torch.arange(p), torch.arange(p)).T
    if op == "divide":
        a, b = a[b != 0], b[b != 0]
    return torch.stack([a, b], dim=1)


def _make_task(config: ModularConfig) -> ModularTask:
    p = config.p
    inputs = pairs(p, config.op)
    labels = OPS[config.op](inputs[:, 0], inputs[:, 1], p)
    n = len(labels)
    train, noisy, train_labels = [], [], []
    for frac, xi, seed in zip(config.train_fraction, config.noise, config.seed):
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(n, generator=gen)
        n_train = round(frac * n)
        is_train = torch.zeros(n, dtype=torch.bool)
        is_train[order[:n_train]] = True
        is_noisy = torch.zeros(n, dtype=torch.bool)
        flipped = order[: round(xi * n_train)]  # the split is already a random order
        is_noisy[flipped] = True
        # A uniformly random *wrong* label: shift the true one by 1..p-1.
        shift = torch.randint(1, p, (len(flipped),), generator=gen)
        model_labels = labels.clone()
        model_labels[flipped] = (labels[flipped] + shift) % p
        train.append(is_train)
        noisy.append(is_noisy)
        train_labels.append(model_labels)
    return ModularTask(
        config, inputs, labels, torch.stack(train), torch.stack(noisy), torch.stack(train_labels)
    )
