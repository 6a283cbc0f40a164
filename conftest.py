"""Doctest namespace for the docstring examples in interp/ and probes/ (run by `pytest`, from the
repository root): `interp`, `torch`, and a shipped run to read. Examples that write files write
under `tmp`, a fresh temporary folder."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch
from beartype import BeartypeConf, beartype
from jaxtyping import install_import_hook
from threadpoolctl import threadpool_limits

# Shapes in signatures are checked while the suite runs: the modules below are imported through
# jaxtyping's hook with beartype, so a tensor of the wrong shape fails at the call, naming the
# shape it expected and the one it got. (Before anything imports them.)
TYPE_CHECKED = [
    "interp.fourier",
    "interp.core.metrics",
    "interp.diffusion.edm",
    "interp.studies.clocks.basins",
    "interp.studies.clocks.clocks",
    "interp.studies.clocks.generation",
    "interp.studies.label_noise.extraction",
    "interp.core.hooks",
    "interp.core.tracking",
    "interp.studies.label_noise.partition",
    "interp.studies.label_noise.race",
    "interp.diffusion.memorization",
]  # not the task configs (their fields take lists and normalize them to tuples) nor the sweep
# engine (Ray pickles its functions; the checked wrappers do not pickle)
# beartype with PEP 484's numeric tower (an int is a valid float, as for every type checker),
# named by a module path as the hook wants it.
_checker = types.ModuleType("_interp_typechecker")
_checker.beartype = beartype(conf=BeartypeConf(is_pep484_tower=True))
sys.modules[_checker.__name__] = _checker
install_import_hook(TYPE_CHECKED, "_interp_typechecker.beartype")

# Tiny tensors: one thread each for torch and for numpy/scikit-learn's BLAS (the probes), so a
# 2-core CI machine is not oversubscribed.
threadpool_limits(1)


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace: dict, tmp_path: Path) -> None:
    import interp

    torch.manual_seed(0)
    torch.set_num_threads(1)
    doctest_namespace.update(interp=interp, torch=torch, tmp=tmp_path)
