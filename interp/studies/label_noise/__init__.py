"""Label noise on modular arithmetic: pull the rule out of a network that memorized wrong labels.

The verbs users type first (`interp.extract`, `interp.compare_extraction`,
`interp.extraction_curve`, `interp.partition_neurons`, `interp.write_report`) are at the top of
`interp`; the rest of the study is here.

Examples:
    >>> from interp.studies import label_noise
    >>> run = interp.load_run("checkpoints/add_p97_noise080")
    >>> round(float(label_noise.symmetry_baseline(run.task, pooled=True).test[0]), 3)
    1.0
"""

from interp.studies.label_noise.agnostic import GroupLaw, find_group_law, project_over_law
from interp.studies.label_noise.circuit import Circuit, logit_circuit
from interp.studies.label_noise.extraction import (
    EXTRACTION_METHODS,
    FOURIER_METHODS,
    compare_extraction,
    extract,
    extraction_curve,
    prune,
    symmetry_baseline,
)
from interp.studies.label_noise.partition import (
    PARTITION_METHODS,
    Partition,
    ablation_effects,
    heldout_split,
    kept_fraction_curve,
    partition_neurons,
)
from interp.studies.label_noise.race import crossing_step, fit_steps, repeats

__all__ = [
    "crossing_step",
    "fit_steps",
    "repeats",
    "Circuit",
    "EXTRACTION_METHODS",
    "FOURIER_METHODS",
    "GroupLaw",
    "PARTITION_METHODS",
    "Partition",
    "ablation_effects",
    "compare_extraction",
    "extract",
    "extraction_curve",
    "find_group_law",
    "heldout_split",
    "kept_fraction_curve",
    "logit_circuit",
    "partition_neurons",
    "project_over_law",
    "prune",
    "symmetry_baseline",
]
