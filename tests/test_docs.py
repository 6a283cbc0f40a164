"""The documentation site and the package: the CLI page is the parser's own text, the site builds
with `mkdocs build --strict` (every page in the nav, every reference resolved), and a wheel built
from the checkout installs a working `interp`."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns("__pycache__", "*.egg-info")


def test_the_cli_page_is_what_the_parser_prints():
    done = subprocess.run(
        [sys.executable, "scripts/cli_docs.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    home = (tmp_path / "index.html").read_text()
    assert "extract: neuron            0.199        0.993        0.000   0.991" in home
    api = (tmp_path / "api" / "fourier" / "index.html").read_text()
    assert "extract_frequencies" in api and "Examples:" in api  # rendered from the docstrings
    guides = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    assert all((tmp_path / g / "index.html").exists() for g in guides if g != "index")


def test_a_wheel_of_the_checkout_gives_a_working_interp(tmp_path):
    # Built from a copy of what the wheel takes, so the checkout gets no build/ folder.
    source = tmp_path / "source"
    for name in ("pyproject.toml", "README.md", "interp", "probes"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=IGNORED)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy(ROOT / name, source / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("interp-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        assert "interp = interp.cli:main" in z.read(entry).decode()
        meta = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "interp/core/training.py" in names and "interp/studies/label_noise/cli.py" in names
    assert not any(n.startswith(("tests/", "checkpoints/", "docs/")) for n in names)
    for extra in ("test", "ray", "tracking", "png", "docs"):
        assert f"Provides-Extra: {extra}" in meta
    # Installed on its own (the dependencies come from this environment), it runs.
    target = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    code = (
        "import interp, interp.cli; from pathlib import Path;"
        f"assert Path(interp.__file__).is_relative_to({str(target)!r}), interp.__file__;"
        "raise SystemExit(interp.cli.main(['--version']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("interp 0.") and "run format interp-run version" in done.stdout
