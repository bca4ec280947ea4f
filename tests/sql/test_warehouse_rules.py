"""Layer rules of the SQL (checked with sqlglot) and the manifest's fingerprints."""

from __future__ import annotations

from pathlib import Path

import sqlglot
import yaml
from sqlglot import expressions as exp

from glue.warehouse.manifest import load_version, object_name, statement_fingerprints


def _objects() -> dict[str, exp.Expression]:
    version = load_version("sql")
    out = {}
    for _, text in version.files:
        for stmt in sqlglot.parse(text, read="duckdb"):
            if isinstance(stmt, exp.Create):
                out[object_name(stmt)] = stmt
    return out


def _reads(stmt: exp.Expression) -> set[str]:
    """Tables, views and table macros a statement reads (CTE names excluded)."""
    body = stmt.expression
    if body is None:
        return set()
    ctes = {c.alias_or_name.lower() for c in body.find_all(exp.CTE)}
    names = set()
    for table in body.find_all(exp.Table):
        name = table.this.name if isinstance(table.this, exp.Anonymous) else table.name
        if name and name.lower() not in ctes:
            names.add(name.lower())
    return names


OBJECTS = _objects()


def test_only_staging_reads_raw() -> None:
    # the landing layer itself (the raw_* macros in sql/models/landing/) builds raw rows from the landing input
    offenders = {n: sorted(r for r in _reads(s) if r.startswith("raw_"))
                 for n, s in OBJECTS.items() if not n.startswith(("stg_", "raw_"))}
    assert {n: r for n, r in offenders.items() if r} == {}


def test_no_feature_reads_a_label() -> None:
    # directly, or through any object it reads (transitively)
    def closure(name: str, seen: set[str]) -> set[str]:
        for dep in _reads(OBJECTS[name]) if name in OBJECTS else ():
            if dep not in seen:
                seen.add(dep)
                closure(dep, seen)
        return seen

    for name in OBJECTS:
        if name.startswith(("feat_", "int_", "stg_")):
            assert not {d for d in closure(name, set()) if d.startswith(("lbl_", "trn_"))}, name


def test_no_trailing_window_looks_forward() -> None:
    for name, stmt in OBJECTS.items():
        if not name.startswith(("feat_", "int_", "stg_")):
            continue
        for spec in stmt.find_all(exp.WindowSpec):
            sides = {str(spec.args.get("start_side") or "").upper(), str(spec.args.get("end_side") or "").upper()}
            assert "FOLLOWING" not in sides, f"{name}: window frame with FOLLOWING"
        for _fn in stmt.find_all(exp.Lead):
            raise AssertionError(f"{name}: LEAD() looks forward")
        # joins to other grid rows only reach back: second_s = c.second_s - w, never + w
        for eq in stmt.find_all(exp.EQ):
            if "second_s" in eq.sql() and isinstance(eq.expression, exp.Add):
                raise AssertionError(f"{name}: joins a later second ({eq.sql()})")


def test_names_follow_the_layers() -> None:
    prefixes = ("raw_", "stg_", "int_", "feat_", "lbl_", "trn_", "exp_", "ctl_", "cfg_")
    assert [n for n in OBJECTS if not n.startswith(prefixes)] == []


def test_label_view_is_the_only_forward_join() -> None:
    forward = [n for n, s in OBJECTS.items()
               if any(isinstance(eq.expression, exp.Add) and "second_s" in eq.sql() for eq in s.find_all(exp.EQ))]
    assert forward == ["lbl_sigma_future_1s"]


def test_manifest_fingerprints_are_current() -> None:
    manifest = yaml.safe_load(Path("sql/manifest.yml").read_text())
    for name, spec in manifest["versions"].items():
        assert spec["fingerprints"] == load_version("sql", name, check_frozen=False).fingerprints, (
            f"run: python -m glue.warehouse.manifest --update {name}")


# the frozen-version, variant and cache tests: tests/sql/test_sql_layout.py


def test_fingerprint_ignores_comments_and_case() -> None:
    a = statement_fingerprints("CREATE VIEW v AS SELECT a FROM t -- x\n;")
    b = statement_fingerprints("create view v as\n  select a\n  from t;")
    assert a == b
