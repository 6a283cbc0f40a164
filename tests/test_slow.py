"""Full-size checks, minutes each on a CPU: `pytest -m slow` (CI runs without them)."""

from pathlib import Path

import pytest

import interp
from interp.core.training import TrainConfig, train

pytestmark = pytest.mark.slow


def test_doshi_coexistence_phase_at_noise_035():
    """p 97, width 500, wd 0, 1000 epochs: Doshi et al. report train 97.8% / test 98.3%; the
    network fits most wrong labels, and per-neuron frequency extraction removes them all."""
    task = interp.modular_task(p=97, train_fraction=0.5, noise=0.35, seed=0)
    model = interp.MLP(interp.MLPConfig(p=97, width=500, seed=0))
    trained = train(model, task, TrainConfig(steps=1000, lr=1e-2), progress=False).model
    raw = interp.evaluate(trained, task)
    assert raw.train[0] > 0.95 and raw.test[0] > 0.95 and raw.train_noisy[0] > 0.85
    extracted = interp.evaluate(interp.extract(trained), task)
    assert extracted.test[0] > 0.99 and extracted.train_noisy[0] < 0.02


@pytest.mark.parametrize("name", ["doshi_p97_noise035_wd0", "add_p97_noise080"])
def test_shipped_run_regenerates_from_its_command(tmp_path, name):
    """The shipped run's stored command, replayed, gives the same measured result: the raw and
    the extracted network's accuracies within a point. (Not the same weights: a thousand
    full-batch steps amplify float reassociation, 1e-7 from one thread more or one library
    version later, into different weights that land on the same solution.)"""
    from interp.cli import main

    run = interp.load_run(Path(__file__).parents[1] / "checkpoints" / name)
    argv = run.config["command"].split()[1:]
    argv[argv.index("--out") + 1] = str(tmp_path / "again")
    assert main(argv) == 0
    again = interp.load_run(tmp_path / "again")
    for model_of in (lambda r: r.model(), lambda r: interp.extract(r.model())):
        shipped, replayed = (interp.evaluate(model_of(r), r.task) for r in (run, again))
        for field in ("train", "train_clean", "train_noisy", "test"):
            a, b = getattr(shipped, field), getattr(replayed, field)
            assert (a - b).abs().max() < 0.01, (field, a, b)


def test_the_two_clocks_example_runs_its_sweeps(tmp_path):
    """examples/two_clocks.py end to end at 2 steps per run (the size and complexity sweeps):
    tables, results files and figures, and a second call reuses the finished runs."""
    import json
    import subprocess
    import sys

    root = Path(__file__).parents[1]
    args = [sys.executable, str(root / "examples" / "two_clocks.py"), "--sweeps", "size,complexity"]
    args += ["--steps", "2", "--samples", "8", "--runs", str(tmp_path / "runs")]
    args += ["--out", str(tmp_path / "figures")]
    first, again = (subprocess.run(args, capture_output=True, text=True, cwd=root) for _ in "12")
    assert first.returncode == 0 and again.returncode == 0, first.stderr[-2000:]
    assert "train group18_g3_w16" in first.stdout and "train " not in again.stdout  # reused
    size = json.loads((tmp_path / "runs" / "results_size.json").read_text())["size"]
    assert [r["setting"] for r in size] == [f"d_model={w}" for w in (16, 32, 64, 128)]
    assert {p.name for p in (tmp_path / "figures").glob("*.html")} == {
        "taus_size.html",
        "taus_complexity.html",
    }
    bad = subprocess.run(args[:2] + ["--sweeps", "sizes"], capture_output=True, text=True)
    assert bad.returncode == 2 and "choose from parity_N" in bad.stderr


def test_the_rf_clocks_and_posterior_examples_run(tmp_path):
    """examples/rf_clocks.py end to end at 20 steps (the width sweep: three runs, the table, the
    figures; a second call reuses the runs) and examples/posterior.py (the anchor weights)."""
    import subprocess
    import sys

    root = Path(__file__).parents[1]
    args = [sys.executable, str(root / "examples" / "rf_clocks.py"), "--sweeps", "width"]
    args += ["--steps", "20", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "fig")]
    first, again = (subprocess.run(args, capture_output=True, text=True, cwd=root) for _ in "12")
    assert first.returncode == 0 and again.returncode == 0, first.stderr[-2000:]
    assert "train d 25, p 4000" in first.stdout and "train " not in again.stdout
    assert first.stdout.count("| 25 |") == 12  # 3 widths x 4 n
    assert len(list((tmp_path / "fig").glob("*.html"))) == 6
    done = subprocess.run(
        [sys.executable, str(root / "examples" / "posterior.py")], capture_output=True, text=True
    )
    assert done.returncode == 0 and "| 0.018 | 0.460 | 0.460 | 0.063 | 0.000 |" in done.stdout
