"""The notebooks: each `notebooks/NAME.ipynb` is paired with `notebooks/NAME.py` by jupytext (the
same cells), and a slow test executes each end to end on the shipped checkpoints (nbclient)."""

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
FIGURES = {"headline": 4, "two_clocks": 2}  # plotly figures each notebook draws
NAMES = list(FIGURES)


def _cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


@pytest.mark.parametrize("name", NAMES)
def test_each_notebook_is_paired_with_its_script(name):
    jupytext = pytest.importorskip("jupytext")
    script = jupytext.read(NOTEBOOKS / f"{name}.py")
    notebook = jupytext.read(NOTEBOOKS / f"{name}.ipynb")
    assert _cells(script) == _cells(notebook), f"run: jupytext --sync notebooks/{name}.py"
    assert not any(cell.get("outputs") for cell in notebook.cells)  # committed without outputs


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_each_notebook_runs_end_to_end(name):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    notebook = jupytext.read(NOTEBOOKS / f"{name}.ipynb")
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": NOTEBOOKS}}
    )
    client.execute()  # raises CellExecutionError, with the cell and the traceback, on a failure
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert not [o for o in outputs if o.output_type == "error"]
    assert len(figures) == FIGURES[name]  # every figure cell drew its plotly figure
