"""Caching, ablation, patching and activation gradients, on an interp ensemble and on a plain
TransformerLens HookedRootModule with the batch first."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_lens import HookedRootModule
from transformer_lens.hook_points import HookPoint

from interp.core.hooks import ablated, activation_gradients, batch_axis, cache_activations, patch
from interp.models.mlp import MLP, MLPConfig
from interp.tasks.modular import modular_task


@pytest.fixture(scope="module")
def ensemble():
    torch.manual_seed(0)
    model = MLP(MLPConfig(p=11, width=16, models=3, seed=(0, 1, 2)))
    task = modular_task(p=11, train_fraction=0.6, noise=0.3, seed=[0, 1, 2])
    return model, task


def manual_post(model: MLP, inputs: torch.Tensor) -> torch.Tensor:
    """U e_a + V e_b, squared, by hand: `[models, batch, neurons]`."""
    pre = model.U[:, :, inputs[:, 0]] + model.V[:, :, inputs[:, 1]]  # [models, neurons, batch]
    return (pre**2).transpose(1, 2)


class TinyTransformerMLP(HookedRootModule):
    """A TransformerLens-style module: batch first, [batch, pos, d_mlp] activations."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.embed = nn.Embedding(5, 8)
        self.mlp_in = nn.Linear(8, 6)
        self.mlp_out = nn.Linear(6, 5, bias=False)
        self.hook_mlp_post = HookPoint()
        self.setup()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.mlp_out(self.hook_mlp_post(torch.relu(self.mlp_in(self.embed(tokens)))))


def test_cache_matches_a_manual_forward_over_the_whole_task(ensemble):
    model, task = ensemble
    cache = cache_activations(model, task, names=["hook_pre", "hook_post"], batch_size=7)
    assert set(cache) == {"hook_pre", "hook_post"}
    assert cache["hook_post"].shape == (3, 121, 16)
    torch.testing.assert_close(cache["hook_post"], manual_post(model, task.inputs))
    torch.testing.assert_close(cache["hook_pre"] ** 2, cache["hook_post"])
    every = cache_activations(model, task)  # names=None: every hook point
    assert set(every) == {"hook_pre", "hook_post", "hook_logits"}
    torch.testing.assert_close(every["hook_logits"], model(task.inputs))
    by_filter = cache_activations(model, task, names=lambda n: n.endswith("post"))
    assert set(by_filter) == {"hook_post"}


def test_ablating_every_neuron_zeroes_the_logits_and_the_hooks_go_away(ensemble):
    model, task = ensemble
    everything = torch.ones(3, 16, dtype=torch.bool)
    with ablated(model, everything):
        assert model(task.inputs).abs().max() == 0
    assert model(task.inputs).abs().max() > 0  # the hook is removed after the block
    with pytest.raises(KeyError), ablated(model, everything):
        raise KeyError("an error inside the block")
    assert model(task.inputs).abs().max() > 0  # ... and after an error too


def test_ablating_some_neurons_removes_exactly_their_contribution(ensemble):
    model, task = ensemble
    mask = torch.zeros(3, 16, dtype=torch.bool)
    mask[0, :5] = mask[2, 7] = True
    post = manual_post(model, task.inputs)
    expected = torch.bmm(post * ~mask[:, None], model.W.transpose(1, 2))
    with ablated(model, mask):
        torch.testing.assert_close(model(task.inputs), expected)


def test_mean_ablation_replaces_a_neuron_by_its_mean_over_the_reference(ensemble):
    model, task = ensemble
    everything = torch.ones(3, 16, dtype=torch.bool)
    mean = manual_post(model, task.inputs).mean(1)  # [models, neurons]
    with ablated(model, everything, mode="mean", reference=task):
        logits = model(task.inputs[:4])
    expected = torch.einsum("mn,mpn->mp", mean, model.W)[:, None].expand(-1, 4, -1)
    torch.testing.assert_close(logits, expected)


def test_patching_own_activations_changes_nothing_and_another_models_gives_its_features(ensemble):
    model, task = ensemble
    own = cache_activations(model, task, "hook_post")
    torch.testing.assert_close(patch(model, task, own, batch_size=50), model(task.inputs))
    other = MLP(MLPConfig(p=11, width=16, models=3, seed=(7, 8, 9)))
    source = cache_activations(other, task, "hook_post")
    patched = patch(model, task, source, batch_size=50)
    # model's read-out on the other network's hidden layer
    expected = torch.bmm(source["hook_post"], model.W.transpose(1, 2))
    torch.testing.assert_close(patched, expected)
    # only some neurons: the rest keep the model's own activations
    mask = torch.zeros(3, 16, dtype=torch.bool)
    mask[:, :4] = True
    mixed = torch.where(mask[:, None], source["hook_post"], own["hook_post"])
    expected = torch.bmm(mixed, model.W.transpose(1, 2))
    torch.testing.assert_close(patch(model, task, source, mask=mask), expected)


def test_activation_gradients_are_each_examples_own_gradient(ensemble):
    model, task = ensemble
    grads = activation_gradients(model, task, batch_size=40)["hook_post"]
    assert grads.shape == (3, 121, 16)
    post = manual_post(model, task.inputs).detach().requires_grad_()
    logits = torch.bmm(post, model.W.detach().transpose(1, 2))
    F.cross_entropy(logits.transpose(1, 2), task.train_labels, reduction="sum").backward()
    torch.testing.assert_close(grads, post.grad)
    assert all(p.grad is None for p in model.parameters())  # no gradients left on the weights


def test_hooks_work_on_a_plain_hooked_root_module_with_the_batch_first():
    model = TinyTransformerMLP()
    tokens = torch.randint(0, 5, (9, 4))  # [batch, pos]
    assert batch_axis(model) == 0
    cache = cache_activations(model, tokens, "hook_mlp_post", batch_size=4)
    expected = torch.relu(model.mlp_in(model.embed(tokens)))
    torch.testing.assert_close(cache["hook_mlp_post"], expected)
    with ablated(model, torch.ones(6, dtype=torch.bool), hook="hook_mlp_post"):
        assert model(tokens).abs().max() == 0
    torch.testing.assert_close(patch(model, tokens, cache, batch_size=4), model(tokens))


def test_bad_hook_input_is_refused_with_one_line(ensemble):
    model, task = ensemble
    everything = torch.ones(3, 16, dtype=torch.bool)
    with pytest.raises(ValueError, match="no hook point 'hook_mlp'.*hook_post"):
        cache_activations(model, task, "hook_mlp")
    with pytest.raises(ValueError, match="selects none"):
        cache_activations(model, task, lambda n: False)
    with (
        pytest.raises(ValueError, match="mode 'max' is not one of zero, mean"),
        ablated(model, everything, mode="max"),
    ):
        pass
    with (
        pytest.raises(ValueError, match="needs reference"),
        ablated(model, everything, mode="mean"),
    ):
        pass
    with pytest.raises(ValueError, match="mask must be bool"), ablated(model, everything.float()):
        pass
    with pytest.raises(ValueError, match="do not match"), ablated(model, everything[:, :5]):
        model(task.inputs)
    with pytest.raises(ValueError, match="has 10 examples.*inputs have 121"):
        patch(model, task, {"hook_post": torch.zeros(3, 10, 16)})
    with pytest.raises(TypeError, match="HookedRootModule; got Linear"):
        cache_activations(nn.Linear(2, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="3 models but the task has 2"):
        activation_gradients(model, task.select([0, 1]))
    with pytest.raises(ValueError, match="p=11 but the task has p=13"):
        activation_gradients(model, modular_task(p=13, seed=[0, 1, 2]))


def test_cache_activations_of_a_gpt_ensemble_stacks_its_bridges():
    """A GPT ensemble caches under TransformerLens's names with a leading models axis, in
    batches, and equals each bridge's own `run_with_cache`."""
    import interp
    from interp.models.gpt import gpt_tokens

    gpt = interp.GPT(interp.GPTConfig(d=6, d_model=16, n_heads=2, d_mlp=32, models=2, seed=0))
    tokens = gpt_tokens(torch.randint(0, 2, (10, 6), generator=torch.Generator().manual_seed(0)))
    names = ["blocks.0.hook_resid_post", "hook_unembed"]
    cache = interp.cache_activations(gpt, tokens, names, batch_size=4)
    assert {k: tuple(v.shape) for k, v in cache.items()} == {
        "blocks.0.hook_resid_post": (2, 10, 7, 16),
        "hook_unembed": (2, 10, 7, 2),
    }
    for m, bridge in enumerate(gpt.bridges):
        _, own = bridge.run_with_cache(tokens)
        for name in names:
            torch.testing.assert_close(cache[name][m], own[name])
    with pytest.raises(ValueError, match="no hook point 'hook_post'"):
        interp.cache_activations(gpt, tokens, "hook_post")
