"""The posterior under a memorized prior: the stylized problem's anchor weights, the linearized
posterior exact for a linear forward map (against 2-D quadrature), effective modes, sigma_crit,
and DPS."""

import math

import pytest
import torch

from interp.diffusion import EmpiricalDenoiser
from interp.studies.posterior import (
    critical_sigma,
    dps_sample,
    effective_modes,
    exact_weights,
    limiting_weights,
    linearized_posterior,
    modes_curve,
    nearest_fractions,
)

POINTS = torch.tensor([[-1.5], [-0.4], [0.4], [1.2], [2.5]], dtype=torch.float64)
Y = torch.zeros(1, dtype=torch.float64)


def cubic(x):
    return x + 0.3 * x**3


def test_the_stylized_problem_reproduces_the_anchor_weights():
    """Siahkoohi & Sabeddu's example at gamma 0.3, sigma 0.5 (DESIGN.md): limiting, exact, and
    linearized with and without the log det of the evidence."""
    close = dict(atol=5e-4, rtol=0)
    expected = {
        "limiting": [0.0, 0.5, 0.5, 0.0, 0.0],
        "exact": [0.018, 0.46, 0.46, 0.063, 0.0],
        "with log det": [0.057, 0.417, 0.417, 0.098, 0.010],
        "without": [0.114, 0.347, 0.347, 0.150, 0.042],
    }
    got = {
        "limiting": limiting_weights(cubic, POINTS, Y, 0.3),
        "exact": exact_weights(cubic, POINTS, Y, 0.3, 0.5),
        "with log det": linearized_posterior(cubic, POINTS, Y, 0.3, 0.5).weights,
        "without": linearized_posterior(cubic, POINTS, Y, 0.3, 0.5, log_det=False).weights,
    }
    for name, weights in expected.items():
        torch.testing.assert_close(
            got[name].round(decimals=3), torch.tensor(weights, dtype=torch.float64), **close
        )
    # the log det brings the linearized weights nearer the exact ones
    error = {k: (got[k] - got["exact"]).abs().sum() for k in ("with log det", "without")}
    assert error["with log det"] < error["without"]


def test_a_linear_forward_map_makes_the_linearization_exact():
    """F(x) = A x: the Gaussian-mixture posterior is exact; its weights match 2-D quadrature
    and the closed form N(y; A x_n, sigma^2 A A^T + gamma^2 I)."""
    a = torch.tensor([[1.0, 0.5], [-0.3, 2.0]], dtype=torch.float64)
    points = torch.tensor([[0.0, 0.0], [1.0, -1.0], [-0.5, 0.8]], dtype=torch.float64)
    y = torch.tensor([0.4, -0.6], dtype=torch.float64)
    sigma, gamma = 0.4, 0.5
    post = linearized_posterior(lambda x: a @ x, points, y, gamma, sigma)
    quad = exact_weights(lambda x: a @ x, points, y, gamma, sigma, grid=400**2)
    torch.testing.assert_close(post.weights, quad, atol=1e-4, rtol=0)
    cov = sigma**2 * a @ a.T + gamma**2 * torch.eye(2, dtype=torch.float64)
    dist = torch.distributions.MultivariateNormal(points @ a.T, cov)
    torch.testing.assert_close(post.weights, torch.softmax(dist.log_prob(y), 0))


def test_effective_modes_and_bad_inputs():
    assert effective_modes(torch.ones(7) / 7).item() == pytest.approx(7)
    assert effective_modes(torch.tensor([1.0, 0.0])).item() == pytest.approx(1)
    with pytest.raises(ValueError, match="gamma=0"):
        limiting_weights(cubic, POINTS, Y, 0.0)
    with pytest.raises(ValueError, match="1 or 2 dimensions"):
        exact_weights(lambda x: x, torch.zeros(2, 3), torch.zeros(3), 0.3, 0.5)


def test_dps_with_a_memorized_prior_lands_on_training_points_by_likelihood():
    """zeta 0: the prior alone, uniform over the points; a small zeta concentrates the samples
    on the two points that explain y, as the limiting weights say."""
    prior = EmpiricalDenoiser(POINTS)
    fractions = {}
    for zeta in (0.0, 0.1):
        x = dps_sample(prior, cubic, Y, (2000, 1), zeta, generator=torch.Generator().manual_seed(0))
        assert (torch.cdist(x, POINTS).min(-1).values < 1e-2).float().mean() > 0.99  # copies
        fractions[zeta] = nearest_fractions(x, POINTS)
        assert math.isclose(float(fractions[zeta].sum()), 1.0)
    assert (fractions[0.0] - 0.2).abs().max() < 0.04  # the prior: uniform over the points
    # DPS is approximate: most of the mass on the two points the limiting weights name
    assert fractions[0.1][1:3].sum() > 0.85 and fractions[0.1][1:3].min() > 0.35


def test_critical_sigma_closed_form_and_scaling():
    """F(x) = a x on points spaced h apart: mean |F'| = |a| and the default delta is h, so
    sigma_crit = sqrt(h gamma / |a|); in 2-D the slope is the Jacobian's spectral norm."""
    h, a, gamma = 0.7, -2.5, 0.3
    points = (h * torch.arange(6, dtype=torch.float64) - 1.0)[:, None]
    s_crit = critical_sigma(lambda x: a * x, points, Y, gamma)
    assert s_crit.item() == pytest.approx(math.sqrt(h * gamma / abs(a)))
    # sigma_crit ~ sqrt(gamma), ~ sqrt(delta)
    assert critical_sigma(lambda x: a * x, points, Y, 4 * gamma).item() == pytest.approx(
        2 * s_crit.item()
    )
    assert critical_sigma(lambda x: a * x, points, Y, gamma, delta=4 * h).item() == pytest.approx(
        2 * s_crit.item()
    )
    # a 2-D grid spaced h: its largest singular value 3, not the Frobenius norm sqrt(10)
    a2 = torch.tensor([[3.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    grid = h * torch.cartesian_prod(*[torch.arange(3, dtype=torch.float64)] * 2)
    s_crit2 = critical_sigma(lambda x: a2 @ x, grid, torch.zeros(2, dtype=torch.float64), gamma)
    assert s_crit2.item() == pytest.approx(math.sqrt(h * gamma / 3))


def test_critical_sigma_sits_at_the_start_of_the_transition():
    """The stylized problem (docs/posterior.md, sigma_crit): at sigma_crit the exact posterior has
    barely left its two limiting modes; at twice sigma_crit it has more than half a mode more."""
    s_crit = critical_sigma(cubic, POINTS, Y, 0.3).item()
    curve = modes_curve(cubic, POINTS, Y, 0.3, torch.tensor([s_crit, 2 * s_crit]))
    assert curve["limiting"].tolist() == pytest.approx([2.0, 2.0], abs=1e-4)
    assert curve["exact"][0] < 2.25 and curve["exact"][1] > 2.5
    # the linearized weights leave sooner, and sooner still without the log det
    assert curve["exact"][0] < curve["linearized"][0] < curve["linearized without log det"][0]


def test_critical_sigma_bad_inputs():
    one = POINTS[:1]
    with pytest.raises(ValueError, match="1 point"):
        critical_sigma(cubic, one, Y, 0.3)
    # one point is fine with a delta given: F'(-1.5) = 1 + 0.9 * 1.5^2 = 3.025
    assert critical_sigma(cubic, one, Y, 0.3, delta=1.0).item() == pytest.approx(
        math.sqrt(0.3 / 3.025)
    )
    for delta in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match=f"delta={delta}"):
            critical_sigma(cubic, POINTS, Y, 0.3, delta=delta)
    with pytest.raises(ValueError, match="delta=0.0"):
        critical_sigma(cubic, torch.cat([POINTS, POINTS]), Y, 0.3)
    with pytest.raises(ValueError, match="gamma=-0.3"):
        critical_sigma(cubic, POINTS, Y, -0.3)
    with pytest.raises(ValueError, match=r"F\(x\) of shape \(1,\)"):
        critical_sigma(cubic, POINTS, torch.zeros(2, dtype=torch.float64), 0.3)


def test_cli_prints_the_anchor_weights(capsys):
    """`interp posterior` with its defaults is the stylized problem at sigma 0.5."""
    from interp.cli import main

    assert main(["posterior"]) == 0
    out = capsys.readouterr().out
    rows = {
        line.split()[0]: [float(v) for v in line.split()[1:]]
        for line in out.splitlines()
        if line.split() and line.split()[0] in ("-1.5", "-0.4", "0.4", "1.2", "2.5", "modes")
    }
    columns = list(zip(*(rows[x] for x in ("-1.5", "-0.4", "0.4", "1.2", "2.5"))))
    limiting, exact, with_log_det, without = columns
    assert limiting == (0.0, 0.5, 0.5, 0.0, 0.0)
    assert exact == (0.018, 0.46, 0.46, 0.063, 0.0)
    assert with_log_det == (0.057, 0.417, 0.417, 0.098, 0.010)
    assert without == (0.114, 0.347, 0.347, 0.150, 0.042)
    assert rows["modes"] == [2.0, 2.61, 3.21, 4.05]
    assert "critical_sigma 0.3181" in out


def test_cli_json_has_the_same_numbers(capsys):
    import json

    from interp.cli import main

    assert main(["posterior", "--sigma", "0.5", "1", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["formula"] == "F(x) = x + 0.3 x^3" and record["points"] == POINTS.tolist()
    assert record["critical_sigma"] == pytest.approx(0.318, abs=5e-4)
    at = {entry["sigma"]: entry for entry in record["sigma"]}
    close = dict(abs=5e-4)
    weights = at[0.5]["weights"]
    assert weights["limiting"] == pytest.approx([0.0, 0.5, 0.5, 0.0, 0.0], **close)
    assert weights["exact"] == pytest.approx([0.018, 0.46, 0.46, 0.063, 0.0], **close)
    assert weights["linearized"] == pytest.approx([0.057, 0.417, 0.417, 0.098, 0.010], **close)
    assert weights["linearized_without_log_det"] == pytest.approx(
        [0.114, 0.347, 0.347, 0.150, 0.042], **close
    )
    assert at[0.5]["modes"]["exact"] == pytest.approx(2.61, abs=5e-3)
    assert at[1.0]["modes"]["exact"] == pytest.approx(3.99, abs=5e-3)  # docs/posterior.md


def test_cli_two_dimensions_and_a_linear_forward(capsys):
    """--dim 2 reads the points pairwise; for a linear F the linearized weights are exact."""
    import json

    from interp.cli import main

    args = ["posterior", "--forward", "linear", "--a", "1.5", "--dim", "2", "--json"]
    args += ["--points", "0", "0", "1", "0.5", "-1", "1", "--y", "0.3", "0.2", "--sigma", "0.7"]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["points"] == [[0.0, 0.0], [1.0, 0.5], [-1.0, 1.0]] and record["y"] == [0.3, 0.2]
    weights = record["sigma"][0]["weights"]
    assert weights["exact"] == pytest.approx(weights["linearized"], abs=1e-6)
    points = torch.tensor(record["points"], dtype=torch.float64)
    y = torch.tensor([0.3, 0.2], dtype=torch.float64)
    expected = linearized_posterior(lambda x: 1.5 * x, points, y, 0.3, 0.7).weights
    assert weights["linearized"] == pytest.approx(expected.tolist())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gamma", "-0.3"], "--gamma -0.3"),
        (["--sigma", "0.5", "0"], "--sigma 0.0"),
        (["--forward", "exp"], "--forward 'exp': unknown; choose one of cubic, linear, tanh"),
        (["--dim", "2"], "--points has 5 floats: need a multiple of --dim 2"),
        (["--y", "0", "0"], "--y has 2 floats"),
    ],
)
def test_cli_bad_values_are_one_line(capsys, args, message):
    from interp.cli import main

    assert main(["posterior", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err


def test_plots_draw_what_they_are_given():
    from interp.studies.posterior.plots import modes_against_sigma, weight_bars

    columns = {
        "limiting": limiting_weights(cubic, POINTS, Y, 0.3),
        "linearized": linearized_posterior(cubic, POINTS, Y, 0.3, 0.5).weights,
    }
    fig = weight_bars(POINTS, columns)
    assert [t.type for t in fig.data] == ["bar", "bar"] and fig.layout.barmode == "group"
    assert [t.name for t in fig.data] == ["limiting", "linearized"]
    assert fig.data[0].x == ("-1.5", "-0.4", "0.4", "1.2", "2.5")
    assert fig.data[1].y == pytest.approx(columns["linearized"].tolist())
    with pytest.raises(ValueError, match=r"column 'bad' of shape \(2,\): need \[5\]"):
        weight_bars(POINTS, {"bad": torch.ones(2)})
    sigmas = torch.tensor([0.1, 0.5, 1.0])
    curve = {"exact": torch.tensor([2.0, 2.6, 4.0]), "linearized": torch.tensor([2.0, 3.2, 4.0])}
    fig = modes_against_sigma(sigmas, curve, sigma_crit=0.32)
    assert [t.name for t in fig.data] == ["exact", "linearized", "sigma_crit 0.32"]
    assert fig.data[2].x == (0.32, 0.32) and fig.data[2].y == (2.0, 4.0)
    assert fig.layout.xaxis.type == "log"
    assert len(modes_against_sigma(sigmas, curve, math.inf).data) == 2  # flat F: no line


def test_cli_out_writes_the_figures_and_keeps_a_full_folder(tmp_path, capsys):
    from interp.cli import main

    out = tmp_path / "fig"
    assert main(["posterior", "--sigma", "0.5", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    names = ["weights_sigma0.5.html", "weights_sigma1.html", "modes.html"]
    assert printed[-3:] == [str(out / name) for name in names]
    assert sorted(f.name for f in out.iterdir()) == sorted([*names, "plotly.min.js"])
    assert "sigma_crit 0.318" in (out / "modes.html").read_text()
    assert main(["posterior", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "not empty; pass --force" in captured.err
    assert main(["posterior", "--sigma", "0.25", "--out", str(out), "--force", "--json"]) == 0
    assert (out / "weights_sigma0.25.html").exists()


def test_cli_out_in_three_dimensions_has_no_exact_curve(tmp_path, capsys):
    """D > 2: no exact weights, so modes.html has the limiting and linearized curves only."""
    from interp.cli import main

    args = ["posterior", "--dim", "3", "--points", "0", "0", "0", "1", "1", "1", "--out"]
    assert main([*args, str(tmp_path)]) == 0
    html = (tmp_path / "modes.html").read_text()
    assert '"name":"linearized"' in html and '"name":"exact"' not in html
