"""Parts of `glue demo` on real files and processes: the settings file, the output directory guard,
the end-of-market detection, the console alert filter, and Ctrl-C stopping everything it started."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glue.config import Settings, load_settings
from glue.demo import ArchiveCounter, DemoOptions, FirstAlerts, demo_settings, prepare_out_dir, settings_yaml
from glue.errors import ConfigError
from glue.records import Record

REPO = Path(__file__).resolve().parents[2]


def test_the_run_settings_file_round_trips(tmp_path):
    opts = DemoOptions(out_dir=tmp_path / "demo", products=("BTC-USD",))
    settings = demo_settings(Settings(), opts, "127.0.0.1:1234", "ws://127.0.0.1:5")
    path = tmp_path / "glue.yaml"
    path.write_text(settings_yaml(settings))
    assert load_settings(path, {}) == settings
    assert settings.model.tracking_uri == f"sqlite:///{tmp_path / 'demo' / 'mlflow.db'}"


def test_out_dir_guard_never_deletes_a_foreign_directory(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep")
    with pytest.raises(ConfigError, match="not a demo output directory"):
        prepare_out_dir(foreign)
    assert (foreign / "precious.txt").exists()
    demo = tmp_path / "demo"
    prepare_out_dir(demo)
    (demo / "old.txt").write_text("from the last run")
    prepare_out_dir(demo)
    assert not (demo / "old.txt").exists() and (demo / ".glue-demo").exists()


def test_archive_counter_sees_frames_and_the_end_of_market_marker(tmp_path):
    root = tmp_path / "raw" / "2026-01-05"
    root.mkdir(parents=True)
    f = root / "a.ndjson"
    frames = [Record("frame", i, "c1", i, frame='{"channel":"ticker"}').to_archive_line() for i in range(3)]
    f.write_text("\n".join(frames) + "\n" + frames[0][:10])  # a half-written last line is not counted
    counter = ArchiveCounter(tmp_path / "raw")
    assert counter.scan() is False and counter.count == 3
    end = Record("marker", 9, "c1", 9, marker={"type": "disconnect", "detail": {"reason": "replay finished"}})
    with open(f, "a") as fh:
        fh.write(frames[0][10:] + "\n" + end.to_archive_line() + "\n")
    assert counter.scan() is True and counter.count == 4


def test_console_shows_the_first_alerts_then_one_note(tmp_path):
    keep = FirstAlerts(2, tmp_path / "score.log")
    lines = [keep(f"x INFO glue.score: ALERT BTC-USD t{i} p=0.9") for i in range(5)]
    assert lines[:2] == ["x INFO glue.score: ALERT BTC-USD t0 p=0.9", "x INFO glue.score: ALERT BTC-USD t1 p=0.9"]
    assert "further ALERT lines" in lines[2] and lines[3:] == [None, None]
    assert keep("score: consumed 5 rows") == "score: consumed 5 rows"


@pytest.mark.slow
@pytest.mark.kafka
def test_ctrl_c_stops_everything_the_demo_started(tmp_path):
    import psutil

    out = tmp_path / "demo"
    demo = subprocess.Popen([sys.executable, "-m", "glue", "demo", "--minutes", "600", "--out", str(out)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        deadline = time.monotonic() + 300
        for line in demo.stdout:  # wait until ingest and featurize run against the broker
            seen.append(line)
            if "frames archived so far" in line or time.monotonic() > deadline:
                break
        assert any("[3/6] Ingest" in line for line in seen), "".join(seen[-30:])
        demo.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
        rest, _ = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 130, rest[-2000:]
    assert "demo interrupted (Ctrl-C)" in rest
    time.sleep(2)
    leftovers = [p.info for p in psutil.process_iter(["pid", "cmdline"])
                 if p.info["cmdline"] and str(out) in " ".join(p.info["cmdline"])]
    assert leftovers == []
