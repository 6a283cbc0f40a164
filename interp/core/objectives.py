"""Objectives: what each model kind trains on, behind one small interface for the one loop.

An objective is built for a model, a task and a `TrainConfig` (`objective_for`), checks that they
fit together before anything is written, and then answers three questions for any step:

    loss(forward, rows, step) -> [models in rows]   each model's mean loss on its own batch
    metrics(model, step)      -> {name: [models]}   what to log at a logged step
    chunk                     -> models per forward/backward (a CPU runs cache-sized chunks)

An objective may also set the gradients itself, without the loss, where it can do so faster:
`gradients(model, step) -> bool` (the MLP's fused CPU step; False where it does not apply).
It may also keep state across steps (a target network): then it has
`after_step(model)`, called after every optimizer step, and `state()` / `load_state(tensors)`,
which the run's resume state stores. An objective that is not a model kind's own (consistency
distillation of a teacher) is passed to `train` as a *spec* (`ObjectiveSpec`): it builds the
objective, stores itself in the run (`entry`, `save`) and is read back by `from_run` on resume.

`forward` is the model or a functional view of a slice of its models. Every random draw (the
minibatch, a diffusion's noise levels and noise) comes from (model seed, step) alone, on the
CPU, so an ensemble trains as its models alone, a resumed run ends where an uninterrupted one
would, and the same seed gives the same batches on every device.

Kinds: "classification" (an MLP on a modular task: MSE or cross-entropy, full batch or
minibatches, accuracies on the whole table), "denoising" (a DiT on rule strings: EDM's loss),
"next_token" (a GPT on rule strings: next-bit cross-entropy), "score matching" (a
random-features score model on mixture points at one diffusion time). A new model kind
registers its own with `register_objective`.

Examples:
    >>> task = interp.modular_task(p=7, seed=[0, 1])
    >>> model = interp.MLP(interp.MLPConfig(p=7, width=8, models=2))
    >>> objective = objective_for(model, task, interp.TrainConfig(), torch.device("cpu"))
    >>> objective.loss(model, slice(0, 2), step=0).shape
    torch.Size([2])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from interp.core.fused import Workspace, weighted_mse
from interp.core.metrics import accuracies, masked_mean, per_example_loss, predicted

__all__ = [
    "Objective",
    "ObjectiveSpec",
    "Classification",
    "Denoising",
    "NextToken",
    "ScoreMatching",
    "FactRecall",
    "SignFit",
    "objective_for",
    "register_objective",
    "LOSSES",
    "CPU_CHUNK_ELEMENTS",
]

# On a CPU a forward/backward runs a few models at a time, so that one chunk's activations
# [chunk, batch, neurons] stay near this many elements (a GPU takes the whole ensemble at once).
CPU_CHUNK_ELEMENTS = 5_000_000


class Objective(Protocol):
    """What the training loop needs of a model kind (see the module docstring)."""

    losses: tuple[str, ...]  # the `TrainConfig.loss` values it accepts
    chunk: int

    def loss(self, forward: Callable[..., Tensor], rows: slice, step: int) -> Tensor: ...

    def metrics(self, model: nn.Module, step: int) -> dict[str, Tensor]: ...


class ObjectiveSpec(Protocol):
    """An objective chosen by the caller instead of the model kind's own (see the module
    docstring); `kind` names it in `interp.core.registry.OBJECTIVE_KINDS`."""

    kind: str
    losses: tuple[str, ...]

    def build(self, model: nn.Module, task: Any, cfg: Any, device: torch.device) -> Objective: ...

    def entry(self) -> dict[str, Any]: ...

    def save(self, run: Any) -> None: ...

    @classmethod
    def from_run(cls, entry: dict[str, Any], run: Any, device: torch.device) -> ObjectiveSpec: ...


def _generators(seeds: Sequence[int], step: int) -> list[torch.Generator]:
    """One CPU generator per model, seeded from (model seed, step): the step's randomness."""
    return [torch.Generator().manual_seed(s * 1_000_003 + step) for s in seeds]


def _padded_rows(train: Tensor) -> tuple[Tensor, Tensor]:
    """Each model's training rows as `[models, n_max]` indices and a `[models, n_max]` weight
    that averages over its own rows (zero on padding when the sets differ in size)."""
    counts = train.sum(1)
    n_max = int(counts.max())
    order = torch.argsort((~train).int(), dim=1, stable=True)[:, :n_max]
    valid = torch.arange(n_max, device=counts.device)[None] < counts[:, None]
    return order, valid / counts[:, None]


def _picks(counts: Tensor, gens: list[torch.Generator], size: int) -> Tensor:
    """`[models, size]` rows drawn with replacement, model m's from its own `counts[m]` rows
    with its own generator."""
    rows = [torch.randint(int(counts[m]), (size,), generator=g) for m, g in enumerate(gens)]
    return torch.stack(rows)


def _check_batch(batch_size: int | None, smallest: int) -> None:
    if batch_size is not None and batch_size > smallest:
        raise ValueError(f"batch_size={batch_size} exceeds the smallest training set ({smallest})")


# ---------------------------------------------------------------------------------------------
# classification: an MLP (or any logits ensemble) on a modular task


class _Epochs:
    """Minibatches of each model's training set: a fresh permutation per model per epoch, drawn
    from (model seed, epoch) alone, so a resumed run sees the same batches."""

    def __init__(self, train: Tensor, seeds: Sequence[int], batch_size: int) -> None:
        self.train = [torch.nonzero(row).flatten() for row in train.cpu()]
        self.seeds, self.size = list(seeds), batch_size
        self.epoch: list[int] = [-1] * len(seeds)
        self.perm: list[Tensor] = [torch.empty(0)] * len(seeds)

    def __call__(self, step: int) -> Tensor:
        rows = []
        for m, idx in enumerate(self.train):
            per_epoch = len(idx) // self.size
            epoch, i = divmod(step, per_epoch)
            if self.epoch[m] != epoch:
                gen = torch.Generator().manual_seed(self.seeds[m] * 1_000_003 + epoch)
                self.perm[m], self.epoch[m] = idx[torch.randperm(len(idx), generator=gen)], epoch
            rows.append(self.perm[m][i * self.size : (i + 1) * self.size])
        return torch.stack(rows)


class Classification:
    """Each model's mean MSE (on one-hot targets) or cross-entropy on its own training pairs,
    with its own (possibly noisy) labels; logs train/test loss and train-clean, train-noisy and
    test accuracy on the whole table."""

    losses = ("mse", "ce")
    metric_names = ("train_loss", "test_loss", "train_clean_acc", "train_noisy_acc", "test_acc")

    def __init__(self, model: nn.Module, task: Any, cfg: Any, device: torch.device) -> None:
        self.task, self.kind, self.batch_size = task.to(device), cfg.loss, cfg.batch_size
        _check_batch(cfg.batch_size, int(task.train.sum(1).min()))
        width = getattr(model.cfg, "width", task.p)
        models = model.cfg.models
        if cfg.batch_size is None:
            idx, self.weight = _padded_rows(self.task.train)
            self.inputs = self.task.inputs[idx]
            self.targets = torch.gather(self.task.train_labels, 1, idx)
            batch = idx.shape[1]
        else:
            self.epochs = _Epochs(self.task.train, model.cfg.seed, cfg.batch_size)
            self.weight = torch.full((models, cfg.batch_size), 1 / cfg.batch_size, device=device)
            batch = cfg.batch_size
        cpu = device.type == "cpu"
        self.chunk = max(1, CPU_CHUNK_ELEMENTS // (batch * width)) if cpu else models
        self.log_chunk = max(1, CPU_CHUNK_ELEMENTS // (len(task.labels) * width)) if cpu else models
        self.fused_chunk, self.work = self.chunk, Workspace()  # the MLP's fused CPU step:
        self.chunk = models if cpu and getattr(model, "fusable", False) else self.chunk  # inside

    @cached_property
    def one_hot(self) -> Tensor:
        """The full batch's one-hot labels, built where first used (a fused step never does)."""
        return F.one_hot(self.targets, self.task.p).float()

    def _batch(self, rows: slice, step: int) -> tuple[Tensor, Tensor]:
        """Pairs `[models, batch, 2]` and labels `[models, batch]`."""
        if self.batch_size is None:
            return self.inputs[rows], self.targets[rows]
        idx = self.epochs(step)[rows].to(self.weight.device)
        return self.task.inputs[idx], torch.gather(self.task.train_labels[rows], 1, idx)

    def gradients(self, model: nn.Module, step: int) -> bool:
        """Set the gradients of the summed loss of every model without computing the loss (the
        MLP's fused CPU step: training needs only the gradients); False where it does not apply."""
        fusable = getattr(model, "fusable", False)  # (else no batch drawn for nothing)
        args = self.weight, self.kind, self.fused_chunk, self.work
        return fusable and model.fused_gradients(*self._batch(slice(None), step), *args)

    def loss(self, forward: Callable[..., Tensor], rows: slice, step: int) -> Tensor:
        inputs, targets = self._batch(rows, step)
        if self.batch_size is None and self.kind == "mse":  # full batch: one fused pass
            return weighted_mse(forward(inputs), self.one_hot[rows], self.weight[rows])
        per_example = per_example_loss(forward(inputs), targets, self.kind)
        return (per_example * self.weight[rows]).sum(1)

    @torch.no_grad()
    def metrics(self, model: nn.Module, step: int) -> dict[str, Tensor]:
        params, task = dict(model.named_parameters()), self.task
        parts = []  # per chunk of models: train loss, test loss, predictions, each [chunk, p^2]
        for i in range(0, model.cfg.models, self.log_chunk):
            rows = slice(i, i + self.log_chunk)
            view = {k: v[rows] for k, v in params.items()}
            logits = torch.func.functional_call(model, view, (task.inputs,))
            true = task.labels.expand(len(logits), -1)
            losses = (
                per_example_loss(logits, t, self.kind) for t in (task.train_labels[rows], true)
            )
            parts.append((*losses, predicted(logits)))
        per_example, test_loss, predictions = (torch.cat(x) for x in zip(*parts))
        acc = accuracies(predictions, task)
        return {
            "train_loss": masked_mean(per_example, task.train),
            "test_loss": masked_mean(test_loss, task.test),
            "train_clean_acc": acc.train_clean,
            "train_noisy_acc": acc.train_noisy,
            "test_acc": acc.test,
        }


# ---------------------------------------------------------------------------------------------
# generative: strings of a rule task, for a diffusion model or a next-token model


class _Strings:
    """Each step's training strings per model: `batch_size` drawn with replacement from the
    model's own set, or (batch_size None) the whole set every step."""

    def __init__(self, model: nn.Module, task: Any, cfg: Any, device: torch.device) -> None:
        self.task, self.batch_size, self.seeds = task.to(device), cfg.batch_size, model.cfg.seed
        self.counts = task.mask.sum(1).cpu()  # drawn with replacement: any batch size works
        self.chunk = model.cfg.models

    def draw(self, rows: slice, step: int) -> tuple[list[torch.Generator], Tensor, Tensor]:
        """`(generators, rows [models, batch, d], weight [models, batch])` of the models `rows`:
        the generators go on to draw that step's noise."""
        seeds = self.seeds[rows]
        gens = _generators(seeds, step)
        task, device = self.task, self.task.data.device
        if self.batch_size is None:
            bits = task.data[rows]
            mask = task.mask[rows].float()  # padding rows weigh nothing
            return gens, bits, mask / mask.sum(1, keepdim=True)
        picks = _picks(self.counts[rows], gens, self.batch_size)
        bits = torch.gather(task.data[rows], 1, picks.to(device)[..., None].expand(-1, -1, task.d))
        weight = torch.full(picks.shape, 1 / self.batch_size, device=device)
        return gens, bits, weight

    @torch.no_grad()
    def metrics(self, model: nn.Module, step: int) -> dict[str, Tensor]:
        """The step's training loss of every model (the same draws the update uses)."""
        return {"train_loss": self.loss(model, slice(0, model.cfg.models), step)}


class Denoising(_Strings):
    """A diffusion ensemble (`DiT`) on rule strings (as signals +-0.5) or on a mixture's points:
    EDM's weighted denoising loss with per-model noise levels ln(sigma) ~ N(-1.2, 1.2^2) and
    noise, each step; logs that loss. (Set the DiT's `sigma_data` to the data's spread.)"""

    losses = ("edm",)
    metric_names = ("train_loss",)

    def __init__(self, model: nn.Module, task: Any, cfg: Any, device: torch.device) -> None:
        super().__init__(model, task, cfg, device)
        self.sigma_data = model.cfg.sigma_data

    def loss(self, forward: Callable[..., Tensor], rows: slice, step: int) -> Tensor:
        from interp.diffusion import edm_example_loss, sample_training_sigmas
        from interp.tasks.bitrules import to_signal

        gens, data, weight = self.draw(rows, step)
        size, d = data.shape[1], data.shape[2]
        device = data.device
        # bits of a rule task become signals +-0.5; a mixture's points are signals already
        clean = data if data.is_floating_point() else to_signal(data)
        sigma = torch.stack([sample_training_sigmas((size,), g) for g in gens]).to(device)
        noise = torch.stack([torch.randn(size, d, generator=g) for g in gens]).to(device)
        loss = edm_example_loss(forward, clean, sigma, noise, self.sigma_data)
        if self.batch_size is not None:
            return loss.mean(-1)
        return (loss * weight).sum(-1)


class NextToken(_Strings):
    """A GPT ensemble on rule strings: next-bit cross-entropy (nats per bit); logs that loss."""

    losses = ("ce",)
    metric_names = ("train_loss",)

    def loss(self, forward: Callable[..., Tensor], rows: slice, step: int) -> Tensor:
        from interp.models.gpt import gpt_tokens

        _, bits, weight = self.draw(rows, step)
        tokens = gpt_tokens(bits)
        logits = forward(tokens[..., :-1])  # [models, batch, d, 2]
        log_probs = torch.log_softmax(logits, -1).gather(-1, tokens[..., 1:, None]).squeeze(-1)
        per_string = -log_probs.sum(-1)
        if self.batch_size is not None:
            return per_string.mean(-1) / bits.shape[-1]
        return (per_string * weight).sum(-1) / bits.shape[-1]


# ---------------------------------------------------------------------------------------------
# score matching at one diffusion time: a score model on points of a mixture


class ScoreMatching:
    """Denoising score matching at one OU time t (Bonnaire et al. 2025): each model's mean over
    its own training points of ||sqrt(Delta_t) s(a_t x + sqrt(Delta_t) eta) + eta||^2 / d, with
    fresh noise eta every step (batch_size None: every point every step, else that many drawn
    with replacement). Logs that training loss, the same loss on the task's fresh test points
    (one fixed noise draw each, the same at every step) and the score error against the exact
    score of the noised mixture, mean ||s(x_t) - s*(x_t)||^2 / d over the test points; with
    several classes also each class's train and test loss (`train_loss_class0`, ...)."""

    losses = ("mse",)
    metric_names = ("train_loss", "test_loss", "score_error")

    def __init__(self, model: nn.Module, task: Any, cfg: Any, device: torch.device) -> None:
        from interp.tasks.mixtures import TEST_SEED, ou_coefficients

        self.task, self.batch_size, self.seeds = task.to(device), cfg.batch_size, model.cfg.seed
        self.t = model.cfg.t
        self.a, self.delta = ou_coefficients(self.t)
        self.counts = task.mask.sum(1).cpu()
        self.chunk = model.cfg.models
        gen = torch.Generator().manual_seed(TEST_SEED + 1)
        noise = torch.randn(task.test.shape, generator=gen).to(device)
        self.test_noise = noise
        self.test_xt = self.a * self.task.test + math.sqrt(self.delta) * noise
        self.test_score = self.task.score(self.test_xt, self.t)

    def _loss(self, score: Tensor, noise: Tensor) -> Tensor:
        """Per-point loss `[..., batch]`."""
        return ((math.sqrt(self.delta) * score + noise) ** 2).mean(-1)

    def _points(self, forward: Callable[..., Tensor], rows: slice, step: int) -> tuple:
        """`(per-point loss, weight, class)`, each `[models, batch]`, of the step's draws."""
        gens = _generators(self.seeds[rows], step)
        task, device = self.task, self.task.data.device
        if self.batch_size is None:
            x, labels = task.data[rows], task.labels[rows]
            mask = task.mask[rows].float()
            weight = mask / mask.sum(1, keepdim=True)
        else:
            picks = _picks(self.counts[rows], gens, self.batch_size).to(device)
            x = torch.gather(task.data[rows], 1, picks[..., None].expand(-1, -1, task.d))
            labels = torch.gather(task.labels[rows], 1, picks)
            weight = torch.full(picks.shape, 1 / self.batch_size, device=device)
        size, d = x.shape[1], x.shape[2]
        noise = torch.stack([torch.randn(size, d, generator=g) for g in gens]).to(device)
        xt = self.a * x + math.sqrt(self.delta) * noise
        return self._point_loss(forward, xt, noise, rows), weight, labels

    def _point_loss(
        self, forward: Callable[..., Tensor], xt: Tensor, noise: Tensor, rows: slice
    ) -> Tensor:
        """Per-point loss `[models in rows, batch]` at the noised points xt (a distillation
        objective regresses a teacher's score instead of the noise)."""
        return self._loss(forward(xt), noise)

    def loss(self, forward: Callable[..., Tensor], rows: slice, step: int) -> Tensor:
        per_point, weight, _ = self._points(forward, rows, step)
        return (per_point * weight).sum(-1)

    @torch.no_grad()
    def metrics(self, model: nn.Module, step: int) -> dict[str, Tensor]:
        per_point, weight, labels = self._points(model, slice(0, model.cfg.models), step)
        score = model(self.test_xt)  # [models, n_test, d]
        test = self._loss(score, self.test_noise)  # [models, n_test]
        logged = {
            "train_loss": (per_point * weight).sum(-1),
            "test_loss": test.mean(-1),
            "score_error": ((score - self.test_score) ** 2).mean((-1, -2)),
        }
        if self.task.config.classes > 1:  # each class's own losses: its own two times
            for c in range(self.task.config.classes):
                mine = weight * (labels == c)
                logged[f"train_loss_class{c}"] = (per_point * mine).sum(-1) / mine.sum(-1)
                logged[f"test_loss_class{c}"] = test[:, self.task.test_labels == c].mean(-1)
        return logged


# ---------------------------------------------------------------------------------------------
# fact recall: a network that maps names to their K-digit values


class FactRecall:
    """Cross-entropy over the K digits of each name's value, names drawn by the fact base's
    frequencies (Zipf): `batch_size` names per model per step from (model seed, step), or (None)
    the expected loss over every name weighted by its frequency. Logs that loss and the number
    of facts recalled exactly (`facts_known`, from the model's `recall`). A FactNet reads the
    names; a fact GPT reads `model.fact_tokens(names, values)` (teacher forcing)."""

    losses = ("ce",)
    metric_names = ("train_loss", "facts_known")

    def __init__(self, model: nn.Module, task: Any, cfg: Any, device: torch.device) -> None:
        self.task, self.batch_size, self.seeds = task.to(device), cfg.batch_size, model.cfg.seed
        self.chunk = model.cfg.models
        self.tokens = getattr(model, "fact_tokens", None)
        if model.cfg.names < task.values.shape[1]:
            raise ValueError(
                f"the model knows {model.cfg.names} names; the task has {task.values.shape[1]}"
            )
        if model.cfg.digits != task.config.digits:
            raise ValueError(
                f"the model reads {model.cfg.digits} digits; the task has {task.config.digits}"
            )

    def _per_name(self, forward: Callable[..., Tensor], names: Tensor, rows: slice) -> Tensor:
        """`[models in rows, batch]` the summed cross-entropy of the K digits of each name."""
        k = self.task.values.shape[2]
        values = torch.gather(self.task.values[rows], 1, names[..., None].expand(-1, -1, k))
        logits = forward(names if self.tokens is None else self.tokens(names, values))
        return F.cross_entropy(logits.permute(0, 3, 1, 2), values, reduction="none").sum(-1)

    def loss(self, forward: Callable[..., Tensor], rows: slice, step: int) -> Tensor:
        task = self.task
        device = task.values.device
        if self.batch_size is None:
            n = task.values.shape[1]
            names = torch.arange(n, device=device).expand(task.values[rows].shape[0], -1)
            return (self._per_name(forward, names, rows) * task.frequency[rows]).sum(-1)
        gens = _generators(self.seeds[rows], step)
        freq = task.frequency[rows].cpu()
        names = torch.stack(
            [
                torch.multinomial(freq[i], self.batch_size, True, generator=g)
                for i, g in enumerate(gens)
            ]
        ).to(device)
        return self._per_name(forward, names, rows).mean(-1)

    @torch.no_grad()
    def metrics(self, model: nn.Module, step: int) -> dict[str, Tensor]:
        from interp.tasks.facts import facts_known

        predicted = model.recall(self.task.values.shape[1])
        return {
            "train_loss": self.loss(model, slice(0, model.cfg.models), step),
            "facts_known": facts_known(predicted, self.task).double(),
        }


# ---------------------------------------------------------------------------------------------
# sign fit: a scalar-score network on +-1 labels (rules and facts)


class SignFit:
    """Each model's mean square loss (y - f)^2 / 2 ("mse") or logistic loss log(1 + e^(-y f))
    ("ce") on its own +-1 training labels (full batch, or reshuffled epochs of `batch_size`);
    logs the training loss, E_gen (the fraction of the shared test points whose sign differs
    from the model's rule), E_mem (the fraction of its facts whose label it does not
    reproduce) and rule_err (the same on its rule-labelled training points)."""

    losses = ("mse", "ce")
    metric_names = ("train_loss", "e_gen", "e_mem", "rule_err")

    def __init__(self, model: nn.Module, task: Any, cfg: Any, device: torch.device) -> None:
        self.task, self.kind, self.batch_size = task.to(device), cfg.loss, cfg.batch_size
        _check_batch(cfg.batch_size, int(task.mask.sum(1).min()))
        if model.cfg.d != task.d:
            raise ValueError(f"the model reads d={model.cfg.d}; the task has d={task.d}")
        models = model.cfg.models
        if cfg.batch_size is None:
            self.rows, self.weight = _padded_rows(self.task.mask)
            batch = self.rows.shape[1]
        else:
            self.epochs = _Epochs(self.task.mask, model.cfg.seed, cfg.batch_size)
            self.weight = torch.full((models, cfg.batch_size), 1 / cfg.batch_size, device=device)
            batch = cfg.batch_size
        cpu = device.type == "cpu"
        self.chunk = max(1, CPU_CHUNK_ELEMENTS // (batch * model.cfg.width)) if cpu else models

    def _per_example(self, scores: Tensor, labels: Tensor) -> Tensor:
        labels = labels.to(scores.dtype)
        if self.kind == "mse":
            return 0.5 * (labels - scores) ** 2
        return F.softplus(-labels * scores)

    def loss(self, forward: Callable[..., Tensor], rows: slice, step: int) -> Tensor:
        idx = self.rows[rows] if self.batch_size is None else self.epochs(step)[rows]
        idx = idx.to(self.task.data.device)
        points = torch.gather(
            self.task.data[rows], 1, idx[..., None].expand(-1, -1, self.task.d)
        )  # [models, batch, d]
        labels = torch.gather(self.task.labels[rows], 1, idx)
        return (self._per_example(forward(points), labels) * self.weight[rows]).sum(1)

    @torch.no_grad()
    def metrics(self, model: nn.Module, step: int) -> dict[str, Tensor]:
        task = self.task
        train = model(task.data)  # [models, n_max]
        wrong = (train * task.labels <= 0) & task.mask
        facts, rule = task.facts & task.mask, ~task.facts & task.mask
        test = model(task.test)  # [models, n_test]
        return {
            "train_loss": masked_mean(self._per_example(train, task.labels), task.mask),
            "e_gen": (test * task.test_labels <= 0).double().mean(1),
            "e_mem": (wrong & facts).sum(1) / facts.sum(1).clamp(min=1),
            "rule_err": (wrong & rule).sum(1) / rule.sum(1).clamp(min=1),
        }


OBJECTIVES: dict[str, type] = {
    "mlp": Classification,
    "dit": Denoising,
    "gpt": NextToken,
    "random_features": ScoreMatching,
    "fact_net": FactRecall,
    "two_layer": SignFit,
}
# A model kind whose objective depends on the task: (model kind, task kind) -> objective.
TASK_OBJECTIVES: dict[tuple[str, str], type] = {("gpt", "facts"): FactRecall}
LOSSES = ("mse", "ce", "edm", "l2")


def register_objective(model_kind: str, objective: type, task_kind: str | None = None) -> None:
    """Train models of `model_kind` (on tasks of `task_kind`, or any) with `objective` (a class
    built as `(model, task, cfg, device)` that has `losses`, `chunk`, `loss` and `metrics`)."""
    if task_kind is None:
        OBJECTIVES[model_kind] = objective
    else:
        TASK_OBJECTIVES[(model_kind, task_kind)] = objective


def objective_for(
    model: nn.Module,
    task: Any,
    cfg: Any,
    device: torch.device,
    spec: ObjectiveSpec | None = None,
) -> Objective:
    """The objective of `model`'s kind (or the one `spec` builds), checked against the task and
    the config (one-line `ValueError` naming what does not fit)."""
    from interp.core.runs import check_pair

    kind = getattr(model, "kind", None)
    own = TASK_OBJECTIVES.get((kind, getattr(task, "kind", None)), OBJECTIVES.get(kind))
    if spec is None and own is None:
        trainable = ", ".join(sorted(OBJECTIVES))
        raise ValueError(f"cannot train a {type(model).__name__}; trainable kinds: {trainable}")
    check_pair(model, task)
    losses, what = (spec.losses, spec.kind) if spec is not None else (own.losses, kind)
    if cfg.loss not in losses:
        raise ValueError(f"loss {cfg.loss!r}: a {what} trains with {' or '.join(losses)}")
    if spec is not None:
        return spec.build(model, task, cfg, device)
    return own(model, task, cfg, device)
