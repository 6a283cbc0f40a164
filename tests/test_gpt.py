import itertools
import math
import socket
import subprocess
import sys

import pytest
import torch

import interp
from interp.models.gpt import BOS, GPT, GPTConfig, gpt_loss, gpt_tokens

# Small enough that a few hundred Adam steps take ~2 s on one core.
TINY = dict(d_model=32, n_layers=2, n_heads=4, d_mlp=128)


def all_strings(d: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0, 1], repeat=d)), dtype=torch.uint8)


def even_parity(bits: torch.Tensor) -> torch.Tensor:
    return bits.long().sum(-1) % 2 == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(d=0),
        dict(d=8, d_model=0),
        dict(d=8, n_layers=0),
        dict(d=8, n_heads=0),
        dict(d=8, d_mlp=0),
        dict(d=8, d_model=30, n_heads=4),
        dict(d=8, act_fn="tanh"),
        dict(d=8, models=0),
        dict(d=8, models=3, seed=(1, 2)),
    ],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        GPTConfig(**kwargs)


def test_config_shapes_and_round_trip():
    cfg = GPTConfig(d=8, d_model=32, n_heads=4, models=3, seed=5)
    assert (cfg.n_ctx, cfg.d_head, cfg.seed) == (9, 8, (5, 6, 7))
    assert GPTConfig(**cfg.to_dict()) == cfg == GPTConfig.from_dict(cfg.to_dict())
    with pytest.raises(ValueError, match="unknown key 'width'"):
        GPTConfig.from_dict({**cfg.to_dict(), "width": 4})
    bridge_cfg = cfg.bridge_config(6)
    assert (bridge_cfg.d_vocab, bridge_cfg.d_vocab_out, bridge_cfg.n_ctx) == (3, 2, 9)
    assert bridge_cfg.seed == 6


def test_build_needs_no_network_and_is_deterministic(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("GPT tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    cfg = GPTConfig(d=6, zero_unembed=False, **TINY)
    rng = torch.get_rng_state()
    a, b, c = GPT(cfg), GPT(cfg), GPT(GPTConfig(d=6, seed=1, **TINY))
    assert torch.equal(torch.get_rng_state(), rng)  # the init draws from its own generator
    sa, sb, sc = a.weights(), b.weights(), c.weights()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["0.blocks.0.attn.q.weight"], sc["0.blocks.0.attn.q.weight"])
    # A TransformerLens-format state dict moves the weights between models.
    tokens = gpt_tokens(all_strings(6))
    c.bridges[0].load_state_dict(a.bridges[0].state_dict())
    torch.testing.assert_close(c(tokens), a(tokens))


def test_an_ensemble_is_its_models_side_by_side():
    """Model m of an ensemble seeded s is the model seeded s + m alone, and answers as it."""
    ensemble = GPT(GPTConfig(d=5, zero_unembed=False, models=3, seed=4, **TINY))
    strings = all_strings(5)
    logits = ensemble(gpt_tokens(strings))
    assert logits.shape == (3, 32, 6, 2)
    for m in range(3):
        alone = GPT(GPTConfig(d=5, zero_unembed=False, seed=4 + m, **TINY))
        for name, w in alone.weights().items():
            assert torch.equal(w, ensemble.weights()[f"{m}.{name[2:]}"]), name
        torch.testing.assert_close(logits[m], alone(gpt_tokens(strings))[0])
    per_model = gpt_tokens(torch.stack([strings, strings.flip(0), strings]))  # [models, batch, pos]
    torch.testing.assert_close(ensemble(per_model)[1], logits[1].flip(0))


def test_select_and_weights_round_trip():
    model = GPT(GPTConfig(d=5, zero_unembed=False, models=3, seed=(7, 8, 9), **TINY))
    tokens = gpt_tokens(all_strings(5))
    again = GPT(model.cfg, weights=model.weights())
    assert again.weights().keys() == model.weights().keys()
    assert all(torch.equal(v, again.weights()[k]) for k, v in model.weights().items())
    picked = model.select([2, 0])
    assert picked.cfg.models == 2 and picked.cfg.seed == (9, 7)
    weights = model.weights()
    for k, v in picked.weights().items():  # "0.*" is the old model 2, "1.*" the old model 0
        m, name = k.split(".", 1)
        assert torch.equal(v, weights[f"{[2, 0][int(m)]}.{name}"]), k
    torch.testing.assert_close(picked(tokens), model(tokens)[[2, 0]])
    assert model.select(1)(tokens).shape == (1, 32, 6, 2)
    with torch.no_grad():  # a copy: the original is untouched
        next(picked.bridges[0].parameters()).zero_()
    assert next(model.bridges[2].parameters()).abs().sum() > 0
    with pytest.raises(ValueError, match="weights lack 2.embed.weight"):
        GPT(model.cfg, weights={k: v for k, v in weights.items() if k != "2.embed.weight"})
    with pytest.raises(ValueError, match="unexpected weights 3.embed.weight"):
        GPT(model.cfg, weights={**weights, "3.embed.weight": weights["0.embed.weight"]})
    with pytest.raises(ValueError, match="NaN or inf"):
        GPT(model.cfg, weights={**weights, "1.unembed.bias": torch.full((2,), math.nan)})
    with pytest.raises(ValueError, match=r"models \[3\] must be indices in \[0, 3\)"):
        model.select(3)


def test_loss_at_init_is_ln2():
    bits = torch.randint(0, 2, (64, 8), generator=torch.Generator().manual_seed(0))
    model = GPT(GPTConfig(d=8, models=2, **TINY))
    loss = gpt_loss(model, bits)
    assert loss.shape == (2,)
    torch.testing.assert_close(loss, torch.full((2,), math.log(2)), atol=1e-6, rtol=0)
    # TransformerLens's own init is near, not at, ln 2.
    model = GPT(GPTConfig(d=8, zero_unembed=False, **TINY))
    assert math.log(2) - 0.01 < gpt_loss(model, bits).item() < 1.2


def test_log_prob_is_a_causal_distribution_over_strings():
    d = 4
    model = GPT(GPTConfig(d=d, zero_unembed=False, models=2, **TINY))
    strings = all_strings(d)
    with torch.no_grad():
        log_p = model.log_prob(strings)  # [models, 16]
        assert log_p.shape == (2, 16)
        # Each model's probabilities over all 2^d strings sum to one.
        torch.testing.assert_close(torch.logsumexp(log_p, 1), torch.zeros(2), atol=1e-5, rtol=0)
        # Bit t is scored from BOS + bits[:t] alone: rebuild it one prefix at a time.
        tokens, rows = gpt_tokens(strings), torch.arange(len(strings))
        by_prefix = sum(
            torch.log_softmax(model(tokens[:, : t + 1])[:, :, -1], -1)[:, rows, tokens[:, t + 1]]
            for t in range(d)
        )
        # Per-model strings [models, batch, d]: each model scores its own.
        flipped = model.log_prob(torch.stack([strings, strings.flip(0)]))
    torch.testing.assert_close(log_p, by_prefix)
    torch.testing.assert_close(flipped[1], log_p[1].flip(0))
    torch.testing.assert_close(gpt_loss(model, strings), -log_p.mean(-1) / d)


def test_tokens_and_inputs_are_checked():
    assert gpt_tokens(torch.tensor([[True, False]])).tolist() == [[BOS, 1, 0]]
    model = GPT(GPTConfig(d=4, models=2, **TINY))
    with pytest.raises(ValueError, match="dtype"):
        gpt_loss(model, torch.zeros(2, 4))  # floats are not bits
    with pytest.raises(ValueError, match="length 5"):
        gpt_loss(model, torch.zeros(2, 5, dtype=torch.long))  # wrong length
    with pytest.raises(ValueError, match=r"expected \[batch, pos\] or \[2, batch, pos\]"):
        model.log_prob(torch.zeros(3, 2, 4, dtype=torch.long))  # 3 models' strings for 2
    with pytest.raises(ValueError):
        gpt_tokens(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="temperature"):
        model.sample(4, temperature=0.0)
    with pytest.raises(ValueError, match="n=0"):
        model.sample(0)


def test_sampling_is_reproducible_and_follows_the_model():
    d = 3
    model = GPT(GPTConfig(d=d, zero_unembed=False, seed=2, **TINY))
    first = model.sample(4000, torch.Generator().manual_seed(0))
    torch.manual_seed(123)  # the global RNG plays no part
    again = model.sample(4000, torch.Generator().manual_seed(0))
    other = model.sample(4000, torch.Generator().manual_seed(1))
    assert first.shape == (1, 4000, d) and first.dtype == torch.uint8
    assert torch.equal(first, again) and not torch.equal(first, other)
    # Empirical string frequencies match the model's probabilities (4000 draws: std <= 0.008).
    strings = all_strings(d)
    with torch.no_grad():
        p = model.log_prob(strings)[0].exp()
    counts = (first[0, :, None] == strings[None]).all(-1).float().mean(0)
    torch.testing.assert_close(counts, p, atol=0.03, rtol=0)
    # A zero read-out samples uniform bits; a low temperature sharpens towards the mode.
    uniform = GPT(GPTConfig(d=d, **TINY)).sample(4000, torch.Generator())
    assert uniform.float().mean().item() == pytest.approx(0.5, abs=0.03)
    cold = model.sample(4000, torch.Generator().manual_seed(0), temperature=0.05)
    mode = strings[p.argmax()]
    assert (cold[0] == mode).all(-1).float().mean().item() > 0.9


def test_an_ensemble_samples_as_its_models_alone():
    """The uniforms are shared: model m of an ensemble draws what it draws alone."""
    model = GPT(GPTConfig(d=4, zero_unembed=False, models=3, seed=(2, 5, 2), **TINY))
    samples = model.sample(200, torch.Generator().manual_seed(0))
    assert samples.shape == (3, 200, 4) and samples.dtype == torch.uint8
    for m in range(3):
        alone = model.select(m).sample(200, torch.Generator().manual_seed(0))
        assert torch.equal(alone[0], samples[m])
    assert torch.equal(samples[0], samples[2]) and not torch.equal(samples[0], samples[1])


@pytest.fixture(scope="module")
def trained():
    """16 even-parity strings of d = 8, memorized by plain Adam (300 steps, ~2 s). Seeds 0-5
    (model and data): final loss within 0.003 of ln(16)/8 = 0.347, and >= 99.8% of 1000 samples
    are training strings."""
    gen = torch.Generator().manual_seed(0)
    even = all_strings(8)[even_parity(all_strings(8))]
    data = even[torch.randperm(len(even), generator=gen)[:16]]
    model = GPT(GPTConfig(d=8, seed=0, **TINY))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(300):
        loss = gpt_loss(model, data).sum()  # one model
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, data, losses


def test_training_drives_the_loss_down_and_samples_obey_the_rule(trained):
    model, data, losses = trained
    assert losses[0] == pytest.approx(math.log(2), abs=1e-6)
    assert losses[-1] < math.log(16) / 8 + 0.05  # near the memorizing optimum, 0.347
    samples = model.sample(1000, torch.Generator().manual_seed(0))[0]
    assert even_parity(samples).float().mean().item() > 0.9  # chance: 0.5
    reproduced = (samples[:, None] == data[None]).all(-1).any(-1)
    assert reproduced.float().mean().item() > 0.9  # by memorizing its 16 strings


def test_run_with_cache_shapes(trained):
    model, data, _ = trained
    cfg = GPTConfig(d=8, **TINY)
    tokens = gpt_tokens(data[:5])  # [5, 9]
    b, pos, h = 5, cfg.n_ctx, cfg.n_heads
    logits, cache = model.run_with_cache(tokens)
    expected = {
        "hook_embed": (b, pos, cfg.d_model),
        "hook_pos_embed": (b, pos, cfg.d_model),
        "blocks.0.hook_resid_pre": (b, pos, cfg.d_model),
        "blocks.0.hook_resid_mid": (b, pos, cfg.d_model),
        "blocks.1.hook_resid_post": (b, pos, cfg.d_model),
        "blocks.0.attn.hook_q": (b, pos, h, cfg.d_head),
        "blocks.0.attn.hook_z": (b, pos, h, cfg.d_head),
        "blocks.0.attn.hook_attn_scores": (b, h, pos, pos),
        "blocks.1.attn.hook_pattern": (b, h, pos, pos),
        "blocks.0.hook_attn_out": (b, pos, cfg.d_model),
        "blocks.1.mlp.hook_pre": (b, pos, cfg.d_mlp),
        "blocks.1.mlp.hook_post": (b, pos, cfg.d_mlp),
        "blocks.1.hook_mlp_out": (b, pos, cfg.d_model),
        "ln_final.hook_normalized": (b, pos, cfg.d_model),
        "hook_unembed": (b, pos, 2),
    }
    # The ensemble stacks each bridge's cache on a leading models axis (one model here).
    assert {k: tuple(cache[k].shape) for k in expected} == {k: (1, *v) for k, v in expected.items()}
    torch.testing.assert_close(cache["hook_unembed"], logits)
    _, own = model.bridges[0].run_with_cache(tokens)
    assert {k: tuple(own[k].shape) for k in expected} == expected
    for k in expected:
        torch.testing.assert_close(cache[k][0], own[k])
    pattern = cache["blocks.0.attn.hook_pattern"][0]
    assert torch.equal(pattern.triu(1), torch.zeros_like(pattern))  # causal
    torch.testing.assert_close(pattern.sum(-1), torch.ones(b, h, pos))


def test_run_with_cache_stacks_every_model():
    model = GPT(GPTConfig(d=4, zero_unembed=False, models=2, seed=(0, 3), **TINY))
    tokens = gpt_tokens(all_strings(4)[:5])
    logits, cache = model.run_with_cache(tokens, names_filter=lambda name: "resid_post" in name)
    assert set(cache) == {"blocks.0.hook_resid_post", "blocks.1.hook_resid_post"}
    for m in range(2):
        _, own = model.bridges[m].run_with_cache(tokens)
        torch.testing.assert_close(
            cache["blocks.1.hook_resid_post"][m], own["blocks.1.hook_resid_post"]
        )
    torch.testing.assert_close(logits, model(tokens))


def test_hooks_edit_the_forward_pass(trained):
    model, data, _ = trained
    tokens = gpt_tokens(data[:5])
    bridge = model.bridges[0]

    def zero(activation, hook):
        return torch.zeros_like(activation)

    with torch.no_grad():
        clean = model(tokens)
        ablated = bridge.run_with_hooks(tokens, fwd_hooks=[("hook_unembed", zero)])
        with bridge.hooks(fwd_hooks=[("blocks.1.hook_resid_post", zero)]):
            in_context = model(tokens)  # the ensemble runs through its bridges' hooks
    assert torch.equal(ablated, torch.zeros_like(ablated))
    assert not torch.allclose(in_context, clean)
    torch.testing.assert_close(model(tokens), clean)  # the hooks are gone afterwards


def test_public_names_load_lazily():
    code = "import sys, interp; assert 'transformer_lens' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert interp.GPTConfig is GPTConfig and interp.GPT is GPT
