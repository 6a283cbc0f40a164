"""A two-layer network that recalls facts, as an ensemble: a name's fixed random code, one
hidden layer, and K ten-way read-outs, one per digit of the name's value (`interp.tasks.facts`).

    logits[k] = W_out[k] relu(W_in e_name + b_in) + b_out[k]

The codes e_name `[names, embed]` ~ N(0, 1) are drawn from the seed and not trained, so the
trainable parameters (W_in, b_in, W_out, b_out) do not grow with the number of names: a fact
base larger than the network's capacity is one it cannot store.

Every weight has a leading models axis. Hook points: `hook_embed` `[models, batch, embed]`,
`hook_post` `[models, batch, width]`, `hook_logits` `[models, batch, K, 10]`.

Examples:
    >>> model = FactNet(FactNetConfig(names=100, digits=3, width=32, models=2))
    >>> model(torch.tensor([[0, 5, 9], [1, 2, 3]])).shape          # [models, batch, K, 10]
    torch.Size([2, 3, 3, 10])
    >>> model.cfg.parameters                 # per model, trainable: the codes are fixed
    1534
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from transformer_lens.hook_points import HookPoint

from interp.core.ensemble import Ensemble, EnsembleConfig

__all__ = ["FactNet", "FactNetConfig"]


@dataclass(frozen=True, kw_only=True)
class FactNetConfig(EnsembleConfig):
    """Shape of an ensemble of fact-recall networks.

    Attributes:
        names: the input vocabulary (the largest fact base of the task).
        digits: K, digits per value.
        embed: the size of a name's fixed random code.
        width: hidden neurons.
    """

    names: int
    digits: int
    embed: int = 16
    width: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        self._positive("names", "digits", "embed", "width")

    @property
    def parameters(self) -> int:
        """Trainable parameters per model (the codes are fixed): the denominator of bits per
        parameter."""
        return (self.embed + 1) * self.width + (self.width + 1) * 10 * self.digits


class FactNet(Ensemble):
    """An ensemble of fact-recall networks (see the module docstring). `forward(names)` takes
    `[batch]` (shared) or `[models, batch]` long name ids and returns logits
    `[models, batch, K, 10]`."""

    kind = "fact_net"
    task_kinds = ("facts",)
    config_class = FactNetConfig
    cfg: FactNetConfig

    def _build(self) -> None:
        c = self.cfg
        m = c.models
        self.register_buffer("E", torch.empty(m, c.names, c.embed))
        self.W_in = nn.Parameter(torch.empty(m, c.embed, c.width))
        self.b_in = nn.Parameter(torch.empty(m, c.width))
        self.W_out = nn.Parameter(torch.empty(m, c.width, 10 * c.digits))
        self.b_out = nn.Parameter(torch.empty(m, 10 * c.digits))
        self.hook_embed = HookPoint()
        self.hook_post = HookPoint()
        self.hook_logits = HookPoint()

    def _init_weights(self, seed: int) -> dict[str, Tensor]:
        c = self.cfg
        gen = torch.Generator().manual_seed(seed)
        return {
            "E": torch.randn(c.names, c.embed, generator=gen),
            "W_in": torch.randn(c.embed, c.width, generator=gen) / math.sqrt(c.embed),
            "b_in": torch.zeros(c.width),
            "W_out": torch.randn(c.width, 10 * c.digits, generator=gen) / math.sqrt(c.width),
            "b_out": torch.zeros(10 * c.digits),
        }

    def forward(self, names: Tensor) -> Tensor:
        m = self.E.shape[0]  # not cfg.models: training may run a slice of the ensemble
        if names.dim() == 1:
            names = names.expand(m, -1)
        if names.dim() != 2 or names.shape[0] != m or names.dtype != torch.long:
            raise ValueError(
                f"names of shape {tuple(names.shape)}: need long [batch] or [{m}, batch]"
            )
        embed = self.hook_embed(
            torch.gather(self.E, 1, names[..., None].expand(-1, -1, self.E.shape[-1]))
        )
        post = self.hook_post(torch.relu(torch.bmm(embed, self.W_in) + self.b_in[:, None]))
        logits = torch.bmm(post, self.W_out) + self.b_out[:, None]
        return self.hook_logits(logits.reshape(*names.shape, self.cfg.digits, 10))

    @torch.no_grad()
    def recall(self, names: int) -> Tensor:
        """`[models, names, K]` the predicted value of every name id below `names`."""
        ids = torch.arange(names, device=self.E.device)
        return self(ids).argmax(-1)
