"""YAML fixture tests of every SQL view (sql/tests/<layer>/<object>.yml), each case on every version it covers."""

from __future__ import annotations

import pytest

from glue.warehouse.manifest import read_manifest
from glue.warehouse.sqltest import compare, load_cases, run_case

VERSIONS = tuple(read_manifest("sql")["versions"])
CASES = load_cases("sql/tests", VERSIONS)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_view_fixture(case) -> None:
    actual = run_case(case)
    problems = compare(case.expect, actual)
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


def test_fixture_files_sit_beside_their_objects() -> None:
    # sql/tests/<layer>/<object>.yml mirrors sql/models/<layer>/<object>.sql
    from pathlib import Path

    models = {p.relative_to("sql/models").with_suffix("").as_posix() for p in Path("sql/models").glob("*/*.sql")}
    fixtures = {p.relative_to("sql/tests").with_suffix("").as_posix() for p in Path("sql/tests").glob("*/*.yml")}
    assert fixtures - models == set()
