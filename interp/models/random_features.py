"""The random-features score model of Bonnaire, Urfin, Biroli and Mezard (2025), as an ensemble:

    s_A(x) = A act(W x / sqrt(d)),   W [p, d] ~ N(0, 1) fixed,   A [d, p] trained from zero,

learning the score of the data noised by the Ornstein-Uhlenbeck process to one time t
(`interp.tasks.mixtures.ou_coefficients`). Every model has its own features W (from its seed)
and read-out A. Hook points: `hook_features` `[models, batch, p]` (act(W x / sqrt d)) and
`hook_score` `[models, batch, d]`.

Examples:
    >>> model = RandomFeatures(RandomFeaturesConfig(d=4, p=16, t=0.1, models=2, seed=0))
    >>> model(torch.randn(3, 4)).abs().sum().item()                   # A starts at zero
    0.0
    >>> model.weights()["W"].shape, model.weights()["A"].shape
    (torch.Size([2, 16, 4]), torch.Size([2, 4, 16]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from transformer_lens.hook_points import HookPoint

from interp.core.ensemble import Ensemble, EnsembleConfig
from interp.tasks.mixtures import ou_coefficients

__all__ = ["RandomFeatures", "RandomFeaturesConfig", "ACTIVATIONS"]

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


@dataclass(frozen=True, kw_only=True)
class RandomFeaturesConfig(EnsembleConfig):
    """Shape, diffusion time and seeds of an ensemble of random-features score models.

    Attributes:
        d: data dimension.
        p: random features per model.
        t: the OU time whose noised data the model learns the score of (> 0).
        act: "tanh" (the paper's) or "relu".
        models, seed: ensemble size and one seed per model (its features W).
    """

    d: int
    p: int
    t: float
    act: str = "tanh"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._positive("d", "p")
        ou_coefficients(self.t)  # t must be a finite time > 0
        if self.act not in ACTIVATIONS:
            raise ValueError(f"act {self.act!r} is not one of {', '.join(ACTIVATIONS)}")


class RandomFeatures(Ensemble):
    """An ensemble of random-features score models (see the module docstring).

    Parameter: `A [models, d, p]` (trained, from zero); buffer: `W [models, p, d]` (fixed).
    `forward(x)` takes `[batch, d]` (shared) or `[models, batch, d]` and returns the score
    `[models, batch, d]`.
    """

    kind = "random_features"
    task_kinds = ("mixture",)
    config_class = RandomFeaturesConfig
    cfg: RandomFeaturesConfig

    def _build(self) -> None:
        m, d, p = self.cfg.models, self.cfg.d, self.cfg.p
        self.A = nn.Parameter(torch.empty(m, d, p))
        self.register_buffer("W", torch.empty(m, p, d))
        self.hook_features = HookPoint()
        self.hook_score = HookPoint()

    def _init_weights(self, seed: int) -> dict[str, Tensor]:
        gen = torch.Generator().manual_seed(seed)
        w = torch.randn(self.cfg.p, self.cfg.d, generator=gen)
        return {"A": torch.zeros(self.cfg.d, self.cfg.p), "W": w}

    def forward(self, x: Tensor) -> Tensor:
        """The score s_A(x) `[models, batch, d]` for x `[batch, d]` or `[models, batch, d]`."""
        m = self.A.shape[0]  # not cfg.models: training may run a slice of the ensemble
        if x.dim() == 2:
            x = x.expand(m, -1, -1)
        if x.dim() != 3 or x.shape[0] != m or x.shape[-1] != self.cfg.d:
            raise ValueError(
                f"x has shape {tuple(x.shape)}; expected [batch, {self.cfg.d}] or "
                f"[{m}, batch, {self.cfg.d}]"
            )
        pre = torch.bmm(x, self.W.transpose(1, 2)) / math.sqrt(self.cfg.d)
        features = self.hook_features(ACTIVATIONS[self.cfg.act](pre))  # [models, batch, p]
        return self.hook_score(torch.bmm(features, self.A.transpose(1, 2)))
