#!/usr/bin/env bash
# The GPU check, one command on a lent GPU machine (run from the repository root):
#   1. installs the carried wheels (.whl/, made here by scripts/gpu_wheels.sh) into /tmp/site;
#   2. runs the CUDA tests (pytest -m cuda, tests/test_cuda.py) with deterministic kernels;
#   3. runs the benchmarks on the GPU (64 models: batched vs one at a time, plain loop, vmap;
#      then again with TF32; the curves over the shipped runs, stacked vs step by step);
#   4. writes every figure, with the GPU's name, to ${OUT:-gpu_out}/gpu_check.json.
# Budget: under 8 minutes on one H100/H200. Through the device tool:
#   run(command="bash scripts/gpu_check.sh", carry=[".whl"], timeout_s=540)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu_out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 CUBLAS_WORKSPACE_CONFIG=:4096:8
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
python3 -c "import torch, transformer_lens, plotly; assert torch.cuda.is_available()" || {
  echo "gpu_check: torch with CUDA, transformer_lens and plotly must import (carry .whl)"; exit 3; }
nvidia-smi -L | tee "$out/gpu.txt"

timeout 240 python3 -m pytest -q -m cuda tests/test_cuda.py -p no:cacheprovider \
  --junitxml="$out/cuda_tests.xml" 2>&1 | tee "$out/cuda_tests.log"
timeout 180 python3 benchmarks/ensemble_speed.py --models 64 --device cuda --repeats 2 --sequential-models 8 \
  --json "$out/ensemble_speed_gpu64.json" 2>&1 | tee "$out/ensemble_speed.log"
timeout 120 python3 benchmarks/ensemble_speed.py --models 64 --device cuda --repeats 1 --sequential-models 4 \
  --tf32 --json "$out/ensemble_speed_gpu64_tf32.json" 2>&1 | tee "$out/ensemble_speed_tf32.log"
timeout 90 python3 benchmarks/analysis_speed.py --curves --device cuda --basin-steps 9 --json \
  > "$out/curves_gpu.json" 2> "$out/curves_gpu.log"; cat "$out/curves_gpu.json"

python3 - "$out" <<'PY'
import json, sys, xml.etree.ElementTree as ET
from pathlib import Path
import torch
out = Path(sys.argv[1])
record = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
junit = out / "cuda_tests.xml"
if junit.exists():
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    record["cuda_tests"] = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    record["cuda_tests"]["time_s"] = float(suite.get("time", 0))
for name in ("ensemble_speed_gpu64", "ensemble_speed_gpu64_tf32", "curves_gpu"):
    bench = out / f"{name}.json"
    if bench.exists():
        record[name] = json.loads(bench.read_text())
(out / "gpu_check.json").write_text(json.dumps(record, indent=2))
print(json.dumps({k: v for k, v in record.items() if not k.startswith("ensemble")}, indent=2))
PY
