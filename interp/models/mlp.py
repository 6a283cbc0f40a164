"""The two-layer network of Gromov and Doshi et al., as an ensemble with a leading models axis.

    logits = W act(U e_a + V e_b [+ b_in]) [+ b_out]        (times 1/width under mean-field)

Every weight has a leading `models` axis, so M networks train and analyse in one batched call.
Hook points: `hook_pre` and `hook_post` `[models, batch, neurons]`, `hook_logits`
`[models, batch, p]`, so `run_with_cache` / `run_with_hooks` work as in TransformerLens.

Example:
    >>> model = MLP(MLPConfig(p=97, width=500, models=4, seed=(0, 1, 2, 3)))
    >>> logits, cache = model.run_with_cache(torch.tensor([[3, 5], [10, 90]]))
    >>> logits.shape, cache["hook_post"].shape
    (torch.Size([4, 2, 97]), torch.Size([4, 2, 500]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformer_lens import HookedRootModule
from transformer_lens.hook_points import HookPoint

__all__ = ["MLP", "MLPConfig", "ACTIVATIONS", "INITS"]

ACTIVATIONS = ("square", "relu")
INITS = ("doshi", "standard", "mean_field")


@dataclass(frozen=True)
class MLPConfig:
    """Shape, activation and initialisation of an ensemble of two-layer networks.

    Attributes:
        p: input and output vocabulary (the modulus).
        width: hidden neurons per model.
        models: ensemble size; `seed` gives one init seed per model.
        act: "square" (x^2, Gromov) or "relu".
        bias: add `b_in [models, neurons]` and `b_out [models, p]` (initialised at zero).
        init: "doshi": every weight N(0, sqrt(0.25) / (2 width)^(1/3)) (Doshi et al. 2024);
            "standard": fan-in scaling, U, V ~ N(0, 1/2), W ~ N(0, 1/width);
            "mean_field": U, V ~ N(0, 1/2), W ~ N(0, 1) and logits scaled by 1/width.
        init_scale: multiplies every initial weight.
        seed: one seed per model; models with equal seeds start identical.
    """

    p: int
    width: int = 500
    models: int = 1
    act: str = "square"
    bias: bool = False
    init: str = "doshi"
    init_scale: float = 1.0
    seed: tuple[int, ...] = field(default=(0,))

    def __post_init__(self) -> None:
        if self.act not in ACTIVATIONS:
            raise ValueError(f"act {self.act!r} is not one of {', '.join(ACTIVATIONS)}")
        if self.init not in INITS:
            raise ValueError(f"init {self.init!r} is not one of {', '.join(INITS)}")
        if self.width < 1 or self.models < 1:
            raise ValueError(f"width={self.width} and models={self.models} must be >= 1")
        if self.p < 3:
            raise ValueError(f"p={self.p} must be >= 3")
        seed = tuple(self.seed) if isinstance(self.seed, Sequence) else (int(self.seed),)
        if len(seed) == 1 and self.models > 1:
            seed = tuple(range(seed[0], seed[0] + self.models))
        if len(seed) != self.models:
            raise ValueError(f"seed has {len(seed)} values; expected 1 or models={self.models}")
        object.__setattr__(self, "seed", seed)

    @property
    def out_scale(self) -> float:
        return 1.0 / self.width if self.init == "mean_field" else 1.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["seed"] = list(self.seed)
        return d


def _init_std(cfg: MLPConfig) -> tuple[float, float]:
    """(std of U and V, std of W) before `init_scale`."""
    if cfg.init == "doshi":
        std = math.sqrt(0.25) / (2 * cfg.width) ** (1 / 3)
        return std, std
    if cfg.init == "standard":
        return 1 / math.sqrt(2), 1 / math.sqrt(cfg.width)
    return 1 / math.sqrt(2), 1.0  # mean_field: the 1/width lives in the forward pass


class MLP(HookedRootModule):
    """An ensemble of two-layer networks over Z_p x Z_p.

    Parameters: `U`, `V` `[models, neurons, p]` (embeddings of a and b), `W` `[models, p, neurons]`
    (read-out), and with `bias=True` also `b_in [models, neurons]`, `b_out [models, p]`.

    `forward(inputs)` takes `[batch, 2]` pairs shared by every model or `[models, batch, 2]` pairs
    per model, and returns logits `[models, batch, p]`.
    """

    def __init__(
        self,
        cfg: MLPConfig,
        device: torch.device | str = "cpu",
        weights: dict[str, Tensor] | None = None,
    ) -> None:
        """Initialise from `cfg.seed`, or take `weights` (a state dict, copied) when given."""
        super().__init__()
        self.cfg = cfg
        m, n, p = cfg.models, cfg.width, cfg.p
        if weights is None:
            weights = _initial_weights(cfg)
        missing = {"U", "V", "W"} - set(weights)
        if missing:
            raise ValueError(f"weights lack {', '.join(sorted(missing))}")
        self.U = nn.Parameter(weights["U"].detach().clone().to(device))
        self.V = nn.Parameter(weights["V"].detach().clone().to(device))
        self.W = nn.Parameter(weights["W"].detach().clone().to(device))
        if cfg.bias:
            zeros = {"b_in": torch.zeros(m, n), "b_out": torch.zeros(m, p)}
            self.b_in = nn.Parameter(weights.get("b_in", zeros["b_in"]).detach().clone().to(device))
            self.b_out = nn.Parameter(
                weights.get("b_out", zeros["b_out"]).detach().clone().to(device)
            )
        expected = {"U": (m, n, p), "V": (m, n, p), "W": (m, p, n)}
        if cfg.bias:
            expected |= {"b_in": (m, n), "b_out": (m, p)}
        for name, shape in expected.items():
            if tuple(getattr(self, name).shape) != shape:
                got = tuple(getattr(self, name).shape)
                raise ValueError(f"weight {name} has shape {got}; config expects {shape}")
        self.hook_pre = HookPoint()
        self.hook_post = HookPoint()
        self.hook_logits = HookPoint()
        self.setup()

    @property
    def device(self) -> torch.device:
        return self.U.device

    def forward(self, inputs: Tensor) -> Tensor:
        """Logits `[models, batch, p]` for pairs `[batch, 2]` or `[models, batch, 2]`."""
        m, n, p = self.U.shape  # not cfg.models: training may run a slice of the ensemble
        if inputs.dim() == 2:
            inputs = inputs.expand(m, -1, -1)
        # Row (model, residue) of the stacked embedding tables; F.embedding's backward is about
        # twice as fast as advanced indexing's scatter-add on CPU.
        offset = (torch.arange(m, device=inputs.device) * p)[:, None]
        table_a = self.U.transpose(1, 2).reshape(m * p, n)
        table_b = self.V.transpose(1, 2).reshape(m * p, n)
        pre = F.embedding(inputs[..., 0] + offset, table_a)
        pre = pre + F.embedding(inputs[..., 1] + offset, table_b)
        if self.cfg.bias:
            pre = pre + self.b_in[:, None]
        pre = self.hook_pre(pre)  # [models, batch, neurons]
        post = self.hook_post(pre * pre if self.cfg.act == "square" else torch.relu(pre))
        logits = torch.bmm(post, self.W.transpose(1, 2))
        if self.cfg.init == "mean_field":
            logits = logits * self.cfg.out_scale
        if self.cfg.bias:
            logits = logits + self.b_out[:, None]
        return self.hook_logits(logits)

    def select(self, models: Sequence[int] | int) -> MLP:
        """A new ensemble holding copies of the given models (an int keeps the axis: 1 model)."""
        idx = [models] if isinstance(models, int) else list(models)
        cfg = replace(self.cfg, models=len(idx), seed=tuple(self.cfg.seed[i] for i in idx))
        return MLP(cfg, self.device, {k: v[idx] for k, v in self.weights().items()})

    def weights(self) -> dict[str, Tensor]:
        """The parameters by name (`U`, `V`, `W`, and `b_in`, `b_out` with biases), detached."""
        return {k: v.detach() for k, v in self.named_parameters()}


def _initial_weights(cfg: MLPConfig) -> dict[str, Tensor]:
    """Gaussian init: each model draws from its own seed on the CPU, so the same seed gives the
    same network whatever the ensemble around it and whatever the device."""
    n, p = cfg.width, cfg.p
    std_in, std_out = (s * cfg.init_scale for s in _init_std(cfg))
    drawn = []
    for seed in cfg.seed:
        gen = torch.Generator().manual_seed(seed)
        drawn.append(
            (
                torch.randn(n, p, generator=gen) * std_in,
                torch.randn(n, p, generator=gen) * std_in,
                torch.randn(p, n, generator=gen) * std_out,
            )
        )
    return dict(zip("UVW", (torch.stack(w) for w in zip(*drawn))))
