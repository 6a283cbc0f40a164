"""The MLP's fused CPU path (no hook on its hidden hook points) against the plain hooked path."""

import pytest
import torch

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


@pytest.mark.parametrize("kind", ["mse", "ce"])
@pytest.mark.parametrize(("act", "init"), [("square", "doshi"), ("relu", "mean_field")])
def test_the_fused_loss_and_its_gradients_equal_the_plain_ones(kind, act, init):
    model = MLP(MLPConfig(p=11, width=16, models=3, seed=(0, 1, 2), act=act, init=init))
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randint(0, 11, (3, 40, 2), generator=gen)
    targets = torch.randint(0, 11, (3, 40), generator=gen)
    weight = torch.rand(3, 40, generator=gen)
    scale = torch.tensor([1.0, 0.5, 2.0])  # backward scales each model's gradient

    def run(loss_fn):
        model.zero_grad()
        loss = loss_fn()
        (loss * scale).sum().backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    plain = run(lambda: _plain_loss(model, inputs, targets, weight, kind))
    for chunk in (1, 2, 3):
        fused = run(lambda c=chunk: model.fused_loss(inputs, targets, weight, kind, c))
        torch.testing.assert_close(fused[0], plain[0], rtol=1e-5, atol=1e-6)
        for a, b in zip(fused[1], plain[1]):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_the_fused_loss_steps_aside_where_it_does_not_apply():
    inputs, targets, weight = (
        torch.zeros(2, 4, 2, dtype=torch.long),
        torch.zeros(2, 4).long(),
        torch.ones(2, 4),
    )
    model = MLP(MLPConfig(p=5, width=4, models=2))
    with torch.no_grad():
        assert model.fused_loss(inputs, targets, weight, "mse", 2) is None
    biased = MLP(MLPConfig(p=5, width=4, models=2, bias=True))
    assert biased.fused_loss(inputs, targets, weight, "mse", 2) is None
    assert model.fusable and not biased.fusable  # so training a biased one keeps its chunks
    with model.hooks(fwd_hooks=[("hook_post", lambda x, hook: x)]):
        assert model.fused_loss(inputs, targets, weight, "mse", 2) is None
    assert model.fused_loss(inputs, targets, weight, "mse", 2).shape == (2,)
    with pytest.raises(ValueError, match="kind 'l2' is not one of mse, ce"):
        model.fused_loss(inputs, targets, weight, "l2", 2)


def test_the_fused_loss_takes_shared_pairs_and_reuses_its_scratch_tensors():
    from interp.core.fused import Workspace

    model = MLP(MLPConfig(p=7, width=8, models=2, seed=(0, 1)))
    pairs = torch.randint(0, 7, (10, 2), generator=torch.Generator().manual_seed(0))
    targets, weight = (pairs.sum(1) % 7).expand(2, -1), torch.full((2, 10), 0.1)
    work = Workspace()
    shared = model.fused_loss(pairs, targets, weight, "ce", 1, work)
    again = model.fused_loss(pairs.expand(2, -1, -1), targets, weight, "ce", 1, work)
    assert torch.equal(shared, again) and work("post", (10, 8)) is work("post", (10, 8))


@pytest.mark.parametrize("act", ["square", "relu"])
def test_pairs_that_come_back_sum_their_gradients_by_plan_bit_for_bit(act):
    from interp.core.fused import Workspace

    model = MLP(MLPConfig(p=7, width=8, models=3, seed=(0, 1, 2), act=act))
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randint(0, 7, (3, 30, 2), generator=gen)
    targets, weight = torch.randint(0, 7, (3, 30), generator=gen), torch.rand(3, 30, generator=gen)
    work, grads = Workspace(), []
    for source in (inputs.clone(), inputs, inputs):  # a copy, then the same pairs twice
        model.zero_grad()
        model.fused_loss(source, targets, weight, "mse", 2, work).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    assert work.plan("pairs0:2:7", inputs, lambda: 0) is not None  # planned on the second call
    for copy, index_add, planned in zip(*grads):
        assert torch.equal(planned, index_add) and torch.equal(copy, index_add)
    inputs[0, 0, 0] = (inputs[0, 0, 0] + 1) % 7  # changed in place: the plan is not reused
    assert work.plan("pairs0:2:7", inputs, lambda: 0) is None


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
