"""probes: linear probes over what a network computes, on plain numpy arrays.

Features come from `interp.core.hooks` (cached activations, per-example gradients), one model at a
time; every probe returns a small dataclass holding the fitted scikit-learn estimator and its
held-out score, and is deterministic given its seed. No torch is imported here.

Example (a network trained on 35% wrong labels):
    >>> from interp.core.hooks import activation_gradients, cache_activations
    >>> import numpy as np
    >>> import probes
    >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
    >>> model, task = run.model(), run.task
    >>> acts = cache_activations(model, task, "hook_post")["hook_post"][0].numpy()  # [n, d]
    >>> s, train = task.labels.numpy(), task.train[0].numpy()
    >>> round(probes.rule_probe(acts, s, train).score, 3)            # held-out accuracy of s
    1.0
    >>> probes.frequency_probe(acts, s, task.p, train).top(1)        # [(f, R^2), ...]
    [(48, 0.743)]
    >>> grads = activation_gradients(model, task)["hook_post"][0].numpy()
    >>> noisy = task.noisy[0].numpy()[train]
    >>> round(probes.noisy_label_probe(np.abs(grads[train]), noisy).score, 3)  # AUC
    0.994
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
