"""Rules and facts (Farne, Boncoraglio, Zdeborova 2026): learners of a teacher's rule whose
training set also holds random-label facts, judged by E_gen (the rule error on fresh points) and
E_mem (the fraction of facts not reproduced): ridge, kernel ridge and SVMs with dot-product or RBF
kernels, and random features; the state-evolution theory of each (`state_evolution`) and the
Bayes-optimal E_gen (`bayes_optimal`). The task is `interp.tasks.raf`; the figures are in
`interp.studies.raf.plots`.

Examples:
    >>> from interp.studies import raf
    >>> from interp.tasks.raf import raf_task
    >>> task = raf_task(d=20, alpha=2.0, eps=0.2, n_test=500)
    >>> s = raf.kernel_ridge(task.data[0], task.labels[0], task.test, raf.DotProduct(1, 1), 1e-3)
    >>> raf.errors(s, task.labels[0], task.facts[0], task.test_labels[0]).e_mem
    0.0
"""

from interp.studies.raf.learners import (
    RBF,
    DotProduct,
    Errors,
    Scores,
    errors,
    kernel_ridge,
    measure,
    random_features,
    ridge,
    svm,
)
from interp.studies.raf.theory import (
    Bayes,
    RandomFeatures,
    Theory,
    activation_coefficients,
    bayes_optimal,
    linearize,
    state_evolution,
)

__all__ = [
    "Bayes",
    "RandomFeatures",
    "Theory",
    "activation_coefficients",
    "bayes_optimal",
    "linearize",
    "state_evolution",
    "RBF",
    "DotProduct",
    "Errors",
    "Scores",
    "errors",
    "kernel_ridge",
    "measure",
    "random_features",
    "ridge",
    "svm",
]
