"""A small diffusion transformer (DiT) over d binary positions, as an ensemble with a leading
models axis.

Each position carries one scalar (a bit mapped to +-0.5, plus noise). The network F is a
pre-norm transformer without a causal mask, conditioned on the noise level by adaLN-Zero
(Peebles & Xie 2023); `forward` wraps it in EDM's preconditioning (Karras et al. 2022):

    D(x; s) = c_skip(s) x + c_out(s) F(c_in(s) x; c_noise(s))

so the model itself is a denoiser `D(x, sigma) -> x_hat`, the contract the samplers use. With
`boundary="consistency"` the skip and output scales are Song et al.'s consistency boundary
instead (`interp.diffusion.consistency`): the model is then a one-step sampler f(x; sigma). The
modulation and output layers start at zero, so at init F = 0 and D(x; s) = c_skip(s) x.

Every weight has a leading `models` axis; attention and MLPs are batched matrix products over
it. Hook points (activations `[models, batch, ...]`):

    hook_embed                    [models, batch, d, d_model]     value + position embedding
    hook_cond                     [models, batch, d_model]        noise-level conditioning
    blocks.{i}.attn.hook_pattern  [models, batch, heads, d, d]    attention (query, key)
    blocks.{i}.hook_attn_out      [models, batch, d, d_model]     gated attention, into the residual
    blocks.{i}.hook_mlp_out       [models, batch, d, d_model]     gated MLP, into the residual
    blocks.{i}.hook_resid_post    [models, batch, d, d_model]
    hook_out                      [models, batch, d]              F, the raw network output

Examples:
    >>> model = DiT(DiTConfig(d=8, models=2, seed=(0, 1)))
    >>> x = torch.randn(16, 8) * 0.5
    >>> model(x, 0.3).shape                                    # D(x; 0.3)
    torch.Size([2, 16, 8])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformer_lens.hook_points import HookPoint

from interp.core.ensemble import Ensemble, EnsembleConfig
from interp.diffusion import SIGMA_DATA, consistency_boundary, edm_precondition

__all__ = ["DiT", "DiTConfig", "BOUNDARIES"]

BOUNDARIES = ("edm", "consistency")

# The Fourier features of c_noise = ln(sigma)/4 use frequencies log-spaced over [1, 100] rad per
# unit: over sigma in [0.002, 80] (c_noise in [-1.55, 1.10]) they run from under half a turn
# (smooth in sigma) to a period of a factor 1.3 in sigma.
_FREQ_RANGE = (1.0, 100.0)
_LN_EPS = 1e-6


@dataclass(frozen=True, kw_only=True)
class DiTConfig(EnsembleConfig):
    """Shape and seeds of an ensemble of diffusion transformers.

    Attributes:
        d: sequence length (binary positions per sample).
        d_model: residual width; even and a multiple of `n_heads`.
        n_layers: transformer blocks.
        n_heads: attention heads per block.
        d_mlp: hidden width of each block's MLP (default 4 d_model).
        models: ensemble size; `seed` gives one init seed per model.
        seed: one seed per model (a single seed s gives s, s+1, ...); equal seeds start identical.
        sigma_data: standard deviation of the clean data (0.5 for bits mapped to +-0.5).
        boundary: "edm" (the model is a denoiser D(x; s), EDM's preconditioning) or
            "consistency" (a consistency function f(x; s) with f(x; sigma_min) = x, Song et
            al. 2023's preconditioning; see `interp.diffusion.consistency`).
        sigma_min: the lowest level, where a consistency function is the identity.
    """

    d: int
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    d_mlp: int | None = None
    sigma_data: float = SIGMA_DATA
    boundary: str = "edm"
    sigma_min: float = 0.002

    def __post_init__(self) -> None:
        super().__post_init__()
        self._positive("d", "d_model", "n_layers", "n_heads")
        if self.d_model % self.n_heads or self.d_model % 2:
            raise ValueError(
                f"d_model={self.d_model} must be even and a multiple of n_heads={self.n_heads}"
            )
        d_mlp = 4 * self.d_model if self.d_mlp is None else self.d_mlp
        object.__setattr__(self, "d_mlp", d_mlp)
        self._positive("d_mlp")
        if not (math.isfinite(self.sigma_data) and self.sigma_data > 0):
            raise ValueError(f"sigma_data={self.sigma_data} must be finite and > 0")
        if self.boundary not in BOUNDARIES:
            raise ValueError(f"boundary {self.boundary!r} is not one of {', '.join(BOUNDARIES)}")
        if not (math.isfinite(self.sigma_min) and self.sigma_min > 0):
            raise ValueError(f"sigma_min={self.sigma_min} must be finite and > 0")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


def _param(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.empty(shape))


def _linear(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """`x [models, ..., in] @ w [models, in, out] + b [models, out]` -> `[models, ..., out]`."""
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    return torch.baddbmm(b[:, None], flat, w).reshape(*x.shape[:-1], w.shape[-1])


def _modulate(h: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN: LayerNorm without affine, then the conditioning's own scale and shift."""
    return F.layer_norm(h, h.shape[-1:], eps=_LN_EPS) * (1 + scale) + shift


class DiTAttention(nn.Module):
    """Multi-head self-attention over the d positions, no mask. Weights in TransformerLens
    layout: `W_Q`, `W_K`, `W_V` `[models, heads, d_model, d_head]`, `W_O [models, heads, d_head,
    d_model]`, biases `b_Q`, `b_K`, `b_V` `[models, heads, d_head]`, `b_O [models, d_model]`."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        m, h, dm, e = cfg.models, cfg.n_heads, cfg.d_model, cfg.d_head
        self.W_Q, self.W_K, self.W_V = _param(m, h, dm, e), _param(m, h, dm, e), _param(m, h, dm, e)
        self.b_Q, self.b_K, self.b_V = _param(m, h, e), _param(m, h, e), _param(m, h, e)
        self.W_O = _param(m, h, e, dm)
        self.b_O = _param(m, dm)
        self.hook_pattern = HookPoint()

    def forward(self, x: Tensor) -> Tensor:
        """`[models, batch, pos, d_model]` -> the same shape."""
        q = torch.einsum("mbpd,mhde->mbhpe", x, self.W_Q) + self.b_Q[:, None, :, None]
        k = torch.einsum("mbpd,mhde->mbhpe", x, self.W_K) + self.b_K[:, None, :, None]
        v = torch.einsum("mbpd,mhde->mbhpe", x, self.W_V) + self.b_V[:, None, :, None]
        scores = torch.einsum("mbhqe,mbhke->mbhqk", q, k) / math.sqrt(q.shape[-1])
        pattern = self.hook_pattern(scores.softmax(-1))  # [models, batch, heads, query, key]
        z = torch.einsum("mbhqk,mbhke->mbhqe", pattern, v)
        return torch.einsum("mbhqe,mhed->mbqd", z, self.W_O) + self.b_O[:, None, None]


class DiTMLP(nn.Module):
    """GELU MLP per position: `W_in [models, d_model, d_mlp]`, `W_out [models, d_mlp, d_model]`,
    biases `b_in [models, d_mlp]`, `b_out [models, d_model]`."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        m, dm, f = cfg.models, cfg.d_model, cfg.d_mlp
        self.W_in, self.b_in = _param(m, dm, f), _param(m, f)
        self.W_out, self.b_out = _param(m, f, dm), _param(m, dm)

    def forward(self, x: Tensor) -> Tensor:
        return _linear(F.gelu(_linear(x, self.W_in, self.b_in)), self.W_out, self.b_out)


class DiTBlock(nn.Module):
    """Pre-norm block with adaLN-Zero: the conditioning gives shift, scale and gate for the
    attention and the MLP (`W_ada [models, d_model, 6 d_model]`, `b_ada [models, 6 d_model]`,
    zero at init, so every block starts as the identity)."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        m, dm = cfg.models, cfg.d_model
        self.W_ada, self.b_ada = _param(m, dm, 6 * dm), _param(m, 6 * dm)
        self.attn = DiTAttention(cfg)
        self.mlp = DiTMLP(cfg)
        self.hook_attn_out = HookPoint()
        self.hook_mlp_out = HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(self, h: Tensor, cond: Tensor) -> Tensor:
        """`h [models, batch, pos, d_model]`, `cond [models, batch, d_model]` (after SiLU)."""
        mod = _linear(cond, self.W_ada, self.b_ada)[:, :, None]  # [models, batch, 1, 6 d_model]
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = mod.chunk(6, dim=-1)
        h = h + self.hook_attn_out(gate_a * self.attn(_modulate(h, shift_a, scale_a)))
        h = h + self.hook_mlp_out(gate_m * self.mlp(_modulate(h, shift_m, scale_m)))
        return self.hook_resid_post(h)


class DiT(Ensemble):
    """An ensemble of diffusion transformers over d positions, preconditioned as EDM denoisers.

    Parameters (beyond the blocks'): `W_embed`, `b_embed` `[models, d_model]` (each position's
    scalar value -> d_model), `W_pos [models, d, d_model]` (learned), the noise MLP
    `W_noise1`, `W_noise2` `[models, d_model, d_model]` with `b_noise1`, `b_noise2`, the final
    adaLN `W_ada_final [models, d_model, 2 d_model]`, `b_ada_final`, and the read-out
    `W_unembed [models, d_model]`, `b_unembed [models]`.

    `forward(x, sigma)` is the denoiser D(x; sigma) `[models, batch, d]`; `raw(x_in, c_noise)` is
    the network F before preconditioning.
    """

    kind = "dit"
    task_kinds = ("rules", "mixture", "digits")
    config_class = DiTConfig
    cfg: DiTConfig

    def _build(self) -> None:
        cfg = self.cfg
        m, d, dm = cfg.models, cfg.d, cfg.d_model
        self.W_embed, self.b_embed, self.W_pos = _param(m, dm), _param(m, dm), _param(m, d, dm)
        self.W_noise1, self.b_noise1 = _param(m, dm, dm), _param(m, dm)
        self.W_noise2, self.b_noise2 = _param(m, dm, dm), _param(m, dm)
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.n_layers))
        self.W_ada_final, self.b_ada_final = _param(m, dm, 2 * dm), _param(m, 2 * dm)
        self.W_unembed, self.b_unembed = _param(m, dm), _param(m)
        self.hook_embed = HookPoint()
        self.hook_cond = HookPoint()
        self.hook_out = HookPoint()

    def _init_weights(self, seed: int) -> dict[str, Tensor]:
        """Gaussian init from `seed`, drawn in parameter order (adaLN-Zero: modulations, gates
        and the read-out start at zero)."""
        gen = torch.Generator().manual_seed(seed)
        weights = {}
        for name, p in self.named_parameters():
            std = _init_std(name, self.cfg)
            shape = p.shape[1:]
            weights[name] = torch.randn(shape, generator=gen) * std if std else torch.zeros(shape)
        return weights

    def forward(self, x: Tensor, sigma: Tensor | float | None = None) -> Tensor:
        """The denoiser D(x; sigma), or the consistency function f(x; sigma) when
        `cfg.boundary` is "consistency" (the same network F, another skip connection).

        Args:
            x: noisy samples `[batch, d]` (shared by every model) or `[models, batch, d]`.
            sigma: noise level(s) > 0, broadcastable to `[models, batch]`: a scalar, `[batch]`
                or `[models, batch]`. None means `cfg.sigma_data` (where signal and noise weigh
                the same), so that callers passing x alone, like `interp.core.hooks`, still run.

        Returns:
            The denoised estimate `[models, batch, d]`.
        """
        x = self._ensemble(x)
        if sigma is None:
            sigma = self.cfg.sigma_data
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        try:
            sigma = sigma.broadcast_to(x.shape[:-1])
        except RuntimeError as err:
            raise ValueError(
                f"sigma {tuple(sigma.shape)} does not broadcast to [models, batch] "
                f"{tuple(x.shape[:-1])}"
            ) from err
        c_skip, c_out, c_in, c_noise = edm_precondition(sigma, self.cfg.sigma_data)
        if self.cfg.boundary == "consistency":
            c_skip, c_out = consistency_boundary(sigma, self.cfg.sigma_data, self.cfg.sigma_min)
        return c_skip[..., None] * x + c_out[..., None] * self.raw(c_in[..., None] * x, c_noise)

    def raw(self, x_in: Tensor, c_noise: Tensor) -> Tensor:
        """The network F: scaled inputs `x_in [models, batch, d]` and noise labels
        `c_noise [models, batch]` -> `[models, batch, d]`."""
        h = x_in[..., None] * self.W_embed[:, None, None] + self.b_embed[:, None, None]
        h = self.hook_embed(h + self.W_pos[:, None])  # [models, batch, d, d_model]
        hidden = F.silu(_linear(self._fourier(c_noise), self.W_noise1, self.b_noise1))
        cond = self.hook_cond(_linear(hidden, self.W_noise2, self.b_noise2))
        cond = F.silu(cond)  # [models, batch, d_model], as every adaLN layer reads it
        for block in self.blocks:
            h = block(h, cond)
        shift, scale = _linear(cond, self.W_ada_final, self.b_ada_final)[:, :, None].chunk(2, -1)
        h = _modulate(h, shift, scale)
        out = torch.einsum("mbpd,md->mbp", h, self.W_unembed) + self.b_unembed[:, None, None]
        return self.hook_out(out)

    def _fourier(self, c_noise: Tensor) -> Tensor:
        """`[models, batch]` -> `[models, batch, d_model]`: cos and sin at fixed frequencies."""
        lo, hi = _FREQ_RANGE
        half = self.cfg.d_model // 2
        freqs = torch.logspace(
            math.log10(lo), math.log10(hi), half, dtype=c_noise.dtype, device=c_noise.device
        )
        angles = c_noise[..., None] * freqs
        return torch.cat([angles.cos(), angles.sin()], dim=-1)

    def _ensemble(self, x: Tensor) -> Tensor:
        m, d = self.W_pos.shape[:2]  # not cfg.models: training may run a slice of the ensemble
        if not x.is_floating_point():
            raise ValueError(f"x must be float (bits as +-{self.cfg.sigma_data}); got {x.dtype}")
        if x.dim() == 2:
            x = x.expand(m, -1, -1)
        if x.dim() != 3 or x.shape[0] != m or x.shape[-1] != d:
            raise ValueError(
                f"x has shape {tuple(x.shape)}; expected [batch, {d}] or [{m}, batch, {d}]"
            )
        return x


def _init_std(name: str, cfg: DiTConfig) -> float:
    """Standard deviation of the Gaussian init of parameter `name` (0: starts at zero)."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf.startswith(("b_", "W_ada")) or leaf == "W_unembed":
        return 0.0  # biases, and adaLN-Zero: modulations, gates and the read-out start at zero
    if leaf in ("W_embed", "W_pos"):
        return 1.0
    fan_in = cfg.d_mlp if name.endswith("mlp.W_out") else cfg.d_model
    return 1 / math.sqrt(fan_in)
