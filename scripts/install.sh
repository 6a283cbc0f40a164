#!/usr/bin/env bash
# Create .venv and install interp into it. A CPU-only machine gets a CPU build of torch (the
# local wheel when pip finds one, else PyTorch's CPU index); a machine with an NVIDIA GPU gets
# the default CUDA build. Usage: scripts/install.sh [extras], e.g. scripts/install.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-}
python3 -m venv .venv
# The local mirrors print one harmless "Location ... is ignored" warning per package: hide those.
pip_install() { .venv/bin/pip install -q "$@" 2> >(grep -v "^WARNING: Location" >&2); }
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    pip_install torch
  else
    # A CPU wheel that pip finds without an index (this workplace ships one), else PyTorch's CPU index.
    if .venv/bin/pip install -q --no-index --no-deps torch==2.13.0 2>/dev/null; then
      pip_install torch==2.13.0
    else
      # torch alone from PyTorch's CPU wheel index, then its dependencies from pip's own index.
      pip_install --no-deps torch --index-url https://download.pytorch.org/whl/cpu
      pip_install torch
    fi
  fi
fi
pip_install -e ".${extras:+[$extras]}"
.venv/bin/python -c "import interp, torch; print(f'interp ready: torch {torch.__version__}, cuda={torch.cuda.is_available()}')"
