"""The layout holds: no import cycle in the package, the machinery imports no study, storage
imports no model or analysis, about thirty names at the top, and `import interp` stays light."""

import ast
import subprocess
import sys
from pathlib import Path

import interp

PACKAGE = Path(interp.__file__).parent


def _runtime_imports() -> dict[str, set[str]]:
    """Module -> the interp modules it imports when run (nested imports included, `if
    TYPE_CHECKING:` blocks left out; importing a.b.c also imports the package a.b)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        skip = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }
        targets = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("interp"):
                targets |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("interp")}
        edges = set()
        for target in targets & set(modules):
            parts = target.split(".")
            edges |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
        graph[name] = {t for t in edges if t in modules and t != name and not name.startswith(t)}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, done = [], set()

    def walk(node: str, path: list[str]) -> None:
        if node in path:
            cycles.append(path[path.index(node) :])
            return
        if node in done:
            return
        for nxt in sorted(graph[node]):
            walk(nxt, [*path, node])
        done.add(node)

    for node in sorted(graph):
        walk(node, [])
    return cycles


def test_the_package_has_no_import_cycle():
    assert _cycles(_runtime_imports()) == []


def test_the_machinery_imports_no_study_and_storage_no_model():
    graph = _runtime_imports()
    machinery = [
        m for m in graph if m.split(".")[1:2] in (["core"], ["tasks"], ["models"], ["diffusion"])
    ]
    assert machinery and not [
        (m, t) for m in machinery for t in graph[m] if t.startswith("interp.studies")
    ]
    assert graph["interp.core.runs"] <= {"interp.core", "interp.core.registry", "interp.version"}


def test_about_thirty_names_at_the_top():
    assert 25 <= len(interp.__all__) <= 32
    for name in interp.__all__:
        assert getattr(interp, name) is not None


def test_no_module_is_much_over_500_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) <= 560, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]


def test_import_interp_loads_neither_torch_models_nor_transformer_lens():
    code = "import sys, interp; assert 'transformer_lens' not in sys.modules, 'tl'; "
    code += "assert 'torch' not in sys.modules, 'torch'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
