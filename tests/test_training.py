import math

import pytest
import torch

import interp.core.objectives as objectives_module
from interp.core.metrics import evaluate
from interp.core.objectives import Classification
from interp.core.runs import checkpoint_schedule
from interp.core.training import BatchedOptimizer, TrainConfig, train
from interp.models.mlp import MLP, MLPConfig
from interp.tasks.modular import modular_task

METRICS = Classification.metric_names

P, WIDTH = 13, 24


def fit(model: MLP, task, config: TrainConfig, **kwargs):
    return train(model, task, config, device="cpu", progress=False, **kwargs)


# ---------------------------------------------------------------------------------------------
# an ensemble trains exactly as its models would alone

SEEDS = (3, 7, 11)
NOISE = (0.0, 0.2, 0.4)
FRACTIONS = (0.5, 0.6, 0.7)  # different split sizes: full batch pads the smaller ones


@pytest.mark.parametrize(
    "optimizer, lr, momentum, loss, batch_size",
    [
        ("adamw", (1e-2, 3e-3, 2e-2), 0.0, "mse", None),
        ("adamw", (1e-2, 3e-3, 2e-2), 0.0, "mse", 16),
        ("sgd", (2.0, 5.0, 1.0), 0.9, "mse", None),
        ("sgd", (0.1, 0.3, 0.05), 0.9, "ce", 16),
    ],
)
def test_ensemble_matches_models_trained_alone(optimizer, lr, momentum, loss, batch_size):
    wd = (0.0, 0.5, 2.0)
    task = modular_task(p=P, train_fraction=FRACTIONS, noise=NOISE, seed=SEEDS)
    common = dict(steps=30, optimizer=optimizer, momentum=momentum, loss=loss)
    common |= dict(batch_size=batch_size, log_every=10)
    ensemble = MLP(MLPConfig(p=P, width=WIDTH, models=3, seed=SEEDS))
    initial = {k: v.clone() for k, v in ensemble.weights().items()}
    together = fit(ensemble, task, TrainConfig(lr=lr, weight_decay=wd, **common))

    for i, seed in enumerate(SEEDS):
        alone_task = modular_task(p=P, train_fraction=FRACTIONS[i], noise=NOISE[i], seed=SEEDS[i])
        for name in ("train", "noisy", "train_labels"):
            assert torch.equal(getattr(alone_task, name), getattr(task.select([i]), name))
        alone = MLP(MLPConfig(p=P, width=WIDTH, models=1, seed=(seed,)))
        config = TrainConfig(lr=lr[i], weight_decay=wd[i], **common)
        result = fit(alone, alone_task, config)
        for name, value in result.model.weights().items():
            trained = together.model.weights()[name][i]
            # Training moved the weights: the comparison is not between two initial states.
            assert (trained - initial[name][i]).abs().max() > 1e-3
            torch.testing.assert_close(trained, value[0], atol=1e-5, rtol=1e-4)
        for key in METRICS:
            torch.testing.assert_close(
                together.metrics[key][:, i],
                result.metrics[key][:, 0],
                atol=1e-5,
                rtol=1e-4,
                equal_nan=True,
            )


# ---------------------------------------------------------------------------------------------
# the batched optimizer is torch's AdamW / SGD, per model


def _params(models: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "U": torch.randn(models, 5, 7, generator=gen).requires_grad_(),
        "W": torch.randn(models, 7, 5, generator=gen).requires_grad_(),
    }


def _grads(params: dict, step: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1000 + step)
    return {k: torch.randn(v.shape, generator=gen) * (1 + step % 3) for k, v in params.items()}


@pytest.mark.parametrize(
    "config, reference",
    [
        (
            TrainConfig(lr=(1e-2, 3e-2), weight_decay=(0.0, 0.7), betas=(0.9, 0.98)),
            lambda p, lr, wd: torch.optim.AdamW(
                p, lr=lr, betas=(0.9, 0.98), eps=1e-8, weight_decay=wd, foreach=False
            ),
        ),
        (
            TrainConfig(lr=(1e-3, 5e-3), weight_decay=(0.1, 2.0), betas=(0.8, 0.999)),
            lambda p, lr, wd: torch.optim.AdamW(
                p, lr=lr, betas=(0.8, 0.999), eps=1e-8, weight_decay=wd, foreach=False
            ),
        ),
        (
            TrainConfig(lr=(1e-2, 3e-2), weight_decay=(0.0, 20.0), optimizer="adam"),
            lambda p, lr, wd: torch.optim.Adam(
                p, lr=lr, betas=(0.9, 0.98), eps=1e-8, weight_decay=wd, foreach=False
            ),
        ),
        (
            TrainConfig(lr=(0.1, 0.05), weight_decay=(0.0, 0.3), optimizer="sgd", momentum=0.9),
            lambda p, lr, wd: torch.optim.SGD(
                p, lr=lr, momentum=0.9, weight_decay=wd, foreach=False
            ),
        ),
        (
            TrainConfig(lr=(0.1, 0.05), weight_decay=(0.2, 0.0), optimizer="sgd"),
            lambda p, lr, wd: torch.optim.SGD(p, lr=lr, weight_decay=wd, foreach=False),
        ),
    ],
    ids=["adamw", "adamw-betas", "adam-l2", "sgd-momentum", "sgd"],
)
def test_batched_optimizer_matches_torch_step_by_step(config, reference):
    params = _params(2)
    opt = BatchedOptimizer({k: (v, None) for k, v in params.items()}, config, models=2)
    # One torch optimizer per model, on its own copy of that model's slice.
    copies = [
        {k: v[m].detach().clone().requires_grad_() for k, v in params.items()} for m in (0, 1)
    ]
    torch_opts = [
        reference(list(copies[m].values()), config.lr[m], config.weight_decay[m]) for m in (0, 1)
    ]
    for step in range(25):
        grads = _grads(params, step)
        for name, p in params.items():
            p.grad = grads[name].clone()
            for m in (0, 1):
                copies[m][name].grad = grads[name][m].clone()
        opt.step()
        for t in torch_opts:
            t.step()
        for m in (0, 1):
            for name in params:
                torch.testing.assert_close(
                    params[name][m], copies[m][name], atol=1e-6, rtol=1e-5, msg=f"step {step}"
                )
    assert opt.step_count == 25


def test_single_model_optimizer_takes_scalar_hyperparameters():
    params = _params(1)
    config = TrainConfig(lr=1e-2, weight_decay=0.5)
    opt = BatchedOptimizer({k: (v, None) for k, v in params.items()}, config, models=1)
    copy = [v[0].detach().clone().requires_grad_() for v in params.values()]
    ref = torch.optim.AdamW(copy, lr=1e-2, betas=(0.9, 0.98), weight_decay=0.5, foreach=False)
    for step in range(10):
        for p, c, g in zip(params.values(), copy, _grads(params, step).values()):
            p.grad, c.grad = g.clone(), g[0].clone()
        opt.step()
        ref.step()
    for p, c in zip(params.values(), copy):
        torch.testing.assert_close(p[0], c, atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# training does what it says


def test_small_run_generalizes_at_moderate_noise(generalizing):
    final = {k: v[-1] for k, v in generalizing.result.metrics.items()}
    assert int(final["step"]) == generalizing.config.steps
    assert (final["test_acc"] >= 0.9).all(), final["test_acc"]
    assert (final["train_clean_acc"] >= 0.99).all(), final["train_clean_acc"]
    # It did not simply fit everything: part of the noise stays unfit.
    assert (final["train_noisy_acc"] < 0.95).all(), final["train_noisy_acc"]
    # The logged metrics are those of the returned model.
    acc = evaluate(generalizing.model, generalizing.task)
    torch.testing.assert_close(final["test_acc"], acc.test)
    torch.testing.assert_close(final["train_clean_acc"], acc.train_clean)
    torch.testing.assert_close(final["train_noisy_acc"], acc.train_noisy)
    losses = generalizing.result.metrics["train_loss"]
    assert (losses[-1] < losses[0]).all()


@pytest.mark.parametrize("batch_size", [None, 16])
def test_training_is_deterministic(batch_size):
    task = modular_task(p=P, noise=0.3, seed=[0, 1])
    config = TrainConfig(steps=20, lr=(1e-2, 2e-2), batch_size=batch_size, log_every=5)
    runs = [fit(MLP(MLPConfig(p=P, width=WIDTH, models=2)), task, config) for _ in range(2)]
    for name, value in runs[0].model.weights().items():
        assert torch.equal(value, runs[1].model.weights()[name]), name
    assert runs[0].metrics.keys() == runs[1].metrics.keys()
    for key, value in runs[0].metrics.items():
        assert torch.equal(value, runs[1].metrics[key]), key


def test_training_changes_the_model_in_place_and_returns_it():
    task = modular_task(p=P, seed=0)
    model = MLP(MLPConfig(p=P, width=WIDTH))
    before = model.U.detach().clone()
    result = fit(model, task, TrainConfig(steps=3))
    assert result.model is model
    assert result.run is None
    assert not torch.equal(model.U.detach(), before)


def test_metrics_are_logged_every_log_every_and_at_the_end():
    task = modular_task(p=P, noise=[0.0, 0.3], seed=[0, 1])
    model = MLP(MLPConfig(p=P, width=WIDTH, models=2))
    initial = evaluate(model, task)
    result = fit(model, task, TrainConfig(steps=25, log_every=10))
    metrics = result.metrics
    assert set(metrics) == {"step", *METRICS}
    assert metrics["step"].tolist() == [0, 10, 20, 25]
    for key in METRICS:
        assert metrics[key].shape == (4, 2), key
        assert metrics[key].dtype.is_floating_point, key
    # Model 0 has no noisy examples; model 1 has some.
    assert torch.isnan(metrics["train_noisy_acc"][:, 0]).all()
    assert torch.isfinite(metrics["train_noisy_acc"][:, 1]).all()
    for key in ("train_loss", "test_loss", "train_clean_acc", "test_acc"):
        assert torch.isfinite(metrics[key]).all(), key
    # Step 0 describes the untrained model.
    torch.testing.assert_close(metrics["test_acc"][0], initial.test)
    torch.testing.assert_close(metrics["train_clean_acc"][0], initial.train_clean)


def test_last_step_is_logged_once_when_it_is_a_multiple():
    task = modular_task(p=P, seed=0)
    result = fit(MLP(MLPConfig(p=P, width=WIDTH)), task, TrainConfig(steps=20, log_every=10))
    assert result.metrics["step"].tolist() == [0, 10, 20]


def test_logged_losses_are_the_mean_mse_over_each_split():
    task = modular_task(p=P, noise=0.2, seed=[0, 1])
    result = fit(MLP(MLPConfig(p=P, width=WIDTH, models=2)), task, TrainConfig(steps=2))
    with torch.no_grad():
        logits = result.model(task.inputs)
    for m in range(2):
        train_target = torch.nn.functional.one_hot(task.train_labels[m], P).float()
        test_target = torch.nn.functional.one_hot(task.labels, P).float()
        per_train = ((logits[m] - train_target) ** 2).mean(-1)
        per_test = ((logits[m] - test_target) ** 2).mean(-1)
        torch.testing.assert_close(
            result.metrics["train_loss"][-1, m], per_train[task.train[m]].mean()
        )
        torch.testing.assert_close(
            result.metrics["test_loss"][-1, m], per_test[task.test[m]].mean()
        )


# ---------------------------------------------------------------------------------------------
# checkpoint schedule


@pytest.mark.parametrize(
    "steps, every, log, expected",
    [
        (1000, 500, 4, [0, 1, 10, 100, 500, 1000]),
        (1000, 0, 0, [0, 1000]),
        (10, 3, 0, [0, 3, 6, 9, 10]),
        (100, 0, 3, [0, 1, 10, 100]),
        (7, 7, 0, [0, 7]),
        (50, 0, 1, [0, 1, 50]),
        (1, 1, 5, [0, 1]),
    ],
)
def test_checkpoint_schedule(steps, every, log, expected):
    assert checkpoint_schedule(steps, every=every, log=log) == expected


# ---------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    "kwargs, bad",
    [
        (dict(optimizer="adagrad"), "adagrad"),
        (dict(loss="l1"), "l1"),
        (dict(lr=-1e-3), "-0.001"),
        (dict(lr=[1e-2, -1.0]), "-1.0"),
        (dict(lr=[]), r"lr=\[\]"),
        (dict(weight_decay=math.nan), "nan"),
        (dict(steps=0), "steps=0"),
        (dict(log_every=0), "log_every=0"),
        (dict(batch_size=0), "batch_size=0"),
        (dict(save_every=-1), "save_every=-1"),
    ],
)
def test_train_config_rejects_bad_values(kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        TrainConfig(**kwargs)


def test_train_config_round_trips_through_a_dict():
    config = TrainConfig(steps=7, lr=[1e-2, 2e-2], weight_decay=0.5, batch_size=4, save_log=3)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.lr == (1e-2, 2e-2)
    assert config.per_model("weight_decay", 2) == (0.5, 0.5)


def test_per_model_values_must_match_the_ensemble():
    task = modular_task(p=P, seed=[0, 1, 2])
    model = MLP(MLPConfig(p=P, width=WIDTH, models=3))
    before = model.U.detach().clone()
    with pytest.raises(ValueError, match="lr has 2 values"):
        fit(model, task, TrainConfig(steps=2, lr=[1e-2, 1e-3]))
    with pytest.raises(ValueError, match="weight_decay has 2 values"):
        fit(model, task, TrainConfig(steps=2, weight_decay=[0.0, 1.0]))
    assert torch.equal(model.U.detach(), before)


def test_model_and_task_must_match():
    task = modular_task(p=P, seed=[0, 1])
    with pytest.raises(ValueError, match="3 models"):
        fit(MLP(MLPConfig(p=P, width=WIDTH, models=3)), task, TrainConfig(steps=1))
    with pytest.raises(ValueError, match="p=11"):
        fit(MLP(MLPConfig(p=11, width=WIDTH, models=2)), task, TrainConfig(steps=1))


def test_batch_size_larger_than_the_training_set_is_refused():
    task = modular_task(p=P, train_fraction=[0.5, 0.3], seed=[0, 1])
    smallest = int(task.train.sum(1).min())
    model = MLP(MLPConfig(p=P, width=WIDTH, models=2))
    with pytest.raises(ValueError, match=f"batch_size={smallest + 1}"):
        fit(model, task, TrainConfig(steps=1, batch_size=smallest + 1))
    fit(model, task, TrainConfig(steps=1, batch_size=smallest))


@pytest.mark.parametrize(
    "models, p, config",
    [
        (2, P, TrainConfig(steps=1, lr=[1e-2, 1e-3, 1e-4])),
        (3, P, TrainConfig(steps=1)),
        (2, 11, TrainConfig(steps=1)),
        (2, P, TrainConfig(steps=1, batch_size=10_000)),
    ],
    ids=["lr", "models", "p", "batch_size"],
)
def test_a_refused_run_writes_nothing(tmp_path, models, p, config):
    task = modular_task(p=P, seed=[0, 1])
    model = MLP(MLPConfig(p=p, width=WIDTH, models=models))
    with pytest.raises(ValueError):
        fit(model, task, config, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_cpu_chunking_of_the_ensemble_gives_the_same_training(monkeypatch):
    """One model per chunk (as a big ensemble gets on a CPU) trains what the whole batch does."""
    task = modular_task(p=13, noise=[0.0, 0.3, 0.5], seed=[0, 1, 2])
    cfg = TrainConfig(steps=15, lr=[1e-2, 3e-3, 1e-2], weight_decay=[0.0, 1.0, 0.1], log_every=5)

    def trained():
        model = MLP(MLPConfig(p=13, width=24, models=3, seed=[0, 1, 2]))
        return train(model, task, cfg, progress=False, device="cpu")

    whole = trained()
    monkeypatch.setattr(objectives_module, "CPU_CHUNK_ELEMENTS", 1)
    chunked = trained()
    for name, value in whole.model.weights().items():
        torch.testing.assert_close(chunked.model.weights()[name], value, atol=1e-5, rtol=1e-4)
    for name, value in whole.metrics.items():
        torch.testing.assert_close(
            chunked.metrics[name], value, atol=1e-5, rtol=1e-4, equal_nan=True
        )


@pytest.mark.parametrize("lr", ["12", [1e-2, "x"], True])
def test_a_learning_rate_that_is_not_a_number_is_refused(lr):
    with pytest.raises(ValueError, match="must be a number or one number per model"):
        TrainConfig(lr=lr)


def test_tf32_changes_nothing_on_a_cpu_and_restores_the_flags():
    from interp.core.device import tf32

    task = modular_task(p=7, seed=[0, 1])
    weights = []
    for flag in (False, True):
        model = MLP(MLPConfig(p=7, width=8, models=2))
        cfg = TrainConfig(steps=5, tf32=flag)
        weights.append(train(model, task, cfg, device="cpu", progress=False).model.W)
    assert torch.equal(weights[0], weights[1])
    before = torch.backends.cuda.matmul.allow_tf32
    with tf32(not before):
        assert torch.backends.cuda.matmul.allow_tf32 is (not before)
    assert torch.backends.cuda.matmul.allow_tf32 is before
    assert TrainConfig.from_dict({"steps": 3}).tf32 is False  # old run configs load
