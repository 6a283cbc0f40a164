"""A two-layer network of real inputs with one scalar score, as an ensemble: the learner of the
Rules-and-Facts task (`interp.tasks.raf`) that the library trains, hooks and takes apart.

    score(x) = a . act(W x / sqrt d + b) / sqrt width

Each neuron k is a direction w_k in input space and a read-out weight a_k; its contribution to
a score is a_k act(w_k . x / sqrt d + b_k) / sqrt width, so a score is a sum over neurons and
neurons can be ablated one by one (`interp.studies.raf.network`). Every weight has a leading
models axis. Hook points: `hook_pre` and `hook_post` `[models, batch, width]`, `hook_score`
`[models, batch]`.

Initialisation: W ~ N(0, 1), a ~ N(0, 1), b = 0, all times `init_scale` (1: the standard,
"lazy" scale at which a wide network stays near its random features; small: the rich regime
where neurons move and can specialize).

Examples:
    >>> model = TwoLayer(TwoLayerConfig(d=20, width=64, models=3))
    >>> score, cache = model.run_with_cache(torch.randn(5, 20))   # [batch, d]: shared points
    >>> score.shape, cache["hook_post"].shape
    (torch.Size([3, 5]), torch.Size([3, 5, 64]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from transformer_lens.hook_points import HookPoint

from interp.core.ensemble import Ensemble, EnsembleConfig

__all__ = ["TwoLayer", "TwoLayerConfig", "ACTIVATIONS"]

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


@dataclass(frozen=True, kw_only=True)
class TwoLayerConfig(EnsembleConfig):
    """Shape of an ensemble of two-layer scalar networks.

    Attributes:
        d: input dimension.
        width: hidden neurons.
        act: "relu" or "tanh".
        init_scale: multiplies every initial weight (finite, > 0).
    """

    d: int
    width: int = 256
    act: str = "relu"
    init_scale: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self._positive("d", "width")
        if self.act not in ACTIVATIONS:
            raise ValueError(f"act={self.act!r}; expected one of {', '.join(ACTIVATIONS)}")
        if not (
            isinstance(self.init_scale, int | float)
            and math.isfinite(self.init_scale)
            and self.init_scale > 0
        ):
            raise ValueError(f"init_scale={self.init_scale!r} must be a finite number > 0")


class TwoLayer(Ensemble):
    """An ensemble of two-layer scalar networks (see the module docstring). `forward(x)` takes
    points `[batch, d]` (shared by every model) or `[models, batch, d]` and returns scores
    `[models, batch]` (float32; the points are cast)."""

    kind = "two_layer"
    task_kinds = ("raf",)
    config_class = TwoLayerConfig
    cfg: TwoLayerConfig

    def _build(self) -> None:
        c = self.cfg
        self.W = nn.Parameter(torch.empty(c.models, c.width, c.d))
        self.b = nn.Parameter(torch.empty(c.models, c.width))
        self.a = nn.Parameter(torch.empty(c.models, c.width))
        self.hook_pre = HookPoint()
        self.hook_post = HookPoint()
        self.hook_score = HookPoint()

    def _init_weights(self, seed: int) -> dict[str, Tensor]:
        c = self.cfg
        gen = torch.Generator().manual_seed(seed)
        return {
            "W": torch.randn(c.width, c.d, generator=gen) * c.init_scale,
            "b": torch.zeros(c.width),
            "a": torch.randn(c.width, generator=gen) * c.init_scale,
        }

    def forward(self, x: Tensor) -> Tensor:
        m = self.W.shape[0]  # not cfg.models: training may run a slice of the ensemble
        if x.dim() == 2:
            x = x.expand(m, *x.shape)
        if x.dim() != 3 or x.shape[0] != m or x.shape[-1] != self.cfg.d:
            raise ValueError(
                f"points of shape {tuple(x.shape)}: need [batch, {self.cfg.d}] or "
                f"[{m}, batch, {self.cfg.d}]"
            )
        x = x.to(self.W.dtype)
        pre = self.hook_pre(torch.einsum("mbd,mkd->mbk", x, self.W) / math.sqrt(self.cfg.d))
        post = self.hook_post(ACTIVATIONS[self.cfg.act](pre + self.b[:, None]))
        return self.hook_score(torch.einsum("mbk,mk->mb", post, self.a) / math.sqrt(self.cfg.width))

    @torch.no_grad()
    def contributions(self, x: Tensor) -> Tensor:
        """Each neuron's share of the score, `[models, batch, width]` (summing over neurons
        gives `forward(x)`), for points `[batch, d]` or `[models, batch, d]`."""
        _, cache = self.run_with_cache(x, names_filter="hook_post")
        return cache["hook_post"] * self.a[:, None] / math.sqrt(self.cfg.width)
