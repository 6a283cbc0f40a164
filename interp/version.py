"""The library version and the run format versions, written into every run (and read by
`interp --version` without importing torch). docs/run_format.md describes the format.

FORMAT_VERSION is the version of a run folder as a whole (config.json and the files beside it):
  1  config.json with task, model, train, command; step, metrics and state safetensors files
  2  config.json also records `provenance` (torch version, device, threads) of the process that
     wrote the run; `interp upgrade RUN` takes a version-1 run to 2 (the checkpoints are kept)
TENSOR_FORMAT_VERSION is the header of every safetensors file, unchanged since version 1.
"""

__version__ = "0.2.0"
FORMAT = "interp-run"
FORMAT_VERSION = 2
TENSOR_FORMAT_VERSION = 1
