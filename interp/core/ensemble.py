"""One base for every model: an ensemble of M models whose weights share a leading `models` axis.

`EnsembleConfig` holds what every model kind shares (`models`, one `seed` per model, dict round
trips that refuse unknown keys); `Ensemble` holds what every model shares: construction from a
config or from stored weights (every tensor required, shapes checked, non-finite values refused),
`select`, `weights`, `device`, and the registry entry (`kind`) that the run format reads.

A model kind subclasses both: the config adds its shape, the module declares its parameters and
how to draw them from a seed. Weights are drawn per model from that model's seed on the CPU, so
the same seed gives the same network whatever the ensemble around it and whatever the device.

Examples:
    >>> from interp.models.mlp import MLP, MLPConfig
    >>> model = MLP(MLPConfig(p=7, width=4, models=3, seed=5))
    >>> model.cfg.seed, model.select([2, 0]).cfg.seed
    ((5, 6, 7), (7, 5))
    >>> bool(torch.equal(model.select(2).weights()["U"][0], model.weights()["U"][2]))
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar, TypeVar

import torch
from torch import Tensor, nn
from transformer_lens import HookedRootModule

__all__ = ["EnsembleConfig", "Ensemble", "broadcast_seeds", "check_finite", "config_from_dict"]

C = TypeVar("C", bound="EnsembleConfig")


def broadcast_seeds(seed: int | Sequence[int], models: int) -> tuple[int, ...]:
    """One seed per model: a single seed s gives s, s+1, ..., a sequence must have `models` ints.

    Examples:
        >>> broadcast_seeds(3, 2), broadcast_seeds([4, 4], 2)
        ((3, 4), (4, 4))
    """
    if isinstance(seed, str) or not isinstance(seed, int | Sequence):
        raise ValueError(f"seed={seed!r} must be an int or a sequence of ints, one per model")
    values = tuple(seed) if isinstance(seed, Sequence) else (seed,)
    if any(isinstance(s, bool) or not isinstance(s, int) for s in values):
        raise ValueError(f"seed={list(values)} must hold integers")
    if len(values) == 1 and models > 1:
        values = tuple(range(values[0], values[0] + models))
    if len(values) != models:
        raise ValueError(f"seed has {len(values)} values; expected 1 or models={models}")
    return values


def config_from_dict(cls: type[C], data: Any, where: str = "config") -> C:
    """`cls(**data)` that names an unknown or missing key instead of a TypeError traceback."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a JSON object; got {type(data).__name__} {data!r}")
    names = {f.name for f in fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        allowed = ", ".join(sorted(names))
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed: {allowed}")
    required = [
        f.name
        for f in fields(cls)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [n for n in required if n not in data]
    if missing:
        raise ValueError(f"{where}: missing key {missing[0]!r}")
    return cls(**data)


@dataclass(frozen=True, kw_only=True)
class EnsembleConfig:
    """What every model kind's config shares.

    Attributes:
        models: ensemble size (>= 1).
        seed: one init seed per model; a single seed s gives s, s+1, ...; equal seeds start
            identical.
    """

    models: int = 1
    seed: tuple[int, ...] = field(default=(0,))

    def __post_init__(self) -> None:
        if isinstance(self.models, bool) or not isinstance(self.models, int) or self.models < 1:
            raise ValueError(f"models={self.models!r} must be an integer >= 1")
        object.__setattr__(self, "seed", broadcast_seeds(self.seed, self.models))

    def _positive(self, *names: str) -> None:
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be an integer >= 1")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["seed"] = list(self.seed)
        return d

    @classmethod
    def from_dict(cls: type[C], data: Any) -> C:
        return config_from_dict(cls, data, f"{cls.__name__}")

    def subset(self: C, idx: Sequence[int]) -> C:
        """The config of the models `idx` of this ensemble."""
        return replace(self, models=len(idx), seed=tuple(self.seed[i] for i in idx))


def check_finite(tensors: dict[str, Tensor], where: str) -> None:
    """Raise `ValueError` naming the first tensor (and its models) that holds NaN or inf."""
    for name, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            bad = ~torch.isfinite(value)
            models = bad.reshape(bad.shape[0], -1).any(1).nonzero().flatten().tolist()
            raise ValueError(f"{where}: weight {name} holds NaN or inf (models {models})")


class Ensemble(HookedRootModule):
    """Base of every model kind: M models, weights `[models, ...]`, hook points everywhere.

    A subclass sets `kind` (the registry name stored in runs), declares its parameters in
    `_build()` and draws one model's initial weights in `_init_weights(seed)`; `__init__` then
    fills them from `weights` (a state dict, copied; every tensor required) or from `cfg.seed`.
    """

    kind: ClassVar[str]
    # the task kinds it trains on and is evaluated on (None: any)
    task_kinds: ClassVar[tuple[str, ...] | None] = None
    config_class: ClassVar[type[EnsembleConfig]]

    def __init__(
        self,
        cfg: EnsembleConfig,
        device: torch.device | str = "cpu",
        weights: dict[str, Tensor] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(cfg, self.config_class):
            raise TypeError(
                f"{type(self).__name__} takes a {self.config_class.__name__}; "
                f"got {type(cfg).__name__}"
            )
        self.cfg = cfg
        self._build()
        expected = {k: tuple(v.shape) for k, v in self.weights().items()}
        if weights is None:
            weights = self._initial_weights()
        else:
            missing = sorted(set(expected) - set(weights))
            if missing:
                raise ValueError(f"weights lack {', '.join(missing[:5])}")
            unknown = sorted(set(weights) - set(expected))
            if unknown:
                raise ValueError(f"unexpected weights {', '.join(unknown[:5])}")
            check_finite(weights, f"{type(self).__name__} weights")
        for name, shape in expected.items():
            if tuple(weights[name].shape) != shape:
                got = tuple(weights[name].shape)
                raise ValueError(f"weight {name} has shape {got}; config expects {shape}")
        self._load(weights)
        self.to(device)
        self.setup()

    def _build(self) -> None:
        """Declare the parameters (any values: they are filled afterwards) and hook points."""
        raise NotImplementedError

    def _init_weights(self, seed: int) -> dict[str, Tensor]:
        """One model's initial weights (no models axis), drawn from `seed` on the CPU."""
        raise NotImplementedError

    def _load(self, weights: dict[str, Tensor]) -> None:
        """Copy `weights` (checked: every name, every shape) into the module."""
        with torch.no_grad():
            for name, value in self.state_dict(keep_vars=True).items():
                value.copy_(weights[name])

    def _initial_weights(self) -> dict[str, Tensor]:
        drawn = [self._init_weights(seed) for seed in self.cfg.seed]
        return {name: torch.stack([w[name] for w in drawn]) for name in drawn[0]}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def models(self) -> int:
        return self.cfg.models

    def weights(self) -> dict[str, Tensor]:
        """Every stored tensor by name, detached: what a step file holds."""
        return {k: v.detach() for k, v in self.state_dict().items()}

    def _select_weights(self, idx: list[int]) -> dict[str, Tensor]:
        return {k: v[idx] for k, v in self.weights().items()}

    def select(self, models: Sequence[int] | int) -> Ensemble:
        """A new ensemble holding copies of the given models (an int keeps the axis: 1 model)."""
        idx = [models] if isinstance(models, int) else list(models)
        bad = [i for i in idx if not -self.models <= i < self.models]
        if bad or not idx:
            raise ValueError(f"models {idx} must be indices in [0, {self.models})")
        idx = [i % self.models for i in idx]
        return type(self)(self.cfg.subset(idx), self.device, self._select_weights(idx))

    @classmethod
    def concat(cls, parts: Sequence[Ensemble]) -> Ensemble:
        """One ensemble holding the models of `parts` in order (e.g. the checkpoints of a run at
        several steps, side by side); their configs must agree but for `models` and `seed`.

        Examples:
            >>> run = interp.load_run("checkpoints/dit_group2_d16")
            >>> both = interp.DiT.concat([run.model(305), run.model(3000)])
            >>> both.cfg.models, both.cfg.seed
            (4, (0, 0, 0, 0))
        """
        parts = list(parts)
        if not parts or any(type(p) is not cls for p in parts):
            raise ValueError(f"concat needs one or more {cls.__name__} ensembles")
        first = parts[0].cfg
        for p in parts[1:]:
            if replace(p.cfg, models=first.models, seed=first.seed) != first:
                raise ValueError(f"cannot concat {cls.__name__}s of different configs: {p.cfg}")
        if any(model is not None for _, model in parts[0].parameter_models().values()):
            raise ValueError(f"{cls.__name__} keeps per-model modules: concat is not supported")
        seeds = tuple(s for p in parts for s in p.cfg.seed)
        cfg = replace(first, models=len(seeds), seed=seeds)
        weights = {k: torch.cat([p.weights()[k] for p in parts]) for k in parts[0].weights()}
        return cls(cfg, parts[0].device, weights)

    def parameter_models(self) -> dict[str, tuple[nn.Parameter, int | None]]:
        """Each parameter with the model it belongs to: None when it has the models axis (every
        stacked kind), the model index when it is one model's own tensor (a GPT's bridges)."""
        return {k: (p, None) for k, p in self.named_parameters()}
