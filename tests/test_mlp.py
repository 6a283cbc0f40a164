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
