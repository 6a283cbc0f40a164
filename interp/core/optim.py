"""The optimizer of the one loop: AdamW, Adam or SGD with one learning rate and weight decay per
model. AdamW decays the weights apart from the gradient (`torch.optim.AdamW`); Adam adds the
L2 gradient wd * w to the loss gradient before its moments (`torch.optim.Adam`), so a large
weight decay there is normalized like any gradient and pulls every weight toward 0 at about
lr per step.

Examples:
    >>> w = torch.zeros(2, 3, requires_grad=True)             # two models' weights
    >>> cfg = interp.TrainConfig(optimizer="sgd", lr=[0.1, 1.0])
    >>> opt = BatchedOptimizer({"w": (w, None)}, cfg, models=2)
    >>> w.grad = torch.ones(2, 3)
    >>> opt.step()
    >>> w[:, 0].tolist()                                        # each model its own rate
    [-0.10000000149011612, -1.0]
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

__all__ = ["BatchedOptimizer"]


class BatchedOptimizer:
    """AdamW, Adam or SGD whose learning rate and weight decay are `[models]` tensors: broadcast
    over the leading models axis of a stacked parameter, or taken at the model's index for a
    parameter that belongs to one model (`Ensemble.parameter_models`). AdamW and Adam follow
    `torch.optim.AdamW` and `torch.optim.Adam` exactly."""

    def __init__(self, params: dict[str, tuple[Tensor, int | None]], cfg: Any, models: int) -> None:
        self.params = params
        self.cfg = cfg
        device = next(iter(params.values()))[0].device
        self.lr = torch.tensor(cfg.per_model("lr", models), device=device)
        self.wd = torch.tensor(cfg.per_model("weight_decay", models), device=device)
        self.step_count = 0
        self.decays = bool((self.wd != 0).any())
        adam = cfg.optimizer in ("adamw", "adam")
        buffers = ("exp_avg", "exp_avg_sq") if adam else ("momentum",)
        self.state = {
            f"{b}.{n}": torch.zeros_like(p) for n, (p, _) in params.items() for b in buffers
        }

    def _per_model(self, x: Tensor, like: Tensor, model: int | None) -> Tensor:
        return x.view(-1, *([1] * (like.dim() - 1))) if model is None else x[model]

    @torch.no_grad()
    def step(self) -> None:
        self.step_count += 1
        t = self.step_count
        for name, (p, model) in self.params.items():
            g = p.grad
            lr, wd = self._per_model(self.lr, p, model), self._per_model(self.wd, p, model)
            if self.cfg.optimizer in ("adamw", "adam"):
                b1, b2 = self.cfg.betas
                m, v = self.state[f"exp_avg.{name}"], self.state[f"exp_avg_sq.{name}"]
                if self.decays and self.cfg.optimizer == "adamw":  # x 1.0 changes nothing
                    p.mul_(1 - lr * wd)
                elif self.decays:  # Adam: the L2 term joins the gradient
                    g = g + wd * p
                m.lerp_(g, 1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = v.sqrt().div_(math.sqrt(1 - b2**t)).add_(1e-8)
                p.sub_((lr / (1 - b1**t) * m).div_(denom))  # in place on the temporaries
            else:
                d = g + wd * p
                if self.cfg.momentum:
                    buf = self.state[f"momentum.{name}"]
                    d = buf.mul_(self.cfg.momentum).add_(d)
                p.sub_(lr * d)
