"""Fused autograd functions for the hot loops of training on a CPU: the same numbers as the
plain expressions, with fewer passes over the batch (each saves what its backward needs and
computes the gradient in one or two passes).

Examples:
    >>> logits = torch.randn(2, 5, 3, requires_grad=True)
    >>> one_hot = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 5)), 3).float()
    >>> weight = torch.full((2, 5), 0.2)
    >>> plain = (((logits - one_hot) ** 2).mean(-1) * weight).sum(1)
    >>> torch.allclose(weighted_mse(logits, one_hot, weight), plain)
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from torch import Tensor

__all__ = ["Workspace", "weighted_mse"]

_T = TypeVar("_T")
# The choice `Workspace.fastest` found for each key, kept for the process (a later run of the
# same shapes starts with it, as cuDNN's benchmark mode keeps its algorithms).
_FASTEST: dict[tuple, Any] = {}
# Calls per choice while trying: the first warm the scratch tensors and index plans (a plan is
# built at a source's second sight), the rest are timed.
_WARM, _TIMED = 2, 2


class _WeightedMSE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: Tensor, one_hot: Tensor, weight: Tensor) -> Tensor:
        diff = logits - one_hot
        ctx.save_for_backward(diff, weight)
        return torch.einsum("mbc,mbc,mb->m", diff, diff, weight) / logits.shape[-1]

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        diff, weight = ctx.saved_tensors
        scale = (grad[:, None] * weight * (2.0 / diff.shape[-1]))[..., None]  # [models, batch, 1]
        return diff * scale, None, None


def weighted_mse(logits: Tensor, one_hot: Tensor, weight: Tensor) -> Tensor:
    """Each model's weighted mean squared error `[models]`: sum_b weight[m, b] mean_c
    (logits - one_hot)^2 over `logits`, `one_hot` `[models, batch, classes]` and `weight`
    `[models, batch]`; the gradient reaches `logits` only."""
    return _WeightedMSE.apply(logits, one_hot, weight)


class Workspace:
    """Named scratch tensors kept from one call to the next, reused while their shape holds.

    A training step on a CPU that allocates its large temporaries afresh each time pays for
    them twice: glibc returns a large freed block to the kernel, and the next step faults every
    page of it back in (measured on a 2-core CPU: the loss gradients of 64 MLPs of p 31, width
    64, 14 ms with fresh temporaries, 4.3 ms written into kept ones). Use it only for tensors
    that no caller keeps past the call.

    Examples:
        >>> work = Workspace()
        >>> a = work("pre", (2, 3))
        >>> a is work("pre", (2, 3)), work("pre", (4,)).shape
        (True, torch.Size([4]))
    """

    def __init__(self) -> None:
        self._tensors: dict[str, Tensor] = {}
        self._plans: dict[str, tuple[tuple, Tensor, Any]] = {}
        self._trials: dict[tuple, tuple[list, dict]] = {}

    def fastest(self, key: tuple, choices: Sequence[Any], run: Callable[[Any], _T]) -> _T:
        """`run(choice)` with the choice that runs fastest for `key`, for choices that give the
        same result and differ only in speed (a chunk size). The first calls with a new key try
        each choice in turn (warm-up calls, then timed ones); the fastest is then kept for the
        process, so a later workspace with the same key starts with it.

        Examples:
            >>> import time
            >>> work, key = Workspace(), ("doc", 1)
            >>> calls = [work.fastest(key, [0.02, 0.0], lambda s: time.sleep(s) or s)
            ...          for _ in range(10)]
            >>> calls[-1], len(set(calls))           # both tried, the faster one kept
            (0.0, 2)
        """
        if key in _FASTEST or len(choices) == 1:
            return run(_FASTEST.get(key, choices[0]))
        left, times = self._trials.setdefault(key, ([*choices], {}))
        choice, begin = left[0], time.perf_counter()
        out = run(choice)
        spent = times.setdefault(choice, [])
        spent.append(time.perf_counter() - begin)
        if len(spent) == _WARM + _TIMED:  # this choice is done: on to the next, or decide
            left.pop(0)
            if not left:
                _FASTEST[key] = min(times, key=lambda c: min(times[c][_WARM:]))
                del self._trials[key]
        return out

    def plan(self, name: str, source: Tensor, build: Callable[[], Any]) -> Any | None:
        """What `build()` derives from `source` (index plans), kept while `source` is the same
        memory unchanged (address, shape, strides and version; the workspace holds a reference,
        so no other tensor takes that memory meanwhile). None the first time a source is seen:
        a plan pays off only for inputs that come back (the full batch, not minibatches).

        Examples:
            >>> work, x = Workspace(), torch.arange(4)
            >>> work.plan("sum", x, lambda: int(x.sum())), work.plan("sum", x, lambda: int(x.sum()))
            (None, 6)
            >>> _ = x.add_(1)  # changed in place: seen anew
            >>> work.plan("sum", x, lambda: int(x.sum())) is None
            True
        """
        key = (source.data_ptr(), source.shape, source.stride(), source._version)
        seen = self._plans.get(name)
        if seen is not None and seen[0] == key:
            if seen[2] is None:
                seen = self._plans[name] = (key, source, build())
            return seen[2]
        self._plans[name] = (key, source, None)
        return None

    def __call__(self, name: str, shape: tuple[int, ...], like: Tensor | None = None) -> Tensor:
        """The scratch tensor `name` of `shape` (uninitialized), with the dtype and device of
        `like` (float32 on the CPU without it)."""
        t = self._tensors.get(name)
        dtype = like.dtype if like is not None else torch.float32
        device = like.device if like is not None else torch.device("cpu")
        if t is None or t.shape != shape or t.dtype != dtype or t.device != device:
            t = self._tensors[name] = torch.empty(shape, dtype=dtype, device=device)
        return t
