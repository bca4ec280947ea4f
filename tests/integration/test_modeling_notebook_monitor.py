"""The EDA notebook executes end to end, and `glue monitor` writes Evidently drift + quality reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.modeling_data import fast_settings, write_features

pytestmark = pytest.mark.slow
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "eda.ipynb"


def test_eda_notebook_executes_on_generated_data(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    features = write_features(tmp_path, seconds=3600)
    monkeypatch.setenv("GLUE_EDA_FEATURES", str(features))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # "python3" is ipykernel's native kernel: it runs this interpreter (the venv's), with glue importable.
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "tau (bps)" in outputs and "rows, products" in outputs
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    images = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert images >= 4


def test_notebook_reads_through_project_code():
    text = NOTEBOOK.read_text()
    assert "from glue.modeling" in text and "read_features" in text


def test_monitor_writes_drift_and_quality_reports_and_logs_to_mlflow(tmp_path, monkeypatch):
    import mlflow

    from glue.monitor import run_monitor

    features = write_features(tmp_path, seconds=3600)
    settings = fast_settings(tmp_path)
    monkeypatch.chdir(tmp_path)
    summaries = run_monitor(settings, str(features), max_rows=3000)
    # each comparison on the raw columns, then on what the model sees (model inputs, PSI on thinned rows)
    assert [s.name for s in summaries] == ["early_vs_late", "inputs_early_vs_late", "test_vs_train",
                                           "inputs_test_vs_train"]
    for s in summaries:
        column = "log_rv_60s" if s.name.startswith("inputs_") else "rv_60s_bps"
        html, js = Path(s.html_path), Path(s.json_path)
        assert html.is_file() and js.is_file() and html.parent == tmp_path / "reports" / "evidently"
        doc = json.loads(js.read_text())
        names = [m["metric_name"] for m in doc["metrics"]]
        assert any(n.startswith("DriftedColumnsCount") for n in names)  # drift section
        assert any(n.startswith(f"ValueDrift(column={column}") for n in names)
        assert any(n.startswith(("RowCount", "MissingValueCount", "ColumnCount")) for n in names)  # quality
        assert not any("sigma_future_bps" in n for n in names)  # the label is not a monitored column
        assert 0 <= s.share <= 1 and s.n_columns > 5
        assert not s.name.startswith("inputs_") or "PSI" in js.read_text() or "psi" in js.read_text()
        assert "columns drifted" in s.line()
    mlflow.set_tracking_uri(settings.model.tracking_uri)
    exp = mlflow.get_experiment_by_name(settings.model.experiment)
    runs = mlflow.search_runs([exp.experiment_id], output_format="list")
    monitor = [r for r in runs if r.info.run_name == "monitor"]
    assert monitor and "test_vs_train_drift_share" in monitor[0].data.metrics
