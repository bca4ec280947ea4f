"""The project follows the SQL manifest's `current` version: generated rows, the committed model card and
the feature spec name it, so moving `current` (sql/manifest.yml) shows every place left behind."""

from __future__ import annotations

from pathlib import Path

from glue.modeling.data import current_sql_version
from glue.modeling.model_card import model_card_path
from glue.testing.synthetic import synthetic_features
from glue.warehouse.manifest import read_manifest

REPO = Path(__file__).resolve().parents[2]


def test_current_version_is_the_manifests():
    manifest = read_manifest(REPO / "sql")
    assert current_sql_version(REPO / "sql") == manifest["current"]
    assert manifest["current"] in manifest["versions"]


def test_synthetic_rows_carry_the_current_version_unless_pinned():
    assert set(synthetic_features(seconds=60)["sql_version"]) == {current_sql_version()}
    assert set(synthetic_features(seconds=60, sql_version="v1")["sql_version"]) == {"v1"}


def test_the_current_version_has_a_committed_model_card():
    card = REPO / model_card_path(REPO / "sql")
    assert card.name == f"model_card_{current_sql_version()}.md"
    assert card.is_file(), f"run the model-card command for {current_sql_version()} (see the card of the last version)"
    assert f"SQL version `{current_sql_version()}`" in card.read_text()


def test_the_feature_spec_describes_the_current_version():
    first = (REPO / "docs" / "feature_spec.md").read_text().splitlines()[0]
    assert first == f"# Feature specification — SQL version `{current_sql_version()}` (current)"
