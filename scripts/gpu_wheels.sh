#!/usr/bin/env bash
# Download, here, the wheels that scripts/gpu_check.sh installs on a lent GPU machine: that
# machine has torch, einops, safetensors, scikit-learn, transformers and tqdm, but not
# transformer-lens (and what its import needs) or plotly. Writes .whl/ (git-ignored).
# Usage: scripts/gpu_wheels.sh [python version of the GPU machine, default 3.12]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-3.12}
mkdir -p .whl
platforms=()
for n in 2_17 2_27 2_28 2_31 2_34 2_35; do platforms+=(--platform "manylinux_${n}_x86_64"); done
platforms+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
# Pure-Python packages and the compiled ones transformer-lens imports that the machine lacks.
for pkg in transformer-lens==4.3.0 plotly==7.1.0 datasets==5.2.0 dill==0.4.1 \
  multiprocess==0.70.19 beartype==0.23.1 typeguard==4.6.1 fancy-einsum==0.0.3 narwhals==2.29.0; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$py" \
    --implementation cp "${platforms[@]}" -d .whl "$pkg"
done
ls -la .whl
