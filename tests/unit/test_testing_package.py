"""Test support lives in glue/testing: product code never imports it, and nothing imports out of a test file.

Imports are read from the syntax tree (lazy imports inside functions count too):
* no module of glue/ outside glue/testing imports glue.testing (it is support for tests and bench/, not product);
* bench/ imports no tests.* module (its support is glue.testing);
* no test or bench module imports a name from a test_*.py module (shared helpers belong in glue/testing).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in `path`; `from a import b` yields a and a.b (b may be a module)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def offenders(paths: list[Path], bad: str | tuple[str, ...]) -> list[str]:
    prefixes = (bad,) if isinstance(bad, str) else bad
    return [f"{p.relative_to(REPO)}:{line}: {module}" for p in paths for line, module in imported_modules(p)
            if any(module == b or module.startswith(b + ".") for b in prefixes)]


def test_product_modules_do_not_import_glue_testing() -> None:
    product = [p for p in sorted((REPO / "glue").rglob("*.py")) if "testing" not in p.relative_to(REPO).parts[1:2]]
    assert len(product) > 50
    assert offenders(product, "glue.testing") == []


def test_bench_imports_no_tests_module() -> None:
    bench = sorted((REPO / "bench").rglob("*.py"))
    assert bench
    assert offenders(bench, "tests") == []


def test_nothing_imports_from_a_test_file() -> None:
    sources = sorted((REPO / "tests").rglob("*.py")) + sorted((REPO / "bench").rglob("*.py"))
    test_modules = tuple(".".join(p.relative_to(REPO).with_suffix("").parts)
                         for p in sorted((REPO / "tests").rglob("test_*.py")))
    assert test_modules
    assert offenders(sources, test_modules) == []
