"""probes: linear probes over what a network computes, on plain numpy arrays.

Features come from `interp.core.hooks` (cached activations, per-example gradients), one model at a
time; every probe returns a small dataclass holding the fitted scikit-learn estimator and its
held-out score, and is deterministic given its seed. No torch is imported here.

Example:
    >>> from interp.core.hooks import activation_gradients, cache_activations
    >>> import probes
    >>> acts = cache_activations(model, task, "hook_post")["hook_post"][0].numpy()  # [n, d]
    >>> s, train = task.labels.numpy(), task.train[0].numpy()
    >>> probes.rule_probe(acts, s, train).score                  # held-out accuracy of s
    >>> probes.frequency_probe(acts, s, task.p, train).top(3)    # [(f, R^2), ...]
    >>> grads = activation_gradients(model, task)["hook_post"][0].numpy()
    >>> probes.noisy_label_probe(grads[train], task.noisy[0].numpy()[train]).score  # AUC
"""

from probes.linear import (
    FrequencyProbeResult,
    ProbeResult,
    frequency_probe,
    noisy_label_probe,
    rule_probe,
)

__all__ = [
    "ProbeResult",
    "FrequencyProbeResult",
    "rule_probe",
    "noisy_label_probe",
    "frequency_probe",
]
