"""The two-layer network of Gromov and Doshi et al., as an ensemble with a leading models axis.

    logits = W act(U e_a + V e_b [+ b_in]) [+ b_out]        (times 1/width under mean-field)

Every weight has a leading `models` axis, so M networks train and analyse in one batched call.
Hook points: `hook_pre` and `hook_post` `[models, batch, neurons]`, `hook_logits`
`[models, batch, p]`, so `run_with_cache` / `run_with_hooks` work as in TransformerLens.

Examples:
    >>> model = MLP(MLPConfig(p=97, width=500, models=4, seed=(0, 1, 2, 3)))
    >>> logits, cache = model.run_with_cache(torch.tensor([[3, 5], [10, 90]]))
    >>> logits.shape, cache["hook_post"].shape
    (torch.Size([4, 2, 97]), torch.Size([4, 2, 500]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformer_lens.hook_points import HookPoint

from interp.core.ensemble import Ensemble, EnsembleConfig
from interp.core.fused import Workspace

__all__ = ["MLP", "MLPConfig", "ACTIVATIONS", "INITS"]

ACTIVATIONS = ("square", "relu")
INITS = ("doshi", "standard", "mean_field")


@dataclass(frozen=True, kw_only=True)
class MLPConfig(EnsembleConfig):
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
        init_scale: multiplies every initial weight (finite, > 0).
        seed: one seed per model (a single seed s gives s, s+1, ...); equal seeds start identical.
    """

    p: int
    width: int = 500
    act: str = "square"
    bias: bool = False
    init: str = "doshi"
    init_scale: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.act not in ACTIVATIONS:
            raise ValueError(f"act {self.act!r} is not one of {', '.join(ACTIVATIONS)}")
        if self.init not in INITS:
            raise ValueError(f"init {self.init!r} is not one of {', '.join(INITS)}")
        self._positive("width")
        if isinstance(self.p, bool) or not isinstance(self.p, int) or self.p < 3:
            raise ValueError(f"p={self.p!r} must be an integer >= 3")
        if not (math.isfinite(self.init_scale) and self.init_scale > 0):
            raise ValueError(f"init_scale={self.init_scale} must be finite and > 0")

    @property
    def out_scale(self) -> float:
        return 1.0 / self.width if self.init == "mean_field" else 1.0


def _init_std(cfg: MLPConfig) -> tuple[float, float]:
    """(std of U and V, std of W) before `init_scale`."""
    if cfg.init == "doshi":
        std = math.sqrt(0.25) / (2 * cfg.width) ** (1 / 3)
        return std, std
    if cfg.init == "standard":
        return 1 / math.sqrt(2), 1 / math.sqrt(cfg.width)
    return 1 / math.sqrt(2), 1.0  # mean_field: the 1/width lives in the forward pass


class _Rows(torch.autograd.Function):
    """`table[idx]` whose backward sums the gradient rows with `index_add_`: on a CPU about 3x
    faster than `F.embedding`'s dense backward, and deterministic there (it adds in order)."""

    @staticmethod
    def forward(ctx, table: Tensor, idx: Tensor) -> Tensor:
        ctx.save_for_backward(idx)
        ctx.rows = table.shape[0]
        return table.index_select(0, idx.reshape(-1)).view(*idx.shape, table.shape[1])

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (idx,) = ctx.saved_tensors
        out = grad.new_zeros(ctx.rows, grad.shape[-1])
        return out.index_add_(0, idx.reshape(-1), grad.reshape(-1, grad.shape[-1])), None


class _Hidden(torch.autograd.Function):
    """post = act(table_a[idx_a] + table_b[idx_b]) for act x^2 or relu, with one fused backward
    (the CPU path of a network whose hidden hook points are not hooked): the same numbers as
    the unfused path, fewer passes over `[models, batch, neurons]`."""

    @staticmethod
    def forward(ctx, table_a: Tensor, table_b: Tensor, idx_a: Tensor, idx_b: Tensor, square: bool):
        pre = table_a.index_select(0, idx_a.reshape(-1))
        pre.add_(table_b.index_select(0, idx_b.reshape(-1)))
        ctx.save_for_backward(pre, idx_a, idx_b)
        ctx.rows, ctx.square = table_a.shape[0], square
        post = pre * pre if square else torch.relu(pre)
        return post.view(*idx_a.shape, table_a.shape[1])

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor, None, None, None]:
        pre, idx_a, idx_b = ctx.saved_tensors
        grad = grad.reshape(pre.shape)
        d = grad.mul(pre).mul_(2) if ctx.square else grad.mul(pre > 0)
        tables = (d.new_zeros(ctx.rows, d.shape[1]).index_add_(0, i.reshape(-1), d)
                  for i in (idx_a, idx_b))  # fmt: skip
        return *tables, None, None, None


class _ReadOut(torch.autograd.Function):
    """logits = post W^T `[models, batch, p]`, computed as (W post^T)^T: the product is written
    `[models, p, batch]` with the batch contiguous and returned as its transposed view (on an
    AMD EPYC's MKL about 2x faster than writing [batch, p] rows of p = 31, the same on larger
    shapes). The backward runs the fused step's two products on the same layouts, so hooked
    (unfused) and fused training agree bit for bit."""

    @staticmethod
    def forward(ctx, post: Tensor, W: Tensor) -> Tensor:
        ctx.save_for_backward(post, W)
        return _read_out(post, W)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor]:
        post, W = ctx.saved_tensors
        grad = grad.transpose(1, 2).contiguous()  # [models, p, batch], as the fused step has it
        return torch.bmm(grad.transpose(1, 2), W), torch.bmm(grad, post)


def _read_out(post: Tensor, W: Tensor) -> Tensor:
    """post W^T `[models, batch, p]` for post `[models, batch, n]`, W `[models, p, n]`: a
    transposed view of W post^T (see `_ReadOut`)."""
    return torch.bmm(W, post.transpose(1, 2)).transpose(1, 2)


def _fused_gradients(U, V, W, inputs, targets, weight, kind, square, scale, chunk, work):
    """The gradients of U, V and W of sum_m sum_b weight[m, b] loss(logits[m, b], targets[m, b])
    in one pass, `chunk` models at a time, the large temporaries written into `work`: the two
    embedding rows summed by one `embedding_bag`, the read-out and its two gradients as three
    `bmm`, the embedding gradients summed over each token's pairs in pair order (`embedding_bag`
    over a kept plan for pairs that come back, `index_add_` otherwise). The three read-out
    products are the unfused path's (`_ReadOut`), on the same layouts."""
    m, n, p = U.shape
    b = inputs.shape[1]
    grads = torch.empty_like(U), torch.empty_like(V), torch.empty_like(W)
    for s in range(0, m, chunk):
        k = min(m, s + chunk) - s
        rows = slice(s, s + k)
        # Rows of U's then V's transposed tables of these models; pair i sums bags[2i:2i+2].
        tables = work("tables", (2, k, p, n), U)
        tables[0].copy_(U[rows].transpose(1, 2))
        tables[1].copy_(V[rows].transpose(1, 2))
        plan = work.plan(f"pairs{s}:{k}:{p}", inputs, partial(_PairPlan, inputs[rows], p))
        bags = plan.bags if plan else _PairPlan.rows(inputs[rows], p)
        starts = plan.starts if plan else torch.arange(0, 2 * k * b, 2, device=U.device)
        pre = F.embedding_bag(bags, tables.view(2 * k * p, n), starts, mode="sum")
        tmp = work("tmp", (k * b, n), U)
        out = work("post", (k * b, n), U)
        post = torch.mul(pre, pre, out=out) if square else torch.clamp(pre, min=0, out=out)
        post3 = post.view(k, b, n)
        # The logits as `_ReadOut` writes them: [k, p, b], the batch contiguous.
        logits = torch.bmm(W[rows], post3.transpose(1, 2), out=work("logits", (k, p, b), U))
        if scale != 1.0:
            logits.mul_(scale)
        w, t = weight[rows, None], targets[rows, None]  # [k, 1, b]
        minus_one = work("minus_one", (k, 1, b), U).fill_(-1.0)
        if kind == "mse":
            diff = logits.scatter_add_(1, t, minus_one)  # logits - one_hot, bit for bit
            dlogits = diff.mul_(w * (2.0 / p))
        else:
            lse = torch.logsumexp(logits, 1, keepdim=True)
            dlogits = logits.sub_(lse).exp_().scatter_add_(1, t, minus_one)
            dlogits.mul_(w)
        if scale != 1.0:
            dlogits.mul_(scale)
        torch.bmm(dlogits, post3, out=grads[2][rows])
        # x^2: the factor 2 of its derivative on W (exact, and a smaller tensor)
        dpre = torch.bmm(
            dlogits.transpose(1, 2), W[rows] * 2 if square else W[rows], out=tmp.view(k, b, n)
        )
        dpre = dpre.view(k * b, n).mul_(pre) if square else dpre.view(k * b, n).mul_(pre > 0)
        if plan:  # each table row the sum of its pairs' rows, in pair order (= index_add_)
            table = F.embedding_bag(plan.order, dpre, plan.offsets, mode="sum")
        else:
            table = work("table", (2 * k * p, n), U).zero_()
            for i in bags.view(-1, 2).unbind(1):
                table.index_add_(0, i, dpre)
        table = table.view(2, k, p, n)
        grads[0][rows] = table[0].transpose(1, 2)
        grads[1][rows] = table[1].transpose(1, 2)
    return grads


class _PairPlan:
    """Index plans of the fused step for pairs `[models, batch, 2]` that come back every step:
    `bags`, `starts` (pair i sums rows bags[2i], bags[2i + 1] of the stacked tables of U and V,
    `[2 models p, n]`), and `order`, `offsets` (the gradient's table row r sums the pairs of
    order[offsets[r]:offsets[r + 1]], in pair order, as `index_add_` adds them)."""

    def __init__(self, inputs: Tensor, p: int) -> None:
        self.bags = self.rows(inputs, p)
        self.starts = torch.arange(0, len(self.bags), 2, device=inputs.device)
        self.order = torch.argsort(self.bags, stable=True) // 2
        counts = torch.bincount(self.bags, minlength=2 * len(inputs) * p)
        self.offsets = counts.cumsum(0) - counts

    @staticmethod
    def rows(inputs: Tensor, p: int) -> Tensor:
        """The table rows `[2 models batch]` of every pair's a and b, interleaved."""
        k, device = len(inputs), inputs.device
        first = torch.tensor([0, k * p], device=device)
        return (inputs + (torch.arange(k, device=device) * p)[:, None, None] + first).view(-1)


def _hooked(*points: HookPoint) -> bool:
    return any(p._forward_hooks or p._forward_pre_hooks or p._backward_hooks for p in points)


def _rows(table: Tensor, idx: Tensor) -> Tensor:
    """`table[idx]` `[..., n]` for long `idx [...]`: `_Rows` on a CPU; `F.embedding` elsewhere
    (index_add_ is atomic, so not deterministic, on CUDA)."""
    if table.device.type == "cpu":
        return _Rows.apply(table, idx)
    return F.embedding(idx, table)


class MLP(Ensemble):
    """An ensemble of two-layer networks over Z_p x Z_p.

    Parameters: `U`, `V` `[models, neurons, p]` (embeddings of a and b), `W` `[models, p, neurons]`
    (read-out), and with `bias=True` also `b_in [models, neurons]`, `b_out [models, p]`.

    `forward(inputs)` takes `[batch, 2]` pairs shared by every model or `[models, batch, 2]` pairs
    per model, and returns logits `[models, batch, p]`: a transposed view of a `[models, p,
    batch]` product (the faster layout on a CPU), so flatten them with `reshape`, not `view`.
    """

    kind = "mlp"
    task_kinds = ("modular",)
    config_class = MLPConfig
    cfg: MLPConfig

    def _build(self) -> None:
        m, n, p = self.cfg.models, self.cfg.width, self.cfg.p
        self.U = nn.Parameter(torch.empty(m, n, p))
        self.V = nn.Parameter(torch.empty(m, n, p))
        self.W = nn.Parameter(torch.empty(m, p, n))
        if self.cfg.bias:
            self.b_in = nn.Parameter(torch.empty(m, n))
            self.b_out = nn.Parameter(torch.empty(m, p))
        self.hook_pre = HookPoint()
        self.hook_post = HookPoint()
        self.hook_logits = HookPoint()

    @property
    def fusable(self) -> bool:
        """Whether `fused_gradients` can serve this network's training on a CPU (no biases;
        hooks are checked at each call)."""
        return not self.cfg.bias

    def fused_gradients(
        self,
        inputs: Tensor,
        targets: Tensor,
        weight: Tensor,
        kind: str,
        chunk: int,
        work: Workspace | None = None,
    ) -> bool:
        """Add to `.grad` of U, V and W (set it where None) the gradient of the summed loss
        sum_m sum_b weight[m, b] loss(logits[m, b], targets[m, b]) for pairs `[batch, 2]` or
        `[models, batch, 2]`, targets and weight `[models, batch]`, kind "mse" (mean over
        classes of the squared error to the one-hot target) or "ce", as `loss.sum().backward()`
        would, in one pass and without the loss itself (a training step needs only the
        gradients), at most `chunk` models at a time, the large temporaries in `work` (keep one
        across steps: it also keeps an index plan for pairs that come back, and tries chunks of
        `chunk`, a half and a quarter of it over the first calls, then keeps the fastest: the
        same numbers from each, `Workspace.fastest`); False, and nothing set,
        where this path does not apply (not a CPU, biases, a hooked hidden layer or logits).

        Examples:
            >>> model = MLP(MLPConfig(p=5, width=4, models=2))
            >>> pairs, labels = torch.tensor([[1, 2], [3, 4]]), torch.tensor([[3, 2], [3, 2]])
            >>> model.fused_gradients(pairs, labels, torch.full((2, 2), 0.5), "ce", 2)
            True
            >>> model.W.grad.shape
            torch.Size([2, 5, 4])
        """
        hooked = _hooked(self.hook_pre, self.hook_post, self.hook_logits)
        if self.U.device.type != "cpu" or not self.fusable or hooked:
            return False
        if kind not in ("mse", "ce"):
            raise ValueError(f"kind {kind!r} is not one of mse, ce")
        if inputs.dim() == 2:
            inputs = inputs.expand(self.U.shape[0], -1, -1)
        square, scale = self.cfg.act == "square", self.cfg.out_scale
        work = Workspace() if work is None else work
        # Every chunk gives the same numbers; which is fastest depends on the CPU (its caches:
        # at p 31, width 64, 64 models, 16 or 32 at a time beat all 64 by up to 11-14% on an AMD
        # EPYC, where on a Xeon all 64 at once were fastest), so a kept workspace tries a few.
        top = min(max(1, chunk), len(inputs))
        choices = sorted({top, -(-top // 2), -(-top // 4)}, reverse=True) if top >= 8 else [top]
        threads = torch.get_num_threads()
        key = ("mlp", *inputs.shape, *self.U.shape, kind, square, scale, top, threads)
        args = (inputs, targets, weight, kind, square, scale)
        with torch.no_grad():
            grads = work.fastest(
                key, choices, lambda c: _fused_gradients(self.U, self.V, self.W, *args, c, work)
            )
            for param, grad in zip((self.U, self.V, self.W), grads):
                param.grad = grad if param.grad is None else param.grad.add_(grad)
        return True

    def _init_weights(self, seed: int) -> dict[str, Tensor]:
        n, p = self.cfg.width, self.cfg.p
        std_in, std_out = (s * self.cfg.init_scale for s in _init_std(self.cfg))
        gen = torch.Generator().manual_seed(seed)
        weights = {
            "U": torch.randn(n, p, generator=gen) * std_in,
            "V": torch.randn(n, p, generator=gen) * std_in,
            "W": torch.randn(p, n, generator=gen) * std_out,
        }
        if self.cfg.bias:
            weights |= {"b_in": torch.zeros(n), "b_out": torch.zeros(p)}
        return weights

    def forward(self, inputs: Tensor) -> Tensor:
        """Logits `[models, batch, p]` for pairs `[batch, 2]` or `[models, batch, 2]`."""
        m, n, p = self.U.shape  # not cfg.models: training may run a slice of the ensemble
        if inputs.dim() == 2:
            inputs = inputs.expand(m, -1, -1)
        # Row (model, residue) of the stacked embedding tables.
        offset = (torch.arange(m, device=inputs.device) * p)[:, None]
        table_a = self.U.transpose(1, 2).reshape(m * p, n)
        table_b = self.V.transpose(1, 2).reshape(m * p, n)
        idx_a, idx_b = inputs[..., 0] + offset, inputs[..., 1] + offset
        if (
            table_a.device.type == "cpu"
            and not self.cfg.bias
            and not _hooked(self.hook_pre, self.hook_post)
        ):
            if torch.is_grad_enabled():
                post = _Hidden.apply(table_a, table_b, idx_a, idx_b, self.cfg.act == "square")
            else:  # evaluation: the two rows summed in one pass, the activation in place
                bags, tables = _PairPlan.rows(inputs, p), torch.cat((table_a, table_b))
                starts = torch.arange(0, len(bags), 2, device=bags.device)
                post = F.embedding_bag(bags, tables, starts, mode="sum").view(*idx_a.shape, n)
                post = post.square_() if self.cfg.act == "square" else post.relu_()
        else:
            pre = _rows(table_a, idx_a) + _rows(table_b, idx_b)
            if self.cfg.bias:
                pre = pre + self.b_in[:, None]
            pre = self.hook_pre(pre)  # [models, batch, neurons]
            post = self.hook_post(pre * pre if self.cfg.act == "square" else torch.relu(pre))
        if torch.is_grad_enabled() and self.W.device.type == "cpu":
            logits = _ReadOut.apply(post, self.W)
        else:
            logits = _read_out(post, self.W)
        if self.cfg.init == "mean_field":
            logits = logits * self.cfg.out_scale
        if self.cfg.bias:
            logits = logits + self.b_out[:, None]
        return self.hook_logits(logits)
