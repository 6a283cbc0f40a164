"""Speciation under imbalance: U-turns through the backward process with the exact mixture
score against the closed form t_S = 1/2 log(2 |m|^2 / log(rho_maj / rho_min))."""

import json
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


def run_cli(capsys, *args):
    from interp.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_speciation_command_lands_on_the_closed_form(tmp_path, capsys):
    expected = closed_form_speciation_time(4.0, 0.9, 0.1)  # 1.339
    times = [0.8, 1.0, 1.2, 1.4, 1.6, 2.0, 3.0]
    small = ["--d", 16, "--points", 128, "--runs", 4, "--steps", 80, "--times", *times]
    code, out, err = run_cli(capsys, "speciation", *small, "--json", "--out", tmp_path / "fig")
    assert code == 0, err
    record = json.loads(out)
    majority, minority = record["t_s"]
    assert majority is None and min(record["returns"][0]) > 0.8  # the majority stays
    assert abs(minority - expected) < 0.15, (minority, expected)
    assert record["closed_form_t_s"] == pytest.approx(expected)
    assert record["figures"] == [str(tmp_path / "fig" / "speciation.html")]
    assert (tmp_path / "fig" / "speciation.html").is_file()
    # the text report: a row per time, both t_S and the closed form
    code, out, err = run_cli(capsys, "speciation", *small[:-8], "--points", 32, "--times", 1, 2)
    assert code == 0, err
    assert "closed form (equal unit variances): minority t_S = 1.339" in out
    assert "majority  inf" in out and len(out.splitlines()) == 9


@pytest.mark.parametrize(
    "bad, named",
    [
        (["--weights", "0.8", "0.1"], "--weights 0.8 0.1"),
        (["--weights", "0.1", "0.9"], "--weights 0.1 0.9"),
        (["--weights", "1.1", "-0.1"], "--weights 1.1 -0.1"),
        (["--norm", "0"], "--norm 0"),
        (["--d", "0"], "--d 0"),
        (["--times", "2", "1"], "--times 2 1"),
    ],
)
def test_the_speciation_command_refuses_bad_values(capsys, bad, named):
    code, out, err = run_cli(capsys, "speciation", *bad)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and named in err, err


def test_the_speciation_command_keeps_a_full_folder(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    args = ["speciation", "--d", 4, "--points", 4, "--runs", 1, "--steps", 5, "--times", 1]
    code, _, err = run_cli(capsys, *args, "--out", tmp_path)
    assert code == 2 and "--force" in err
    code, _, err = run_cli(capsys, *args, "--out", tmp_path, "--force")
    assert code == 0 and (tmp_path / "speciation.html").is_file()


def test_the_imbalance_figures_hold_their_traces():
    from interp.studies.imbalance.plots import class_shares, return_curves

    returns = torch.tensor([[1.0, 0.9, 0.8], [0.9, 0.4, 0.1]])
    fig = return_curves([0.5, 1.0, 1.5], returns, [math.inf, 0.9], ["a", "b"])
    assert [t.name for t in fig.data] == ["a", "b", "b t_S"]  # no closed form: no dashed line
    assert fig.layout.xaxis.type == "linear" and fig.data[2].x == (0.9,)
    with pytest.raises(ValueError, match="need \\[2 classes, 2\\]"):
        return_curves([0.5, 1.0], returns, [1.0, 1.0], ["a", "b"])
    shares = torch.rand(4, 2, 2)
    fig = class_shares(torch.tensor([0, 10, 100, 10000]), shares, [0.9, 0.1], ["3", "8"])
    names = [t.name for t in fig.data]
    assert names == ["3, model 0", "8, model 0", "3, model 1", "8, model 1", "3 weight", "8 weight"]
    assert fig.layout.xaxis.type == "log" and fig.data[4].y == (0.9, 0.9)
