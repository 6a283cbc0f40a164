"""Every model kind and every analysis on a CUDA device: results on the input's device, the same
numbers as on the CPU (up to float reassociation), and bit-exact resume under deterministic
algorithms. Skipped without a GPU; `scripts/gpu_check.sh` runs them on one (`pytest -m cuda`)."""

import os

import pytest
import torch

import interp
from interp.studies import clocks, label_noise

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


@pytest.fixture
def deterministic():
    """CUDA's deterministic kernels (embedding backward, cuBLAS workspaces) for bit-exact runs."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)


def modular_run(out, device, model=None):
    task = interp.modular_task(p=23, noise=0.2, seed=[0, 1, 2])
    model = model or interp.MLP(interp.MLPConfig(p=23, width=64, models=3, seed=[0, 1, 2]))
    cfg = interp.TrainConfig(steps=60, lr=1e-2, weight_decay=[0.0, 1.0, 5.0], save_every=20)
    return interp.train(model, task, cfg, out=out, device=device, progress=False)


def test_mlp_ensemble_on_cuda_matches_the_cpu(tmp_path):
    gpu = modular_run(tmp_path / "gpu", "cuda")
    cpu = modular_run(tmp_path / "cpu", "cpu")
    assert gpu.model.device.type == "cuda"
    for name, value in cpu.model.weights().items():
        torch.testing.assert_close(gpu.model.weights()[name].cpu(), value, atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(gpu.metrics["test_acc"], cpu.metrics["test_acc"], atol=0.02, rtol=0)


class Crash(RuntimeError):
    pass


def test_resume_on_cuda_is_bit_exact(tmp_path, deterministic):
    whole = modular_run(tmp_path / "whole", "cuda")
    model = interp.MLP(interp.MLPConfig(p=23, width=64, models=3, seed=[0, 1, 2]))
    updates = 0

    def crash(module, inputs, output):  # killed during update 47, after the step-40 checkpoint
        nonlocal updates
        if torch.is_grad_enabled():
            updates += 1
            if updates > 46:
                raise Crash

    model.hook_logits.register_forward_hook(crash)
    with pytest.raises(Crash):
        modular_run(tmp_path / "part", "cuda", model)
    resumed = interp.resume(tmp_path / "part", device="cuda", progress=False)
    for name, value in whole.model.weights().items():
        assert torch.equal(resumed.model.weights()[name], value), name


def test_label_noise_analyses_stay_on_the_gpu():
    run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
    model, task = run.model(device="cuda"), run.task.to("cuda")
    cpu = interp.evaluate(run.model(), run.task)
    acc = interp.evaluate(model, task)
    assert acc.test.device.type == "cuda"
    torch.testing.assert_close(acc.test.cpu(), cpu.test)
    assert interp.extract_frequencies(model).dominant.device.type == "cuda"
    extracted = interp.extract(model)
    assert extracted.device.type == "cuda"
    assert float(interp.evaluate(extracted, task).test[0]) > 0.99
    logits = interp.extract(model, "logits", op="add")
    assert logits.device.type == "cuda" and logits(task.inputs).device.type == "cuda"
    part = interp.partition_neurons(model, task, "ipr")
    assert part.general.device.type == "cuda"
    cache = interp.cache_activations(model, task, "hook_post")
    assert cache["hook_post"].device.type == "cuda"
    assert label_noise.logit_circuit(model).readout.device.type == "cuda"
    steps, curve = interp.extraction_curve(run, device="cuda", steps=run.steps[-2:])
    assert curve["neuron"].test.shape == (2, 1)


def test_dit_trains_samples_and_measures_basins_on_the_gpu(tmp_path):
    task = interp.rule_task("group_parity", d=8, group=2, N=[8, 16], seed=0)
    model = interp.DiT(interp.DiTConfig(d=8, d_model=16, n_heads=2, models=2, seed=0))
    cfg = interp.TrainConfig(steps=30, lr=3e-3, loss="edm", batch_size=32, save_log=3)
    result = interp.train(model, task, cfg, out=tmp_path / "dit", device="cuda", progress=False)
    cpu = interp.train(
        interp.DiT(model.cfg), task, cfg, device="cpu", progress=False
    ).model.weights()
    for name, value in cpu.items():
        torch.testing.assert_close(result.model.weights()[name].cpu(), value, atol=1e-4, rtol=1e-3)
    bits = interp.generate(result.model, 16, torch.Generator().manual_seed(0))  # CPU generator
    assert bits.device.type == "cuda" and bits.shape == (2, 16, 8)
    on_cpu = interp.generate(result.model.to("cpu"), 16, torch.Generator().manual_seed(0))
    assert (bits.cpu() == on_cpu).float().mean() > 0.95  # the same starts on both devices
    result.model.to("cuda")
    steps, stats = interp.generation_curve(tmp_path / "dit", samples=16, device="cuda")
    assert stats.valid.shape == (len(steps), 2)
    steps, radii = interp.basin_curve(tmp_path / "dit", repeats=2, steps=steps[-1:], device="cuda")
    assert radii["training"].shape[:2] == (1, 2)
    optimum = clocks.empirical_basins(task.to("cuda"), repeats=2)
    assert optimum["training"].shape[0] == 2


def test_gpt_ensemble_trains_and_samples_on_the_gpu(tmp_path):
    task = interp.rule_task("parity", d=6, N=[8, 16], seed=0)
    cfg = interp.GPTConfig(d=6, d_model=16, n_heads=2, d_mlp=32, models=2, seed=0)
    train = interp.TrainConfig(steps=20, lr=3e-3, loss="ce", batch_size=16, save_log=2)
    result = interp.train(
        interp.GPT(cfg), task, train, out=tmp_path / "gpt", device="cuda", progress=False
    )
    bits = interp.generate(result.model, 8, torch.Generator().manual_seed(0))
    assert bits.device.type == "cuda" and bits.shape == (2, 8, 6)
    steps, stats = interp.generation_curve(tmp_path / "gpt", samples=8, device="cuda")
    assert stats.memorized.shape == (len(steps), 2)


def test_consistency_distillation_and_its_comparison_run_on_the_gpu(tmp_path):
    from interp.studies.distillation import (
        ConsistencyDistillation,
        compare_samplers,
        consistency_student,
        run_teachers,
    )

    run = interp.load_run("checkpoints/dit_group2_d16")
    cfg = interp.TrainConfig(steps=20, lr=4e-4, loss="l2", batch_size=64, save_every=10)
    results = {}
    for device in ("cuda", "cpu"):
        teacher, task, _ = run_teachers(run, [305, 3000], device=device)
        spec = ConsistencyDistillation(teacher, levels=18)
        results[device] = interp.train(
            consistency_student(teacher),
            task,
            cfg,
            out=tmp_path / device,
            objective=spec,
            device=device,
            progress=False,
        )
    gpu, cpu = results["cuda"], results["cpu"]
    assert gpu.model.device.type == "cuda"
    for name, value in cpu.model.weights().items():
        torch.testing.assert_close(gpu.model.weights()[name].cpu(), value, atol=1e-3, rtol=1e-2)
    resumed = interp.resume(tmp_path / "cuda", device="cuda", progress=False)  # EMA target too
    assert resumed.model.device.type == "cuda"
    result = compare_samplers("empirical", gpu.model, task, samples=64)
    assert result.metrics["copies"].shape == (3, 4)


def test_tf32_is_an_opt_in_that_moves_results_a_little_and_is_restored():
    task = interp.modular_task(p=31, noise=[0.0, 0.2], seed=[0, 1])
    runs = {}
    for flag in (False, True):
        model = interp.MLP(interp.MLPConfig(p=31, width=64, models=2, seed=(0, 1)))
        cfg = interp.TrainConfig(steps=200, lr=1e-2, log_every=200, tf32=flag)
        runs[flag] = interp.train(model, task, cfg, device="cuda", progress=False)
    assert torch.backends.cuda.matmul.allow_tf32 is False  # restored after training
    diff = (runs[True].model.W - runs[False].model.W).abs().max().item()
    assert 0 < diff < 0.1  # not the same bits, the same training
    acc = {k: r.metrics["test_acc"][-1] for k, r in runs.items()}
    assert (acc[True] - acc[False]).abs().max() < 0.05
