"""The per-object SQL layout (sql/models/<layer>/<object>[.vN].sql, sql/manifest.yml): every released version,
rebuilt from the object files by the manifest's rule, has exactly the objects and fingerprints it was released
with; objects are created after what they read; the rule never lets a later variant into an earlier version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlglot
import yaml
from sqlglot import expressions as exp

import glue.warehouse.manifest as manifest_mod
from glue.errors import WarehouseError
from glue.warehouse.manifest import load_version, model_files, read_manifest, resolve_files

# Frozen when the SQL moved from one directory per version (sql/v1..v4) to one file per object: the fingerprints
# each released version was released with, in creation order, and the version fingerprint warehouses record.
FROZEN: dict[str, dict[str, str]] = {
    "v1": {
        "raw_frames": "110f783a454e79ba", "raw_markers": "96698c57962092b2", "raw_offsets": "05a36a9915850bd8",
        "ctl_meta": "8173f78acde69890", "ctl_products": "fb0c27f458138370", "ctl_finalize": "7c7365d34b769bfa",
        "ctl_exports": "ef462c807088943f", "cfg_label_tau": "c59faf852cbfbc00", "int_grid_1s": "78f568a92af5e2cd",
        "stg_ticker_in": "eb69f30fb1e80197", "stg_ticker": "7b2975462e368e23",
        "stg_top_of_book_in": "a3f167d6fadb3787", "stg_top_of_book": "c570fcc9e0f5423c",
        "stg_trades_in": "e14f032252ab69e2", "stg_trades": "65ac6bad902a24f0", "stg_gaps_in": "081cd90fa8d78eb9",
        "stg_gaps": "0eb7ddbdc12c09d2", "int_grid_1s_step": "8e1626715631bbea",
        "feat_features_1s_in": "1859253cb9ca6700", "feat_features_1s": "0f6dfc004ba0684d",
        "lbl_sigma_future_1s": "752e5db107a337d1", "lbl_labels_1s": "33671e9a29702170",
        "trn_training_1s": "84b65407a983bf1b", "exp_features": "42dfbff67b760faf",
    },
    "v2": {
        "raw_frames": "8dc5c0c363c308c0", "raw_ticker_items": "e8d58d8806636057",
        "raw_trade_items": "a26e62a5870f1a3d", "raw_markers": "96698c57962092b2", "raw_offsets": "05a36a9915850bd8",
        "ctl_meta": "8173f78acde69890", "ctl_products": "fb0c27f458138370", "ctl_finalize": "7c7365d34b769bfa",
        "ctl_exports": "ef462c807088943f", "cfg_label_tau": "c59faf852cbfbc00", "int_grid_1s": "78f568a92af5e2cd",
        "raw_landing_input": "50ae50c2a8ccc0d1", "raw_landing_rows": "1e4540d0d765a203",
        "raw_landing_marks": "ff78a94cbc62aff8", "raw_json_text": "97aba57df6d07280",
        "raw_json_scalar": "0c311c08d810d777", "raw_json_decimal": "6afdb286dfd7a108",
        "raw_land_rows": "d5c3ca0da926673f", "raw_land_marks": "ef54bba9b3416bd6",
        "raw_land_frames": "10ad2781d4de15ac", "raw_land_markers": "f064ca44184b6895",
        "raw_land_ticker_items": "2857010a9dabf506", "raw_land_trade_items": "2239b91c3a25d530",
        "stg_ticker_in": "18c188e426952ee5", "stg_ticker": "7b2975462e368e23",
        "stg_top_of_book_in": "a3f167d6fadb3787", "stg_top_of_book": "c570fcc9e0f5423c",
        "stg_trades_in": "e76e9b3f94029c13", "stg_trades": "65ac6bad902a24f0", "stg_gaps_in": "081cd90fa8d78eb9",
        "stg_gaps": "0eb7ddbdc12c09d2", "int_grid_1s_step": "c893b879486201e5",
        "feat_features_1s_in": "1859253cb9ca6700", "feat_features_1s": "0f6dfc004ba0684d",
        "lbl_sigma_future_1s": "752e5db107a337d1", "lbl_labels_1s": "33671e9a29702170",
        "trn_training_1s": "84b65407a983bf1b", "exp_features": "42dfbff67b760faf",
    },
    "v3": {
        "raw_frames": "8dc5c0c363c308c0", "raw_ticker_items": "e8d58d8806636057",
        "raw_trade_items": "a26e62a5870f1a3d", "raw_markers": "96698c57962092b2", "raw_offsets": "05a36a9915850bd8",
        "ctl_meta": "8173f78acde69890", "ctl_products": "fb0c27f458138370", "ctl_finalize": "7c7365d34b769bfa",
        "ctl_exports": "ef462c807088943f", "cfg_label_tau": "c59faf852cbfbc00", "int_grid_1s": "78f568a92af5e2cd",
        "raw_landing_input": "50ae50c2a8ccc0d1", "raw_landing_rows": "1e4540d0d765a203",
        "raw_landing_marks": "ff78a94cbc62aff8", "raw_json_text": "97aba57df6d07280",
        "raw_json_scalar": "0c311c08d810d777", "raw_json_decimal": "6afdb286dfd7a108",
        "raw_land_rows": "7dcc66ed2a265ae6", "raw_land_marks": "1bfe8ed744a5409f",
        "raw_land_frames": "10ad2781d4de15ac", "raw_land_markers": "f064ca44184b6895",
        "raw_land_ticker_items": "ed945657539cd0bc", "raw_land_trade_items": "2239b91c3a25d530",
        "raw_land_products": "c9e11008c0d1e0c4", "raw_land_counts": "8c4b23eafd2503a9",
        "stg_ticker_in": "18c188e426952ee5", "stg_ticker": "7b2975462e368e23",
        "stg_top_of_book_in": "a3f167d6fadb3787", "stg_top_of_book": "c570fcc9e0f5423c",
        "stg_trades_in": "93d19cef10b1e367", "stg_trades": "65ac6bad902a24f0", "stg_gaps_in": "081cd90fa8d78eb9",
        "stg_gaps": "0eb7ddbdc12c09d2", "int_grid_1s_step": "c893b879486201e5",
        "feat_features_1s_in": "1859253cb9ca6700", "feat_features_1s": "0f6dfc004ba0684d",
        "lbl_sigma_future_1s": "752e5db107a337d1", "lbl_labels_1s": "33671e9a29702170",
        "trn_training_1s": "84b65407a983bf1b", "exp_features": "42dfbff67b760faf",
    },
    "v4": {
        "raw_frames": "8dc5c0c363c308c0", "raw_ticker_items": "e8d58d8806636057",
        "raw_trade_items": "a26e62a5870f1a3d", "raw_markers": "96698c57962092b2", "raw_offsets": "05a36a9915850bd8",
        "ctl_meta": "8173f78acde69890", "ctl_products": "fb0c27f458138370", "ctl_finalize": "7c7365d34b769bfa",
        "ctl_exports": "ef462c807088943f", "cfg_label_tau": "c59faf852cbfbc00", "int_grid_1s": "78f568a92af5e2cd",
        "raw_landing_input": "50ae50c2a8ccc0d1", "raw_landing_rows": "1e4540d0d765a203",
        "raw_landing_marks": "ff78a94cbc62aff8", "raw_json_text": "97aba57df6d07280",
        "raw_json_scalar": "0c311c08d810d777", "raw_json_decimal": "6afdb286dfd7a108",
        "raw_land_rows": "7dcc66ed2a265ae6", "raw_land_marks": "1bfe8ed744a5409f",
        "raw_land_frames": "10ad2781d4de15ac", "raw_land_markers": "f064ca44184b6895",
        "raw_land_ticker_items": "ed945657539cd0bc", "raw_land_trade_items": "2239b91c3a25d530",
        "raw_land_products": "c9e11008c0d1e0c4", "raw_land_counts": "8c4b23eafd2503a9",
        "stg_ticker_in": "18c188e426952ee5", "stg_ticker": "7b2975462e368e23",
        "stg_top_of_book_in": "a3f167d6fadb3787", "stg_top_of_book": "c570fcc9e0f5423c",
        "stg_trades_in": "93d19cef10b1e367", "stg_trades": "65ac6bad902a24f0", "stg_gaps_in": "081cd90fa8d78eb9",
        "stg_gaps": "0eb7ddbdc12c09d2", "int_book_levels": "cfe7de0f43ddc0f4", "int_book_state": "2b92b72fa1092c5f",
        "int_book_1s_step": "551046bd39f403a5", "stg_book_gaps_in": "86ffc0d0ad0d9d9c",
        "stg_book_events_in": "40e3095c7b7da0e9", "int_grid_1s_step": "1d3bdc3843db1eb7",
        "feat_features_1s_in": "1859253cb9ca6700", "feat_features_1s": "0f6dfc004ba0684d",
        "lbl_sigma_future_1s": "752e5db107a337d1", "lbl_labels_1s": "33671e9a29702170",
        "trn_training_1s": "84b65407a983bf1b", "exp_features": "42dfbff67b760faf",
    },
    "v5": {
        "raw_frames": "8dc5c0c363c308c0", "raw_ticker_items": "e8d58d8806636057",
        "raw_trade_items": "a26e62a5870f1a3d", "raw_markers": "96698c57962092b2", "raw_offsets": "05a36a9915850bd8",
        "ctl_meta": "8173f78acde69890", "ctl_products": "fb0c27f458138370", "ctl_finalize": "7c7365d34b769bfa",
        "ctl_exports": "ef462c807088943f", "cfg_label_tau": "c59faf852cbfbc00", "cfg_label_k": "9232cd2ab9fe63fc",
        "int_grid_1s": "ca0d42254c490415", "raw_landing_input": "50ae50c2a8ccc0d1",
        "raw_landing_rows": "1e4540d0d765a203", "raw_landing_marks": "ff78a94cbc62aff8",
        "raw_json_text": "97aba57df6d07280", "raw_json_scalar": "0c311c08d810d777",
        "raw_json_decimal": "6afdb286dfd7a108", "raw_land_rows": "7dcc66ed2a265ae6",
        "raw_land_marks": "1bfe8ed744a5409f", "raw_land_frames": "10ad2781d4de15ac",
        "raw_land_markers": "f064ca44184b6895", "raw_land_ticker_items": "ed945657539cd0bc",
        "raw_land_trade_items": "2239b91c3a25d530", "raw_land_products": "c9e11008c0d1e0c4",
        "raw_land_counts": "8c4b23eafd2503a9", "stg_ticker_in": "18c188e426952ee5",
        "stg_ticker": "7b2975462e368e23", "stg_top_of_book_in": "a3f167d6fadb3787",
        "stg_top_of_book": "c570fcc9e0f5423c", "stg_trades_in": "93d19cef10b1e367",
        "stg_trades": "65ac6bad902a24f0", "stg_gaps_in": "081cd90fa8d78eb9", "stg_gaps": "0eb7ddbdc12c09d2",
        "int_book_levels": "cfe7de0f43ddc0f4", "int_book_state": "2b92b72fa1092c5f",
        "int_book_1s_step": "551046bd39f403a5", "stg_book_gaps_in": "86ffc0d0ad0d9d9c",
        "stg_book_events_in": "40e3095c7b7da0e9", "int_grid_1s_step": "7bcb0fd3b25ccf3d",
        "feat_features_1s_in": "5f4ed673f06b3e07", "feat_features_1s": "0f6dfc004ba0684d",
        "lbl_sigma_future_1s": "4df47275b5273b4c", "lbl_labels_1s": "33671e9a29702170",
        "lbl_relative_1s": "7220811cbfdca9fe", "trn_training_1s": "81936fe72c4d528d",
        "exp_features": "42dfbff67b760faf",
    },
}
VERSION_FINGERPRINTS = {"v1": "b5aeea0d0cfe5157", "v2": "118b4cdbaa629361", "v3": "ded094877612a6cf",
                        "v4": "2af3ddf9fa4e233f", "v5": "12392c55a352420e"}

MANIFEST = read_manifest("sql")
VERSIONS = tuple(MANIFEST["versions"])


@pytest.mark.parametrize("version", sorted(FROZEN))
def test_released_versions_rebuild_exactly_from_the_object_files(version: str) -> None:
    # sqlglot on every file (no cache), so this is the SQL as it stands, not what the manifest says
    loaded = load_version("sql", version, check_frozen=False, use_cache=False)
    assert MANIFEST["versions"][version]["status"] == "released"
    assert set(loaded.fingerprints) == set(FROZEN[version])
    assert {k: v for k, v in loaded.fingerprints.items() if FROZEN[version][k] != v} == {}
    assert list(loaded.fingerprints) == list(FROZEN[version])  # creation order: the version fingerprint
    assert loaded.fingerprint == VERSION_FINGERPRINTS[version]
    assert MANIFEST["versions"][version]["fingerprints"] == FROZEN[version]
    assert load_version("sql", version).fingerprints == FROZEN[version]  # through the cache too


def _reads(stmt: exp.Expression) -> set[str]:
    """Every name a statement refers to as a table, view, table macro or scalar macro (CTE names excluded)."""
    ctes = {c.alias_or_name.lower() for c in stmt.find_all(exp.CTE)}
    names = {t.this.name.lower() if isinstance(t.this, exp.Anonymous) else t.name.lower()
             for t in stmt.find_all(exp.Table)}
    names |= {f.name.lower() for f in stmt.find_all(exp.Anonymous)}
    return names - ctes


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_reads_only_objects_created_before_it(version: str) -> None:
    loaded = load_version("sql", version)
    order = list(loaded.fingerprints)
    later = {}
    for position, (rel, text) in enumerate(loaded.files):
        (stmt,) = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
        ahead = _reads(stmt) & set(order[position + 1:])  # its own name is what it creates
        if ahead:
            later[rel] = sorted(ahead)
    assert later == {}, "move these objects below what they read in sql/manifest.yml `objects`"
    # and DuckDB agrees: the version's script runs from top to bottom on an empty database
    import duckdb

    con = duckdb.connect()
    con.execute(loaded.script)
    con.close()


def test_every_object_file_is_one_named_object_with_its_header() -> None:
    files = model_files("sql")
    assert set(files) == set(MANIFEST["objects"]), "every object file is listed in `objects`, and only those"
    used = {rel for v in VERSIONS for rel in resolve_files(MANIFEST, files, v)[0]}
    problems = []
    for obj, variants in files.items():
        for rel in variants.values():
            text = (Path("sql/models") / rel).read_text()
            (stmt,) = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
            if manifest_mod.object_name(stmt) != obj:
                problems.append(f"{rel}: defines {manifest_mod.object_name(stmt)}")
            lines = text.splitlines()
            head = lines[: next(i for i, line in enumerate(lines) if not line.startswith("--"))]
            if not (head and head[0].startswith(f"-- {obj}") and any("grain:" in h for h in head)
                    and any("purpose:" in h for h in head)):
                problems.append(f"{rel}: header comment (-- name / -- grain: / -- purpose:) missing")
            if rel not in used:
                problems.append(f"{rel}: no version uses it")
    assert problems == []


@pytest.mark.parametrize("version", VERSIONS)
def test_uses_is_what_the_rule_gives(version: str) -> None:
    assert resolve_files(MANIFEST, model_files("sql"), version)[1] == (MANIFEST["versions"][version].get("uses") or {})


@pytest.fixture()
def sql_copy(tmp_path: Path) -> Path:
    shutil.copytree("sql", tmp_path / "sql")
    return tmp_path / "sql"


def test_a_new_version_takes_new_variants_and_leaves_released_ones_alone(sql_copy: Path) -> None:
    # what docs/warehouse.md "How to add SQL v6" says to do: a variant beside the base, a draft version, --update
    path = sql_copy / "manifest.yml"
    manifest = yaml.safe_load(path.read_text())
    last = list(manifest["versions"])[-1]
    new = f"v{int(last[1:]) + 1}"
    grid = sql_copy / "models" / "intermediate"
    base = manifest["versions"][last]["uses"]["int_grid_1s_step"]
    (grid / f"int_grid_1s_step.{new}.sql").write_text(
        (grid / f"int_grid_1s_step.{base}.sql").read_text()
        .replace("-- int_grid_1s_step", f"-- int_grid_1s_step ({new})", 1).replace("SELECT", "SELECT DISTINCT", 1))
    (sql_copy / "models" / "labels" / "lbl_new_1s.sql").write_text(
        "-- lbl_new_1s\n-- grain: one row per (product_id, second_at).\n-- purpose: a new label.\n"
        "CREATE OR REPLACE VIEW lbl_new_1s AS SELECT product_id, second_at FROM lbl_labels_1s;\n")
    manifest["objects"]["lbl_new_1s"] = new
    manifest["versions"][new] = {**manifest["versions"][last], "status": "draft", "uses": {}, "fingerprints": {}}
    manifest["current"] = new
    manifest_mod.write_manifest(sql_copy, manifest)
    fingerprints = manifest_mod.update_fingerprints(sql_copy, new)
    after = read_manifest(sql_copy)
    assert path.read_text().startswith("# The SQL versions")  # the hand-written rules above the data stay
    assert after["versions"][new]["uses"] == {**after["versions"][last]["uses"], "int_grid_1s_step": new}
    assert list(fingerprints)[-1] == "lbl_new_1s"
    assert fingerprints["int_grid_1s_step"] != after["versions"][last]["fingerprints"]["int_grid_1s_step"]
    for version in FROZEN:
        assert load_version(sql_copy, version).fingerprints == FROZEN[version]
    assert load_version(sql_copy).name == new


def test_a_changed_released_object_is_refused(sql_copy: Path) -> None:
    feature_file = sql_copy / "models" / "features" / "feat_features_1s_in.sql"
    text = feature_file.read_text()
    feature_file.write_text("-- a new comment changes nothing\n" + text.replace("    ", "  "))
    load_version(sql_copy, "v1")  # comments and layout do not count
    feature_file.write_text(text.replace("* 1e-5 AS ret_10s_bps", "* 2e-5 AS ret_10s_bps"))
    with pytest.raises(WarehouseError, match="frozen"):
        load_version(sql_copy, "v1")


def test_a_variant_slipped_into_a_released_version_is_refused(sql_copy: Path) -> None:
    # a v3 variant of an object v3 did not change would alter v3 and v4: refused even if its logic were the same
    staging = sql_copy / "models" / "staging"
    shutil.copy(staging / "stg_ticker_in.v2.sql", staging / "stg_ticker_in.v3.sql")
    with pytest.raises(WarehouseError, match="released SQL version v3 was modified"):
        load_version(sql_copy, "v3")
    load_version(sql_copy, "v2")


def test_unchanged_object_files_skip_sqlglot_and_any_edit_is_checked(sql_copy: Path, monkeypatch) -> None:
    def no_sqlglot(_text: str) -> dict[str, str]:
        raise AssertionError("fingerprinted an unchanged object file")

    monkeypatch.setattr(manifest_mod, "statement_fingerprints", no_sqlglot)
    for version in VERSIONS:
        assert load_version(sql_copy, version).fingerprints  # the cached ones, from the file hashes
    monkeypatch.undo()
    staging = sql_copy / "models" / "staging" / "stg_trades_in.v3.sql"
    staging.write_text(staging.read_text().replace("<= hi_ns", "< hi_ns", 1))
    with pytest.raises(WarehouseError, match="frozen"):
        load_version(sql_copy, "v3")
    load_version(sql_copy, "v2")  # v2 takes stg_trades_in.v2.sql


def test_the_cache_covers_every_object_file_of_every_version() -> None:
    cache = MANIFEST.get("file_fingerprints") or {}
    for version in VERSIONS:
        loaded = load_version("sql", version, check_frozen=False, use_cache=False)
        assert {rel: cache.get(rel) for rel, _ in loaded.files} == manifest_mod.file_fingerprints(loaded), (
            f"run: python -m glue.warehouse.manifest --record-hashes {version} (or --update for a draft)")
