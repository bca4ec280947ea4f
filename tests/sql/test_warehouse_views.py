"""YAML fixture tests of every SQL view (sql/tests/<version>/*.yml), run through the real engine."""

from __future__ import annotations

import pytest

from glue.warehouse.sqltest import compare, load_cases, run_case

CASES = load_cases("sql/tests/v1")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_view_fixture(case) -> None:
    actual = run_case(case)
    problems = compare(case.spec["expect"], actual)
    assert not problems, "\n".join(problems)


def test_every_view_has_fixtures() -> None:
    import sqlglot

    from glue.warehouse.manifest import load_version, object_name

    version = load_version("sql")
    views = set()
    for _, text in version.files:
        for stmt in sqlglot.parse(text, read="duckdb"):
            if stmt is not None and str(stmt.args.get("kind", "")).upper() == "VIEW":
                views.add(object_name(stmt))
    covered = {c.view for c in CASES}
    assert views - covered == set()
