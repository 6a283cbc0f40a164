"""The library version, written into every run's config.json."""

__version__ = "0.2.0"
