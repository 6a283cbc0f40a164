"""Doctest namespace for the docstring examples in interp/ and probes/ (run by `pytest`, from the
repository root): `interp`, `torch`, and a shipped run to read. Examples that write files write
under `tmp`, a fresh temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from threadpoolctl import threadpool_limits

# Tiny tensors: one thread each for torch and for numpy/scikit-learn's BLAS (the probes), so a
# 2-core CI machine is not oversubscribed.
threadpool_limits(1)


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace: dict, tmp_path: Path) -> None:
    import interp

    torch.manual_seed(0)
    torch.set_num_threads(1)
    doctest_namespace.update(interp=interp, torch=torch, tmp=tmp_path)
