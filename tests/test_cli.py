import contextlib
import io
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import interp
import interp.report
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
        assert interp.load(tmp_path / "w" / f"width_{width}").cfg.width == width


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


def test_extract_json_and_out(sweep, tmp_path, capsys):
    saved = tmp_path / "extracted"
    args = ["extract", sweep[0], "--method", "logits", "--json", "--out", saved]
    code, out, _ = run_cli(capsys, *args)
    assert code == 0
    record = json.loads(out)
    assert set(record) >= {"raw", "logits", "labels-only"} and record["out"] == str(saved)
    model = interp.load(saved)
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
    monkeypatch.setattr(interp.report, "png_browser", lambda: "kaleido is not installed")
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
