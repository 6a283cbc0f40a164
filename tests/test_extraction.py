import math
from pathlib import Path

import pytest
import torch

from interp.core.metrics import evaluate
from interp.core.runs import load_run
from interp.fourier import extract_frequencies
from interp.models.mlp import MLP, MLPConfig
from interp.models.restricted import RestrictedLogits, RestrictedLogitsConfig
from interp.studies.label_noise.extraction import (
    EXTRACTION_METHODS,
    extract,
    extraction_curve,
    symmetry_baseline,
)
from interp.tasks.modular import OPS, ModularTask, group_order, modular_task

# ---------------------------------------------------------------------------------------------
# on trained networks


def test_neuron_extraction_recovers_the_rule_from_a_memorizing_network(memorizing):
    model, task = memorizing.model, memorizing.task
    raw = evaluate(model, task)
    clean = evaluate(extract(model), task)
    assert (raw.train_noisy >= 0.99).all(), raw.train_noisy  # it fit the noise ...
    assert (raw.test <= 0.2).all(), raw.test  # ... and nothing else
    assert (clean.test >= 0.95).all(), clean.test
    assert (clean.test >= raw.test + 0.7).all()
    assert (clean.train_clean >= 0.95).all(), clean.train_clean
    assert (clean.train_noisy <= 0.05).all(), clean.train_noisy  # the noise is gone


def test_neuron_extraction_does_not_hurt_a_generalizing_network(generalizing):
    model, task = generalizing.model, generalizing.task
    raw, clean = evaluate(model, task), evaluate(extract(model), task)
    assert (clean.test >= raw.test).all(), (raw.test, clean.test)
    assert (clean.train_noisy < raw.train_noisy).all(), (raw.train_noisy, clean.train_noisy)


def test_extraction_leaves_the_model_alone(memorizing):
    model = memorizing.model
    before = {k: v.clone() for k, v in model.weights().items()}
    for method in EXTRACTION_METHODS:
        extract(model, method, op="add")
    for name, value in model.weights().items():
        assert torch.equal(value, before[name]), name


def test_every_method_returns_a_model_of_the_right_kind(memorizing):
    model, task = memorizing.model, memorizing.task
    x = task.inputs[:37]
    for method in ("neuron", "key"):
        extracted = extract(model, method)
        assert type(extracted) is MLP
        assert extracted.cfg == model.cfg
        assert extracted is not model
        assert extracted(x).shape == (2, 37, 23)
    restricted = extract(model, "logits", op="add")
    assert isinstance(restricted, RestrictedLogits)
    assert restricted.cfg == RestrictedLogitsConfig(p=23, op="add", models=2)
    assert restricted(x).shape == (2, 37, 23)
    _, cache = restricted.run_with_cache(x)
    assert cache["hook_logits"].shape == (2, 37, 23)


def rfft_power(model: MLP) -> torch.Tensor:
    """|rfft|^2 of every neuron's U, V and W rows: `[3, models, neurons, p // 2 + 1]`."""
    rows = torch.stack([model.U, model.V, model.W.transpose(1, 2)]).detach().double()
    return torch.fft.rfft(rows, dim=-1).abs() ** 2


def test_neuron_extraction_puts_each_neuron_on_its_dominant_frequency(memorizing):
    model = memorizing.model
    extracted = extract(model)
    dominant = extract_frequencies(model).dominant  # [models, neurons]
    power = rfft_power(extracted)
    on = torch.gather(power, -1, dominant[None, ..., None].expand(3, -1, -1, 1)).squeeze(-1)
    total = power.sum(-1)
    assert (total > 0).all()
    # All the power of every row (U, V and W alike) sits on the neuron's own frequency ...
    torch.testing.assert_close(on, total, rtol=1e-5, atol=0)
    # ... which is where the trained neuron put most of its power.
    after = extract_frequencies(extracted)
    assert torch.equal(after.dominant, dominant)
    torch.testing.assert_close(after.ipr, torch.ones_like(after.ipr), rtol=0, atol=1e-4)
    # The kept components are those of the trained weights, unchanged.
    before = rfft_power(model)
    kept = torch.gather(before, -1, dominant[None, ..., None].expand(3, -1, -1, 1)).squeeze(-1)
    torch.testing.assert_close(on, kept, rtol=1e-4, atol=1e-9)


def test_key_extraction_keeps_exactly_the_key_frequencies(memorizing):
    model = memorizing.model
    spectrum = extract_frequencies(model, key_threshold=1.0)
    keys = spectrum.key  # [models, F]
    assert (keys.sum(-1) > 0).all() and (keys.sum(-1) < keys.shape[-1]).all()
    extracted = extract(model, "key", key_threshold=1.0)
    after, before = rfft_power(extracted), rfft_power(model)
    F = keys.shape[-1]
    keep = torch.zeros(2, before.shape[-1], dtype=torch.bool)
    keep[:, 1 : F + 1] = keys
    keep = keep[None, :, None].expand_as(before)
    torch.testing.assert_close(after[keep], before[keep], rtol=1e-4, atol=1e-9)
    assert after[~keep].max() <= 1e-8 * before.max()


def test_logits_method_is_the_symmetry_trap(memorizing):
    """Restricted logits score like the labels-only baseline on a network that memorized."""
    model, task = memorizing.model, memorizing.task
    raw = evaluate(model, task).test
    restricted = evaluate(extract(model, "logits", op="add"), task).test
    baseline = symmetry_baseline(task).test
    report = f"raw {raw.tolist()}, logits {restricted.tolist()}, baseline {baseline.tolist()}"
    assert ((restricted - baseline).abs() <= 0.05).all(), report
    assert (restricted >= raw + 0.5).all(), report


# ---------------------------------------------------------------------------------------------
# symmetry_baseline on tasks built by hand


def hand_task(p: int, train: list[dict[int, list[int]]], op: str = "add") -> ModularTask:
    """A task whose model m trains, in class s, on the first pairs of that class with labels
    `train[m][s]` (a label other than s makes that pair noisy)."""
    a, b = torch.cartesian_prod(torch.arange(p), torch.arange(p)).T
    labels = OPS[op](a, b, p)
    n, models = len(labels), len(train)
    is_train = torch.zeros(models, n, dtype=torch.bool)
    train_labels = labels.repeat(models, 1)
    for m, classes in enumerate(train):
        for s, given in classes.items():
            pairs = torch.nonzero(labels == s).flatten()[: len(given)]
            is_train[m, pairs] = True
            train_labels[m, pairs] = torch.tensor(given)
    config = modular_task(p=p, op=op, seed=list(range(models))).config  # the masks are by hand
    noisy = is_train & (train_labels != labels)
    return ModularTask(config, torch.stack([a, b], 1), labels, is_train, noisy, train_labels)


def test_symmetry_baseline_on_a_hand_built_task():
    task = hand_task(
        5,
        [
            {
                # class 0: no training pairs, every pair counts as wrong (even a guess of 0)
                1: [3, 3, 4],  # only noisy labels: majority 3, wrong on the whole class
                2: [2, 2, 4],  # majority clean
                3: [3],
                4: [4, 1],  # a tie between the clean 4 and a noisy 1: the smaller label, 1
            },
            {s: [s] for s in range(5)},  # one clean pair per class
        ],
    )
    acc = symmetry_baseline(task)
    # Model 0. Test pairs per class: 5, 2, 2, 4, 3; right in classes 2 and 3.
    assert acc.test[0].item() == pytest.approx(6 / 16)
    # Clean training pairs: two in class 2 (right), one in 3 (right), one in 4 (wrong).
    assert acc.train_clean[0].item() == pytest.approx(3 / 4)
    # Noisy pairs predicted as their noisy label: 3, 3 (class 1) and 1 (class 4), not 4 or 4.
    assert acc.train_noisy[0].item() == pytest.approx(3 / 5)
    # Model 1: noise-free and every class seen.
    assert acc.test[1].item() == 1.0
    assert acc.train_clean[1].item() == 1.0
    assert math.isnan(acc.train_noisy[1].item())
    one = symmetry_baseline(task, models=[1])
    assert one.test.tolist() == [1.0]


@pytest.mark.parametrize("op", ["add", "multiply", "subtract"])
def test_symmetry_baseline_is_perfect_without_noise(op):
    task = modular_task(p=11, op=op, train_fraction=0.6, noise=0.0, seed=[0, 1, 2])
    for m in range(3):  # the claim holds when every class has a training example
        assert set(task.labels[task.train[m]].tolist()) == set(range(11))
    acc = symmetry_baseline(task)
    assert acc.test.tolist() == [1.0, 1.0, 1.0]
    assert acc.train_clean.tolist() == [1.0, 1.0, 1.0]
    assert torch.isnan(acc.train_noisy).all()


def test_pooled_baseline_predicts_the_most_common_offset_everywhere():
    task = hand_task(
        5,
        [
            {0: [1, 1, 0], 1: [2, 2, 1]},  # offsets 1, 1, 0, 1, 1, 0: s + 1 everywhere
            {0: [0, 3], 2: [2, 4, 1]},  # offsets 0, 3, 0, 2, 4: the rule, even in unseen classes
        ],
    )
    acc = symmetry_baseline(task, pooled=True)
    assert acc.test.tolist() == [0.0, 1.0]
    assert acc.train_clean.tolist() == [0.0, 1.0]
    assert acc.train_noisy.tolist() == [1.0, 0.0]
    # Per class, model 1 is right on the 3 test pairs of class 0 only (class 2 ties to label 1).
    assert symmetry_baseline(task).test[1].item() == pytest.approx(3 / 20)


def test_pooled_baseline_is_the_rule_while_clean_labels_beat_every_wrong_offset():
    task = modular_task(p=31, train_fraction=0.5, noise=[0.5, 0.9, 0.99], seed=0)
    acc = symmetry_baseline(task, pooled=True)
    # Clean share 0.5, 0.1, 0.01 vs about noise / 30 per wrong offset (0.017, 0.03, 0.033).
    assert acc.test.tolist() == [1.0, 1.0, 0.0]


def test_symmetry_baseline_counts_unseen_classes_as_wrong():
    task = modular_task(p=11, train_fraction=0.04, noise=0.0, seed=[0, 1])
    acc = symmetry_baseline(task)
    for m in range(2):
        seen = set(task.labels[task.train[m]].tolist())
        assert len(seen) < 11  # some classes have no training pair
        test_labels = task.labels[task.test[m]].tolist()
        expected = sum(label in seen for label in test_labels) / len(test_labels)
        assert acc.test[m].item() == pytest.approx(expected)


def test_symmetry_baseline_follows_the_majority_noisy_label():
    """At heavy noise the majority label of a class is mostly still clean: check against a
    brute-force majority vote."""
    task = modular_task(p=7, train_fraction=0.8, noise=0.5, seed=[3, 4])
    acc = symmetry_baseline(task)
    for m in range(2):
        votes: dict[int, dict[int, int]] = {}
        for i in torch.nonzero(task.train[m]).flatten().tolist():
            s, y = int(task.labels[i]), int(task.train_labels[m, i])
            votes.setdefault(s, {}).setdefault(y, 0)
            votes[s][y] += 1
        pred = {s: min(v, key=lambda y: (-v[y], y)) for s, v in votes.items()}
        test = torch.nonzero(task.test[m]).flatten().tolist()
        right = sum(pred.get(int(task.labels[i]), -1) == int(task.labels[i]) for i in test)
        assert acc.test[m].item() == pytest.approx(right / len(test))


# ---------------------------------------------------------------------------------------------
# RestrictedLogits


def random_restricted(p: int, op: str, models: int = 2, seed: int = 0) -> RestrictedLogits:
    gen = torch.Generator().manual_seed(seed)
    F = (p - 1) // 2
    weights = {"cos_coef": torch.randn(models, F, generator=gen)}
    weights["sin_coef"] = torch.randn(models, F, generator=gen)
    return RestrictedLogits(RestrictedLogitsConfig(p=p, op=op, models=models), weights=weights)


@pytest.mark.parametrize("op", ["add", "multiply"])
def test_restricted_logits_depend_only_on_the_result(op):
    p = 11
    model = random_restricted(p, op)
    task = modular_task(p=p, op=op)
    with torch.no_grad():
        logits = model(task.inputs)  # [models, p * p, p]
    for s in range(p):
        group = logits[:, task.labels == s]
        assert group.shape[1] >= 1
        torch.testing.assert_close(group, group[:, :1].expand_as(group), rtol=0, atol=1e-5)
    # ... and different results give different logits.
    firsts = torch.stack([logits[:, task.labels == s][:, 0] for s in range(p)], 1)
    assert torch.cdist(firsts[0], firsts[0]).add(torch.eye(p)).min() > 1e-3


def test_restricted_logits_formula():
    p = 7
    model = random_restricted(p, "add", models=1, seed=3)
    x = torch.tensor([[2, 3], [6, 6], [0, 0]])
    with torch.no_grad():
        got = model(x)[0]
    for row, (a, b) in enumerate(x.tolist()):
        for c in range(p):
            want = sum(
                model.cos_coef[0, f - 1].item() * math.cos(2 * math.pi * f * (a + b - c) / p)
                + model.sin_coef[0, f - 1].item() * math.sin(2 * math.pi * f * (a + b - c) / p)
                for f in range(1, (p - 1) // 2 + 1)
            )
            assert got[row, c].item() == pytest.approx(want, abs=1e-5)


def clock_mlp(p: int, waves: list[list[tuple[int, float, float]]]) -> MLP:
    """A square-activation MLP whose logits are exactly
    sum over (f, A, theta) of A cos(2 pi f (a + b - c) / p - theta), one wave list per model.

    Eight neurons per wave: (x + y)^2 - (x - y)^2 = 4xy builds each product in (angles times f)
    cos(a + b - c - t) = (cos a cos b - sin a sin b) cos(c + t)
                         + (sin a cos b + cos a sin b) sin(c + t).
    """
    x = torch.arange(p, dtype=torch.float64)
    width = 8 * max(len(w) for w in waves)
    U = torch.zeros(len(waves), width, p, dtype=torch.float64)
    V, W = torch.zeros_like(U), torch.zeros(len(waves), p, width, dtype=torch.float64)
    for m, model_waves in enumerate(waves):
        k = 0
        for f, A, theta in model_waves:
            w = 2 * math.pi * f / p
            cos, sin = torch.cos(w * x), torch.sin(w * x)
            out_cos, out_sin = A * torch.cos(w * x + theta), A * torch.sin(w * x + theta)
            products = [(cos, cos, out_cos), (sin, sin, -out_cos)]
            products += [(sin, cos, out_sin), (cos, sin, out_sin)]
            for u, v, out in products:
                for sign in (1, -1):
                    U[m, k], V[m, k], W[m, :, k] = u, sign * v, sign * out / 4
                    k += 1
    cfg = MLPConfig(p=p, width=width, models=len(waves))
    return MLP(cfg, weights={"U": U.float(), "V": V.float(), "W": W.float()})


WAVES = [[(2, 1.5, 0.3), (5, 0.8, -2.0)], [(1, 1.0, 0.0), (3, 2.0, 2.5)]]


def clock_logits(p: int, waves) -> torch.Tensor:
    a, b = torch.cartesian_prod(torch.arange(p), torch.arange(p)).T.double()
    diff = (a + b)[:, None] - torch.arange(p, dtype=torch.float64)  # [pairs, c]: a + b - c
    out = torch.zeros(len(waves), p * p, p, dtype=torch.float64)
    for m, model_waves in enumerate(waves):
        for f, A, theta in model_waves:
            out[m] += A * torch.cos(2 * math.pi * f * diff / p - theta)
    return out.float()


def test_clock_mlp_computes_its_waves():
    p = 13
    model = clock_mlp(p, WAVES)
    inputs = modular_task(p=p).inputs
    with torch.no_grad():
        torch.testing.assert_close(model(inputs), clock_logits(p, WAVES), rtol=0, atol=1e-4)


def test_restricted_logits_reproduce_a_network_made_of_key_waves():
    p = 13
    model = clock_mlp(p, WAVES)
    restricted = extract(model, "logits", op="add")
    assert extract_frequencies(model).key_frequencies(0) == [2, 5]
    inputs = modular_task(p=p).inputs
    with torch.no_grad():
        torch.testing.assert_close(restricted(inputs), clock_logits(p, WAVES), rtol=0, atol=1e-4)
    # The coefficients are A cos(theta), A sin(theta) on the wave frequencies, zero elsewhere.
    want_cos, want_sin = torch.zeros(2, 6), torch.zeros(2, 6)
    for m, model_waves in enumerate(WAVES):
        for f, A, theta in model_waves:
            want_cos[m, f - 1], want_sin[m, f - 1] = A * math.cos(theta), A * math.sin(theta)
    torch.testing.assert_close(restricted.cos_coef.detach(), want_cos, rtol=0, atol=1e-5)
    torch.testing.assert_close(restricted.sin_coef.detach(), want_sin, rtol=0, atol=1e-5)


def test_restricted_logits_keep_only_the_given_keys():
    p = 13
    model = clock_mlp(p, WAVES)
    key = torch.zeros(2, 6, dtype=torch.bool)
    key[0, 1], key[1, 2] = True, True  # frequency 2 for model 0, 3 for model 1
    restricted = RestrictedLogits.from_model(model, "add", key)
    kept = [[WAVES[0][0]], [WAVES[1][1]]]
    inputs = modular_task(p=p).inputs
    with torch.no_grad():
        torch.testing.assert_close(restricted(inputs), clock_logits(p, kept), rtol=0, atol=1e-4)


def test_weight_extraction_is_exact_on_a_network_of_pure_waves():
    """Every neuron of the clock network is one frequency and the keys are all of them:
    projecting changes nothing."""
    p = 13
    model = clock_mlp(p, WAVES)
    inputs = modular_task(p=p).inputs
    with torch.no_grad():
        want = model(inputs)
        for method in ("neuron", "key"):
            got = extract(model, method)(inputs)
            torch.testing.assert_close(got, want, rtol=0, atol=1e-4, msg=method)


def test_multiplicative_extraction_reads_the_weights_over_the_exponent():
    """A network of pure waves over the exponent i of a = g^i (a clock for a * b mod 13), with
    arbitrary weights at residue 0: extraction with op="multiply" changes nothing; read over the
    residue, the same network is no wave at all and projection destroys it."""
    p = 13
    order = group_order(p, "multiply")
    exponent = clock_mlp(p - 1, WAVES)  # waves over Z_12
    gen = torch.Generator().manual_seed(0)
    weights = {}
    for name, value in exponent.weights().items():
        axis = 1 if name == "W" else 2
        shape = list(value.shape)
        shape[axis] = p
        weights[name] = torch.randn(shape, generator=gen).index_copy_(axis, order, value.float())
    model = MLP(MLPConfig(p=p, width=exponent.cfg.width, models=2), weights=weights)
    for op in ("multiply", "divide"):
        for method in ("neuron", "key"):
            got = extract(model, method, op=op).weights()
            for name, want in weights.items():
                torch.testing.assert_close(got[name], want, rtol=0, atol=1e-5, msg=name)
    assert (extract(model).weights()["U"] - weights["U"]).abs().max() > 0.1


# ---------------------------------------------------------------------------------------------
# errors


def test_extract_rejects_bad_arguments(memorizing):
    model = memorizing.model
    with pytest.raises(ValueError, match="'pca'"):
        extract(model, "pca")
    with pytest.raises(ValueError, match="op"):
        extract(model, "logits")
    with pytest.raises(ValueError, match="'power'"):
        extract(model, "logits", op="power")
    with pytest.raises(TypeError, match="Linear"):
        extract(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="RestrictedLogits"):
        extract(extract(model, "logits", op="add"))
    with pytest.raises(ValueError, match="'power' is not one of"):
        extract(model, op="power")
    with pytest.raises(ValueError, match="prime p; got p=12"):
        extract(MLP(MLPConfig(p=12, width=4)), op="multiply")


def test_restricted_logits_check_their_coefficients():
    cfg = RestrictedLogitsConfig(p=7, op="add", models=2)
    zero3 = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"cos_coef has shape \(2, 4\)"):
        RestrictedLogits(cfg, weights={"cos_coef": torch.zeros(2, 4), "sin_coef": zero3})
    with pytest.raises(ValueError, match="lack sin_coef"):
        RestrictedLogits(cfg, weights={"cos_coef": zero3})
    zero = RestrictedLogits(cfg)
    assert torch.equal(zero(torch.tensor([[1, 2]])), torch.zeros(2, 1, 7))
    nan = zero3.clone()
    nan[0, 2] = float("nan")
    with pytest.raises(ValueError, match=r"weight sin_coef holds NaN or inf \(models \[0\]\)"):
        RestrictedLogits(cfg, weights={"cos_coef": zero3, "sin_coef": nan})
    assert RestrictedLogitsConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown key 'width'"):
        RestrictedLogitsConfig.from_dict(cfg.to_dict() | {"width": 4})
    with pytest.raises(ValueError, match="op 'power' is not one of"):
        RestrictedLogitsConfig(p=7, op="power")


def test_the_extraction_curve_is_the_same_stacked_or_step_by_step():
    run = load_run(Path(__file__).parent.parent / "checkpoints" / "add_p97_noise080")
    steps, alone = extraction_curve(run, ("neuron", "key"), steps=[25, 1000], stack=1)
    _, stacked = extraction_curve(run, ("neuron", "key"), steps=[25, 1000], stack=2)
    assert stacked["neuron"].test.shape == (2, run.task.models)
    for name in alone:
        torch.testing.assert_close(stacked[name].test, alone[name].test, atol=1e-4, rtol=0)
    assert float(alone["neuron"].test[-1, 0]) > 0.98 > 0.02 > float(alone["raw"].test[-1, 0])
