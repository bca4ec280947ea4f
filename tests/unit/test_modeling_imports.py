"""glue.modeling has no import circle: the graph of its modules' imports (top-level and lazy) is acyclic.

Lazy imports inside functions count too: a circle hidden in a function body is still a circle a reader
has to untangle (issue 13, item 4). Each module also imports on its own.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "glue" / "modeling"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def _imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("glue.modeling."):
                found.add(node.module.split(".")[2])
            elif node.module == "glue.modeling":
                found.update(a.name for a in node.names if a.name in MODULES)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("glue.modeling."))
    return found - {module}


def test_modeling_import_graph_is_acyclic():
    graph = {m: _imports(m) for m in MODULES}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail("import circle in glue.modeling: " + " -> ".join([*path, node, nxt]))
            if state.get(nxt) is None:
                visit(nxt, [*path, node])
        state[node] = 2

    for m in MODULES:
        if m not in state:
            visit(m, [])


def test_the_old_circle_is_gone():
    """training <-> tracking <-> model_card: tracking and model_card read results, never the job."""
    assert "training" not in _imports("tracking")
    assert "training" not in _imports("model_card")
    assert "training" not in _imports("fitting")


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports(module):
    importlib.import_module(f"glue.modeling.{module}")
