"""The exact population denoiser of (group) parity: the generalizing optimum of the denoising
loss, beside the empirical one of the training strings (the memorizing optimum).

Bits s_i in {-1, +1} are carried as signals x_i = c s_i (c = 0.5, so the data's std is EDM's
sigma_data) plus N(0, sigma^2) noise. With h_i = c x_i / sigma^2 and t_i = tanh h_i, a uniform
prior over strings whose every group of `group` bits holds an even number of ones (bit 1 is
s = +1, so prod s = (-1)^group within a group) gives, within an even group,

    E[s_i | x] = (t_i + prod_{j != i} t_j) / (1 + prod_j t_j)
               = tanh(h_i + artanh(prod_{j != i} t_j))

(an odd group flips the sign of the artanh term). It is computed in the second form, in the
log domain, so it stays exact at small sigma; the groups factorize (plain parity is one group
of d), and `D(x; sigma) = c E[s | x]`.

Examples:
    >>> D = ParityDenoiser(d=4, group=2)
    >>> x = torch.tensor([[0.5, 0.5, -0.5, -0.5]])                  # a valid string, no noise
    >>> D(x, torch.tensor([0.05]))
    tensor([[ 0.5000,  0.5000, -0.5000, -0.5000]])
    >>> D(torch.tensor([[0.5, -0.1, 0.0, 0.0]]), torch.tensor([0.3]))[0, 1] > 0  # pulled to +
    tensor(True)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ParityDenoiser"]


class ParityDenoiser:
    """`D(x, sigma)` of the uniform distribution over strings of d bits whose consecutive
    groups of `group` bits have even parity (`group = d`: parity). x `[..., batch, d]`, sigma
    broadcastable to `[..., batch]`; computed in float64, returned in x's dtype."""

    def __init__(self, d: int, group: int | None = None, amplitude: float = 0.5) -> None:
        group = d if group is None else group
        if isinstance(group, bool) or not isinstance(group, int) or group < 1 or d % group:
            raise ValueError(f"group={group!r} must divide d={d}")
        self.d, self.group, self.amplitude = d, group, amplitude

    def __call__(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        if x.shape[-1] != self.d:
            raise ValueError(f"x of shape {tuple(x.shape)}: need [..., batch, {self.d}]")
        sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x.device)
        h = self.amplitude * x.double() / sigma.broadcast_to(x.shape[:-1])[..., None] ** 2
        h = h.unflatten(-1, (self.d // self.group, self.group))  # [..., G, g]
        # E[s_i | x] = tanh(h_i + artanh(prod_{j != i} tanh h_j)), the parity check's message,
        # in the log domain: |tanh h| = 1 - e with log e = log 2 + logsigmoid(-2|h|), so the
        # product's distance from +-1 is kept even where tanh itself rounds to +-1.
        log_e = math.log(2) + F.logsigmoid(-2 * h.abs())
        others = ~torch.eye(self.group, dtype=torch.bool, device=x.device)  # j != i
        log_e_rows = log_e[..., None, :].expand(*log_e.shape, self.group)  # [..., G, i, j]
        log_e_rows = log_e_rows.masked_fill(~others, -math.inf)
        log_keep = torch.log1p(-log_e_rows.exp()).masked_fill(~others, 0.0).sum(-1)
        exact = torch.log(-torch.expm1(log_keep))  # log(1 - prod_{j != i} |tanh h_j|)
        small = torch.logsumexp(log_e_rows, -1)  # the same, to first order, where it underflows
        log_gap = torch.where(torch.isfinite(exact), exact, small)
        sign = torch.where(h >= 0, 1.0, -1.0).double()
        sign_others = (
            (sign[..., None, :].expand(*sign.shape, self.group)).masked_fill(~others, 1.0).prod(-1)
        )
        # an even number of ones is prod s = +1 for an even group, -1 for an odd one
        parity = 1.0 if self.group % 2 == 0 else -1.0
        message = parity * sign_others * 0.5 * (torch.log(2 - log_gap.exp()) - log_gap)
        mean = torch.tanh(h + message)
        return (self.amplitude * mean.flatten(-2)).to(x.dtype)
