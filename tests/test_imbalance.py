"""Speciation under imbalance: U-turns through the backward process with the exact mixture
score against the closed form t_S = 1/2 log(2 |m|^2 / log(rho_maj / rho_min))."""

import math

import pytest
import torch

from interp.studies.imbalance import (
    class_of,
    closed_form_speciation_time,
    reverse_ou,
    speciation_time,
    u_turns,
)
from interp.tasks.mixtures import mixture_task


def two_classes(rho_minor: float, d: int = 16, norm: float = 4.0):
    m = torch.zeros(d)
    m[0] = norm
    return mixture_task(
        d=d, n=4, means=[m.tolist(), (-m).tolist()], weights=[1 - rho_minor, rho_minor], n_test=6000
    )


@pytest.mark.parametrize("rho_minor", [0.1, 0.02])
def test_u_turns_with_the_exact_score_follow_the_closed_form(rho_minor):
    task = two_classes(rho_minor)
    expected = closed_form_speciation_time(4.0, 1 - rho_minor, rho_minor)
    times = [expected - 0.4, expected - 0.2, expected, expected + 0.2, expected + 0.4]
    returns = u_turns(task, times, starts=128, repeats=4, steps=80)
    minority, majority = speciation_time(times, returns)[[1, 0]]
    assert abs(float(minority) - expected) < 0.12, (float(minority), expected)
    assert math.isinf(float(majority)) and (returns[0] > 0.85).all()  # the majority stays


def test_the_backward_process_returns_to_the_data_and_the_closed_form_is_checked():
    task = two_classes(0.5, d=4)
    start = torch.randn(2000, 4, generator=torch.Generator().manual_seed(0))  # ~ p_t at t = 3
    end = reverse_ou(task.score, start, 3.0, steps=100, generator=torch.Generator().manual_seed(1))
    share = (class_of(task, end) == 0).float().mean()
    assert abs(float(share) - 0.5) < 0.05  # balanced classes come out balanced
    offset = end[:, 0].abs() - 4  # N(0, 1) around the centroids +-4 (unit variances)
    assert abs(float(offset.mean())) < 0.15 and abs(float(offset.std()) - 1) < 0.15
    assert closed_form_speciation_time(4.0, 0.5 + 1e-9, 0.5 - 1e-9) > 5  # no imbalance: late
    with pytest.raises(ValueError, match="rho_major > rho_minor"):
        closed_form_speciation_time(4.0, 0.1, 0.9)
