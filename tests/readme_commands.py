"""Registry for the README-commands check: each command the README shows -> the tests that run it.

Keys are the command as a user types it, up to its subcommand: `glue <command>` or `make <target>`.
`tests/unit/test_readme_commands.py` fails when README.md, handoff/README.md or a page under docs/
shows a `glue ...` or `make ...` command whose key is missing here, or when a
test id below does not exist. Add the test first, then the README line.
"""

from __future__ import annotations

from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
# The front door, the handoff note and every documentation page (repo-relative paths). docs/cli.md is left
# out: it is generated from `--help`, whose examples tests/unit/test_cli_help.py checks.
README_SOURCES = (
    "README.md",
    "handoff/README.md",
    *sorted(str(p.relative_to(_REPO)) for p in (_REPO / "docs").glob("*.md") if p.name != "cli.md"),
)

COVERED: dict[str, list[str]] = {
    "make demo": [
        "tests/unit/test_readme_commands.py::test_make_targets_resolve",
        "tests/integration/test_demo_e2e.py::test_demo_end_to_end_on_the_real_broker",
    ],
    "make test": ["tests/unit/test_readme_commands.py::test_make_targets_resolve"],
    "make test-quick": ["tests/unit/test_readme_commands.py::test_make_targets_resolve"],
    "make bench": ["tests/unit/test_readme_commands.py::test_make_targets_resolve"],
    "glue demo": ["tests/integration/test_demo_e2e.py::test_demo_end_to_end_on_the_real_broker"],
    "glue score": [
        "tests/integration/test_score_kafka.py::test_every_feature_row_gets_one_prediction_and_bad_rows_go_to_the_dlq",
        "tests/integration/test_score_kafka.py::test_sql_version_mismatch_stops_score_with_one_line",
    ],
    "glue handoff": ["tests/integration/test_handoff.py::test_handoff_bundle_is_complete"],
    "glue ingest": ["tests/integration/test_ingest_durability.py"],
    "glue broker": ["tests/integration/test_kafka_broker.py::test_glue_broker_cli_is_a_thin_bridge"],
    "glue check": ["tests/integration/test_kafka_check.py"],
    "glue import": ["tests/integration/test_import_captures.py"],
    "glue replay": [
        "tests/integration/test_featurize_processes.py",
        "tests/integration/test_handoff.py::test_handoff_bundle_is_complete",
    ],
    "glue sql": ["tests/integration/test_featurize_sql.py"],
    "glue featurize": ["tests/integration/test_demo_e2e.py::test_demo_end_to_end_on_the_real_broker"],
    "glue exchange": ["tests/integration/test_demo_e2e.py::test_demo_end_to_end_on_the_real_broker"],
    "glue train": ["tests/integration/test_demo_e2e.py::test_demo_end_to_end_on_the_real_broker"],
    "glue monitor": ["tests/integration/test_demo_e2e.py::test_demo_end_to_end_on_the_real_broker"],
    "glue evaluate": ["tests/integration/test_evaluate_cli.py::test_glue_evaluate_over_two_captures"],
    "glue view": [
        "tests/integration/test_view_browser.py::test_page_loads_without_console_errors_and_shows_every_product",
        "tests/integration/test_view_browser.py::test_stopping_ingest_turns_its_health_stale",
    ],
    "glue infer": ["tests/integration/test_demo_e2e.py::test_demo_end_to_end_on_the_real_broker"],
}
