"""The kinds the run format knows: model kinds and task kinds, by the name stored in config.json.

Each entry is a module path and a class name, imported on first use, so reading a run's config
costs nothing and the storage layer depends on no model or analysis module. A new kind (a
study's model or task) registers itself with `register_model` / `register_task`.

Examples:
    >>> model_class("mlp").__name__, task_class("rules").__name__
    ('MLP', 'RuleTask')
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "MODEL_KINDS",
    "TASK_KINDS",
    "OBJECTIVE_KINDS",
    "model_class",
    "objective_class",
    "task_class",
    "register_model",
    "register_task",
]

MODEL_KINDS: dict[str, str] = {
    "mlp": "interp.models.mlp:MLP",
    "dit": "interp.models.dit:DiT",
    "gpt": "interp.models.gpt:GPT",
    "restricted_logits": "interp.models.restricted:RestrictedLogits",
    "random_features": "interp.models.random_features:RandomFeatures",
    "fact_net": "interp.models.factnet:FactNet",
    "two_layer": "interp.models.two_layer:TwoLayer",
}
# Objectives a caller chooses over the model kind's own (`train(..., objective=spec)`), read
# back from a run's config on resume.
OBJECTIVE_KINDS: dict[str, str] = {
    "consistency_distillation": "interp.studies.distillation.objective:ConsistencyDistillation",
    "score_distillation": "interp.studies.distillation.features:ScoreDistillation",
}
TASK_KINDS: dict[str, str] = {
    "modular": "interp.tasks.modular:ModularTask",
    "rules": "interp.tasks.rules:RuleTask",
    "mixture": "interp.tasks.mixtures:MixtureTask",
    "digits": "interp.tasks.digits:DigitsTask",
    "facts": "interp.tasks.facts:FactTask",
    "raf": "interp.tasks.raf:RafTask",
}


def _load(table: dict[str, str], kind: Any, what: str) -> type:
    if not isinstance(kind, str) or kind not in table:
        raise ValueError(f"unknown {what} kind {kind!r}; known: {', '.join(sorted(table))}")
    module, name = table[kind].split(":")
    return getattr(importlib.import_module(module), name)


def model_class(kind: Any) -> type:
    """The model class registered as `kind` (`ValueError` naming the known kinds otherwise)."""
    return _load(MODEL_KINDS, kind, "model")


def task_class(kind: Any) -> type:
    """The task class registered as `kind` (`ValueError` naming the known kinds otherwise)."""
    return _load(TASK_KINDS, kind, "task")


def objective_class(kind: Any) -> type:
    """The objective spec class registered as `kind`."""
    return _load(OBJECTIVE_KINDS, kind, "objective")


def register_model(cls: type) -> type:
    """Register a model class under its `kind` (usable as a class decorator)."""
    MODEL_KINDS[cls.kind] = f"{cls.__module__}:{cls.__name__}"
    return cls


def register_task(cls: type) -> type:
    """Register a task class under its `kind` (usable as a class decorator)."""
    TASK_KINDS[cls.kind] = f"{cls.__module__}:{cls.__name__}"
    return cls
