"""YAML fixture tests of every SQL view (sql/tests/<version>/*.yml), each version's cases on that version."""

from __future__ import annotations

import pytest

from glue.warehouse.manifest import read_manifest
from glue.warehouse.sqltest import compare, load_cases, run_case

VERSIONS = tuple(read_manifest("sql")["versions"])  # every version keeps its own cases, run on itself
CASES = [case for version in VERSIONS for case in load_cases(f"sql/tests/{version}")]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_view_fixture(case) -> None:
    actual = run_case(case)
    problems = compare(case.spec["expect"], actual)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_view_has_fixtures(version: str) -> None:
    import sqlglot

    from glue.warehouse.manifest import load_version, object_name

    views = set()
    for _, text in load_version("sql", version).files:
        for stmt in sqlglot.parse(text, read="duckdb"):
            # TEMP views are the engine's connection-local scratch (v2's raw_landing_input), not model views
            if (stmt is not None and str(stmt.args.get("kind", "")).upper() == "VIEW"
                    and stmt.find(sqlglot.exp.TemporaryProperty) is None):
                views.add(object_name(stmt))
    covered = {c.view for c in CASES if c.version == version}
    assert views, f"no views found in SQL {version}"
    assert views - covered == set()
