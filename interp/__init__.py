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
    "RULES": "interp.tasks.rules",
    "Rule": "interp.tasks.rules",
    "RuleConfig": "interp.tasks.rules",
    "RuleTask": "interp.tasks.rules",
    "rule_config": "interp.tasks.rules",
    "make_rule_task": "interp.tasks.rules",
    "rule_task": "interp.tasks.rules",
    "n_valid": "interp.tasks.rules",
    "chance_rate": "interp.tasks.rules",
    "is_valid": "interp.tasks.rules",
    "sample_valid": "interp.tasks.rules",
    "all_valid": "interp.tasks.rules",
    "to_signal": "interp.tasks.rules",
    "to_bits": "interp.tasks.rules",
    "MLP": "interp.models.mlp",
    "MLPConfig": "interp.models.mlp",
    "DiT": "interp.models.dit",
    "DiTConfig": "interp.models.dit",
    "edm_loss": "interp.models.dit",
    "GPTConfig": "interp.models.gpt",
    "build_gpt": "interp.models.gpt",
    "gpt_tokens": "interp.models.gpt",
    "gpt_log_prob": "interp.models.gpt",
    "gpt_loss": "interp.models.gpt",
    "sample_gpt": "interp.models.gpt",
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
    "train_generative": "interp.generative",
    "resume_generative": "interp.generative",
    "generate_bits": "interp.generative",
    "generation_curve": "interp.generative",
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
    "SIGMA_DATA": "interp.diffusion",
    "edm_precondition": "interp.diffusion",
    "edm_loss_weight": "interp.diffusion",
    "sample_training_sigmas": "interp.diffusion",
    "sigma_schedule": "interp.diffusion",
    "heun_sample": "interp.diffusion",
    "stochastic_sample": "interp.diffusion",
    "generate": "interp.diffusion",
    "EmpiricalDenoiser": "interp.diffusion",
    "empirical_denoiser": "interp.diffusion",
    "GenerationStats": "interp.clocks",
    "generation_stats": "interp.clocks",
    "exact_matches": "interp.clocks",
    "Clocks": "interp.clocks",
    "measure_clocks": "interp.clocks",
    "threshold_above_chance": "interp.clocks",
    "memorization_ratio": "interp.clocks",
    "is_memorized_continuous": "interp.clocks",
    "BasinResult": "interp.basins",
    "basin_returns": "interp.basins",
    "basin_radius": "interp.basins",
    "measure_basins": "interp.basins",
    "basin_targets": "interp.basins",
    "basin_curve": "interp.basins",
    "empirical_basins": "interp.basins",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # static checkers see the real names
    from interp.basins import (
        BasinResult,
        basin_curve,
        basin_radius,
        basin_returns,
        basin_targets,
        measure_basins,
    )
    from interp.checkpoints import CheckpointError, Run, load, load_run, save_model
    from interp.clocks import (
        Clocks,
        GenerationStats,
        exact_matches,
        generation_stats,
        is_memorized_continuous,
        measure_clocks,
        memorization_ratio,
        threshold_above_chance,
    )
    from interp.device import resolve_device
    from interp.diffusion import (
        SIGMA_DATA,
        EmpiricalDenoiser,
        edm_loss_weight,
        edm_precondition,
        empirical_denoiser,
        generate,
        heun_sample,
        sample_training_sigmas,
        sigma_schedule,
        stochastic_sample,
    )
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
    from interp.generative import (
        generate_bits,
        generation_curve,
        resume_generative,
        train_generative,
    )
    from interp.hooks import ablated, activation_gradients, cache_activations, patch
    from interp.metrics import Accuracies, evaluate, first_step
    from interp.models.dit import DiT, DiTConfig, edm_loss
    from interp.models.gpt import (
        GPTConfig,
        build_gpt,
        gpt_log_prob,
        gpt_loss,
        gpt_tokens,
        sample_gpt,
    )
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
    from interp.tasks.rules import (
        RULES,
        Rule,
        RuleConfig,
        RuleTask,
        all_valid,
        chance_rate,
        is_valid,
        make_rule_task,
        n_valid,
        rule_config,
        rule_task,
        sample_valid,
        to_bits,
        to_signal,
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
