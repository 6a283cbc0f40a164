"""The random-features clocks: mixture tasks and their exact score, the random-features score
model in the one training loop, tau_gen / tau_mem, f_mem, and the CLI."""

import json
import math

import pytest
import torch

import interp
from interp.cli import main
from interp.diffusion import memorized_fraction
from interp.models.random_features import RandomFeatures, RandomFeaturesConfig
from interp.studies.rf_clocks import denoise, loglog_slope, score_clocks
from interp.tasks.mixtures import MixtureConfig, mixture_task, ou_coefficients

D, P, T = 8, 200, 0.1


def rf_train(n, seeds, steps=400, out=None, model=None, log_every=10):
    task = mixture_task(d=D, n=n, seed=seeds, n_test=512)
    model = model or RandomFeatures(RandomFeaturesConfig(d=D, p=P, t=T, models=len(n), seed=seeds))
    lr = 0.004 * D / ou_coefficients(T)[1]
    cfg = interp.TrainConfig(
        steps=steps, lr=lr, optimizer="sgd", log_every=log_every, save_every=100
    )
    return interp.train(model, task, cfg, out=out, device="cpu", progress=False), task


def test_mixture_classes_are_exact_and_the_score_is_the_gradient_of_the_log_density():
    means, variances, weights = [[2.0, 0.0], [-1.0, 1.0]], [0.5, 2.0], [0.7, 0.3]
    task = mixture_task(
        d=2, n=[10, 7], seed=[0, 1], means=means, variances=variances, weights=weights
    )
    assert task.labels[0, :10].bincount().tolist() == [7, 3]
    assert task.labels[1, :7].bincount().tolist() == [5, 2]  # 4.9 and 2.1: largest remainders
    x = torch.randn(6, 2, dtype=torch.float64, requires_grad=True)
    a, delta = ou_coefficients(T)
    density = sum(
        w
        * torch.exp(-((x - a * torch.tensor(m, dtype=x.dtype)) ** 2).sum(-1) / (2 * v))
        / (2 * math.pi * v)
        for m, v, w in zip(means, [a * a * s + delta for s in variances], weights)
    )
    (grad,) = torch.autograd.grad(density.log().sum(), x)
    torch.testing.assert_close(task.score(x.detach(), T), grad)


def test_mixture_configs_refuse_bad_values_in_one_line():
    for kwargs, named in [
        (dict(d=2, weights=[0.5, 0.6], means=[[0, 0], [1, 1]]), "sum to 1"),
        (dict(d=2, means=[[0, 0, 0]]), "d=2"),
        (dict(d=2, variances=[-1.0]), "variances"),
        (dict(d=2, n=0), "n=0"),
        (dict(d=2, seed="12"), "seed='12'"),
    ]:
        with pytest.raises(ValueError, match=named):
            mixture_task(**kwargs)
    with pytest.raises(ValueError, match="unknown key 'colour'"):
        MixtureConfig.from_dict({**mixture_task(d=2).config.to_dict(), "colour": 1})


def test_an_ensemble_trains_exactly_as_its_models_alone():
    together, task = rf_train([8, 32], [0, 1], steps=50)
    for m in (0, 1):
        alone = interp.train(
            RandomFeatures(together.model.cfg.subset([m])),
            task.select(m),
            interp.TrainConfig(
                steps=50,
                lr=together.model.cfg.d * 0.004 / ou_coefficients(T)[1],
                optimizer="sgd",
                log_every=10,
            ),
            device="cpu",
            progress=False,
        )
        # equal up to float reassociation: model 0's 8 points are padded to 32 in the ensemble
        torch.testing.assert_close(
            alone.model.weights()["A"][0], together.model.weights()["A"][m], atol=1e-6, rtol=1e-5
        )


def test_tau_gen_is_flat_and_tau_mem_grows_with_n():
    result, _ = rf_train([8, 64], [0, 0], steps=600)
    clocks = score_clocks(result.metrics["test_loss"], result.metrics["step"])
    gen, mem = clocks.tau_gen.tolist(), clocks.tau_mem.tolist()
    assert 0 < gen[0] <= 40 and 0 < gen[1] <= 40  # a few tens of steps, whatever n
    assert 0 < mem[0] < 600 and (mem[1] == -1 or mem[1] > mem[0])  # n = 64 memorizes later
    train, test = result.metrics["train_loss"][-1], result.metrics["test_loss"][-1]
    assert train[0] < test[0] - 0.3  # the small-n model fits its points, not fresh ones


def test_a_resumed_run_ends_where_an_uninterrupted_one_ends(tmp_path):
    whole, _ = rf_train([8, 16], [0, 1], steps=300, out=tmp_path / "whole")
    model = RandomFeatures(whole.model.cfg)
    updates = 0

    def crash(module, inputs, output):
        nonlocal updates
        if torch.is_grad_enabled():
            updates += 1
            if updates > 150:
                raise RuntimeError("killed")

    model.hook_score.register_forward_hook(crash)
    with pytest.raises(RuntimeError, match="killed"):
        rf_train([8, 16], [0, 1], steps=300, out=tmp_path / "cut", model=model)
    resumed = interp.resume(tmp_path / "cut", device="cpu", progress=False)
    assert torch.equal(resumed.model.weights()["A"], whole.model.weights()["A"])
    run = interp.load_run(tmp_path / "whole")
    assert torch.equal(run.task.data, mixture_task(d=D, n=[8, 16], seed=[0, 1]).data)


def test_f_mem_of_constructed_samples_and_of_a_memorizing_model():
    training = torch.randn(20, 5, generator=torch.Generator().manual_seed(0)) * 3
    copies = training[:10] + 0.01
    far = torch.randn(10, 5, generator=torch.Generator().manual_seed(1)) * 30
    f_mem, se = memorized_fraction(torch.stack([copies, far]), training)
    assert f_mem.tolist() == [1.0, 0.0] and se.tolist() == [0.0, 0.0]
    half, se = memorized_fraction(torch.cat([copies, far]), training, bootstrap=2000)
    assert float(half) == 0.5 and abs(float(se) - 0.5 / math.sqrt(20)) < 0.03
    result, task = rf_train([8, 256], [0, 0], steps=800)
    denoised = denoise(result.model, task.test[:256], torch.Generator().manual_seed(0))
    f_mem, _ = memorized_fraction(denoised, task.data[:, :256])
    assert float(f_mem[0]) > float(f_mem[1])  # 8 points: pulled onto them; 256: much less


def test_loglog_slope_recovers_a_power_law():
    assert loglog_slope([1, 2, 4, 8], [3, 12, 48, 192]) == pytest.approx(2.0)
    assert loglog_slope([1, 2, 4], [-1, 5, 10]) == pytest.approx(1.0)  # -1 never rang
    assert math.isnan(loglog_slope([1, 2], [-1, 5]))


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_trains_and_reads_the_clocks(tmp_path, capsys):
    out = tmp_path / "rf"
    args = [
        "train",
        "mixture",
        "--out",
        out,
        "--d",
        D,
        "--p",
        P,
        "--n",
        8,
        32,
        "--steps",
        300,
        "--log-every",
        10,
        "--log-log",
        10,
        "--no-progress",
    ]
    code, stdout, err = run_cli(capsys, *args)
    assert code == 0, err
    code, stdout, err = run_cli(capsys, "score-clocks", out, "--json", "--out", tmp_path / "fig")
    assert code == 0, err
    record = json.loads(stdout)
    assert record["n"] == [8, 32] and len(record["tau_gen"]) == 2
    assert record["tau_mem"][0] > 0 and sorted(p.split("/")[-1] for p in record["figures"]) == [
        "losses.html",
        "times_against_n.html",
    ]
    for bad, named in [
        (["train", "mixture", "--out", tmp_path / "x", "--n", 8, 8], "--n 8 8"),
        (["train", "mixture", "--out", tmp_path / "x", "--t", 0], "t=0"),
        (["score-clocks", "checkpoints/doshi_p97_noise035_wd0"], "random_features"),
    ]:
        code, _, err = run_cli(capsys, *bad)
        assert code == 2 and err.count("\n") == 1 and named in err, err
    assert not (tmp_path / "x").exists()


def test_a_dit_learns_continuous_points_and_f_mem_reads_its_samples():
    """The DiT trains on a mixture's points as they are (sigma_data 1 for N(0, I)) and its
    samples are scored by f_mem against its own training points."""
    from interp.diffusion import sample

    task = mixture_task(d=4, n=[4, 64], seed=0, n_test=64)
    dit = interp.DiT(interp.DiTConfig(d=4, d_model=16, n_heads=2, models=2, seed=0, sigma_data=1.0))
    cfg = interp.TrainConfig(steps=300, lr=3e-3, loss="edm", batch_size=64, log_every=100)
    result = interp.train(dit, task, cfg, device="cpu", progress=False)
    loss = result.metrics["train_loss"]
    assert (loss[-1] < loss[0]).all()
    x = sample(result.model, (2, 128, 4), steps=12, generator=torch.Generator().manual_seed(0))
    f_mem, se = memorized_fraction(x, task.data)
    assert f_mem.shape == se.shape == (2,)
    assert float(f_mem[0]) > float(f_mem[1])  # 4 points are copied more than 64


def test_two_classes_get_their_own_losses_and_clocks(tmp_path, capsys):
    """Per-class losses average back to the overall ones (weighted by the class shares), and
    score-clocks reads a clock per class."""
    out = tmp_path / "rf2"
    args = [
        "train",
        "mixture",
        "--out",
        out,
        "--d",
        D,
        "--p",
        P,
        "--n",
        40,
        "--steps",
        200,
        "--centroid-norm",
        3,
        "--weights",
        0.75,
        0.25,
        "--variances",
        1.0,
        0.25,
        "--log-every",
        10,
        "--no-progress",
    ]
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    run = interp.load_run(out)
    m = run.metrics
    share = torch.tensor([(run.task.test_labels == c).float().mean() for c in (0, 1)])
    mixed = share[0] * m["test_loss_class0"] + share[1] * m["test_loss_class1"]
    torch.testing.assert_close(mixed, m["test_loss"])
    train_share = torch.tensor([30 / 40, 10 / 40])  # exact class counts
    mixed = train_share[0] * m["train_loss_class0"] + train_share[1] * m["train_loss_class1"]
    torch.testing.assert_close(mixed, m["train_loss"])
    code, stdout, err = run_cli(capsys, "score-clocks", out)
    assert code == 0 and "per class" in stdout and stdout.count("\n") > 8, err
