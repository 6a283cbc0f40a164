"""Logits restricted to key-frequency functions of (s - c), s = a op b: the model that Nanda et
al.'s "logits" extraction returns, stored and loaded like every interp model.

    logits[m, (a, b), c] = sum_f cos_coef[m, f] cos(2 pi f (s - c) / p)
                                + sin_coef[m, f] sin(2 pi f (s - c) / p)

Examples:
    >>> model = RestrictedLogits(RestrictedLogitsConfig(p=7, op="add", models=2))
    >>> model(torch.tensor([[1, 2], [3, 4]])).shape      # zero coefficients at init
    torch.Size([2, 2, 7])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from transformer_lens.hook_points import HookPoint

from interp.core.ensemble import Ensemble, EnsembleConfig
from interp.tasks.modular import OPS, pairs

__all__ = ["RestrictedLogits", "RestrictedLogitsConfig"]


@dataclass(frozen=True, kw_only=True)
class RestrictedLogitsConfig(EnsembleConfig):
    """`p`, the task `op` whose result s = a op b the logits are functions of, and `models`
    (`seed` is kept for the ensemble base; the coefficients start at zero)."""

    p: int
    op: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.op not in OPS:
            raise ValueError(f"op {self.op!r} is not one of {', '.join(OPS)}")
        if isinstance(self.p, bool) or not isinstance(self.p, int) or self.p < 3:
            raise ValueError(f"p={self.p!r} must be an integer >= 3")


class RestrictedLogits(Ensemble):
    """Parameters `cos_coef`, `sin_coef` `[models, F]`, F = (p - 1) // 2 (zero off the key
    frequencies). Hook point: `hook_logits` `[models, batch, p]`."""

    kind = "restricted_logits"
    task_kinds = ("modular",)
    config_class = RestrictedLogitsConfig
    cfg: RestrictedLogitsConfig

    def _build(self) -> None:
        n_freq = (self.cfg.p - 1) // 2
        self.cos_coef = nn.Parameter(torch.empty(self.cfg.models, n_freq))
        self.sin_coef = nn.Parameter(torch.empty(self.cfg.models, n_freq))
        self.hook_logits = HookPoint()

    def _init_weights(self, seed: int) -> dict[str, Tensor]:
        n_freq = (self.cfg.p - 1) // 2
        return {"cos_coef": torch.zeros(n_freq), "sin_coef": torch.zeros(n_freq)}

    @classmethod
    @torch.no_grad()
    def from_model(cls, model: nn.Module, op: str, key: Tensor) -> RestrictedLogits:
        """Project the full logit table of `model` (an `MLP`) onto the key frequencies
        `key [models, F]`."""
        p = model.cfg.p
        inputs = pairs(p, op).to(model.device)
        s = OPS[op](inputs[:, 0], inputs[:, 1], p)
        logits = model(inputs)  # [models, N, p]
        coeffs = torch.fft.rfft(logits.double(), dim=-1)[..., 1 : (p - 1) // 2 + 1]
        f = torch.arange(1, (p - 1) // 2 + 1, device=model.device)
        # sum_c L[c] e^{2 pi i f (s - c) / p} = rfft(L)[f] e^{2 pi i f s / p}; average over pairs.
        rotated = coeffs * torch.exp(2j * math.pi * f * s[:, None] / p)
        mean = rotated.mean(1) * 2 / p  # [models, F]
        keep = key.to(model.device)
        weights = {"cos_coef": (mean.real * keep).float(), "sin_coef": (mean.imag * keep).float()}
        cfg = RestrictedLogitsConfig(p=p, op=op, models=model.cfg.models, seed=model.cfg.seed)
        return cls(cfg, model.device, weights)

    def forward(self, inputs: Tensor) -> Tensor:
        """Logits `[models, batch, p]` for pairs `[batch, 2]`."""
        p = self.cfg.p
        s = OPS[self.cfg.op](inputs[:, 0], inputs[:, 1], p)
        f = torch.arange(1, (p - 1) // 2 + 1, device=inputs.device)
        c = torch.arange(p, device=inputs.device)
        # A logit depends on (s - c) mod p alone: one table of p values per model, then a gather
        # (not cos and sin of a [F, batch, p] angle tensor per call).
        angle = 2 * math.pi * f[:, None] * c[None, :] / p  # [F, p]: frequency x offset
        table = self.cos_coef @ torch.cos(angle) + self.sin_coef @ torch.sin(angle)  # [models, p]
        offset = (s[:, None] - c[None, :]) % p  # [batch, p]
        return self.hook_logits(table[:, offset])
