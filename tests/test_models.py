import math

import pytest
import torch

from interp.models.mlp import ACTIVATIONS, INITS, MLP, MLPConfig

P, WIDTH = 11, 16


def pairs(batch: int, p: int = P, seed: int = 0, models: int | None = None) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, 2) if models is None else (models, batch, 2)
    return torch.randint(0, p, shape, generator=gen)


def random_weights(models: int, width: int = WIDTH, p: int = P, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {
        "U": torch.randn(models, width, p, generator=gen),
        "V": torch.randn(models, width, p, generator=gen),
        "W": torch.randn(models, p, width, generator=gen),
        "b_in": torch.randn(models, width, generator=gen),
        "b_out": torch.randn(models, p, generator=gen),
    }


def hand_logits(w: dict, x: torch.Tensor, act: str, bias: bool, scale: float) -> torch.Tensor:
    """W @ act(U[:, a] + V[:, b] + b_in) * scale + b_out, one model and one pair at a time."""
    models = w["U"].shape[0]
    out = torch.zeros(models, len(x), w["W"].shape[1])
    for m in range(models):
        for i, (a, b) in enumerate(x.tolist()):
            pre = w["U"][m][:, a] + w["V"][m][:, b] + (w["b_in"][m] if bias else 0)
            post = pre**2 if act == "square" else pre.clamp_min(0)
            out[m, i] = w["W"][m] @ post * scale + (w["b_out"][m] if bias else 0)
    return out


@pytest.mark.parametrize("models", [1, 3])
def test_output_shapes(models):
    model = MLP(MLPConfig(p=P, width=WIDTH, models=models))
    assert model(pairs(5)).shape == (models, 5, P)
    assert model(pairs(5, models=models)).shape == (models, 5, P)


def test_per_model_inputs_equal_shared_inputs():
    model = MLP(MLPConfig(p=P, width=WIDTH, models=3))
    x = pairs(7)
    torch.testing.assert_close(model(x.expand(3, -1, -1)), model(x))


def test_per_model_inputs_reach_their_own_model():
    model = MLP(MLPConfig(p=P, width=WIDTH, models=3, seed=(4, 5, 6)))
    x = pairs(6, models=3)
    logits = model(x)
    for m in range(3):
        torch.testing.assert_close(logits[m], model.select(m)(x[m])[0])


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("init", ["doshi", "mean_field"])
def test_forward_matches_hand_computation(act, bias, init):
    full = random_weights(models=2)
    w = full if bias else {k: full[k] for k in "UVW"}
    model = MLP(MLPConfig(p=P, width=WIDTH, models=2, act=act, bias=bias, init=init), weights=w)
    x = pairs(9)
    scale = 1 / WIDTH if init == "mean_field" else 1.0
    expected = hand_logits(full, x, act, bias, scale)
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-4)


def test_mean_field_scales_logits_by_one_over_width():
    w = random_weights(models=2)
    w = {k: w[k] for k in "UVW"}
    x = pairs(9)
    standard = MLP(MLPConfig(p=P, width=WIDTH, models=2, init="standard"), weights=w)
    mean_field = MLP(MLPConfig(p=P, width=WIDTH, models=2, init="mean_field"), weights=w)
    torch.testing.assert_close(mean_field(x), standard(x) / WIDTH)


def test_bias_starts_at_zero():
    model = MLP(MLPConfig(p=P, width=WIDTH, models=2, bias=True))
    assert set(model.weights()) == {"U", "V", "W", "b_in", "b_out"}
    assert model.b_in.shape == (2, WIDTH) and model.b_out.shape == (2, P)
    assert not model.b_in.any() and not model.b_out.any()
    assert set(MLP(MLPConfig(p=P, width=WIDTH)).weights()) == {"U", "V", "W"}


def expected_std(init: str, width: int) -> tuple[float, float]:
    if init == "doshi":
        std = math.sqrt(0.25) / (2 * width) ** (1 / 3)
        return std, std
    if init == "standard":
        return 1 / math.sqrt(2), 1 / math.sqrt(width)
    return 1 / math.sqrt(2), 1.0


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("init_scale", [1.0, 0.3])
def test_init_std_matches_formula(init, init_scale):
    width, p = 500, 97
    model = MLP(MLPConfig(p=p, width=width, init=init, init_scale=init_scale, seed=3))
    std_in, std_out = (s * init_scale for s in expected_std(init, width))
    n = width * p  # std estimates are good to ~1/sqrt(2n) = 0.3% relative
    for name, std in (("U", std_in), ("V", std_in), ("W", std_out)):
        w = getattr(model, name).detach()
        assert w.std().item() == pytest.approx(std, rel=0.03), name
        assert abs(w.mean().item()) < 5 * std / math.sqrt(n), name


def test_same_seed_same_model_whatever_the_ensemble():
    solo = MLP(MLPConfig(p=P, width=WIDTH, seed=(5,)))
    picked = MLP(MLPConfig(p=P, width=WIDTH, models=2, seed=(1, 5))).select(1)
    assert picked.cfg.seed == (5,) and picked.cfg.models == 1
    for name, w in solo.weights().items():
        assert torch.equal(picked.weights()[name], w), name


def test_seeds_distinguish_models():
    twins = MLP(MLPConfig(p=P, width=WIDTH, models=2, seed=(3, 3)))
    assert torch.equal(twins.U[0], twins.U[1])
    spread = MLP(MLPConfig(p=P, width=WIDTH, models=3, seed=7))  # one seed for three models
    assert len(spread.cfg.seed) == 3
    assert not torch.equal(spread.U[0], spread.U[1]) and not torch.equal(spread.U[1], spread.U[2])


def test_select_keeps_the_models_axis_and_copies():
    model = MLP(MLPConfig(p=P, width=WIDTH, models=3, bias=True))
    sub = model.select([2, 0])
    assert sub.U.shape == (2, WIDTH, P) and sub.b_out.shape == (2, P)
    torch.testing.assert_close(sub(pairs(4)), model(pairs(4))[[2, 0]])
    with torch.no_grad():
        sub.U.zero_()
    assert model.U.any()  # select copies the weights


def test_run_with_cache():
    model = MLP(MLPConfig(p=P, width=WIDTH, models=2, act="relu"))
    x = pairs(6)
    logits, cache = model.run_with_cache(x)
    assert cache["hook_pre"].shape == cache["hook_post"].shape == (2, 6, WIDTH)
    assert cache["hook_logits"].shape == (2, 6, P)
    torch.testing.assert_close(cache["hook_logits"], logits)
    torch.testing.assert_close(cache["hook_post"], torch.relu(cache["hook_pre"]))
    torch.testing.assert_close(
        cache["hook_pre"][:, 0], (model.U[:, :, x[0, 0]] + model.V[:, :, x[0, 1]])
    )


def zero(activation, hook):
    return torch.zeros_like(activation)


def test_zeroing_hook_post_zeroes_the_logits():
    model = MLP(MLPConfig(p=P, width=WIDTH, models=2))
    x = pairs(6)
    assert model(x).abs().max() > 0
    logits = model.run_with_hooks(x, fwd_hooks=[("hook_post", zero)])
    assert torch.equal(logits, torch.zeros(2, 6, P))
    torch.testing.assert_close(model(x), model.run_with_hooks(x))  # hooks are removed after


def test_zeroing_hook_post_leaves_the_output_bias():
    model = MLP(MLPConfig(p=P, width=WIDTH, models=2, bias=True), weights=random_weights(2))
    logits = model.run_with_hooks(pairs(6), fwd_hooks=[("hook_post", zero)])
    torch.testing.assert_close(logits, model.b_out[:, None].expand(2, 6, P))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"act": "gelu"}, "gelu"),
        ({"init": "xavier"}, "xavier"),
        ({"models": 3, "seed": (1, 2)}, "seed has 2 values"),
        ({"models": 1, "seed": (1, 2)}, "seed has 2 values"),
        ({"width": 0}, "width=0"),
        ({"models": 0}, "models=0"),
        ({"init_scale": float("nan")}, "init_scale=nan must be finite"),
        ({"init_scale": float("inf")}, "init_scale=inf must be finite"),
        ({"init_scale": 0.0}, r"init_scale=0.0 must be finite and > 0"),
        ({"init_scale": -1.0}, r"init_scale=-1.0 must be finite and > 0"),
    ],
)
def test_invalid_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLPConfig(p=P, **kwargs)


@pytest.mark.parametrize(
    "name, shape",
    [("U", (2, WIDTH, P + 1)), ("V", (2, WIDTH + 1, P)), ("W", (2, WIDTH, P)), ("U", (WIDTH, P))],
)
def test_weights_of_the_wrong_shape_raise(name, shape):
    w = {k: v for k, v in random_weights(models=2).items() if k in "UVW"}
    w[name] = torch.zeros(shape)
    with pytest.raises(ValueError, match=f"weight {name} has shape"):
        MLP(MLPConfig(p=P, width=WIDTH, models=2), weights=w)


@pytest.mark.parametrize("missing", ["b_out", "U"])
def test_missing_weights_raise_instead_of_filling_zeros(missing):
    w = random_weights(models=2)
    del w[missing]
    with pytest.raises(ValueError, match=f"weights lack {missing}"):
        MLP(MLPConfig(p=P, width=WIDTH, models=2, bias=True), weights=w)


def test_unexpected_weights_raise():
    with pytest.raises(ValueError, match="unexpected weights b_in, b_out"):
        MLP(MLPConfig(p=P, width=WIDTH, models=2), weights=random_weights(models=2))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_raise_naming_the_weight(bad):
    w = random_weights(models=3)
    w["W"][1, 0, 0] = bad
    with pytest.raises(ValueError, match=r"weight W holds NaN or inf \(models \[1\]\)"):
        MLP(MLPConfig(p=P, width=WIDTH, models=3, bias=True), weights=w)


def test_config_dict_round_trip_and_unknown_keys():
    cfg = MLPConfig(p=P, width=WIDTH, models=2, seed=(4, 9), act="relu", bias=True)
    assert MLPConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown key 'depth'"):
        MLPConfig.from_dict(cfg.to_dict() | {"depth": 2})
    with pytest.raises(ValueError, match="missing key 'p'"):
        MLPConfig.from_dict({"width": WIDTH})


def test_given_weights_are_copied():
    w = {k: v for k, v in random_weights(models=1).items() if k in "UVW"}
    model = MLP(MLPConfig(p=P, width=WIDTH), weights=w)
    w["U"].zero_()
    assert model.U.any()
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    model = MLP(MLPConfig(p=P, width=WIDTH, models=2))
    gpu = MLP(MLPConfig(p=P, width=WIDTH, models=2), device="cuda")
    assert gpu.device.type == "cuda"
    x = pairs(5)
    torch.testing.assert_close(gpu(x.cuda()).cpu(), model(x))
