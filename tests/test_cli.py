import contextlib
import io
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import interp
import interp.studies.label_noise.report as report_module
from interp.cli import main

TINY = ["--p", "13", "--epochs", "30", "--log-every", "5", "--save-log", "3", "--no-progress"]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> tuple[Path, list[str], str]:
    """One run of a 2 x 2 sweep (noise x weight decay), trained through the CLI."""
    out = tmp_path_factory.mktemp("cli") / "sweep"
    argv = ["train", "modular", "--out", str(out), "--width", "24", "--seed", "3"]
    argv += ["--noise", "0.0", "0.3", "--wd", "0", "1", *TINY]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):  # capsys is per test; this fixture is per module
        assert main(argv) == 0
    return out, argv, stdout.getvalue()


def test_train_sweep_is_one_batched_run(sweep):
    out, argv, stdout = sweep
    config = interp.load_run(out).config
    assert config["command"] == shlex.join(["interp", *argv])
    assert config["task"]["noise"] == [0.0, 0.0, 0.3, 0.3]
    assert config["train"]["weight_decay"] == [0.0, 1.0, 0.0, 1.0]
    assert config["task"]["seed"] == config["model"]["seed"] == [3, 3, 3, 3]
    assert config["model"]["models"] == 4 and config["model"]["width"] == 24
    assert "train-fraction" in stdout and "final accuracies" in stdout
    assert interp.load_run(out).steps[-1] == 30


def test_two_widths_make_two_runs(tmp_path, capsys):
    args = ["train", "modular", "--out", tmp_path / "w", "--width", 8, 16, *TINY]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["width_16", "width_8"]
    for width in (8, 16):
        assert interp.load_run(tmp_path / "w" / f"width_{width}").model().cfg.width == width


def test_evaluate_json(sweep, capsys):
    code, out, _ = run_cli(capsys, "evaluate", sweep[0], "--json", "--step", 0)
    assert code == 0
    record = json.loads(out)
    assert record["step"] == 0
    assert len(record["test"]) == len(record["train_clean"]) == 4
    assert record["train_noisy"][:2] == [None, None]  # no noisy examples: null, not NaN


def test_evaluate_text(sweep, capsys):
    code, out, _ = run_cli(capsys, "evaluate", sweep[0])
    assert code == 0 and "step 30" in out and "test" in out


@pytest.mark.parametrize("method", ["neuron", "key", "logits"])
def test_extract(sweep, capsys, method):
    code, out, _ = run_cli(capsys, "extract", sweep[0], "--method", method)
    assert code == 0
    assert "raw" in out and method in out
    assert ("labels-only" in out and "note:" in out) == (method == "logits")


def test_extract_agnostic_shows_its_search_unless_told_not_to(sweep, capsys):
    code, out, err = run_cli(capsys, "extract", sweep[0], "--method", "agnostic")
    assert code == 0 and "agnostic" in out and "group law" in err
    code, out, err = run_cli(capsys, "extract", sweep[0], "--method", "agnostic", "--no-progress")
    assert code == 0 and "agnostic" in out and "group law" not in err


def test_extract_json_and_out(sweep, tmp_path, capsys):
    saved = tmp_path / "extracted"
    args = ["extract", sweep[0], "--method", "logits", "--json", "--out", saved]
    code, out, _ = run_cli(capsys, *args)
    assert code == 0
    record = json.loads(out)
    assert set(record) >= {"raw", "logits", "labels-only"} and record["out"] == str(saved)
    model = interp.load_run(saved).model()
    accuracy = interp.evaluate(model, interp.load_run(saved).task).test.tolist()
    assert accuracy == pytest.approx(record["logits"]["test"])
    # restricted logits have no neurons: weight analyses refuse them in one line
    code, _, err = run_cli(capsys, "spectrum", saved, "--out", tmp_path / "fig")
    assert code == 2 and err.count("\n") == 1 and "restricted_logits" in err


def test_spectrum_writes_html_and_one_plotly_js(sweep, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "spectrum", sweep[0], "--out", tmp_path / "fig", "--step", 30)
    assert code == 0
    html = sorted((tmp_path / "fig").glob("*.html"))
    assert len(html) == 2 * 4 + 1 and tmp_path / "fig" / "ipr.html" in html
    assert sorted(Path(line) for line in out.splitlines()) == html  # the paths are printed
    assert [p.name for p in (tmp_path / "fig").glob("*.js")] == ["plotly.min.js"]


def test_report_writes_one_page(sweep, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report_module, "png_browser", lambda: "kaleido is not installed")
    code, out, err = run_cli(capsys, "report", sweep[0], "--out", tmp_path / "rep", "--model", 3)
    assert code == 0, err
    skipped, path = out.splitlines()  # the one PNG line, then the page
    assert skipped.startswith("png: skipped") and Path(path) == tmp_path / "rep" / "report.html"
    page = Path(path).read_text()
    assert "model 3" in page and page.count("plotly.min.js") == 1
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["plotly.min.js", "report.html"]


def test_bad_report_arguments(sweep, tmp_path, capsys):
    out = ["--out", tmp_path / "rep"]
    cases = [
        (["report", tmp_path / "missing", *out], "missing"),
        (["report", sweep[0], "--model", "4", *out], "model=4"),
        (["report", sweep[0], "--model", "-1", *out], "model=-1"),
        (["report", sweep[0]], "--out"),
    ]
    for args, named in cases:
        code, stdout, err = run_cli(capsys, *args)
        assert code == 2 and stdout == "", args
        assert err.count("\n") == 1 and err.startswith("interp: error: ") and named in err
    assert not (tmp_path / "rep").exists()


def test_resume_finished_run(sweep, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in sweep[0].iterdir()}
    code, out, _ = run_cli(capsys, "resume", sweep[0], "--no-progress")
    assert code == 0 and "step 30" in out
    assert {p.name: p.stat().st_mtime_ns for p in sweep[0].iterdir()} == before


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--op", "power"], "power"),
        (["--noise", "1.5"], "1.5"),
        (["--width", "0"], "width=0"),
        (["--seed", "1", "1"], "--seed 1 1"),
        (["--noise", "x"], "'x'"),
    ],
)
def test_bad_train_arguments(tmp_path, capsys, args, named):
    code, out, err = run_cli(capsys, "train", "modular", "--out", tmp_path / "run", *TINY, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("interp: error: ") and named in err
    assert not (tmp_path / "run").exists()


def test_bad_inputs(sweep, tmp_path, capsys):
    cases = [
        (["evaluate", tmp_path / "missing"], "missing"),
        (["extract", sweep[0], "--method", "prune"], "prune"),
        (["evaluate", sweep[0], "--step", "7"], "step 7"),
        (["train"], "TASK"),
    ]
    for args, named in cases:
        code, out, err = run_cli(capsys, *args)
        assert code == 2 and out == "", args
        assert err.count("\n") == 1 and err.startswith("interp: error: ") and named in err


def test_non_empty_out_is_not_touched(sweep, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    for args in (
        ["extract", sweep[0], "--out", taken],
        ["train", "modular", "--out", taken, *TINY],
    ):
        code, _, err = run_cli(capsys, *args)
        assert code == 2 and str(taken) in err and err.count("\n") == 1
        assert [p.name for p in taken.iterdir()] == ["notes.txt"]
        assert (taken / "notes.txt").read_text() == "mine"


def test_corrupt_step_file(sweep, tmp_path, capsys):
    run = shutil.copytree(sweep[0], tmp_path / "run")
    last = run / "step_0000030.safetensors"
    last.write_bytes(last.read_bytes()[:100])
    code, _, err = run_cli(capsys, "evaluate", run)
    assert code == 2 and err.count("\n") == 1 and last.name in err and "corrupt" in err


def test_help(capsys):
    assert main(["--help"]) == 0
    assert "extract" in capsys.readouterr().out


def test_console_script_help():
    script = Path(sys.executable).parent / "interp"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "interp.cli"]
    done = subprocess.run([*command, "evaluate", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--json" in done.stdout


# ---------------------------------------------------------------------------------------------
# rule tasks: train rules, clocks, basins

RULES_TINY = ["--rule", "parity", "--d", "8", "--N", "8", "16", "--d-model", "16", "--layers", "1"]
RULES_TINY += ["--heads", "2", "--steps", "20", "--batch", "16", "--save-log", "3"]
RULES_TINY += ["--log-every", "5", "--no-progress"]


@pytest.fixture(scope="module")
def rule_runs(tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    """A DiT ensemble (N 8 and 16 in one run) and two GPT runs, trained through the CLI."""
    root = tmp_path_factory.mktemp("rules")
    runs = {}
    for kind in ("dit", "gpt"):
        argv = ["train", "rules", "--model", kind, "--out", str(root / kind), *RULES_TINY]
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(argv) == 0
        runs[kind] = (root / kind, argv)
    return runs


def test_train_rules_dit_is_one_ensemble(rule_runs):
    out, argv = rule_runs["dit"]
    run = interp.load_run(out)
    assert run.config["command"] == shlex.join(["interp", *argv])
    assert run.config["task"]["N"] == [8, 16] and run.config["task"]["seed"] == [0, 0]
    assert run.config["model"]["kind"] == "dit" and run.config["model"]["models"] == 2
    assert run.config["model"]["d_model"] == 16 and run.config["train"]["loss"] == "edm"
    assert run.steps[0] == 0 and run.steps[-1] == 20


def test_resume_finished_rule_run_prints_the_final_loss(rule_runs, capsys):
    code, out, err = run_cli(capsys, "resume", rule_runs["dit"][0], "--no-progress")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].endswith("trained to step 20") and lines[2].split() == ["model", "train_loss"]
    assert len(lines) == 5  # one line per model
    final = interp.load_run(rule_runs["dit"][0]).metrics["train_loss"][-1]
    assert [float(row.split()[1]) for row in lines[3:]] == pytest.approx(final.tolist(), abs=1e-4)


def test_train_rules_gpt_is_one_ensemble(rule_runs):
    out, argv = rule_runs["gpt"]
    run = interp.load_run(out)
    assert run.config["command"] == shlex.join(["interp", *argv])
    assert run.config["task"]["N"] == [8, 16] and run.config["model"]["kind"] == "gpt"
    assert run.config["model"]["models"] == 2 and run.config["model"]["d_mlp"] == 64
    assert run.config["train"]["loss"] == "ce" and run.steps[-1] == 20


def test_clocks_json(rule_runs, tmp_path, capsys):
    out = rule_runs["dit"][0]
    code, stdout, err = run_cli(capsys, "clocks", out, "--samples", 8, "--json", "--out", tmp_path)
    assert code == 0, err
    record = json.loads(stdout)
    assert record["steps"] == interp.load_run(out).steps and record["N"] == [8, 16]
    assert record["rule_threshold"] == pytest.approx(0.9)  # 80% from parity's chance (0.5) to 1
    assert len(record["tau_rule"]) == len(record["tau_mem"]) == len(record["window"]) == 2
    valid, memorized, novel = (record[k] for k in ("valid", "memorized", "novel_valid"))
    assert len(valid) == len(record["steps"]) and all(len(row) == 2 for row in valid)
    for v, m, n in zip(sum(valid, []), sum(memorized, []), sum(novel, [])):
        assert 0 <= n <= v <= 1 and n == pytest.approx(v - m)  # copies are valid
    names = {"clocks", "clocks_model0", "clocks_model1", "clocks_against_N"}
    assert {Path(p).stem for p in record["figures"]} == names
    assert {p.stem for p in tmp_path.glob("*.html")} == names


def test_clocks_text_of_a_gpt_run(rule_runs, capsys):
    run = rule_runs["gpt"][0]
    code, out, err = run_cli(capsys, "clocks", run, "--samples", 8, "--rule-threshold", 0.6)
    assert code == 0, err
    assert "tau_rule: valid >= 0.6" in out and "tau_mem: memorized >= 0.5" in out
    rows = out.splitlines()
    table = rows[rows.index("model       N  seed  tau_rule   tau_mem    window") + 1]
    assert table.split()[:3] == ["0", "8", "0"]  # model 0 trained on N = 8 strings, seed 0
    steps = interp.load_run(run).steps
    per_model = [row.split()[:2] for row in rows[-2 * len(steps) :]]  # (step, model) rows
    assert per_model == [[str(s), str(m)] for s in steps for m in (0, 1)]


def test_basins_at_the_last_step(rule_runs, tmp_path, capsys):
    args = ["basins", rule_runs["dit"][0], "--targets", 2, "--repeats", 2, "--sigmas", 0.1, 0.5]
    code, out, err = run_cli(capsys, *args, "--out", tmp_path)
    assert code == 0, err
    rows = out.splitlines()
    assert "2 training and 2 unseen valid strings" in rows[0]
    assert [row.split()[:3] for row in rows[2:4]] == [["20", "0", "8"], ["20", "1", "16"]]
    radii = [float(v) for row in rows[2:4] for v in row.split()[-2:]]
    assert all(r in (0.0, 0.1, 0.3, 0.5) for r in radii)  # means of 2 radii on the sigma grid
    # the memorizing optimum: every training string holds a basin, no unseen one does
    optimum = [row.split() for row in rows[4:6]]
    assert [row[:3] for row in optimum] == [["optimum", "0", "8"], ["optimum", "1", "16"]]
    assert all(float(row[-2]) > 0 and float(row[-1]) == 0 for row in optimum)
    # the rule's exact denoiser holds seen and unseen valid strings alike
    population = [row.split() for row in rows[6:8]]
    assert [row[:3] for row in population] == [["population", "0", "8"], ["population", "1", "16"]]
    assert all(float(row[-2]) > 0 and float(row[-1]) > 0 for row in population)
    assert [p.name for p in tmp_path.glob("*.html")] == ["basins.html"]


def test_basins_over_training_json(rule_runs, capsys):
    out = rule_runs["dit"][0]
    args = ["basins", out, "--over-training", "--targets", 2, "--repeats", 1, "--sigmas", 0.2]
    code, stdout, err = run_cli(capsys, *args, "--json")
    assert code == 0, err
    record = json.loads(stdout)
    steps = interp.load_run(out).steps
    assert record["steps"] == steps and record["sigmas"] == [0.2]
    for group in ("training", "novel"):
        radius = torch.tensor(record["radius"][group])
        assert radius.shape == (len(steps), 2, 2)  # steps, models, targets
        assert ((radius == 0) | torch.isclose(radius, torch.tensor(0.2))).all()  # on the grid
        torch.testing.assert_close(torch.tensor(record["mean_radius"][group]), radius.mean(-1))
    optimum = record["optimal_denoiser_mean_radius"]
    assert optimum["training"] == pytest.approx([0.2, 0.2]) and optimum["novel"] == [0.0, 0.0]


def test_bad_rule_arguments(rule_runs, sweep, tmp_path, capsys):
    new = ["--out", tmp_path / "new"]
    cases = [
        (["train", "rules", *new, "--rule", "xor"], "xor"),
        (["train", "rules", *new, "--rule", "group_parity", "--d", "8"], "group=None"),
        (["train", "rules", *new, "--d", "8", "--N", "8", "8"], "--N 8 8"),
        (["train", "rules", *new, "--d", "8", "--N", "300"], "N=300"),
        (["train", "rules", *new, "--model", "gpt", "--d-model", "15", "--N", "8"], "d_model=15"),
        (["basins", rule_runs["gpt"][0]], "diffusion"),
        (["basins", rule_runs["dit"][0], "--step", "5"], "step 5"),
        (["basins", rule_runs["dit"][0], "--step", "20", "--over-training"], "--over-training"),
        (["clocks", tmp_path], "not an interp run"),
        (["clocks", sweep[0]], "is a 'modular' run"),
        (["basins", rule_runs["dit"][0], "--out", rule_runs["gpt"][0]], "--force"),
        (["clocks", rule_runs["dit"][0], "--samples", "0"], "--samples 0"),
    ]
    for args, named in cases:
        code, stdout, err = run_cli(capsys, *args)
        assert code == 2 and stdout == "", args
        assert err.count("\n") == 1 and err.startswith("interp: error: ") and named in err, err
    assert not (tmp_path / "new").exists()


def test_figures_and_reports_refuse_a_non_empty_folder_without_force(sweep, tmp_path, capsys):
    out = tmp_path / "fig"
    out.mkdir()
    (out / "ipr.html").write_text("mine")
    for command in ("spectrum", "report"):
        code, _, err = run_cli(capsys, command, sweep[0], "--out", out)
        assert code == 2 and err.count("\n") == 1 and "--force" in err, err
    assert (out / "ipr.html").read_text() == "mine"
    code, _, err = run_cli(capsys, "spectrum", sweep[0], "--out", out, "--force")
    assert code == 0, err
    assert (out / "ipr.html").read_text() != "mine"


def test_evaluate_a_step_file_evaluates_that_step(sweep, capsys):
    step0 = sweep[0] / "step_0000000.safetensors"
    code, out, _ = run_cli(capsys, "evaluate", step0, "--json")
    assert code == 0 and json.loads(out)["step"] == 0
    _, at_zero, _ = run_cli(capsys, "evaluate", sweep[0], "--json", "--step", 0)
    assert json.loads(out) | {"run": None} == json.loads(at_zero) | {"run": None}
    code, _, err = run_cli(capsys, "evaluate", step0, "--step", 30)
    assert code == 2 and "disagrees" in err


@pytest.mark.parametrize(
    "args, named",
    [
        (["--train-fraction", "0.0001"], "0 training pairs"),
        (["--init-scale", "nan"], "init_scale=nan"),
        (["--lr", "nan"], "lr"),
        (["--p", "2"], "p=2"),
    ],
)
def test_bad_modular_training_leaves_no_folder(tmp_path, capsys, args, named):
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, "train", "modular", "--out", out, *TINY, *args)
    assert code == 2 and err.count("\n") == 1 and named in err, err
    assert not out.exists()


def test_diverging_training_is_one_line_and_keeps_the_run(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "modular", "--out", out, *TINY, "--lr", "1e6", "--save-every", "1"]
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and err.count("\n") == 1 and "NaN or inf at step" in err, err
    code, _, err = run_cli(capsys, "evaluate", out)
    assert code == 0, err  # the last good checkpoint


def test_help_imports_no_torch():
    code = "import sys; from interp.cli import main; main(['--help']); "
    code += "assert 'torch' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_version_names_the_library_and_the_run_format_without_torch():
    from interp.version import FORMAT_VERSION, __version__

    code = "import sys; from interp.cli import main; main(['--version']); "
    code += "assert 'torch' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    expected = f"interp {__version__} (run format interp-run version {FORMAT_VERSION})"
    assert done.stdout.strip() == expected


def test_out_of_memory_is_one_line_and_a_bug_is_not_disguised(monkeypatch, tmp_path, capsys):
    import interp.studies.label_noise.cli as label_noise_cli

    def oom(args, command):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 1.6e12 bytes")

    monkeypatch.setattr(label_noise_cli, "train", oom)
    code, _, err = run_cli(capsys, "train", "modular", "--out", tmp_path / "r", "--p", "20011")
    assert code == 2 and err.count("\n") == 1 and "out of memory" in err, err

    def bug(args, command):
        raise RuntimeError("shape mismatch in a matmul")

    monkeypatch.setattr(label_noise_cli, "train", bug)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        main(["train", "modular", "--out", str(tmp_path / "r")])
