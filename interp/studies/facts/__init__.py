"""Fact capacity and loss-based selection (Ye, Feldman, Talwar 2026): what a network stores of a
fact base larger than its capacity, and how choosing what to train on changes it.

Examples:
    >>> from interp.studies import facts
    >>> from interp.tasks.facts import fact_task
    >>> task = fact_task(names=6, digits=1, exponent=1.0)
    >>> facts.random_subset(task, keep=3, seed=0).frequency.count_nonzero().item()
    3
"""

from interp.studies.facts.selection import name_losses, random_subset, select_by_loss

__all__ = ["name_losses", "random_subset", "select_by_loss"]
