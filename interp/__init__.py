"""interp: memorization versus generalization, measured and pulled apart.

Train small networks on noisy or finite data as batched ensembles, save runs as safetensors,
and read the rule out of their weights. About thirty verbs live here, the ones a user types
first; each study's other analyses live in its namespace (`interp.studies.label_noise`,
`interp.studies.clocks`), the machinery in `interp.core`, the diffusion toolkit in
`interp.diffusion`. Names load on first use, so `import interp` loads neither torch's models
nor transformer-lens.

Examples:
    >>> import interp
    >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
    >>> round(float(interp.evaluate(run.model(), run.task).test[0]), 3)   # the raw network
    0.983
    >>> spectrum = interp.extract_frequencies(run.model())                # Fourier view
    >>> int((spectrum.ipr > 0.5).sum())                                   # near-cosine neurons
    143
    >>> round(float(interp.evaluate(interp.extract(run.model()), run.task).test[0]), 3)
    1.0
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from interp.version import __version__

# public name -> module that defines it
_EXPORTS = {
    "modular_task": "interp.tasks.modular",
    "rule_task": "interp.tasks.rules",
    "MLP": "interp.models.mlp",
    "MLPConfig": "interp.models.mlp",
    "DiT": "interp.models.dit",
    "DiTConfig": "interp.models.dit",
    "GPT": "interp.models.gpt",
    "GPTConfig": "interp.models.gpt",
    "TrainConfig": "interp.core.training",
    "train": "interp.core.training",
    "resume": "interp.core.training",
    "sweep": "interp.core.sweep",
    "load_run": "interp.core.runs",
    "save_model": "interp.core.runs",
    "CheckpointError": "interp.core.runs",
    "cache_activations": "interp.core.hooks",
    "ablated": "interp.core.hooks",
    "patch": "interp.core.hooks",
    "activation_gradients": "interp.core.hooks",
    "evaluate": "interp.core.metrics",
    "first_step": "interp.core.metrics",
    "extract_frequencies": "interp.fourier",
    "extract": "interp.studies.label_noise.extraction",
    "compare_extraction": "interp.studies.label_noise.extraction",
    "extraction_curve": "interp.studies.label_noise.extraction",
    "partition_neurons": "interp.studies.label_noise.partition",
    "write_report": "interp.studies.label_noise.report",
    "generate": "interp.studies.clocks.generation",
    "generation_curve": "interp.studies.clocks.generation",
    "measure_clocks": "interp.studies.clocks.clocks",
    "basin_curve": "interp.studies.clocks.basins",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # static checkers see the real names
    from interp.core.hooks import ablated, activation_gradients, cache_activations, patch
    from interp.core.metrics import evaluate, first_step
    from interp.core.runs import CheckpointError, load_run, save_model
    from interp.core.sweep import sweep
    from interp.core.training import TrainConfig, resume, train
    from interp.fourier import extract_frequencies
    from interp.models.dit import DiT, DiTConfig
    from interp.models.gpt import GPT, GPTConfig
    from interp.models.mlp import MLP, MLPConfig
    from interp.studies.clocks.basins import basin_curve
    from interp.studies.clocks.clocks import measure_clocks
    from interp.studies.clocks.generation import generate, generation_curve
    from interp.studies.label_noise.extraction import compare_extraction, extract, extraction_curve
    from interp.studies.label_noise.partition import partition_neurons
    from interp.studies.label_noise.report import write_report
    from interp.tasks.modular import modular_task
    from interp.tasks.rules import rule_task


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name == "studies":
        return importlib.import_module("interp.studies")
    raise AttributeError(f"module 'interp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
