"""A tiny autoregressive GPT over bit strings, as an ensemble: the rule tasks' next-token
counterpart to the DiT; with a names vocabulary (`GPTConfig(names=N)`) it recalls facts instead.

Tokens are the bits 0 and 1 and a BOS token (2). A string `bits [batch, d]` is read as
`BOS b_1 ... b_d`; each model predicts bit t from `BOS b_1 ... b_{t-1}`, so its context is d + 1
tokens. The read-out covers the two bits only (TransformerLens `d_vocab_out = 2`): a model can
never emit BOS.

Each model of the ensemble is TransformerLens's native pre-LN transformer, built by
`TransformerBridge.boot_native` (no download, no Hugging Face config) from its own seed, and kept
as a plain bridge: `model.bridges[m]` has TransformerLens's own hook names, `run_with_cache`,
`run_with_hooks` and `hooks()`. The ensemble answers like every interp model, with a leading
models axis: `model(tokens)` is `[models, batch, pos, 2]`, and `model.run_with_cache(tokens)`
stacks every bridge's cache on that axis. Activations for tokens `[batch, pos]` (pos = d + 1
for `gpt_tokens(bits)`), per bridge:

    hook_embed, hook_pos_embed                    [batch, pos, d_model]
    blocks.{i}.hook_resid_pre / _mid / _post      [batch, pos, d_model]
    blocks.{i}.attn.hook_q / hook_k / hook_v / hook_z   [batch, pos, n_heads, d_head]
    blocks.{i}.attn.hook_attn_scores / hook_pattern     [batch, n_heads, query pos, key pos]
    blocks.{i}.hook_attn_out, blocks.{i}.hook_mlp_out   [batch, pos, d_model]
    blocks.{i}.mlp.hook_pre / hook_post           [batch, pos, d_mlp]
    ln_final.hook_normalized                      [batch, pos, d_model]
    hook_unembed                                  [batch, pos, 2]   the logits

A fact GPT (`names` N >= 1; `interp.tasks.facts`) reads a name and emits its K = d digits:
tokens are the digits 0-9 and the names 10 ... N + 9, a sequence is `name d_1 ... d_K`, and each
model predicts d_k from `name d_1 ... d_{k-1}` (context K tokens; the read-out covers the ten
digits, `[models, batch, pos, 10]`). `fact_tokens` builds the teacher-forced input of names and
values, `recall` decodes greedily; the one training loop trains it with `FactRecall`, the
objective of FactNet, and logs `facts_known`. `cfg.parameters` counts the trainable parameters
per model, the names' embeddings included (they grow with N).

With `name_codes=True` the names are fixed random codes, as FactNet's: every name is one shared,
trainable name token (vocabulary: the ten digits and token 10), and name i's identity is a fixed
code c_i ~ N(0, 0.8^2 / d_model) (the scale of TransformerLens's embedding init), drawn from the
model's seed, never trained, added to the embedding at the name's position. Callers see no
difference: tokens still name name i as 10 + i (`fact_tokens`, `recall`, `bridges[m](tokens)`,
`run_with_cache`, `run_with_hooks`), and two permanent TransformerLens hooks on each bridge do
the rest: `embed.hook_in` maps every name token to token 10 (so a cache of it shows 10) and
`hook_embed` adds the codes (so a cache of it shows the coded embedding). The codes are stored
with the weights (`"{m}.name_codes"` `[names, d_model]`, shape-checked like every weight), so runs,
`select` and `load_run` keep them; they are no parameter, so no optimizer moves them, and
`cfg.parameters` does not grow with N.

The bridges are not stacked into one tensor per weight: `functional_call` on a bridge leaves its
aliased parameter paths pointing at the swapped-in tensors, which breaks every later eager call
on it. The models run one after another inside one forward pass, and the trainer steps them
together through `parameter_models`.

Examples:
    >>> model = GPT(GPTConfig(d=8, d_model=32, models=2, seed=0))
    >>> bits = torch.tensor([[0, 1, 1, 0, 0, 0, 1, 1]])
    >>> [round(v, 4) for v in gpt_loss(model, bits).tolist()]   # ln 2 at init: zero read-out
    [0.6931, 0.6931]
    >>> logits, cache = model.run_with_cache(gpt_tokens(bits))
    >>> logits.shape, cache["blocks.1.hook_resid_post"].shape
    (torch.Size([2, 1, 9, 2]), torch.Size([2, 1, 9, 32]))
    >>> samples = model.sample(4, torch.Generator().manual_seed(0))
    >>> samples.shape, samples.dtype                              # [models, n, d] bits
    (torch.Size([2, 4, 8]), torch.uint8)
    >>> facts = GPT(GPTConfig(names=20, d=2, d_model=32, n_layers=1, models=2))
    >>> values = torch.tensor([[[3, 1], [4, 1], [5, 9]]]).expand(2, -1, -1)
    >>> facts(facts.fact_tokens(torch.tensor([0, 7, 19]), values)).shape  # [models, batch, K, 10]
    torch.Size([2, 3, 2, 10])
    >>> facts.recall(20).shape, facts.cfg.parameters              # greedy decoding; per model
    (torch.Size([2, 20, 2]), 22432)
    >>> coded = GPTConfig(names=20, d=2, d_model=32, n_layers=1, name_codes=True)
    >>> coded.d_vocab, coded.parameters, GPT(coded).weights()["0.name_codes"].shape
    (11, 21824, torch.Size([20, 32]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from transformer_lens import TransformerBridge, TransformerBridgeConfig
from transformer_lens.hook_points import HookPoint

from interp.core.ensemble import Ensemble, EnsembleConfig

__all__ = ["GPT", "GPTConfig", "gpt_tokens", "gpt_loss", "BOS", "DIGITS"]

BOS = 2
DIGITS = 10  # a fact GPT's digit tokens 0-9 and read-out; name i is token DIGITS + i
ACT_FNS = ("gelu", "relu")
CODE_SEED = 2**32  # name codes come from the seed + CODE_SEED: a stream apart from the weights'
CODE_SCALE = 0.8  # codes ~ N(0, CODE_SCALE^2 / d_model), the embedding's init scale


@dataclass(frozen=True, kw_only=True)
class GPTConfig(EnsembleConfig):
    """Shape and seeds of an ensemble of tiny GPTs over strings of d bits (or, with `names`,
    over facts: a name and its d digits).

    Attributes:
        d: string length; the context holds BOS + d bits. A fact GPT: K, the digits per value;
            the context holds the name + d - 1 digits.
        d_model: residual width; `d_head = d_model / n_heads`.
        n_layers: transformer blocks (attention + MLP, pre-LayerNorm).
        n_heads: attention heads per block.
        d_mlp: MLP hidden width.
        act_fn: MLP activation, "gelu" or "relu".
        zero_unembed: start the read-out at zero, so the initial model is exactly uniform (loss
            ln 2, samples uniform bits) and generation starts at chance. TransformerLens's own
            init (every weight N(0, 0.8 / sqrt(d_model))) starts at loss 0.7-1.0 instead.
        models: ensemble size; `seed` gives one init seed per model.
        seed: one init seed per model (a single seed s gives s, s+1, ...); the same seed gives
            the same weights on any device, and building a model leaves the global RNG alone.
        names: 0 (default): bit strings. N >= 1: a fact GPT over N names (the largest fact
            base of the task): vocabulary N names + 10 digits, read-out over the 10 digits.
        name_codes: a fact GPT only. False (default): each name has its own trained embedding
            row. True: one shared trained name token plus a fixed random code per name
            (`[names, d_model]`, from the seed, not trained): the trainable parameters do not
            depend on N, so capacity can be measured at a fixed model size.
    """

    d: int
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    d_mlp: int = 256
    act_fn: str = "gelu"
    zero_unembed: bool = True
    names: int = 0
    name_codes: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._positive("d", "d_model", "n_layers", "n_heads", "d_mlp")
        if isinstance(self.names, bool) or not isinstance(self.names, int) or self.names < 0:
            raise ValueError(f"names={self.names!r} must be an integer >= 0 (0: bit strings)")
        if not isinstance(self.name_codes, bool):
            raise ValueError(f"name_codes={self.name_codes!r} must be true or false")
        if self.name_codes and not self.names:
            raise ValueError("name_codes=True needs a fact GPT (names >= 1)")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not a multiple of n_heads={self.n_heads}")
        if self.act_fn not in ACT_FNS:
            raise ValueError(f"act_fn {self.act_fn!r} is not one of {', '.join(ACT_FNS)}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def n_ctx(self) -> int:
        return self.d if self.names else self.d + 1

    @property
    def digits(self) -> int:
        """K, the digits of a fact GPT's values (= d)."""
        return self.d

    @property
    def d_vocab(self) -> int:
        if not self.names:
            return 3
        return DIGITS + (1 if self.name_codes else self.names)

    @property
    def d_vocab_out(self) -> int:
        return DIGITS if self.names else 2

    @property
    def parameters(self) -> int:
        """Trainable parameters per model: embeddings (tokens, positions), per block two
        LayerNorms, attention (Q, K, V, O and biases) and MLP, the final LayerNorm and the
        read-out (no bias). A fact GPT's count includes the N name embeddings (N d_model);
        with `name_codes`, the one name token's instead (the fixed codes are not trained)."""
        dm, mlp = self.d_model, self.d_mlp
        block = 4 * dm + 4 * dm * dm + 4 * dm + 2 * dm * mlp + mlp + dm
        embed = (self.d_vocab + self.n_ctx) * dm
        return embed + self.n_layers * block + 2 * dm + dm * self.d_vocab_out

    def bridge_config(self, seed: int) -> TransformerBridgeConfig:
        """The TransformerLens config one model boots from."""
        return TransformerBridgeConfig(
            d_model=self.d_model,
            d_head=self.d_head,
            n_layers=self.n_layers,
            n_ctx=self.n_ctx,
            n_heads=self.n_heads,
            d_vocab=self.d_vocab,
            d_vocab_out=self.d_vocab_out,
            d_mlp=self.d_mlp,
            act_fn=self.act_fn,
            seed=seed,
            model_name=f"gpt_facts_n{self.names}_d{self.d}{'_codes' * self.name_codes}"
            if self.names
            else f"gpt_bits_d{self.d}",
        )


def _boot(cfg: GPTConfig, seed: int, device: torch.device | str) -> TransformerBridge:
    """One freshly initialised bridge (built locally, no network)."""
    bridge = TransformerBridge.boot_native(cfg.bridge_config(seed), device=device)
    if cfg.zero_unembed:
        with torch.no_grad():
            bridge.unembed.original_component.weight.zero_()
    if cfg.name_codes:
        _code_names(bridge, _draw_codes(cfg, seed))
    return bridge


def _draw_codes(cfg: GPTConfig, seed: int) -> Tensor:
    """One model's fixed name codes `[names, d_model]`, drawn on the CPU from its seed."""
    gen = torch.Generator().manual_seed(seed + CODE_SEED)
    return torch.randn(cfg.names, cfg.d_model, generator=gen) * (CODE_SCALE / cfg.d_model**0.5)


def _code_names(bridge: TransformerBridge, codes: Tensor) -> None:
    """Give a bridge fixed name codes: a non-persistent buffer on its `hook_embed` (it moves
    with the model, stays out of the bridge's state dict and optimizer) and two permanent hooks,
    which `run_with_hooks` / `run_with_cache` / `reset_hooks` leave in place and run first."""
    point = bridge.hook_embed
    point.register_buffer("name_codes", codes, persistent=False)
    point.name_ids = None
    bridge.embed.hook_in.add_hook(partial(_name_token, point), is_permanent=True)
    point.add_hook(partial(_add_codes, point), is_permanent=True)


def _name_token(point: HookPoint, tokens: Tensor, hook: HookPoint) -> Tensor:
    """`embed.hook_in`: remember which name each position holds (-1: a digit) and read every
    name as the one name token."""
    point.name_ids = torch.where(tokens >= DIGITS, tokens - DIGITS, -1)
    return tokens.clamp(max=DIGITS)


def _add_codes(point: HookPoint, embed: Tensor, hook: HookPoint) -> Tensor:
    """`hook_embed`: add each name's fixed code at its position."""
    ids, point.name_ids = point.name_ids, None
    if ids is None or ids.shape != embed.shape[:-1]:
        raise RuntimeError("hook_embed ran without the name tokens of embed.hook_in")
    codes = point.name_codes[ids.clamp(min=0)] * (ids >= 0)[..., None].to(embed.dtype)
    return embed + codes.to(embed.dtype)


class GPT(Ensemble):
    """An ensemble of tiny GPTs, one TransformerLens bridge per model (`bridges[m]`).

    `forward(tokens)` takes tokens `[batch, pos]` shared by every model or `[models, batch,
    pos]` and returns logits `[models, batch, pos, 2]` (a fact GPT: 10); tokens are taken as
    given (use `gpt_tokens` to put BOS in front of bits, `fact_tokens` for names and values).
    Weights are stored per model as `"{m}.{name}"`.
    """

    kind = "gpt"
    config_class = GPTConfig
    cfg: GPTConfig

    @property
    def task_kinds(self) -> tuple[str, ...]:  # type: ignore[override]
        """A bit-string GPT trains on rule strings, a fact GPT on a fact base."""
        return ("facts",) if self.cfg.names else ("rules",)

    def _build(self) -> None:
        self.bridges = nn.ModuleList(_boot(self.cfg, seed, "cpu") for seed in self.cfg.seed)

    def _initial_weights(self) -> dict[str, Tensor]:
        return self.weights()  # the bridges were booted from their seeds

    def setup(self) -> None:
        """Each bridge keeps its own hook points and names: the ensemble registers none (a
        `HookedRootModule.setup` over the bridges would rename their hooks)."""

    def weights(self) -> dict[str, Tensor]:
        """Every model's bridge weights as `"{m}.{name}"`, and with `name_codes` its fixed
        codes, `"{m}.name_codes"`."""
        weights = {}
        for m, bridge in enumerate(self.bridges):
            weights |= {f"{m}.{k}": v.detach() for k, v in bridge.state_dict().items()}
            if self.cfg.name_codes:
                weights[f"{m}.name_codes"] = bridge.hook_embed.name_codes.detach()
        return weights

    def _load(self, weights: dict[str, Tensor]) -> None:
        for m, bridge in enumerate(self.bridges):
            prefix = f"{m}."
            own = {k.removeprefix(prefix): v for k, v in weights.items() if k.startswith(prefix)}
            if self.cfg.name_codes:
                with torch.no_grad():
                    bridge.hook_embed.name_codes.copy_(own.pop("name_codes"))
            bridge.load_state_dict(own)

    def _select_weights(self, idx: list[int]) -> dict[str, Tensor]:
        weights = self.weights()
        return {
            f"{new}.{k.split('.', 1)[1]}": v
            for new, old in enumerate(idx)
            for k, v in weights.items()
            if k.split(".", 1)[0] == str(old)
        }

    def parameter_models(self) -> dict[str, tuple[nn.Parameter, int | None]]:
        return {
            f"{m}.{k}": (p, m)
            for m, bridge in enumerate(self.bridges)
            for k, p in bridge.named_parameters()
        }

    def _tokens(self, tokens: Tensor) -> Tensor:
        m = len(self.bridges)
        if tokens.dim() == 2:
            tokens = tokens.expand(m, -1, -1)
        if tokens.dim() != 3 or tokens.shape[0] != m:
            raise ValueError(
                f"tokens have shape {tuple(tokens.shape)}; "
                f"expected [batch, pos] or [{m}, batch, pos]"
            )
        return tokens

    def forward(self, tokens: Tensor) -> Tensor:
        """Logits `[models, batch, pos, 2]` (a fact GPT: 10) for tokens `[batch, pos]` or
        `[models, batch, pos]`."""
        tokens = self._tokens(tokens)
        return torch.stack([bridge(t) for bridge, t in zip(self.bridges, tokens)])

    @property
    def hook_dict(self) -> dict[str, Any]:
        """The hook points by TransformerLens name (model 0's; every bridge has the same)."""
        return self.bridges[0].hook_dict

    def run_with_cache(self, tokens: Tensor, **kwargs: Any) -> tuple[Tensor, dict[str, Tensor]]:
        """Every bridge's `run_with_cache`, stacked: logits and each activation get a leading
        models axis. Keyword arguments (`names_filter`, ...) go to each bridge."""
        tokens = self._tokens(tokens)
        runs = [bridge.run_with_cache(t, **kwargs) for bridge, t in zip(self.bridges, tokens)]
        cache = {name: torch.stack([c[name] for _, c in runs]) for name in runs[0][1]}
        return torch.stack([logits for logits, _ in runs]), cache

    def log_prob(self, bits: Tensor) -> Tensor:
        """Log-likelihood (nats) of each string under each model: bits `[batch, d]` (shared) or
        `[models, batch, d]` -> `[models, batch]`. One forward pass on BOS + bits[..., :-1]."""
        self._bits_only("log_prob")
        tokens = gpt_tokens(bits)
        d = self.cfg.d
        if tokens.shape[-1] != d + 1:
            raise ValueError(f"bits have length {tokens.shape[-1] - 1}; the model reads d={d}")
        tokens = self._tokens(tokens)
        logits = self(tokens[..., :-1])  # [models, batch, d, 2]
        log_probs = torch.log_softmax(logits, -1).gather(-1, tokens[..., 1:, None])
        return log_probs.squeeze(-1).sum(-1)

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> Tensor:
        """n strings per model, sampled autoregressively: `[models, n, d]` uint8 bits on the
        model's device.

        Bit t of string i is 1 when u_t < p_t(1), with uniforms `u [n, d]` drawn up front from
        `generator` on its own device (a CPU generator serves a CUDA model) and moved to the
        model's (the same u for every model), so a seeded generator gives the same strings from
        the same weights. `temperature` divides the logits. Each step reruns the whole prefix
        (no KV cache): d forward passes of length <= d.
        """
        self._bits_only("sample")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n={n!r} must be an integer >= 1")
        if not (temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature={temperature} must be positive and finite")
        d, device = self.cfg.d, self.device
        drawn_on = generator.device if generator is not None else device
        u = torch.rand(n, d, generator=generator, device=drawn_on).to(device)
        tokens = torch.full((len(self.bridges), n, 1), BOS, dtype=torch.long, device=device)
        for t in range(d):
            p_one = torch.softmax(self(tokens)[:, :, -1] / temperature, -1)[..., 1]
            tokens = torch.cat([tokens, (u[:, t] < p_one).long()[..., None]], -1)
        return tokens[..., 1:].to(torch.uint8)

    def _bits_only(self, what: str) -> None:
        if self.cfg.names:
            raise ValueError(f"{what} reads bit strings; this is a fact GPT (use recall)")

    def _facts_only(self, what: str) -> None:
        if not self.cfg.names:
            raise ValueError(f"{what} needs a fact GPT (GPTConfig names >= 1)")

    def fact_tokens(self, names: Tensor, values: Tensor) -> Tensor:
        """The teacher-forced input of a fact GPT: names `[batch]` (shared) or `[models, batch]`
        and their values `[models, batch, K]` -> tokens `[models, batch, K]` = name, d_1 ...
        d_{K-1}, whose logits `[models, batch, K, 10]` predict d_1 ... d_K."""
        self._facts_only("fact_tokens")
        k = self.cfg.digits
        if values.dim() != 3 or values.shape[-1] != k:
            raise ValueError(f"values of shape {tuple(values.shape)}: need [models, batch, {k}]")
        if names.dim() == 1:
            names = names.expand(values.shape[0], -1)
        if names.shape != values.shape[:2] or names.dtype != torch.long:
            need = f"long [batch] or {tuple(values.shape[:2])}"
            raise ValueError(f"names of shape {tuple(names.shape)}: need {need}")
        return torch.cat([DIGITS + names[..., None], values[..., :-1]], -1)

    @torch.no_grad()
    def recall(self, names: int) -> Tensor:
        """`[models, names, K]` the value of every name id below `names`, decoded greedily (the
        most likely digit given the name and the digits decoded so far). A value is recalled
        exactly by greedy decoding if and only if every digit is the argmax under teacher
        forcing: `facts_known` is the same either way."""
        self._facts_only("recall")
        if not 1 <= names <= self.cfg.names:
            raise ValueError(f"names={names} must be in [1, {self.cfg.names}]")
        ids = torch.arange(names, device=self.device)
        tokens = (DIGITS + ids).expand(len(self.bridges), -1)[..., None]
        for _ in range(self.cfg.digits):
            digit = self(tokens)[:, :, -1].argmax(-1)
            tokens = torch.cat([tokens, digit[..., None]], -1)
        return tokens[..., 1:]


def gpt_tokens(bits: Tensor) -> Tensor:
    """`bits [..., batch, d]` (bool or integer 0/1) -> tokens `[..., batch, d + 1]` = BOS, bits
    (int64)."""
    if bits.dim() not in (2, 3):
        raise ValueError(f"bits have shape {tuple(bits.shape)}; expected [(models,) batch, d]")
    if bits.is_floating_point() or bits.is_complex():
        raise ValueError(f"bits have dtype {bits.dtype}; expected bool or integer 0/1")
    bos = torch.full((*bits.shape[:-1], 1), BOS, dtype=torch.long, device=bits.device)
    return torch.cat([bos, bits.long()], -1)


def gpt_loss(model: GPT, bits: Tensor) -> Tensor:
    """Next-token cross-entropy (nats per bit) of each model: `[models]`, from bits `[batch, d]`
    or `[models, batch, d]`.

    ln 2 for a model that knows nothing; ln(N) / d for one that has memorized N distinct strings.
    """
    return -model.log_prob(bits).mean(-1) / bits.shape[-1]
