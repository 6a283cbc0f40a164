"""interp: memorization versus generalization, measured and pulled apart.

Train small networks on noisy data as batched ensembles, save runs as safetensors, and read the
rule out of their weights. Every public name is importable from here; modules that need
transformer-lens (the models) load on first use, so `import interp` stays fast.

Example:
    >>> import interp
    >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
    >>> interp.evaluate(run.model(), run.task).test                  # [models]
    >>> spectrum = interp.extract_frequencies(run.model())           # Fourier view of the weights
    >>> interp.evaluate(interp.extract(run.model()), run.task).test  # the rule, pulled out
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "ModularConfig": "interp.tasks.modular",
    "ModularTask": "interp.tasks.modular",
    "OPS": "interp.tasks.modular",
    "modular_task": "interp.tasks.modular",
    "modular_config": "interp.tasks.modular",
    "make_task": "interp.tasks.modular",
    "group_order": "interp.tasks.modular",
    "MLP": "interp.models.mlp",
    "MLPConfig": "interp.models.mlp",
    "TrainConfig": "interp.training",
    "TrainResult": "interp.training",
    "train": "interp.training",
    "checkpoint_schedule": "interp.training",
    "resume": "interp.training",
    "Run": "interp.checkpoints",
    "CheckpointError": "interp.checkpoints",
    "load_run": "interp.checkpoints",
    "load": "interp.checkpoints",
    "save_model": "interp.checkpoints",
    "Spectrum": "interp.fourier",
    "extract_frequencies": "interp.fourier",
    "fourier_basis": "interp.fourier",
    "project_onto_frequencies": "interp.fourier",
    "Circuit": "interp.fourier",
    "logit_circuit": "interp.fourier",
    "extract": "interp.extraction",
    "compare_extraction": "interp.extraction",
    "extraction_curve": "interp.extraction",
    "EXTRACTION_METHODS": "interp.extraction",
    "RestrictedLogits": "interp.extraction",
    "symmetry_baseline": "interp.extraction",
    "prune": "interp.extraction",
    "Accuracies": "interp.metrics",
    "evaluate": "interp.metrics",
    "first_step": "interp.metrics",
    "resolve_device": "interp.device",
    "cache_activations": "interp.hooks",
    "activation_gradients": "interp.hooks",
    "ablated": "interp.hooks",
    "patch": "interp.hooks",
    "Partition": "interp.partition",
    "PARTITION_METHODS": "interp.partition",
    "partition_neurons": "interp.partition",
    "ablation_effects": "interp.partition",
    "kept_fraction_curve": "interp.partition",
    "build_report": "interp.report",
    "write_report": "interp.report",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # static checkers see the real names
    from interp.checkpoints import CheckpointError, Run, load, load_run, save_model
    from interp.device import resolve_device
    from interp.extraction import (
        EXTRACTION_METHODS,
        RestrictedLogits,
        compare_extraction,
        extract,
        extraction_curve,
        prune,
        symmetry_baseline,
    )
    from interp.fourier import (
        Circuit,
        Spectrum,
        extract_frequencies,
        fourier_basis,
        logit_circuit,
        project_onto_frequencies,
    )
    from interp.hooks import ablated, activation_gradients, cache_activations, patch
    from interp.metrics import Accuracies, evaluate, first_step
    from interp.models.mlp import MLP, MLPConfig
    from interp.partition import (
        PARTITION_METHODS,
        Partition,
        ablation_effects,
        kept_fraction_curve,
        partition_neurons,
    )
    from interp.report import build_report, write_report
    from interp.tasks.modular import (
        OPS,
        ModularConfig,
        ModularTask,
        group_order,
        make_task,
        modular_config,
        modular_task,
    )
    from interp.training import TrainConfig, TrainResult, checkpoint_schedule, resume, train


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'interp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
