import itertools
import math
import socket
import subprocess
import sys

import pytest
import torch

from interp.models.gpt import (
    BOS,
    GPTConfig,
    build_gpt,
    gpt_log_prob,
    gpt_loss,
    gpt_tokens,
    sample_gpt,
)

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
    ],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        GPTConfig(**kwargs)


def test_config_shapes_and_round_trip():
    cfg = GPTConfig(d=8, d_model=32, n_heads=4)
    assert (cfg.n_ctx, cfg.d_head) == (9, 8)
    assert GPTConfig(**cfg.to_dict()) == cfg
    bridge_cfg = cfg.bridge_config()
    assert (bridge_cfg.d_vocab, bridge_cfg.d_vocab_out, bridge_cfg.n_ctx) == (3, 2, 9)


def test_build_needs_no_network_and_is_deterministic(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("build_gpt tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    cfg = GPTConfig(d=6, zero_unembed=False, **TINY)
    rng = torch.get_rng_state()
    a, b, c = build_gpt(cfg), build_gpt(cfg), build_gpt(GPTConfig(d=6, seed=1, **TINY))
    assert torch.equal(torch.get_rng_state(), rng)  # the init draws from its own generator
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["blocks.0.attn.q.weight"], sc["blocks.0.attn.q.weight"])
    # A TransformerLens-format state dict moves the weights between models.
    tokens = gpt_tokens(all_strings(6))
    c.load_state_dict(sa)
    torch.testing.assert_close(c(tokens), a(tokens))


def test_loss_at_init_is_ln2():
    bits = torch.randint(0, 2, (64, 8), generator=torch.Generator().manual_seed(0))
    model = build_gpt(GPTConfig(d=8, **TINY))
    assert gpt_loss(model, bits).item() == pytest.approx(math.log(2), abs=1e-6)
    # TransformerLens's own init is near, not at, ln 2.
    model = build_gpt(GPTConfig(d=8, zero_unembed=False, **TINY))
    assert math.log(2) - 0.01 < gpt_loss(model, bits).item() < 1.2


def test_log_prob_is_a_causal_distribution_over_strings():
    d = 4
    model = build_gpt(GPTConfig(d=d, zero_unembed=False, **TINY))
    strings = all_strings(d)
    with torch.no_grad():
        log_p = gpt_log_prob(model, strings)  # [16]
        # The model's probabilities over all 2^d strings sum to one.
        assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-5)
        # Bit t is scored from BOS + bits[:t] alone: rebuild it one prefix at a time.
        tokens, rows = gpt_tokens(strings), torch.arange(len(strings))
        by_prefix = sum(
            torch.log_softmax(model(tokens[:, : t + 1])[:, -1], -1)[rows, tokens[:, t + 1]]
            for t in range(d)
        )
    torch.testing.assert_close(log_p, by_prefix)
    assert gpt_loss(model, strings).item() == pytest.approx(-log_p.mean().item() / d, rel=1e-6)


def test_tokens_and_inputs_are_checked():
    assert gpt_tokens(torch.tensor([[True, False]])).tolist() == [[BOS, 1, 0]]
    model = build_gpt(GPTConfig(d=4, **TINY))
    with pytest.raises(ValueError):
        gpt_loss(model, torch.zeros(2, 4))  # floats are not bits
    with pytest.raises(ValueError):
        gpt_loss(model, torch.zeros(2, 5, dtype=torch.long))  # wrong length
    with pytest.raises(ValueError):
        gpt_tokens(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError):
        sample_gpt(model, 4, temperature=0.0)
    with pytest.raises(ValueError):
        sample_gpt(model, 0)


def test_sampling_is_reproducible_and_follows_the_model():
    d = 3
    model = build_gpt(GPTConfig(d=d, zero_unembed=False, seed=2, **TINY))
    first = sample_gpt(model, 4000, torch.Generator().manual_seed(0))
    torch.manual_seed(123)  # the global RNG plays no part
    again = sample_gpt(model, 4000, torch.Generator().manual_seed(0))
    other = sample_gpt(model, 4000, torch.Generator().manual_seed(1))
    assert first.shape == (4000, d) and first.dtype == torch.uint8
    assert torch.equal(first, again) and not torch.equal(first, other)
    # Empirical string frequencies match the model's probabilities (4000 draws: std <= 0.008).
    strings = all_strings(d)
    with torch.no_grad():
        p = gpt_log_prob(model, strings).exp()
    counts = (first[:, None] == strings[None]).all(-1).float().mean(0)
    torch.testing.assert_close(counts, p, atol=0.03, rtol=0)
    # A zero read-out samples uniform bits; a low temperature sharpens towards the mode.
    uniform = sample_gpt(build_gpt(GPTConfig(d=d, **TINY)), 4000, torch.Generator())
    assert uniform.float().mean().item() == pytest.approx(0.5, abs=0.03)
    cold = sample_gpt(model, 4000, torch.Generator().manual_seed(0), temperature=0.05)
    mode = strings[p.argmax()]
    assert (cold == mode).all(-1).float().mean().item() > 0.9


@pytest.fixture(scope="module")
def trained():
    """16 even-parity strings of d = 8, memorized by plain Adam (300 steps, ~2 s). Seeds 0-5
    (model and data): final loss within 0.003 of ln(16)/8 = 0.347, and >= 99.8% of 1000 samples
    are training strings."""
    gen = torch.Generator().manual_seed(0)
    even = all_strings(8)[even_parity(all_strings(8))]
    data = even[torch.randperm(len(even), generator=gen)[:16]]
    model = build_gpt(GPTConfig(d=8, seed=0, **TINY))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(300):
        loss = gpt_loss(model, data)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, data, losses


def test_training_drives_the_loss_down_and_samples_obey_the_rule(trained):
    model, data, losses = trained
    assert losses[0] == pytest.approx(math.log(2), abs=1e-6)
    assert losses[-1] < math.log(16) / 8 + 0.05  # near the memorizing optimum, 0.347
    samples = sample_gpt(model, 1000, torch.Generator().manual_seed(0))
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
    assert {k: tuple(cache[k].shape) for k in expected} == expected
    torch.testing.assert_close(cache["hook_unembed"], logits)
    pattern = cache["blocks.0.attn.hook_pattern"]
    assert torch.equal(pattern.triu(1), torch.zeros_like(pattern))  # causal
    torch.testing.assert_close(pattern.sum(-1), torch.ones(b, h, pos))


def test_hooks_edit_the_forward_pass(trained):
    model, data, _ = trained
    tokens = gpt_tokens(data[:5])

    def zero(activation, hook):
        return torch.zeros_like(activation)

    with torch.no_grad():
        clean = model(tokens)
        ablated = model.run_with_hooks(tokens, fwd_hooks=[("hook_unembed", zero)])
        with model.hooks(fwd_hooks=[("blocks.1.hook_resid_post", zero)]):
            in_context = model(tokens)
    assert torch.equal(ablated, torch.zeros_like(ablated))
    assert not torch.allclose(in_context, clean)
    torch.testing.assert_close(model(tokens), clean)  # the hooks are gone afterwards


def test_public_names_load_lazily():
    code = "import sys, interp; assert 'transformer_lens' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    import interp

    assert interp.GPTConfig is GPTConfig and interp.sample_gpt is sample_gpt
