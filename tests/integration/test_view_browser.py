"""The live view in a real headless browser over the real pipeline.

One stack per module, every part the project's own CLI in its own process: the fake exchange (simulated
market at real speed, a volatility spike after SPIKE_AT_S, and a hostile product id among the products)
-> glue ingest -> the real Kafka broker -> glue featurize -> glue score (a real small model) -> glue view,
looked at by Debian's chromium driven by playwright. The tests run in file order on that one stack; the
last one stops ingest. A browser that cannot start FAILS the tests (never skips).
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from glue.procs import Child, Processes, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]
HOSTILE = "<img src=x onerror=window.__pwned=1>-USD"
SUBSCRIBED = ("BTC-USD", "ETH-USD", "SOL-USD")  # the exchange sends SOL-USD's frames naming HOSTILE
PRODUCTS = ("BTC-USD", "ETH-USD", HOSTILE)
SPIKE_AT_S = 45  # quiet market first, so the model's probability starts low
SPIKE = f"{SPIKE_AT_S}:90:25"


def train_model(directory: Path) -> Path:
    """A real, tiny model whose rule is known: P(spike) rises with `rv_60s_bps` (about 0.02 at the simulated
    market's quiet 1 bps, above 0.5 from about 9 bps, 1.0 in a --spike). Trained with glue.modeling's
    logistic-regression pipeline on generated data, written with `write_artifacts`, loaded by `glue score`
    exactly as a trained model is. (The synthetic training frame of tests.score_support has columns live
    features lack, and its fitted scale says nothing about the simulator.)"""
    import numpy as np

    from glue.modeling.artifacts import write_artifacts
    from glue.modeling.data import current_sql_version
    from glue.modeling.estimators import build_logreg

    rng = np.random.default_rng(7)
    rv = np.exp(rng.normal(1.0, 1.2, 5000))
    label = (rv * np.exp(rng.normal(0.0, 0.5, 5000)) > 8).astype(int)
    model = build_logreg(1.0, 7).fit(rv[:, None], label)
    meta = {"feature_columns": ["rv_60s_bps"], "tau_bps": {"*": 1.0}, "threshold": 0.5,
            "sql_version": current_sql_version(), "sql_fingerprint": "test", "model_version": "view-test-1",
            "trained_at": "2026-01-01T00:00:00Z", "metrics": {}}
    return write_artifacts(directory, model, meta, {})


class Stack:
    """The processes of the pipeline and the view, with their settings file and metrics ports."""

    def __init__(self, procs: Processes, tmp: Path, config: Path, view_url: str, metrics: dict[str, int],
                 children: dict[str, Child]):
        self.procs, self.tmp, self.config, self.view_url = procs, tmp, config, view_url
        self.metrics, self.children = metrics, children

    def glue(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "glue", "--config", str(self.config), *args]


def _listening(child: Child, pattern: str) -> str | None:
    for line in list(child.tail):
        m = re.search(pattern, line)
        if m:
            return m.group(1)
    return None


def start_stack(tmp: Path, bootstrap: str, unique_name, procs: Processes) -> Stack:
    from glue.net import free_port

    artifacts = train_model(tmp / "model")
    metrics = {"ingest": free_port(), "featurize": free_port(), "score": free_port()}
    config = tmp / "glue.yaml"
    config.write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": bootstrap, "topic_raw": unique_name("raw"),
                  "topic_features": unique_name("features"), "topic_predictions": unique_name("predictions"),
                  "topic_dlq": unique_name("dlq"), "partitions_raw": 3, "partitions_features": 3,
                  "partitions_predictions": 3},
        "ingest": {"archive_dir": str(tmp / "raw"), "spool_dir": str(tmp / "spool"), "progress_interval_s": 2.0},
        "features": {"warehouse": str(tmp / "wh.duckdb"), "group_id": unique_name("featurize")},
        "model": {"score_group_id": unique_name("score"), "artifacts_dir": str(artifacts)},
        "view": {"port": 0, "history_s": 300, "stale_s": 4},
        "metrics": {"ingest_port": metrics["ingest"], "featurize_port": metrics["featurize"],
                    "score_port": metrics["score"]},
    }))
    stack = Stack(procs, tmp, config, "", metrics, {})
    ex = procs.start("exchange", stack.glue("exchange", "--port", "0", "--speed", "1", "--products",
                                            ",".join(SUBSCRIBED), "--spike", SPIKE, "--rename-product",
                                            f"SOL-USD={HOSTILE}", "--status-interval", "30"), echo=False)
    assert wait_for(lambda: _listening(ex, r"exchange listening on (\S+)") is not None, 60, 0.2,
                    alive=lambda: procs.check_alive(ex))
    url = _listening(ex, r"exchange listening on (\S+)")
    children = {"exchange": ex}
    children["featurize"] = procs.start("featurize", stack.glue("featurize", "--parquet", str(tmp / "features"),
                                                                "--progress-interval", "2"), echo=False)
    children["score"] = procs.start("score", stack.glue("score", "--model", str(artifacts),
                                                        "--progress-interval", "2"), echo=False)
    pairs = [a for p in SUBSCRIBED for a in ("--pair", p)]
    children["ingest"] = procs.start("ingest", stack.glue("ingest", "--url", url, *pairs), echo=False)
    children["view"] = view = procs.start("view", stack.glue("view"), echo=False)
    assert wait_for(lambda: _listening(view, r"view: open (\S+)") is not None, 60, 0.2,
                    alive=lambda: procs.check_alive(view))
    stack.view_url = _listening(view, r"view: open (\S+)")
    stack.children = children
    return stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory, kafka_bootstrap) -> Iterator[Stack]:
    from glue.testing.names import unique_name

    tmp = tmp_path_factory.mktemp("view")
    with Processes(tmp / "logs", echo=lambda line: None) as procs:
        yield start_stack(tmp, kafka_bootstrap, unique_name, procs)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium under playwright; fails (never skips) when it cannot start."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def page(browser, stack):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    p = context.new_page()
    p.console_errors = []
    p.on("console", lambda m: m.type == "error" and p.console_errors.append(m.text))
    p.on("pageerror", lambda exc: p.console_errors.append(str(exc)))
    p.goto(stack.view_url)
    yield p
    context.close()


def cards(page) -> dict[str, dict[str, str]]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.card')].map(c => [
        c.querySelector('.product-name').textContent,
        {price: c.querySelector('.price-value').textContent, prob: c.querySelector('.prob-value').textContent}]))""")


def wait_page(page, predicate, timeout_s: float, what: str, stack: Stack | None = None):
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if stack is not None:
            for child in stack.children.values():
                stack.procs.check_alive(child)
        page.wait_for_timeout(500)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; last value {value!r}; "
                         f"page: {cards(page)!r}")


def test_page_loads_without_console_errors_and_shows_every_product(page, stack, tmp_path):
    shown = wait_page(page, lambda: (c := cards(page)) and all(
        p in c and c[p]["price"] != "–" and c[p]["prob"] != "–" for p in PRODUCTS) and c, 180,
        "every product with a price and a probability", stack)
    assert set(PRODUCTS) <= set(shown)
    assert page.evaluate("document.querySelectorAll('.card .js-plotly-plot').length") >= 3 * len(PRODUCTS)
    scripts = page.evaluate("[...document.scripts].map(s => s.src)")
    assert scripts and all(s.startswith(stack.view_url) for s in scripts), scripts  # no CDN
    assert page.console_errors == []
    page.screenshot(path=str(tmp_path / "view.png"), full_page=True)


def test_probability_and_price_change_as_rows_arrive(page, stack):
    before = cards(page)
    n_before = page.evaluate("window.__view.seen.length")
    wait_page(page, lambda: page.evaluate("window.__view.seen.length") >= n_before + 3 * len(PRODUCTS), 30,
              "new predictions on the page", stack)
    after = wait_page(page, lambda: (c := cards(page)) and any(
        c[p]["price"] != before[p]["price"] for p in PRODUCTS) and any(
        c[p]["prob"] != before[p]["prob"] for p in PRODUCTS) and c, 60, "a price and a probability to change", stack)
    assert after != before
    # the model's label drawn on the volatility chart: flat at its tau (assignment model), named on the card
    line = page.evaluate("""() => { const c = document.querySelector('.card');
        const t = c.querySelector('.chart-vol').data.find(d => d.name === 'label threshold');
        return {y: t ? [...new Set(t.y)] : null, text: c.querySelector('.versions').textContent}; }""")
    assert line["y"] == [1.0] and "label τ 1.00 bps" in line["text"]
    assert page.console_errors == []


def test_an_alert_appears_when_the_market_spikes(page, stack, tmp_path):
    rows = wait_page(page, lambda: page.evaluate("document.querySelectorAll('#alerts tbody tr').length"), 240,
                     "an alert in the recent alerts list", stack)
    assert rows >= 1
    first = page.evaluate("[...document.querySelector('#alerts tbody tr').cells].map(c => c.textContent)")
    assert first[1] in PRODUCTS and 0.0 <= float(first[2]) <= 1.0
    # and the alert is marked on that product's price chart (the red markers trace gets points; charts are
    # redrawn on their own clock, about once a second)
    marked = wait_page(page, lambda: page.evaluate("""(pid) => { const c = [...document.querySelectorAll('.card')]
        .find(c => c.querySelector('.product-name').textContent === pid);
        const chart = c.querySelector('.chart-price');
        return chart.data ? chart.data[1].x.length : 0; }""", first[1]), 10, "the alert marked on the price chart")
    assert marked >= 1
    page.screenshot(path=str(tmp_path / "view-alert.png"), full_page=True)
    assert page.console_errors == []


def test_hostile_product_id_is_shown_as_text_and_nothing_runs(page, stack):
    names = page.evaluate("[...document.querySelectorAll('.product-name')].map(e => e.textContent)")
    assert HOSTILE in names
    assert page.evaluate("window.__pwned") is None
    # no element was made from the feed's text: the only images are plotly's, none with an onerror
    assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    assert page.evaluate("document.querySelectorAll('.card img, #alerts img, .product-name *').length") == 0
    assert page.console_errors == []


def test_metrics_of_every_service_parse_and_counters_move(stack):
    from prometheus_client.parser import text_string_to_metric_families

    def scrape(port: int) -> dict[str, float]:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        out = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if not sample.labels or sample.name.endswith("_count"):
                    out[sample.name] = out.get(sample.name, 0.0) + sample.value
                else:
                    out[sample.name + json.dumps(sample.labels, sort_keys=True)] = sample.value
        return out

    moving = {"ingest": "glue_ingest_frames_total", "featurize": "glue_featurize_records_total",
              "score": "glue_score_predictions_total"}
    first = {svc: scrape(port) for svc, port in stack.metrics.items()}
    time.sleep(4)
    second = {svc: scrape(port) for svc, port in stack.metrics.items()}
    for svc, name in moving.items():
        assert second[svc][name] > first[svc][name] > 0, (svc, name)
    assert second["featurize"]["glue_featurize_rows_total"] > 0
    assert second["score"]["glue_score_latency_seconds_count"] > 0
    assert "glue_ingest_reconnects_total" in second["ingest"]


def test_stopping_ingest_turns_its_health_stale(page, stack, tmp_path):
    assert not page.evaluate("document.querySelector('.stage[data-stage=ingest]').classList.contains('stale')")
    stack.procs.stop(stack.children["ingest"])
    stopped = time.monotonic()
    wait_page(page, lambda: page.evaluate(
        "document.querySelector('.stage[data-stage=ingest]').classList.contains('stale')"), 15,
        "the ingest stage to turn stale")
    took = time.monotonic() - stopped
    assert took < 12, f"ingest turned stale only after {took:.1f} s"
    page.screenshot(path=str(tmp_path / "view-stale.png"), full_page=True)
    assert page.console_errors == []
