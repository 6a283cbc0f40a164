"""Cache, ablate and patch activations through TransformerLens hook points, over a whole task.

Works on every interp model (activations `[models, batch, ...]`: the batch is axis 1) and on any
TransformerLens `HookedRootModule` (activations `[batch, ...]`: axis 0); `batch_axis` tells them
apart and every function takes it as an override.

Examples:
    >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
    >>> model, task = run.model(), run.task
    >>> cache = cache_activations(model, task, names="hook_post")
    >>> cache["hook_post"].shape                                    # [models, p*p, neurons]
    torch.Size([1, 9409, 500])
    >>> spread = interp.extract_frequencies(model).ipr < 0.5       # [models, neurons]
    >>> with ablated(model, spread):                                # without the spread neurons
    ...     print(interp.evaluate(model, task))                     # the noise is forgotten
    model   train  train-clean  train-noisy    test
        0   0.650        1.000        0.000   1.000
    >>> early = cache_activations(run.model(100), task, "hook_post")
    >>> logits = patch(model, task, early)                          # step-100 hidden layer
    >>> round(float((logits.argmax(-1) == task.labels)[task.test].float().mean()), 3)
    0.086
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor
from transformer_lens import HookedRootModule
from transformer_lens.hook_points import HookPoint

from interp.core.runs import check_pair
from interp.tasks.modular import ModularTask

__all__ = [
    "batch_axis",
    "cache_activations",
    "activation_gradients",
    "ablated",
    "patch",
    "ABLATIONS",
]

ABLATIONS = ("zero", "mean")
Names = str | Sequence[str] | Callable[[str], bool] | None
Inputs = Tensor | ModularTask


def batch_axis(model: torch.nn.Module) -> int:
    """Where the batch lives in `model`'s activations: 1 for an interp ensemble (a leading
    models axis, `cfg.models`), 0 for any other `HookedRootModule`."""
    return 1 if hasattr(getattr(model, "cfg", None), "models") else 0


def _hooked(model: torch.nn.Module) -> HookedRootModule:
    if not isinstance(model, HookedRootModule):
        raise TypeError(
            f"hooks need a TransformerLens HookedRootModule; got {type(model).__name__}"
        )
    return model


def _hook_names(model: HookedRootModule, names: Names) -> list[str]:
    """The hook-point names `names` selects (None: all), validated against the model (its
    `hook_dict`: a GPT ensemble's are its bridges' TransformerLens names)."""
    available = list(model.hook_dict)
    if names is None:
        chosen = available
    elif callable(names):
        chosen = [n for n in available if names(n)]
    else:
        chosen = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in chosen if n not in available]
        if unknown:
            raise ValueError(
                f"no hook point {unknown[0]!r} in {type(model).__name__}; "
                f"it has {', '.join(available)}"
            )
    if not chosen:
        raise ValueError(f"names selects none of the hook points {', '.join(available)}")
    return chosen


def _inputs(inputs: Inputs, device: torch.device) -> Tensor:
    return (inputs.inputs if isinstance(inputs, ModularTask) else inputs).to(device)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def cache_activations(
    model: torch.nn.Module,
    inputs: Inputs,
    names: Names = None,
    batch_size: int = 4096,
    device: torch.device | str | None = None,
    axis: int | None = None,
) -> dict[str, Tensor]:
    """Run `model` over `inputs` in batches and keep the activations at the chosen hook points.

    Args:
        model: an interp model or any `HookedRootModule`.
        inputs: a `ModularTask` (all its pairs, `[examples, 2]`) or the model's input tensor,
            batch first.
        names: a hook name, a list of names, a filter `name -> bool`, or None for every hook.
        batch_size: examples per forward pass.
        device: where to keep the cache (default: the model's device).
        axis: the batch axis of the activations (default `batch_axis(model)`).

    Returns:
        hook name -> activations over all inputs, e.g. `{"hook_post": [models, examples,
        neurons]}` for an interp MLP.

    Examples:
        >>> task = interp.modular_task(p=7, seed=[0, 1])
        >>> model = interp.MLP(interp.MLPConfig(p=7, width=8, models=2))
        >>> acts = cache_activations(model, task, ["hook_pre", "hook_post"], batch_size=10)
        >>> acts["hook_post"].shape                              # [models, p*p, neurons]
        torch.Size([2, 49, 8])
        >>> torch.equal(acts["hook_post"], acts["hook_pre"] ** 2)  # the x^2 activation
        True
    """
    model = _hooked(model)
    chosen = _hook_names(model, names)
    axis = batch_axis(model) if axis is None else axis
    x = _inputs(inputs, _device(model))
    store: dict[str, list[Tensor]] = {n: [] for n in chosen}
    for chunk in x.split(batch_size):
        _, cache = model.run_with_cache(chunk, names_filter=chosen)
        for n in chosen:
            store[n].append(cache[n].detach().to(device or cache[n].device))
    return {n: torch.cat(acts, dim=axis) for n, acts in store.items()}


def activation_gradients(
    model: torch.nn.Module,
    task: ModularTask,
    names: Names = "hook_post",
    batch_size: int = 4096,
    device: torch.device | str | None = None,
) -> dict[str, Tensor]:
    """Per-example gradients of each example's own cross-entropy, against the label its model
    trained on (`task.train_labels`), with respect to the activations at the chosen hooks.

    Examples do not interact in a forward pass, so the gradient of the summed loss with respect
    to an example's activation is that example's own gradient: one backward pass per batch.

    Args:
        model: an interp model over pairs with `task.models` models.
        task: the task (its pairs and training labels).
        names: hook name(s) or filter, as in `cache_activations`.
        batch_size: examples per pass.
        device: where to keep the result (default: the model's device).

    Returns:
        hook name -> gradients shaped like the activations, e.g. `{"hook_post": [models,
        examples, neurons]}`.

    Examples:
        >>> task = interp.modular_task(p=7, noise=0.3, seed=[0, 1])
        >>> model = interp.MLP(interp.MLPConfig(p=7, width=8, models=2))
        >>> grads = activation_gradients(model, task)["hook_post"]
        >>> grads.shape                                          # [models, p*p, neurons]
        torch.Size([2, 49, 8])
        >>> with torch.no_grad():                                # d loss / d post, by hand:
        ...     error = model(task.inputs).softmax(-1) - torch.eye(7)[task.train_labels]
        ...     by_hand = error @ model.W                        # W^T (softmax - one-hot)
        >>> torch.allclose(grads, by_hand, atol=1e-6)            # one example at a time
        True
    """
    model = _hooked(model)
    check_pair(model, task)
    chosen = _hook_names(model, names)
    x = _inputs(task, _device(model))
    labels = task.train_labels.to(x.device)
    store: dict[str, list[Tensor]] = {n: [] for n in chosen}

    def keep(grad: Tensor, hook: HookPoint) -> None:
        store[hook.name].append(grad.detach().to(device or grad.device))

    with torch.enable_grad(), model.hooks(bwd_hooks=[(n, keep) for n in chosen]):
        for rows in torch.arange(len(x), device=x.device).split(batch_size):
            logits = model(x[rows])  # [models, batch, p]
            loss = torch.nn.functional.cross_entropy(
                logits.transpose(1, 2), labels[:, rows], reduction="sum"
            )
            loss.backward()
    model.zero_grad(set_to_none=True)
    return {n: torch.cat(grads, dim=1) for n, grads in store.items()}


@contextmanager
def ablated(
    model: torch.nn.Module,
    mask: Tensor,
    hook: str = "hook_post",
    mode: str = "zero",
    reference: Inputs | None = None,
    axis: int | None = None,
) -> Iterator[torch.nn.Module]:
    """Within the block, replace the masked units of one hook point by zero or by their mean.

    Args:
        model: an interp model or any `HookedRootModule`.
        mask: bool, the activation's shape without the batch axis: `[models, neurons]` for an
            interp model's `hook_post`; `[d_mlp]` (broadcast over positions) elsewhere.
        hook: the hook point to ablate.
        mode: "zero", or "mean" (each unit's mean activation over `reference`).
        reference: inputs to average over for "mean" (e.g. the task).
        axis: the batch axis of the activations (default `batch_axis(model)`).

    Yields:
        The model, which runs ablated until the block ends (hooks removed even on error).

    Examples:
        >>> task = interp.modular_task(p=7, seed=[0, 1])
        >>> model = interp.MLP(interp.MLPConfig(p=7, width=8, models=2))
        >>> with ablated(model, torch.ones(2, 8, dtype=torch.bool)), torch.no_grad():
        ...     float(model(task.inputs).abs().max())            # every neuron gone
        0.0
        >>> with ablated(model, torch.ones(2, 8, dtype=torch.bool), mode="mean", reference=task):
        ...     logits = model(task.inputs)                      # each neuron at its mean
        >>> bool(torch.allclose(logits, logits[:, :1]))          # the same for every pair
        True
    """
    model = _hooked(model)
    (name,) = _hook_names(model, hook)
    if mode not in ABLATIONS:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(ABLATIONS)}")
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be bool; got {mask.dtype}")
    axis = batch_axis(model) if axis is None else axis
    mask = mask.to(_device(model)).unsqueeze(axis)
    if mode == "mean":
        if reference is None:
            raise ValueError("mode 'mean' needs reference= inputs to average the activations over")
        mean = cache_activations(model, reference, name, axis=axis)[name].mean(axis, keepdim=True)
    else:
        mean = torch.zeros((), device=_device(model))

    def ablate(act: Tensor, hook: HookPoint) -> Tensor:
        try:
            return torch.where(mask, mean.to(act.dtype), act)
        except RuntimeError as err:
            shapes = f"mask {tuple(mask.shape)} (batch axis {axis} added), activation"
            raise ValueError(f"{shapes} {tuple(act.shape)} at {hook.name} do not match") from err

    with model.hooks(fwd_hooks=[(name, ablate)]):
        yield model


@torch.no_grad()
def patch(
    model: torch.nn.Module,
    inputs: Inputs,
    source: dict[str, Tensor],
    mask: Tensor | None = None,
    batch_size: int = 4096,
    axis: int | None = None,
) -> Tensor:
    """Run `model` over `inputs` with activations taken from `source` at its hook points.

    `source` comes from `cache_activations` of another checkpoint on the same inputs (what did
    step 100 know?), or of the same model on other inputs of the same count (what does input x'
    contribute?). Activations are matched example by example.

    Args:
        model: an interp model or any `HookedRootModule`.
        inputs: a `ModularTask` or the model's input tensor, batch first.
        source: hook name -> activations over the same number of examples, batch at `axis`.
        mask: bool, the activation's shape without the batch axis (e.g. `[models, neurons]`):
            patch only these units (default: all).
        batch_size: examples per forward pass.
        axis: the batch axis of the activations (default `batch_axis(model)`).

    Returns:
        The model's output over all inputs, e.g. logits `[models, examples, p]`.

    Examples:
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
        >>> src = cache_activations(run.model(0), run.task, "hook_post")
        >>> logits = patch(run.model(), run.task, src)   # the trained read-out, initial features
        >>> logits.shape
        torch.Size([1, 9409, 97])
        >>> right = logits.argmax(-1) == run.task.labels
        >>> round(float(right[run.task.test].float().mean()), 2)                # chance: 1/97
        0.01
    """
    model = _hooked(model)
    names = _hook_names(model, list(source))
    axis = batch_axis(model) if axis is None else axis
    x = _inputs(inputs, _device(model))
    for name in names:
        if source[name].shape[axis] != len(x):
            raise ValueError(
                f"source {name!r} has {source[name].shape[axis]} examples on axis {axis}; "
                f"inputs have {len(x)}"
            )
    keep = None if mask is None else mask.to(_device(model)).unsqueeze(axis)
    outputs = []
    for start in range(0, len(x), batch_size):
        rows = slice(start, start + batch_size)

        def swap(act: Tensor, hook: HookPoint, rows: slice = rows) -> Tensor:
            new = source[hook.name].narrow(axis, rows.start, act.shape[axis]).to(act)
            if new.shape != act.shape:
                raise ValueError(
                    f"source {hook.name!r} activations {tuple(new.shape)} do not match the "
                    f"model's {tuple(act.shape)}"
                )
            return new if keep is None else torch.where(keep, new, act)

        with model.hooks(fwd_hooks=[(n, swap) for n in names]):
            outputs.append(model(x[rows]))
    return torch.cat(outputs, dim=axis)
