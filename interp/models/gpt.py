"""A tiny autoregressive GPT over bit strings: the rule tasks' next-token counterpart to the DiT.

Tokens are the bits 0 and 1 and a BOS token (2). A string `bits [batch, d]` is read as
`BOS b_1 ... b_d`; the model predicts bit t from `BOS b_1 ... b_{t-1}`, so its context is d + 1
tokens. The read-out covers the two bits only (TransformerLens `d_vocab_out = 2`): the model can
never emit BOS, and `logits [batch, pos, 2]`.

The network is TransformerLens's native pre-LN transformer, built by
`TransformerBridge.boot_native` (no download, no Hugging Face config), so hook names,
`run_with_cache`, `run_with_hooks`, `hooks()` and `state_dict()` are TransformerLens's own.
Activations for tokens `[batch, pos]` (pos = d + 1 for `gpt_tokens(bits)`, d inside the loss):

    hook_embed, hook_pos_embed                    [batch, pos, d_model]
    blocks.{i}.hook_resid_pre / _mid / _post      [batch, pos, d_model]
    blocks.{i}.attn.hook_q / hook_k / hook_v / hook_z   [batch, pos, n_heads, d_head]
    blocks.{i}.attn.hook_attn_scores / hook_pattern     [batch, n_heads, query pos, key pos]
    blocks.{i}.hook_attn_out, blocks.{i}.hook_mlp_out   [batch, pos, d_model]
    blocks.{i}.mlp.hook_pre / hook_post           [batch, pos, d_mlp]
    ln_final.hook_normalized                      [batch, pos, d_model]
    hook_unembed                                  [batch, pos, 2]   the logits

No models axis: a bridge is one model, and a sweep is a list of models. Stacking bridges with
`torch.func.stack_module_state` + `functional_call` + `vmap` does compute the right logits, but
`functional_call` on a bridge (or on its `original_model`) leaves the module's aliased parameter
paths pointing at the swapped-in tensors, which breaks every later eager call on it; and on one
CPU core it gained only 1.5x (8 models, d_model 32, 2 layers, 128 strings: 140 vs 216 ms per
training step). A list keeps every model a plain, hookable bridge.

Example:
    >>> model = build_gpt(GPTConfig(d=8, seed=0))
    >>> bits = torch.tensor([[0, 1, 1, 0, 0, 0, 1, 1]])
    >>> gpt_loss(model, bits)                             # exactly ln 2 at init: zero read-out
    tensor(0.6931, grad_fn=...)
    >>> logits, cache = model.run_with_cache(gpt_tokens(bits))
    >>> logits.shape, cache["blocks.1.hook_resid_post"].shape
    (torch.Size([1, 9, 2]), torch.Size([1, 9, 64]))
    >>> sample_gpt(model, 4, torch.Generator().manual_seed(0)).shape   # uint8 bits
    torch.Size([4, 8])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor
from transformer_lens import TransformerBridge, TransformerBridgeConfig

__all__ = ["GPTConfig", "build_gpt", "gpt_tokens", "gpt_log_prob", "gpt_loss", "sample_gpt", "BOS"]

BOS = 2
ACT_FNS = ("gelu", "relu")


@dataclass(frozen=True)
class GPTConfig:
    """Shape and seed of a tiny GPT over strings of d bits.

    Attributes:
        d: string length; the context holds BOS + d bits.
        d_model: residual width; `d_head = d_model / n_heads`.
        n_layers: transformer blocks (attention + MLP, pre-LayerNorm).
        n_heads: attention heads per block.
        d_mlp: MLP hidden width.
        act_fn: MLP activation, "gelu" or "relu".
        zero_unembed: start the read-out at zero, so the initial model is exactly uniform (loss
            ln 2, samples uniform bits) and generation starts at chance. TransformerLens's own
            init (every weight N(0, 0.8 / sqrt(d_model))) starts at loss 0.7-1.0 instead.
        seed: init seed; the same seed gives the same weights on any device, and building a
            model leaves the global RNG alone.
    """

    d: int
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    d_mlp: int = 256
    act_fn: str = "gelu"
    zero_unembed: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("d", "d_model", "n_layers", "n_heads", "d_mlp"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not a multiple of n_heads={self.n_heads}")
        if self.act_fn not in ACT_FNS:
            raise ValueError(f"act_fn {self.act_fn!r} is not one of {', '.join(ACT_FNS)}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def n_ctx(self) -> int:
        return self.d + 1

    def to_dict(self) -> dict:
        return asdict(self)

    def bridge_config(self) -> TransformerBridgeConfig:
        """The TransformerLens config `build_gpt` boots from."""
        return TransformerBridgeConfig(
            d_model=self.d_model,
            d_head=self.d_head,
            n_layers=self.n_layers,
            n_ctx=self.n_ctx,
            n_heads=self.n_heads,
            d_vocab=3,
            d_vocab_out=2,
            d_mlp=self.d_mlp,
            act_fn=self.act_fn,
            seed=self.seed,
            model_name=f"gpt_bits_d{self.d}",
        )


def build_gpt(cfg: GPTConfig, device: torch.device | str = "cpu") -> TransformerBridge:
    """A freshly initialised GPT as a TransformerLens bridge (built locally, no network).

    `model(tokens [batch, pos])` returns logits `[batch, pos, 2]`; tokens are taken as given
    (a tensor input gets no BOS: use `gpt_tokens`). Train it with any torch optimizer over
    `model.parameters()`.
    """
    model = TransformerBridge.boot_native(cfg.bridge_config(), device=device)
    if cfg.zero_unembed:
        with torch.no_grad():
            model.unembed.original_component.weight.zero_()
    return model


def gpt_tokens(bits: Tensor) -> Tensor:
    """`bits [batch, d]` (bool or integer 0/1) -> tokens `[batch, d + 1]` = BOS, bits (int64)."""
    if bits.dim() != 2:
        raise ValueError(f"bits have shape {tuple(bits.shape)}; expected [batch, d]")
    if bits.is_floating_point() or bits.is_complex():
        raise ValueError(f"bits have dtype {bits.dtype}; expected bool or integer 0/1")
    bos = torch.full((len(bits), 1), BOS, dtype=torch.long, device=bits.device)
    return torch.cat([bos, bits.long()], 1)


def _string_length(model: TransformerBridge) -> int:
    return model.cfg.n_ctx - 1


def gpt_log_prob(model: TransformerBridge, bits: Tensor) -> Tensor:
    """Log-likelihood (nats) of each string under the model: `bits [batch, d]` -> `[batch]`.

    One forward pass on BOS + bits[:, :-1]; position t scores bit t.
    """
    tokens = gpt_tokens(bits)
    d = _string_length(model)
    if tokens.shape[1] != d + 1:
        raise ValueError(f"bits have length {tokens.shape[1] - 1}; the model reads d={d}")
    logits = model(tokens[:, :-1])  # [batch, d, 2]
    log_probs = torch.log_softmax(logits, -1).gather(-1, tokens[:, 1:, None])
    return log_probs.squeeze(-1).sum(-1)


def gpt_loss(model: TransformerBridge, bits: Tensor) -> Tensor:
    """Next-token cross-entropy (nats per bit), a scalar: `-gpt_log_prob(...).mean() / d`.

    ln 2 for a model that knows nothing; ln(N) / d for one that has memorized N distinct strings.
    """
    return -gpt_log_prob(model, bits).mean() / bits.shape[1]


@torch.no_grad()
def sample_gpt(
    model: TransformerBridge,
    n: int,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
) -> Tensor:
    """n strings sampled autoregressively, batched over n: `[n, d]` uint8 bits on the model's
    device.

    Bit t is 1 when u_t < p_t(1), with `u [n, d]` uniforms drawn up front from `generator`
    (on the generator's device, then moved), so a seeded generator gives the same strings on any
    model device. `temperature` divides the logits. Each step reruns the whole prefix (no KV
    cache): d forward passes of length <= d.
    """
    if n < 1:
        raise ValueError(f"n={n} must be >= 1")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature={temperature} must be positive and finite")
    d = _string_length(model)
    device = next(model.parameters()).device
    u_device = generator.device if generator is not None else device
    u = torch.rand(n, d, generator=generator, device=u_device).to(device)
    tokens = torch.full((n, 1), BOS, dtype=torch.long, device=device)
    for t in range(d):
        p_one = torch.softmax(model(tokens)[:, -1] / temperature, -1)[:, 1]
        tokens = torch.cat([tokens, (u[:, t] < p_one).long()[:, None]], 1)
    return tokens[:, 1:].to(torch.uint8)
