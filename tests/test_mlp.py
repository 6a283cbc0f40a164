"""The MLP's fused CPU path (no hook on its hidden hook points) against the plain hooked path."""

import pytest
import torch

from interp.core.fused import weighted_mse
from interp.models.mlp import MLP, MLPConfig


@pytest.mark.parametrize("act", ["square", "relu"])
def test_the_fused_cpu_path_equals_the_hooked_path(act):
    # no hook on hook_pre / hook_post: one fused autograd function; a hook: the plain path
    model = MLP(MLPConfig(p=11, width=16, models=3, seed=(0, 1, 2), act=act, init="standard"))
    inputs = torch.randint(0, 11, (3, 40, 2))

    def nodes(fn, seen=None) -> set[str]:
        seen = set() if seen is None else seen
        if fn is not None and type(fn).__name__ not in seen:
            seen.add(type(fn).__name__)
            for child, _ in fn.next_functions:
                nodes(child, seen)
        return seen

    def grads(hooked: bool):
        model.zero_grad()
        hooks = [("hook_pre", lambda x, hook: x)] if hooked else []
        out = model.run_with_hooks(inputs, fwd_hooks=hooks)
        assert ("_HiddenBackward" in nodes(out.grad_fn)) != hooked  # fused without hooks
        (out**2).sum().backward()
        return out.detach(), [p.grad.clone() for p in model.parameters()]

    fused, plain = grads(False), grads(True)
    assert torch.equal(fused[0], plain[0])
    for a, b in zip(fused[1], plain[1]):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def _plain_loss(model, inputs, targets, weight, kind):
    """The loss as the objective wrote it before the fused step: forward, then the loss."""
    logits = model.run_with_hooks(inputs, fwd_hooks=[("hook_logits", lambda x, hook: x)])
    if kind == "mse":
        one_hot = torch.nn.functional.one_hot(targets, logits.shape[-1]).float()
        per_example = ((logits - one_hot) ** 2).mean(-1)
    else:
        per_example = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), targets, reduction="none"
        )
    return (per_example * weight).sum(1)


def _grads(model, fn):
    model.zero_grad(set_to_none=True)
    fn()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize(
    ("p", "width", "models", "batch"),
    [(31, 64, 4, 480), (13, 16, 2, 8), (5, 4, 3, 37), (7, 4, 2, 480), (5, 64, 2, 961)],
)
def test_a_hooked_full_batch_mse_step_equals_the_fused_one_bit_for_bit(p, width, models, batch):
    # The read-out is written [models, p, batch] on both paths, and _ReadOut's backward runs the
    # fused step's products on the same layouts: so training that a hook sends down the plain
    # path (a crash hook, a probe) lands on the same weights, whatever the shapes.
    model = MLP(MLPConfig(p=p, width=width, models=models, seed=tuple(range(models))))
    gen = torch.Generator().manual_seed(1)
    inputs = torch.randint(0, p, (models, batch, 2), generator=gen)
    targets = torch.randint(0, p, (models, batch), generator=gen)
    weight = torch.rand(models, batch, generator=gen)
    one_hot = torch.nn.functional.one_hot(targets, p).float()
    logits = model.run_with_hooks(inputs, fwd_hooks=[("hook_logits", lambda x, hook: x)])
    assert logits.shape == (models, batch, p)
    with torch.no_grad():
        _, cache = model.run_with_cache(inputs, names_filter="hook_post")
    torch.testing.assert_close(logits, cache["hook_post"] @ model.W.mT)  # the same product
    hooked = _grads(model, lambda: weighted_mse(logits, one_hot, weight).sum().backward())
    fused = _grads(model, lambda: model.fused_gradients(inputs, targets, weight, "mse", models))
    assert all(torch.equal(a, b) for a, b in zip(hooked, fused))


@pytest.mark.parametrize("kind", ["mse", "ce"])
@pytest.mark.parametrize(("act", "init"), [("square", "doshi"), ("relu", "mean_field")])
def test_the_fused_gradients_equal_the_plain_ones(kind, act, init):
    model = MLP(MLPConfig(p=11, width=16, models=3, seed=(0, 1, 2), act=act, init=init))
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randint(0, 11, (3, 40, 2), generator=gen)
    targets = torch.randint(0, 11, (3, 40), generator=gen)
    weight = torch.rand(3, 40, generator=gen)
    plain = _grads(
        model, lambda: _plain_loss(model, inputs, targets, weight, kind).sum().backward()
    )
    for chunk in (1, 2, 3):
        fused = _grads(
            model, lambda c=chunk: model.fused_gradients(inputs, targets, weight, kind, c)
        )
        for a, b in zip(fused, plain):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)

    def twice():  # added to .grad where there is one, as backward does
        for _ in range(2):
            assert model.fused_gradients(inputs, targets, weight, kind, 2)

    for a, b in zip(_grads(model, twice), fused):
        torch.testing.assert_close(a, 2 * b)


def test_the_fused_gradients_step_aside_where_they_do_not_apply():
    inputs, targets, weight = (
        torch.zeros(2, 4, 2, dtype=torch.long),
        torch.zeros(2, 4).long(),
        torch.ones(2, 4),
    )
    model = MLP(MLPConfig(p=5, width=4, models=2))
    biased = MLP(MLPConfig(p=5, width=4, models=2, bias=True))
    assert not biased.fused_gradients(inputs, targets, weight, "mse", 2)
    assert biased.U.grad is None
    assert model.fusable and not biased.fusable  # so training a biased one keeps its chunks
    with model.hooks(fwd_hooks=[("hook_post", lambda x, hook: x)]):
        assert not model.fused_gradients(inputs, targets, weight, "mse", 2)
    assert model.U.grad is None
    assert model.fused_gradients(inputs, targets, weight, "mse", 2) and model.U.grad is not None
    with pytest.raises(ValueError, match="kind 'l2' is not one of mse, ce"):
        model.fused_gradients(inputs, targets, weight, "l2", 2)


def test_the_fused_gradients_take_shared_pairs_and_reuse_their_scratch_tensors():
    from interp.core.fused import Workspace

    model = MLP(MLPConfig(p=7, width=8, models=2, seed=(0, 1)))
    pairs = torch.randint(0, 7, (10, 2), generator=torch.Generator().manual_seed(0))
    targets, weight = (pairs.sum(1) % 7).expand(2, -1), torch.full((2, 10), 0.1)
    work = Workspace()
    shared = _grads(model, lambda: model.fused_gradients(pairs, targets, weight, "ce", 1, work))
    expanded = pairs.expand(2, -1, -1)
    again = _grads(model, lambda: model.fused_gradients(expanded, targets, weight, "ce", 1, work))
    assert all(torch.equal(a, b) for a, b in zip(shared, again))
    assert work("post", (10, 8)) is work("post", (10, 8))


@pytest.mark.parametrize("act", ["square", "relu"])
def test_pairs_that_come_back_sum_their_gradients_by_plan_bit_for_bit(act):
    from interp.core.fused import Workspace

    model = MLP(MLPConfig(p=7, width=8, models=3, seed=(0, 1, 2), act=act))
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randint(0, 7, (3, 30, 2), generator=gen)
    targets, weight = torch.randint(0, 7, (3, 30), generator=gen), torch.rand(3, 30, generator=gen)
    work = Workspace()
    grads = [  # a copy, then the same pairs twice: index_add_, index_add_, the plan
        _grads(model, lambda x=x: model.fused_gradients(x, targets, weight, "mse", 2, work))
        for x in (inputs.clone(), inputs, inputs)
    ]
    assert work.plan("pairs0:2:7", inputs, lambda: 0) is not None  # planned on the third call
    for copy, index_add, planned in zip(*grads):
        assert torch.equal(planned, index_add) and torch.equal(copy, index_add)
    inputs[0, 0, 0] = (inputs[0, 0, 0] + 1) % 7  # changed in place: the plan is not reused
    assert work.plan("pairs0:2:7", inputs, lambda: 0) is None


def test_a_kept_workspace_tries_chunks_keeps_the_fastest_and_gives_the_same_gradients(
    monkeypatch,
):
    from interp.core import fused
    from interp.models import mlp

    model = MLP(MLPConfig(p=7, width=8, models=8, seed=tuple(range(8))))
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randint(0, 7, (8, 20, 2), generator=gen)
    targets, weight = torch.randint(0, 7, (8, 20), generator=gen), torch.rand(8, 20, generator=gen)
    tried, run = [], mlp._fused_gradients

    def spy(*args):
        tried.append(args[-2])  # the chunk of this call
        return run(*args)

    monkeypatch.setattr(mlp, "_fused_gradients", spy)
    monkeypatch.setattr(fused, "_FASTEST", {})
    work, one = fused.Workspace(), fused.Workspace()
    step = lambda w, chunk: model.fused_gradients(inputs, targets, weight, "ce", chunk, w)  # noqa: E731
    grads = [_grads(model, lambda: step(work, 8)) for _ in range(13)]
    alone = _grads(model, lambda: step(one, 1))  # a bound of 1 is kept, whatever was found
    assert tried[:12] == [8] * 4 + [4] * 4 + [2] * 4  # each choice 4 times: 2 warm, 2 timed
    assert tried[12] in (8, 4, 2) and tried[13] == 1 and len(fused._FASTEST) == 1
    for g in grads:
        assert all(torch.equal(a, b) for a, b in zip(g, alone))


@pytest.mark.parametrize("batch_size", [None, 16])
def test_training_through_the_fused_step_ends_where_the_plain_step_does(batch_size):
    import interp

    task = interp.modular_task(p=13, noise=0.2, seed=[0, 1])
    cfg = interp.TrainConfig(steps=40, lr=1e-2, loss="ce", batch_size=batch_size, log_every=40)

    def trained(hooked: bool):
        model = MLP(MLPConfig(p=13, width=24, models=2, seed=(0, 1)))
        if hooked:  # a hook on the logits sends training through the plain forward
            model.hook_logits.add_hook(lambda x, hook: x)
        return interp.train(model, task, cfg, progress=False)

    fused, plain = trained(False), trained(True)
    for name, param in fused.model.named_parameters():
        torch.testing.assert_close(
            param, dict(plain.model.named_parameters())[name], atol=1e-5, rtol=1e-4
        )
    assert torch.equal(fused.metrics["test_acc"], plain.metrics["test_acc"])


@pytest.mark.parametrize("act", ["square", "relu"])
def test_evaluation_without_grad_gives_the_same_logits(act):
    model = MLP(MLPConfig(p=11, width=16, models=3, seed=(0, 1, 2), act=act))
    pairs = torch.randint(0, 11, (50, 2), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fast, per_model = model(pairs), model(pairs.expand(3, -1, -1))
    assert torch.equal(fast, model(pairs).detach()) and torch.equal(fast, per_model)


def test_the_objective_gives_the_fused_step_every_model_and_chunks_a_biased_network(monkeypatch):
    import interp
    from interp.core import objectives

    monkeypatch.setattr(objectives, "CPU_CHUNK_ELEMENTS", 1)  # one model per chunk
    task = interp.modular_task(p=5, seed=[0, 1, 2])
    for bias, chunk in ((False, 3), (True, 1)):
        model = MLP(MLPConfig(p=5, width=4, models=3, seed=(0, 1, 2), bias=bias))
        objective = objectives.objective_for(model, task, interp.TrainConfig(), torch.device("cpu"))
        assert (objective.chunk, objective.fused_chunk) == (chunk, 1)
        assert objective.gradients(model, step=0) is not bias  # training's gradients, fused
        assert (model.U.grad is not None) is not bias
