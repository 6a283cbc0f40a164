"""The synthetic fact base: reproducible draws, Zipf frequencies, sampling by frequency, and the
exact-match count that capacity is measured with."""

import math

import pytest
import torch

from interp.tasks.facts import FactConfig, bits_stored, fact_task, facts_known


def test_the_fact_base_is_reproducible_and_padded():
    a, b = fact_task(names=[50, 200], digits=4, seed=[0, 1]), fact_task([50, 200], 4, seed=[0, 1])
    assert torch.equal(a.values, b.values) and torch.equal(a.frequency, b.frequency)
    assert a.values.min() >= 0 and a.values.max() <= 9
    assert not a.mask[0, 50:].any() and (a.frequency[0, 50:] == 0).all()
    assert FactConfig.from_dict(a.config.to_dict()) == a.config


@pytest.mark.parametrize("exponent", [0.0, 1.0, 1.5])
def test_frequencies_follow_zipf(exponent):
    task = fact_task(names=100, exponent=exponent)
    ranked = task.frequency[0].sort(descending=True).values
    assert ranked.sum().item() == pytest.approx(1.0)
    expected = (torch.arange(100, dtype=torch.float64) + 1) ** -exponent
    torch.testing.assert_close(ranked, expected / expected.sum())


def test_names_are_drawn_by_frequency():
    task = fact_task(names=20, exponent=1.0)
    names = task.sample_names(200_000, torch.Generator().manual_seed(0))[0]
    shares = torch.bincount(names, minlength=20).double() / len(names)
    torch.testing.assert_close(shares, task.frequency[0], atol=0.005, rtol=0.0)


def test_exact_match_counts_whole_values_only():
    task = fact_task(names=[3, 5], digits=3)
    predicted = task.values.clone()
    predicted[1, 0, 2] = (predicted[1, 0, 2] + 1) % 10  # one digit wrong: not known
    predicted[0, 3:] = 7  # padding never counts, whatever is predicted there
    assert facts_known(predicted, task).tolist() == [3, 4]
    bits = bits_stored(torch.tensor([3, 4]), task, parameters=10)
    torch.testing.assert_close(
        bits, torch.tensor([3.0, 4.0], dtype=torch.float64) * 3 * math.log2(10) / 10
    )
    with pytest.raises(ValueError, match="need \\(2, 5, 3\\)"):
        facts_known(predicted[:, :2], task)


def test_bad_values_are_named():
    with pytest.raises(ValueError, match="names=0"):
        fact_task(names=0)
    with pytest.raises(ValueError, match="digits=19"):
        fact_task(digits=19)
    with pytest.raises(ValueError, match="exponent=-1"):
        fact_task(exponent=-1)


def _net(models=2, names=40, width=32, seed=0):
    from interp.models.factnet import FactNet, FactNetConfig

    return FactNet(FactNetConfig(names=names, digits=2, width=width, models=models, seed=seed))


def test_a_fact_net_learns_every_fact_of_a_small_base_and_logs_the_count():
    import interp

    task = fact_task(names=[10, 40], digits=2, exponent=0.0, seed=0)
    cfg = interp.TrainConfig(steps=300, lr=1e-2, loss="ce", log_every=300)
    result = interp.train(_net(), task, cfg, progress=False)
    assert result.metrics["facts_known"][-1].tolist() == [10.0, 40.0]
    assert result.metrics["facts_known"][0].tolist() != [10.0, 40.0]  # not known at init
    assert facts_known(result.model.recall(40), task).tolist() == [10, 40]


def test_a_fact_net_ensemble_trains_as_its_models_alone_and_resumes(tmp_path):
    import json

    import interp

    task = fact_task(names=[10, 40], digits=2, exponent=1.0, seed=[0, 1])
    cfg = interp.TrainConfig(steps=20, lr=1e-2, loss="ce", batch_size=16, log_every=10)
    both = interp.train(_net(), task, cfg, progress=False).model
    alone = interp.train(_net(models=1, seed=1), fact_task(40, 2, 1.0, seed=1), cfg, progress=False)
    for name, value in alone.model.weights().items():
        # model 1 alone: same names drawn, same init; its table is 40 names either way
        torch.testing.assert_close(both.weights()[name][1:], value)
    half = interp.TrainConfig(
        steps=10, lr=1e-2, loss="ce", batch_size=16, log_every=10, save_every=10
    )
    interp.train(_net(), task, half, out=tmp_path / "r", progress=False)
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    config["train"]["steps"] = 20
    (tmp_path / "r" / "config.json").write_text(json.dumps(config))
    resumed = interp.resume(tmp_path / "r", progress=False).model
    assert torch.equal(resumed.W_in, both.W_in)


def test_selection_keeps_the_lowest_loss_names_flat_and_the_control_random_ones():
    from interp.studies.facts import name_losses, random_subset, select_by_loss

    task = fact_task(names=[12, 8], digits=2, exponent=1.0, seed=[0, 1])
    model = _net(models=2, names=12)
    losses = name_losses(model, task)
    assert torch.isinf(losses[1, 8:]).all()  # padding is never chosen
    chosen = select_by_loss(model, task, keep=[5, 3])
    for m, k in enumerate([5, 3]):
        kept = chosen.frequency[m].nonzero().flatten()
        assert set(kept.tolist()) == set(losses[m].argsort()[:k].tolist())
        torch.testing.assert_close(
            chosen.frequency[m, kept], torch.full((k,), 1 / k, dtype=torch.float64)
        )
    control = random_subset(task, keep=3, seed=0)
    assert control.frequency.count_nonzero(1).tolist() == [3, 3]
    assert not control.frequency[1, 8:].any()
    with pytest.raises(ValueError, match="keep=\\[20, 20\\]"):
        select_by_loss(model, task, keep=20)


# --- the tiny GPT on the fact base -----------------------------------------------------------

GPT_TINY = dict(d=2, d_model=32, n_layers=1, n_heads=2, d_mlp=64)


def _gpt(names=20, models=2, seed=0):
    from interp.models.gpt import GPT, GPTConfig

    return GPT(GPTConfig(names=names, models=models, seed=seed, **GPT_TINY))


def test_a_fact_gpt_reads_a_name_and_emits_digit_logits():
    model = _gpt()
    values = fact_task(names=[20, 20], digits=2, seed=[0, 1]).values[:, :5]
    tokens = model.fact_tokens(torch.arange(5), values)
    assert tokens[..., 0].tolist() == [list(range(10, 15))] * 2  # name i is token 10 + i
    assert torch.equal(tokens[..., 1], values[..., 0])  # teacher forcing: d_1 reads d_1's digit
    assert model(tokens).shape == (2, 5, 2, 10)  # [models, batch, K, 10]
    assert model.recall(20).shape == (2, 20, 2)
    counted = sum(p.numel() for p in model.bridges[0].parameters())
    assert model.cfg.parameters == counted  # per model, the names' embeddings included
    assert model.task_kinds == ("facts",)
    with pytest.raises(ValueError, match="fact GPT"):
        model.sample(2)
    with pytest.raises(ValueError, match="need \\[models, batch, 2\\]"):
        model.fact_tokens(torch.arange(5), values[..., :1])


def test_the_bit_string_gpt_is_unchanged_and_refuses_facts():
    import interp
    from interp.models.gpt import GPT, GPTConfig

    cfg = GPTConfig(d=8)
    assert (cfg.names, cfg.d_vocab, cfg.d_vocab_out, cfg.n_ctx) == (0, 3, 2, 9)
    old = {k: v for k, v in cfg.to_dict().items() if k != "names"}  # a config.json of before
    assert GPTConfig.from_dict(old) == cfg
    model = GPT(GPTConfig(d=2, d_model=32, n_layers=1, n_heads=2, d_mlp=64))
    assert model.task_kinds == ("rules",)
    with pytest.raises(ValueError, match="takes a 'rules' task, not 'facts'"):
        interp.train(model, fact_task(names=5, digits=2), interp.TrainConfig(loss="ce"))
    with pytest.raises(ValueError, match="needs a fact GPT"):
        model.recall(4)
    with pytest.raises(ValueError, match="names=-1"):
        GPTConfig(d=2, names=-1)


def test_a_tiny_gpt_memorizes_a_tiny_fact_base_and_round_trips(tmp_path):
    import interp
    from interp.studies.facts import name_losses

    task = fact_task(names=[20, 20], digits=2, exponent=1.0, seed=[0, 1])
    cfg = interp.TrainConfig(steps=150, lr=1e-2, loss="ce", log_every=50, save_every=150)
    result = interp.train(_gpt(), task, cfg, out=tmp_path / "r", progress=False, device="cpu")
    known = result.metrics["facts_known"]
    assert known[0].max() < 5  # chance at init
    assert known[-1].tolist() == [20.0, 20.0]
    assert facts_known(result.model.recall(20), task).tolist() == [20, 20]
    assert (name_losses(result.model, task) < 0.5).all()  # teacher forcing, every name
    run = interp.load_run(tmp_path / "r")
    loaded = run.model()
    assert loaded.cfg == result.model.cfg and loaded.cfg.names == 20
    assert torch.equal(loaded.recall(20), result.model.recall(20))
    assert torch.equal(run.task.values, task.values)


def test_the_facts_command(tmp_path, capsys):
    import json

    from interp.cli import main

    args = ["facts", "--model", "gpt", "--names", "20", "--steps", "100", "--lr", "1e-2"]
    assert main([*args, "--d-mlp", "64", "--json", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "gpt" and out["rows"][0]["facts_known"] == 20
    assert out["rows"][0]["parameters"] == _gpt(models=1).cfg.parameters
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    for bad in (
        ["--names", "0"],
        ["--model", "lstm"],
        ["--select", "30", "--names", "20"],
        ["--random"],
        ["--names", "20", "--out", str(tmp_path / "full")],
    ):
        assert main(["facts", *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("interp: error:") and err.count("\n") == 1, err
    assert (tmp_path / "full" / "x").exists()


def test_fact_figures():
    from interp.studies.facts.plots import capacity_figure, selection_figure

    fig = capacity_figure([250, 500], {"a": [250, 400]})
    assert [t.name for t in fig.data] == ["a", "every fact"] and fig.data[1].y == (250.0, 500.0)
    fig = selection_figure([10, 20], {"lowest loss": [10, 15]}, {"flat over all 40": 12})
    assert fig.data[-1].y == (12.0, 12.0)


# --- the fact GPT with fixed random name codes ------------------------------------------------


def _coded(names=20, models=2, seed=0):
    from interp.models.gpt import GPT, GPTConfig

    return GPT(GPTConfig(names=names, models=models, seed=seed, name_codes=True, **GPT_TINY))


def test_coded_names_keep_the_trainable_count_fixed_and_default_configs_unchanged():
    from interp.models.gpt import GPTConfig

    small, large = _coded(names=20), _coded(names=5000, models=1)
    assert small.cfg.parameters == large.cfg.parameters  # independent of N
    assert small.cfg.d_vocab == 11  # ten digits and the one name token
    for model in (small, large):
        counted = sum(p.numel() for p in model.bridges[0].parameters())
        assert model.cfg.parameters == counted  # trainable only: the codes are buffers
    codes = small.weights()["0.name_codes"]
    assert codes.shape == (20, 32) and not codes.requires_grad
    assert not torch.equal(codes, small.weights()["1.name_codes"])  # one draw per seed
    assert torch.equal(
        _coded(seed=1, models=1).weights()["0.name_codes"], small.weights()["1.name_codes"]
    )
    assert 0.1 < codes.std().item() * 32**0.5 / 0.8 < 10  # the embedding's init scale
    plain = GPTConfig(names=20, **GPT_TINY)
    assert (plain.name_codes, plain.d_vocab) == (False, 30)
    assert "0.name_codes" not in _gpt().weights()
    old = {k: v for k, v in plain.to_dict().items() if k != "name_codes"}  # a config of before
    assert GPTConfig.from_dict(old) == plain
    with pytest.raises(ValueError, match="needs a fact GPT"):
        GPTConfig(d=2, name_codes=True)
    with pytest.raises(ValueError, match="name_codes has shape \\(19, 32\\)"):
        type(small)(small.cfg, weights=small.weights() | {"0.name_codes": torch.zeros(19, 32)})


def test_coded_names_enter_at_hook_embed_for_every_way_of_running():
    model = _coded()
    values = fact_task(names=[20, 20], digits=2, seed=[0, 1]).values[:, :3]
    tokens = model.fact_tokens(torch.tensor([0, 7, 19]), values)  # names are still 10 + i
    logits, cache = model.run_with_cache(tokens)
    assert torch.equal(logits, model(tokens))
    bridge, codes = model.bridges[0], model.weights()["0.name_codes"]
    table = bridge.state_dict()["embed.weight"]
    assert cache["embed.hook_in"][0, :, 0].tolist() == [10, 10, 10]  # one name token
    torch.testing.assert_close(cache["hook_embed"][0, :, 0], table[10] + codes[[0, 7, 19]])
    torch.testing.assert_close(cache["hook_embed"][0, :, 1], table[values[0, :, 0]])  # digits
    seen = []
    hooked = bridge.run_with_hooks(
        tokens[0], fwd_hooks=[("hook_embed", lambda x, hook: seen.append(x))]
    )
    torch.testing.assert_close(hooked, logits[0])
    torch.testing.assert_close(seen[0], cache["hook_embed"][0])
    bridge.reset_hooks()  # the codes' hooks are permanent
    torch.testing.assert_close(bridge(tokens[0]), logits[0])
    picked = model.select([1])
    assert torch.equal(picked.weights()["0.name_codes"], model.weights()["1.name_codes"])
    torch.testing.assert_close(picked(tokens[1:]), logits[1:])


def test_a_coded_gpt_memorizes_a_tiny_base_without_moving_its_codes(tmp_path):
    import interp

    model = _coded()
    codes = {k: v.clone() for k, v in model.weights().items() if k.endswith("name_codes")}
    task = fact_task(names=[20, 20], digits=2, exponent=1.0, seed=[0, 1])
    cfg = interp.TrainConfig(steps=150, lr=1e-2, loss="ce", log_every=50, save_every=150)
    result = interp.train(model, task, cfg, out=tmp_path / "r", progress=False, device="cpu")
    assert result.metrics["facts_known"][0].max() < 5
    assert result.metrics["facts_known"][-1].tolist() == [20.0, 20.0]
    trained = result.model.weights()
    for name, value in codes.items():
        assert torch.equal(trained[name], value)  # never trained
    loaded = interp.load_run(tmp_path / "r").model()
    assert loaded.cfg.name_codes and loaded.cfg == result.model.cfg
    for name, value in codes.items():
        assert torch.equal(loaded.weights()[name], value)  # saved and loaded with the run
    assert torch.equal(loaded.recall(20), result.model.recall(20))
    assert facts_known(loaded.recall(20), task).tolist() == [20, 20]


def test_the_facts_command_with_name_codes(capsys):
    import json

    from interp.cli import main

    args = ["facts", "--model", "gpt", "--name-codes", "--names", "20", "--steps", "100"]
    assert main([*args, "--lr", "1e-2", "--d-mlp", "64", "--json", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name_codes"] and out["rows"][0]["facts_known"] == 20
    assert out["rows"][0]["parameters"] == _coded(models=1).cfg.parameters
    assert main(["facts", "--name-codes", "--names", "20"]) == 2  # FactNet: codes always fixed
    assert "--name-codes goes with --model gpt" in capsys.readouterr().err
