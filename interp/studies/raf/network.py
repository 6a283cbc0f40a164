"""Rule neurons and fact neurons of a trained two-layer network (`interp.models.two_layer`) on the
Rules-and-Facts task: which neurons carry the rule, which the facts, and what is left of each
error when one part is ablated.

A score is a sum over neurons, score(x) = sum_k c_k(x) with c_k(x) = a_k act(w_k . x / sqrt d +
b_k) / sqrt width, so each neuron has two drives:

- rule drive R_k = E_fresh[rule(x) c_k(x)]: how much it pushes fresh points toward the rule;
- fact drive F_k = mean over the *conflicting* facts (random label != rule) of y_i c_k(x_i): how
  much it pushes them toward the label they were given against the rule (facts whose random
  label agrees with the rule need no memory).

Two partitions into rule and fact neurons, by the same rule: a fact neuron carries a larger share
of the total fact drive than of the total rule drive, F_k / sum|F| > R_k / sum|R| (`fact_neurons`):

- by the fact mask and the teacher (`neuron_drives(model, task)`), as above;
- task-agnostic (`neuron_drives(model, task, agnostic=True)`), from the model, its training set
  and unlabelled fresh points only: the network's own rule direction u = E_fresh[x score(x)]
  (for a rule that depends on x through one direction, Stein's lemma puts E[x f(x)] on it)
  stands for the teacher, and the training points whose label contradicts sign(u . x), the
  exceptions to the network's own rule, stand for the conflicting facts.
  `extracted_rule_error` is the E_gen of sign(u . x) itself: the rule read off the network.

`ablate` mean-ablates neurons through the model's own hook (`hook_post` set to its mean over the
training points) and reports E_gen and E_mem; `swap_readout` scores with another read-out.

Examples:
    >>> import interp
    >>> from interp.models.two_layer import TwoLayer, TwoLayerConfig
    >>> from interp.tasks.raf import raf_task
    >>> task = raf_task(d=30, alpha=2.0, eps=0.2, seed=[0, 1], n_test=2000)
    >>> model = TwoLayer(TwoLayerConfig(d=30, width=128, models=2))
    >>> _ = interp.train(model, task, interp.TrainConfig(steps=800, loss="mse"), device="cpu",
    ...                  progress=False)
    >>> base = ablate(model, task, torch.zeros(2, 128, dtype=torch.bool))
    >>> [e.e_mem for e in base]                          # every fact stored
    [0.0, 0.0]
    >>> facts = fact_neurons(neuron_drives(model, task))
    >>> [e.e_mem > 0.1 for e in ablate(model, task, facts)]    # the fact neurons held them
    [True, True]
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from interp.models.two_layer import TwoLayer
from interp.studies.raf.learners import Errors
from interp.tasks.raf import RafTask

__all__ = [
    "Drives",
    "neuron_drives",
    "fact_neurons",
    "rule_direction",
    "extracted_rule_error",
    "ablate",
]


class Drives(NamedTuple):
    """Per neuron, `rule [models, width]` R_k and `facts [models, width]` F_k (module docstring)."""

    rule: Tensor
    facts: Tensor


def _check(model: TwoLayer, task: RafTask) -> None:
    if not isinstance(model, TwoLayer):
        raise ValueError(f"model is a {type(model).__name__}; expected a TwoLayer ensemble")
    if model.cfg.models != task.models or model.cfg.d != task.d:
        raise ValueError(
            f"model (models {model.cfg.models}, d {model.cfg.d}) does not fit the task "
            f"(models {task.models}, d {task.d})"
        )


@torch.no_grad()
def neuron_drives(model: TwoLayer, task: RafTask, agnostic: bool = False) -> Drives:
    """Each neuron's rule drive on the task's fresh points and fact drive on each model's
    conflicting facts (zero for a model without any); `agnostic`: on the network's own rule
    sign(u . x) and the exceptions to it among the training points, without the fact mask, the
    teacher or the test labels."""
    _check(model, task)
    task = task.to(model.device)
    fresh = model.contributions(task.test)  # [models, n_test, width]
    train = model.contributions(task.data)  # [models, n_max, width]
    labels = task.labels.to(train)
    if agnostic:
        u = rule_direction(model, task.test)
        rule_fresh = torch.sign(torch.einsum("kd,md->mk", task.test.to(u), u))
        rule_train = torch.sign(torch.einsum("mnd,md->mn", task.data.to(u), u))
        memory = task.mask & (labels != rule_train)
    else:
        rule_fresh = task.test_labels.to(train)
        memory = task.facts & task.mask & (labels != task.rule(task.data).to(train))
    rule = (rule_fresh[..., None] * fresh).mean(1)
    weight = memory / memory.sum(1, keepdim=True).clamp(min=1)
    return Drives(rule, torch.einsum("mn,mnk->mk", weight.to(train) * labels, train))


def fact_neurons(drives: Drives) -> Tensor:
    """`[models, width]` bool, the fact neurons: a larger share of the fact drive than of the
    rule drive."""
    rule = drives.rule / drives.rule.abs().sum(1, keepdim=True).clamp(min=1e-30)
    facts = drives.facts / drives.facts.abs().sum(1, keepdim=True).clamp(min=1e-30)
    return facts > rule


@torch.no_grad()
def rule_direction(model: TwoLayer, x: Tensor) -> Tensor:
    """`[models, d]` the unit vector along E[x score(x)] over unlabelled points `x [k, d]`."""
    x = x.to(model.device)
    scores = model(x)  # [models, k]
    u = torch.einsum("kd,mk->md", x.to(scores), scores) / len(x)
    return u / u.norm(dim=1, keepdim=True).clamp(min=1e-30)


@torch.no_grad()
def extracted_rule_error(model: TwoLayer, task: RafTask) -> Tensor:
    """`[models]` the E_gen of the network's own rule sign(u . x), u from the task's fresh points
    (unlabelled), judged against the teacher on the same points."""
    _check(model, task)
    u = rule_direction(model, task.test)
    scores = torch.einsum("kd,md->mk", task.test.to(u), u)
    return (scores * task.test_labels.to(scores) <= 0).double().mean(1)


def _errors(train: Tensor, test: Tensor, task: RafTask) -> list[Errors]:
    wrong = (train * task.labels.to(train) <= 0) & task.mask
    facts = task.facts & task.mask
    e_mem = (wrong & facts).sum(1) / facts.sum(1).clamp(min=1)
    e_gen = (test * task.test_labels.to(test) <= 0).double().mean(1)
    return [Errors(g, m) for g, m in zip(e_gen.tolist(), e_mem.tolist())]


@torch.no_grad()
def ablate(model: TwoLayer, task: RafTask, neurons: Tensor) -> list[Errors]:
    """E_gen and E_mem of each model with `neurons [models, width]` (bool) mean-ablated: their
    `hook_post` activations replaced by the mean over the model's training points."""
    _check(model, task)
    task = task.to(model.device)
    if neurons.shape != (model.cfg.models, model.cfg.width) or neurons.dtype != torch.bool:
        raise ValueError(
            f"neurons {tuple(neurons.shape)} {neurons.dtype}: need bool "
            f"[{model.cfg.models}, {model.cfg.width}]"
        )
    neurons = neurons.to(model.device)
    post = _post(model, task.data)
    weight = (task.mask / task.mask.sum(1, keepdim=True)).to(post)
    mean = torch.einsum("mn,mnk->mk", weight, post)[:, None]  # [models, 1, width]

    def hook(post: Tensor, hook) -> Tensor:
        return torch.where(neurons[:, None], mean, post)

    hooks = [("hook_post", hook)]
    return _errors(
        model.run_with_hooks(task.data, fwd_hooks=hooks),
        model.run_with_hooks(task.test, fwd_hooks=hooks),
        task,
    )


def _post(model: TwoLayer, x: Tensor) -> Tensor:
    """`[models, batch, width]` the hidden activations (`hook_post`)."""
    return model.run_with_cache(x, names_filter=lambda name: name == "hook_post")[1]["hook_post"]
