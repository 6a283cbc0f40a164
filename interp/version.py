"""The library version and the run format version, written into every run's config.json (and
read by `interp --version` without importing torch)."""

__version__ = "0.2.0"
FORMAT = "interp-run"
FORMAT_VERSION = 1
