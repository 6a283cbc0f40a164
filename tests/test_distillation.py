"""Consistency models and consistency distillation: the boundary, the Heun step, the objective
in the one loop (ensembles equal their models, bit-exact resume with the EMA target and a stored
teacher), and a student of the empirical denoiser that reproduces its training points."""

import dataclasses
import json

import pytest
import torch

import interp
from interp.diffusion import (
    EmpiricalDenoiser,
    consistency_boundary,
    consistency_sample,
    heun_sample,
    heun_step,
    sigma_schedule,
)
from interp.studies.distillation import ConsistencyDistillation, consistency_student
from interp.studies.distillation.objective import TEACHER_FILE
from interp.tasks.bitrules import to_signal


def _cfg(steps=20, **kw):
    base = dict(steps=steps, lr=3e-3, loss="l2", batch_size=16, log_every=10, save_every=10)
    return interp.TrainConfig(**{**base, **kw})


def _student(models=2, d=8, seed=0):
    return interp.DiT(
        interp.DiTConfig(
            d=d, d_model=16, n_layers=1, models=models, seed=seed, boundary="consistency"
        )
    )


def _task(models=2, d=8):
    return interp.rule_task("group_parity", d=d, group=2, N=[6, 12][:models], seed=0)


# ---------------------------------------------------------------------------------------------
# the boundary and the sampler


def test_the_boundary_is_the_identity_at_sigma_min_and_matches_its_closed_form():
    s = torch.tensor([0.002, 0.1, 1.0, 80.0], dtype=torch.float64)
    c_skip, c_out = consistency_boundary(s, sigma_data=0.5, sigma_min=0.002)
    assert c_skip[0] == 1 and c_out[0] == 0
    torch.testing.assert_close(c_skip, 0.25 / ((s - 0.002) ** 2 + 0.25))
    torch.testing.assert_close(c_out, (s - 0.002) * 0.5 / (s**2 + 0.25).sqrt())


def test_a_consistency_dit_is_the_identity_at_sigma_min_whatever_its_weights():
    model = _student(models=2)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()  # a network far from zero
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(model(x, model.cfg.sigma_min), x)
    assert not torch.allclose(model(x, 1.0), x)


def test_heun_step_is_exact_for_a_single_training_point():
    # D(x; s) = x0: the ODE dx/ds = (x - x0) / s keeps (x - x0) / s constant, and Heun is
    # exact on that straight line.
    x0 = torch.tensor([[0.5, -0.5, 0.5]], dtype=torch.float64)
    D = EmpiricalDenoiser(x0)
    x = x0 + 3.0 * torch.tensor([[1.0, 2.0, -1.0]], dtype=torch.float64)
    out = heun_step(D, x, torch.tensor(3.0), torch.tensor(0.7))
    torch.testing.assert_close(out, x0 + 0.7 * (x - x0) / 3.0)


def test_heun_sample_is_its_heun_steps():
    data = to_signal(torch.randint(0, 2, (5, 4), generator=torch.Generator().manual_seed(0)))
    D = EmpiricalDenoiser(data)
    x = 5 * torch.randn(7, 4, generator=torch.Generator().manual_seed(1))
    sigmas = sigma_schedule(6, sigma_max=5.0)
    stepped = x
    for i in range(6):
        stepped = heun_step(D, stepped, sigmas[i], sigmas[i + 1])
    torch.testing.assert_close(heun_sample(D, x, sigmas), stepped)


def test_consistency_sample_refuses_bad_levels():
    model = _student()
    with pytest.raises(ValueError, match="must decrease"):
        consistency_sample(model, (2, 3, 8), levels=(0.5, 1.0))
    with pytest.raises(ValueError, match="levels=\\[0.001\\]"):
        consistency_sample(model, (2, 3, 8), levels=(0.001,))


# ---------------------------------------------------------------------------------------------
# the objective in the one loop


def test_a_distilled_ensemble_equals_its_models_distilled_alone():
    task, student = _task(), _student()
    spec = ConsistencyDistillation("empirical", levels=10, mu=0.9)
    both = interp.train(student, task, _cfg(save_every=0), objective=spec, progress=False).model
    for m, n in enumerate([6, 12]):
        alone = interp.train(
            _student(models=1, seed=m),
            interp.rule_task("group_parity", d=8, group=2, N=n, seed=0),
            _cfg(save_every=0),
            objective=spec,
            progress=False,
        ).model
        for name, value in alone.weights().items():
            torch.testing.assert_close(both.weights()[name][m : m + 1], value)


@pytest.mark.parametrize("teacher_kind", ["empirical", "dit"])
def test_a_cut_distillation_resumes_bit_exactly(tmp_path, teacher_kind):
    task = _task()
    teacher = "empirical"
    if teacher_kind == "dit":
        teacher = interp.DiT(interp.DiTConfig(d=8, d_model=16, n_layers=1, models=2, seed=7))
    spec = ConsistencyDistillation(teacher, levels=10, mu=0.95)
    whole = interp.train(_student(), task, _cfg(), objective=spec, progress=False).model
    cut = interp.train(
        _student(), task, _cfg(steps=10), out=tmp_path / "run", objective=spec, progress=False
    )
    assert (tmp_path / "run" / TEACHER_FILE).exists() == (teacher_kind == "dit")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["objective"]["kind"] == "consistency_distillation"
    config["train"]["steps"] = 20
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    resumed = interp.resume(tmp_path / "run", progress=False)
    assert cut.model is not resumed.model
    for name, value in whole.weights().items():
        assert torch.equal(resumed.model.weights()[name], value), name
    assert interp.load_run(tmp_path / "run").model().cfg.boundary == "consistency"


def test_reuse_loads_a_finished_distillation_and_refuses_another(tmp_path):
    task, spec = _task(), ConsistencyDistillation("empirical", levels=10)
    first = interp.train(
        _student(), task, _cfg(), out=tmp_path / "r", objective=spec, progress=False
    )
    again = interp.train(
        _student(), task, _cfg(), out=tmp_path / "r", objective=spec, reuse=True, progress=False
    )
    assert torch.equal(again.model.W_pos, first.model.W_pos)
    other = dataclasses.replace(spec, mu=0.5)
    with pytest.raises(ValueError, match="its objective config differs"):
        interp.train(
            _student(),
            task,
            _cfg(),
            out=tmp_path / "r",
            objective=other,
            reuse=True,
            progress=False,
        )


def test_distillation_refuses_what_does_not_fit():
    task = _task()
    spec = ConsistencyDistillation("empirical")
    denoiser = interp.DiT(interp.DiTConfig(d=8, d_model=16, n_layers=1, models=2))
    with pytest.raises(ValueError, match="boundary 'consistency'"):
        interp.train(denoiser, task, _cfg(), objective=spec, progress=False)
    with pytest.raises(ValueError, match="loss 'edm': a consistency_distillation trains with l2"):
        interp.train(_student(), task, _cfg(loss="edm"), objective=spec, progress=False)
    three = interp.DiT(interp.DiTConfig(d=8, d_model=16, n_layers=1, models=3))
    with pytest.raises(ValueError, match="model i distills model i"):
        interp.train(
            _student(), task, _cfg(), objective=ConsistencyDistillation(three), progress=False
        )
    with pytest.raises(ValueError, match="not a student"):
        ConsistencyDistillation(_student())
    with pytest.raises(ValueError, match="mu=1"):
        ConsistencyDistillation("empirical", mu=1)
    with pytest.raises(ValueError, match="levels=1"):
        ConsistencyDistillation("empirical", levels=1)
    with pytest.raises(ValueError, match="teacher 'copy'"):
        ConsistencyDistillation("copy")


def test_the_student_starts_from_its_teacher():
    teacher = interp.load_run("checkpoints/dit_group2_d16").model()
    student = consistency_student(teacher)
    assert student.cfg.boundary == "consistency" and teacher.cfg.boundary == "edm"
    for name, value in teacher.weights().items():
        assert torch.equal(student.weights()[name], value)
    with pytest.raises(ValueError, match="copies a DiT"):
        consistency_student(interp.MLP(interp.MLPConfig(p=5, width=4)))


def test_a_student_of_the_empirical_denoiser_reproduces_its_training_points():
    # The empirical denoiser snaps a slightly noisy training string back onto it; so must its
    # consistency student, where the untrained network (c_skip x) is visibly off.
    task = interp.rule_task("group_parity", d=8, group=2, N=4, seed=0)
    student = interp.DiT(
        interp.DiTConfig(d=8, d_model=32, n_layers=1, models=1, boundary="consistency")
    )
    x0 = to_signal(task.data[0][task.mask[0]])  # [4, 8]
    noise = torch.randn(64, *x0.shape, generator=torch.Generator().manual_seed(0))

    def error(model, s):
        with torch.no_grad():
            out = model((x0 + s * noise).reshape(1, -1, 8), s).reshape(noise.shape)
        return ((out - x0) ** 2).mean().item()

    levels = (0.1, 0.2)
    before = [error(student, s) for s in levels]
    # the inverse-gap weighting: with lambda = 1 the low levels barely move in a short run
    spec = ConsistencyDistillation("empirical", levels=10, mu=0.0, weighting="inverse_gap")
    cfg = interp.TrainConfig(steps=600, lr=3e-3, loss="l2", batch_size=64, log_every=600)
    trained = interp.train(student, task, cfg, objective=spec, progress=False).model
    after = [error(trained, s) for s in levels]
    assert after[0] < 0.5 * before[0] and after[1] < 0.005 < 0.03 < before[1], (before, after)


# ---------------------------------------------------------------------------------------------
# stages of a run, the comparison and the command


def test_run_teachers_stack_a_runs_checkpoints_with_their_strings():
    from interp.studies.distillation import run_teachers

    run = interp.load_run("checkpoints/dit_group2_d16")
    teacher, task, labels = run_teachers(run, [97, 3000])
    assert labels[1] == "step 97, N=64" and teacher.cfg.models == 4
    assert torch.equal(teacher.weights()["W_pos"][3], run.model(3000).weights()["W_pos"][1])
    assert torch.equal(task.mask[3], run.task.mask[1])
    with pytest.raises(ValueError, match="step 98 is not saved"):
        run_teachers(run, [98])
    with pytest.raises(ValueError, match="repeat a step"):
        run_teachers(run, [97, 97])


def test_compare_samplers_scores_the_empirical_teacher_as_all_copies():
    from interp.studies.distillation import compare_samplers

    task = _task()
    result = compare_samplers("empirical", _student(), task, samples=64, second_levels=(0.5,))
    assert result.samplers == ("teacher heun 18", "student 1-step", "student 2-step 0.5")
    assert result.metrics["copies"][0].tolist() == [1.0, 1.0]  # the optimum only copies
    assert result.metrics["valid"][0].tolist() == [1.0, 1.0]  # and its training strings are valid
    with pytest.raises(ValueError, match="3 labels for 2 models"):
        result.table(["a", "b", "c"])


def test_compare_samplers_on_points_reports_f_mem_and_the_energy_distance():
    from interp.studies.distillation import compare_samplers
    from interp.tasks.mixtures import mixture_task

    task = mixture_task(d=3, n=[4, 32], seed=0, n_test=512)
    student = interp.DiT(
        interp.DiTConfig(
            d=3, d_model=16, n_layers=1, models=2, boundary="consistency", sigma_data=1
        )
    )
    result = compare_samplers("empirical", student, task, samples=256)
    assert list(result.metrics) == ["f_mem", "energy distance"]
    assert result.metrics["f_mem"][0].tolist() == [1.0, 1.0]  # the optimum copies its points
    # four points are far from the Gaussian; 32 nearer; an untrained student (c_skip x ~ 0 from
    # s_max) is a point mass at 0, further still
    ed = result.metrics["energy distance"]
    assert ed[0, 0] > ed[0, 1] > 0 and (ed[1] > ed[0, 1]).all()


def test_the_distill_command_trains_resumes_and_refuses(tmp_path, capsys):
    from interp.cli import main

    args = [
        "distill",
        "checkpoints/dit_group2_d16",
        "--out",
        str(tmp_path / "cd"),
        "--step",
        "305",
        "3000",
        "--steps",
        "4",
        "--samples",
        "32",
        "--no-progress",
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "step 3000, N=64  student 2-step 0.821" in out
    assert main([*args, "--json"]) == 0  # the finished run is read back, not retrained
    assert '"samplers"' in capsys.readouterr().out
    assert main([*args, "--mu", "0.5"]) == 2
    assert "objective config differs" in capsys.readouterr().err
    empirical = [
        "distill",
        "checkpoints/dit_group2_d16",
        "--out",
        str(tmp_path / "e"),
        "--teacher",
        "empirical",
        "--step",
        "305",
    ]
    assert main(empirical) == 2
    assert "the empirical teacher has none" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# the random-features model: which directions a distilled student keeps


def _rf_pair(steps=2000):
    from interp.models.random_features import RandomFeatures, RandomFeaturesConfig
    from interp.studies.distillation import ScoreDistillation, rf_student
    from interp.tasks.mixtures import mixture_task, ou_coefficients

    d, p = 4, 64
    task = mixture_task(d=d, n=[8, 16], seed=0, n_test=256)
    _, delta = ou_coefficients(0.1)
    teacher = RandomFeatures(RandomFeaturesConfig(d=d, p=p, t=0.1, models=2, seed=0))
    cfg = interp.TrainConfig(
        steps=steps, lr=0.004 * d / delta, optimizer="sgd", loss="mse", log_every=steps
    )
    taught = interp.train(teacher, task, cfg, progress=False)
    cfg = dataclasses.replace(cfg, lr=(0.004 * d,))  # the student's loss has no Delta_t factor
    spec = ScoreDistillation(taught.model)
    student = interp.train(rf_student(taught.model), task, cfg, objective=spec, progress=False)
    return task, taught, student, cfg


def test_a_distilled_rf_student_keeps_the_fast_directions_as_the_closed_form_says():
    from interp.studies.distillation import feature_spectrum, kept_fraction

    task, taught, result, cfg = _rf_pair()
    spectrum = feature_spectrum(taught.model, task, draws=64)
    teacher, student = spectrum.energy(taught.model), spectrum.energy(result.model)  # [2, 64]
    predicted = kept_fraction(spectrum.eigenvalues, cfg.lr[0], cfg.steps, d=4)
    # where the closed form is neither 1 nor so small that the noise of SGD dominates
    middle = (predicted > 0.1) & (predicted < 0.98)
    assert middle.sum() >= 10
    ratio = (student / teacher)[middle] / predicted[middle]
    assert (ratio > 0.7).all() and (ratio < 1.5).all(), ratio
    assert ratio.log().median().abs() < 0.1
    top = student[:, :5].sum(1) / teacher[:, :5].sum(1)
    bottom = student[:, 32:].sum(1) / teacher[:, 32:].sum(1)
    assert (top > 0.9).all() and (bottom < 0.05).all(), (top, bottom)
    # it memorizes less: a higher denoising loss on the same training draws, a lower test loss
    t, s = taught.metrics, result.metrics
    assert (s["denoising_train_loss"][-1] > 1.03 * t["train_loss"][-1]).all()
    assert (s["test_loss"][-1] < t["test_loss"][-1]).all()


def test_a_cut_rf_distillation_resumes_bit_exactly(tmp_path):
    from interp.studies.distillation import ScoreDistillation, rf_student

    task, taught, whole, cfg = _rf_pair(steps=20)
    spec = ScoreDistillation(taught.model)
    half = dataclasses.replace(cfg, steps=10, save_every=10)
    interp.train(
        rf_student(taught.model), task, half, out=tmp_path / "r", objective=spec, progress=False
    )
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    config["train"]["steps"] = 20
    (tmp_path / "r" / "config.json").write_text(json.dumps(config))
    resumed = interp.resume(tmp_path / "r", progress=False)
    assert torch.equal(resumed.model.A, whole.model.A)
    with pytest.raises(ValueError, match="features W differ"):
        other = rf_student(taught.model)
        other.W.add_(1.0)
        interp.train(other, task, cfg, objective=spec, progress=False)
