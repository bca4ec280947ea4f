"""The one-command demo: the whole product on a simulated market, then where everything is.

Owns the orchestration only; every stage is the project's own CLI run as a child process, exactly
as a user would run it, with one settings file for the run (`<out>/glue.yaml`) so that every
output lands under `<out>`:

    fake exchange (simulator, fixed seed, faster than real time)   [or the real feed with --live]
      -> local Kafka broker (docker/local-kafka, own home and free ports) when Java is available
      -> glue ingest (ticks.raw + NDJSON archive) -> glue featurize (ticks.features + DuckDB)
      -> glue train (MLflow) -> glue monitor (Evidently) -> glue score (ticks.predictions)
    without Java: glue ingest (archive only) -> glue replay (same SQL views) -> train -> monitor
      -> glue infer (predictions file)

Every child is stopped on success, failure and Ctrl-C/SIGTERM (`glue.procs.Processes`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glue import kafka
from glue.config import COINBASE_WS_URL, Secret, Settings
from glue.errors import ConfigError, GlueError
from glue.net import free_port
from glue.procs import Child, Processes, StageFailed, wait_for

log = logging.getLogger("glue.demo")

# A fixed market clock start: the same seed and start give the same frames, features and model.
SIM_START_AT = "2026-01-05T00:00:00Z"
FEATURIZE_GROUP = "glue-demo-featurize"
SCORE_GROUP = "glue-demo-score"
MARKER = ".glue-demo"  # a directory holding this file is a demo output the demo may wipe
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class DemoOptions:
    minutes: float = 180.0  # simulated market minutes (wall-clock minutes with --live)
    live: bool = False
    products: tuple[str, ...] = ("BTC-USD", "ETH-USD")
    out_dir: Path = Path("data/demo")
    bootstrap: str | None = None  # use this running broker instead of starting one
    use_kafka: bool | None = None  # None = when Java is available
    speed: float = 0.0  # exchange speed: 0 = as fast as ingest reads
    seed: int = 7
    python: str = sys.executable
    view: bool = False  # after the run: a live market at view_speed, the pipeline and glue view, until Ctrl-C
    view_speed: float = 1.0  # the live market's speed (1 = real time)
    view_spike_at_s: float = 120.0  # the live market spikes this long after it starts (0 = no spike)


@dataclass
class DemoResult:
    out_dir: Path
    mode: str  # "kafka" or "archive"
    paths: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    mlflow: dict[str, Any] = field(default_factory=dict)


class Interrupted(GlueError):
    exit_code = 130


@contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so the `finally` that stops every child always runs."""

    def handler(signum: int, _frame: Any) -> None:
        raise Interrupted(f"demo interrupted by {signal.Signals(signum).name}", "every started process was stopped")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except KeyboardInterrupt as exc:
        raise Interrupted("demo interrupted (Ctrl-C)", "every started process was stopped") from exc
    finally:
        signal.signal(signal.SIGTERM, previous)


def java_available() -> bool:
    return shutil.which("java") is not None


def demo_settings(base: Settings, opts: DemoOptions, bootstrap: str, url: str) -> Settings:
    """The run's settings: everything under the output directory, the demo's products and broker."""
    out = opts.out_dir
    return base.replace(
        {
            "kafka.bootstrap_servers": bootstrap,
            "ingest.url": url,
            "ingest.pairs": list(opts.products),
            "ingest.archive_dir": str(out / "raw"),
            "ingest.spool_dir": str(out / "spool"),
            "ingest.progress_interval_s": 5.0,
            "exchange.products": list(opts.products),
            "exchange.seed": opts.seed,
            "exchange.speed": opts.speed,
            "features.warehouse": str(out / "warehouse.duckdb"),
            "features.parquet": str(out / "features.parquet"),
            "features.group_id": FEATURIZE_GROUP,
            "model.artifacts_dir": str(out / "models" / "artifacts"),
            "model.tracking_uri": f"sqlite:///{out / 'mlflow.db'}",
            "model.reports_dir": str(out / "reports"),
        }
    )


def settings_yaml(settings: Settings) -> str:
    """The settings as a config file (secrets left out: they stay in the environment/.env)."""
    import yaml

    def plain(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj):
            return {
                f.name: plain(getattr(obj, f.name))
                for f in dataclasses.fields(obj)
                if not isinstance(getattr(obj, f.name), Secret)
            }
        if isinstance(obj, tuple):
            return [plain(v) for v in obj]
        return obj

    header = "# Settings of one `glue demo` run: every command of the run used `glue --config <this file>`.\n"
    return header + yaml.safe_dump(plain(settings), sort_keys=False)


def prepare_out_dir(out: Path) -> None:
    """Start from an empty output directory; only a previous demo output is ever deleted."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise ConfigError(f"{out} exists and is not a demo output directory", "pass another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by `glue demo`; the next demo run with this --out deletes this directory\n")


class Demo:
    """One demo run: stages in order, progress on the console, children always stopped."""

    def __init__(self, base: Settings, opts: DemoOptions, echo: Callable[[str], None]):
        self.base = base
        self.opts = opts
        self.echo = echo
        self.out = opts.out_dir
        self.started = time.monotonic()
        self.result = DemoResult(out_dir=self.out, mode="")
        self.stage_no = 0
        # both paths: (broker|-), market, ingest(+featurize), (replay), train, monitor, score; (+ live with --view)
        self.stage_total = 7 if opts.view else 6

    # -- helpers -----------------------------------------------------------------------------
    def glue(self, *args: str) -> list[str]:
        """argv for a glue command of this run (same interpreter, the run's settings file)."""
        return [self.opts.python, "-m", "glue", "--config", str(self.config_path), *args]

    def stage(self, title: str) -> float:
        self.stage_no += 1
        elapsed = time.monotonic() - self.started
        self.echo(f"\n[{self.stage_no}/{self.stage_total}] {title}   (t+{elapsed:.0f}s)")
        return time.monotonic()

    def done(self, key: str, t0: float, detail: str = "") -> None:
        took = time.monotonic() - t0
        self.result.timings_s[key] = round(took, 1)
        self.echo(f"      done in {took:.1f}s{(' - ' + detail) if detail else ''}")

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> DemoResult:
        opts = self.opts
        prepare_out_dir(self.out)
        use_kafka = opts.use_kafka if opts.use_kafka is not None else (bool(opts.bootstrap) or java_available())
        self.result.mode = "kafka" if use_kafka else "archive"
        if not use_kafka:
            why = "--no-kafka was given" if opts.use_kafka is False else "Java was not found"
            self.echo(
                f"note: {why}, so no local Kafka broker runs here. The demo runs the same SQL views over the"
                " NDJSON archive instead (glue replay) and scores with glue infer."
                + ("" if opts.use_kafka is False else " Install a JDK 17+ to see the streaming path.")
            )
        with Processes(self.out / "logs", echo=self.echo) as procs, _signals_raise():
            bootstrap = self.start_broker(procs) if use_kafka else "127.0.0.1:9"
            url, exchange = self.start_exchange(procs)
            self.settings = demo_settings(self.base, opts, bootstrap, url)
            self.config_path = self.out / "glue.yaml"
            # featurize writes a directory of Parquet parts; replay writes one file
            self.features_dir = self.out / ("features" if use_kafka else "features.parquet")
            self.training_path = self.out / "training.parquet"
            self.predictions_path = self.out / ("predictions.ndjson" if use_kafka else "predictions.parquet")
            self.config_path.write_text(settings_yaml(self.settings))
            if use_kafka:
                self.ingest_and_featurize_kafka(procs, exchange)
            else:
                self.ingest_archive_only(procs, exchange)
                self.replay(procs)
            self.train(procs)
            self.monitor(procs)
            if use_kafka:
                self.score_kafka(procs)
            else:
                self.infer_file(procs)
            if opts.view and use_kafka:
                self.collect()
                self.live_view(procs)
            elif opts.view:
                self.echo("note: --view needs the Kafka path (Java for the local broker, or --bootstrap); skipped")
        self.result.timings_s["total"] = round(time.monotonic() - self.started, 1)
        self.collect()
        return self.result

    # -- stages ------------------------------------------------------------------------------
    def start_broker(self, procs: Processes) -> str:
        t0 = self.stage("Kafka: the local broker (docker/local-kafka, no Docker needed)")
        if self.opts.bootstrap:
            kafka.wait_until_ready(self.opts.bootstrap, 30.0)
            self.done("broker", t0, f"using the running broker at {self.opts.bootstrap}")
            return self.opts.bootstrap
        port, controller = free_port(), free_port()
        home = (self.out / "kafka").resolve()
        script = str(REPO / "docker" / "local-kafka")
        # The broker daemonises: stop it with the script when the run ends, whatever happens (registered
        # before `up`, so a Ctrl-C during start-up stops it too; `down` with nothing running is harmless).
        procs.at_exit.append(lambda: procs.run("broker-down", [script, "down", "--home", str(home)], timeout_s=60))
        procs.run("broker", [script, "up", "--port", str(port), "--controller-port", str(controller),
                             "--home", str(home), "--heap", "512m", "--timeout", "120",
                             # even a `kill -9` of the demo cannot leave the broker's JVM behind
                             "--stop-with", str(os.getpid())], timeout_s=300)
        self.done("broker", t0, f"127.0.0.1:{port} (home {home})")
        return f"127.0.0.1:{port}"

    def start_exchange(self, procs: Processes) -> tuple[str, Child | None]:
        opts = self.opts
        if opts.live:
            t0 = self.stage("Market: the real Coinbase Advanced Trade feed (--live)")
            self.done("exchange", t0, COINBASE_WS_URL)
            return COINBASE_WS_URL, None
        t0 = self.stage(f"Market: the fake exchange, {opts.minutes:.0f} simulated minutes, seed {opts.seed}")
        argv = [opts.python, "-m", "glue", "exchange", "--host", "127.0.0.1", "--port", "0",
                "--source", "sim", "--speed", str(opts.speed), "--products", ",".join(opts.products),
                "--seed", str(opts.seed), "--sim-minutes", str(opts.minutes), "--start-at", SIM_START_AT,
                "--status-interval", "30"]
        child = procs.start("exchange", argv)
        # Port 0: the exchange binds a free port itself (no race) and prints its URL.
        if not wait_for(lambda: _listening_url(child) is not None, 60, 0.2, alive=lambda: procs.check_alive(child)):
            raise StageFailed("the fake exchange did not start listening within 60 s", f"see {child.log_path}")
        url = _listening_url(child)
        assert url is not None  # wait_for saw it
        self.done("exchange", t0, url)
        return url, child

    def ingest_and_featurize_kafka(self, procs: Processes, exchange: Child | None) -> None:
        t0 = self.stage("Ingest + featurize: WebSocket -> ticks.raw + archive -> DuckDB SQL -> ticks.features")
        featurize = procs.start("featurize", self.glue(
            "featurize", "--parquet", str(self.features_dir), "--warehouse", self.settings.features.warehouse,
            "--group", FEATURIZE_GROUP))
        ingest = procs.start("ingest", self.glue("ingest", *self._ingest_args()))
        self._wait_market_done(procs, ingest, exchange)
        procs.stop(ingest)
        self.done("ingest", t0, "market finished; ingest stopped and flushed")
        t1 = time.monotonic()
        self._wait_featurize_caught_up(procs, featurize)
        procs.stop(featurize)
        self.done("featurize", t1, f"feature rows in ticks.features and {self.features_dir}/")

    def ingest_archive_only(self, procs: Processes, exchange: Child | None) -> None:
        t0 = self.stage("Ingest: WebSocket -> NDJSON archive (no Kafka)")
        ingest = procs.start("ingest", self.glue("ingest", "--no-kafka", *self._ingest_args()))
        self._wait_market_done(procs, ingest, exchange)
        procs.stop(ingest)
        self.done("ingest", t0)

    def replay(self, procs: Processes) -> None:
        t0 = self.stage("Featurize the archive: the same SQL views (glue replay)")
        procs.run("replay", self.glue("replay", "--raw", self.settings.ingest.archive_dir, "--out",
                                      str(self.features_dir), "--warehouse", self.settings.features.warehouse),
                  timeout_s=900)
        self.done("replay", t0, f"features in {self.features_dir}")

    def train(self, procs: Processes) -> None:
        t0 = self.stage("Train: time-based splits, baselines and models, logged to MLflow")
        rows = export_training_set(self.settings.features.warehouse, self.training_path)
        self.result.counts["training_rows"] = rows
        self.echo(f"      training set: {rows} rows of the warehouse's training view -> {self.training_path}")
        procs.run("train", self.glue("train", "--features", str(self.training_path), "--model-card",
                                     str(self.out / "model_card.md")), timeout_s=1200)
        self.done("train", t0, f"MLflow store {self.settings.model.tracking_uri}")

    def monitor(self, procs: Processes) -> None:
        t0 = self.stage("Monitor: Evidently data-drift and data-quality reports")
        procs.run("monitor", self.glue("monitor", "--features", str(self.features_dir)), timeout_s=600)
        self.done("monitor", t0, f"reports in {Path(self.settings.model.reports_dir) / 'evidently'}")

    def score_kafka(self, procs: Processes) -> None:
        t0 = self.stage("Score: ticks.features -> registered model -> ticks.predictions (alerts shown)")
        model = f"models:/{self.settings.model.registered_model}@{self.settings.model.alias}"
        procs.run("score", self.glue("score", "--model", model, "--group", SCORE_GROUP, "--idle-exit", "5",
                                     "--progress-interval", "2"), timeout_s=600,
                  echo_filter=FirstAlerts(10, self.out / "logs" / "score.log"))
        n = kafka.dump_topic(self.settings.kafka, self.settings.kafka.topic_predictions, self.predictions_path)
        self.result.counts["predictions"] = n
        self.done("score", t0, f"{n} predictions, copied from ticks.predictions to {self.predictions_path}")

    def infer_file(self, procs: Processes) -> None:
        t0 = self.stage("Score: the features with the registered model (glue infer)")
        model = f"models:/{self.settings.model.registered_model}@{self.settings.model.alias}"
        procs.run("infer", self.glue("infer", "--model", model, "--features", str(self.features_dir),
                                     "--out", str(self.predictions_path)), 600)
        self.done("score", t0, f"predictions in {self.predictions_path}")

    def live_view(self, procs: Processes) -> None:
        """A live market at real speed (or --speed) through ingest, featurize and score, with glue view on
        it, until Ctrl-C. Own topics and warehouse (`<out>/live/`), so the page shows this market only."""
        opts = self.opts
        for child in procs.children:  # the first market has ended; its exchange is of no more use
            if child.name == "exchange":
                procs.stop(child)
        t0 = self.stage(f"Live: a market at speed {opts.view_speed:g} -> ingest -> featurize -> score -> glue view")
        live = self.out / "live"
        live.mkdir(parents=True, exist_ok=True)
        topics = self.settings.kafka
        settings = self.settings.replace({
            "kafka.topic_raw": f"{topics.topic_raw}.live",
            "kafka.topic_features": f"{topics.topic_features}.live",
            "kafka.topic_predictions": f"{topics.topic_predictions}.live",
            "kafka.topic_dlq": f"{topics.topic_dlq}.live",
            "ingest.archive_dir": str(live / "raw"), "ingest.spool_dir": str(live / "spool"),
            "features.warehouse": str(live / "warehouse.duckdb"), "features.group_id": f"{FEATURIZE_GROUP}-live",
            "model.score_group_id": f"{SCORE_GROUP}-live",
        })
        config = self.out / "glue-live.yaml"
        config.write_text(settings_yaml(settings))

        def glue(*args: str) -> list[str]:
            return [opts.python, "-m", "glue", "--config", str(config), *args]

        argv = glue("exchange", "--host", "127.0.0.1", "--port", "0", "--source", "sim", "--speed",
                    str(opts.view_speed), "--products", ",".join(opts.products), "--seed", str(opts.seed + 1),
                    "--status-interval", "60")
        if opts.view_spike_at_s > 0:
            argv += ["--spike", f"{opts.view_spike_at_s:g}:60:12"]
        if opts.live:
            url = COINBASE_WS_URL
        else:
            exchange = procs.start("live-exchange", argv, echo=False)
            if not wait_for(lambda: _listening_url(exchange) is not None, 60, 0.2,
                            alive=lambda: procs.check_alive(exchange)):
                raise StageFailed("the live exchange did not start listening within 60 s", f"see {exchange.log_path}")
            url = _listening_url(exchange) or ""
        model = f"models:/{settings.model.registered_model}@{settings.model.alias}"
        procs.start("live-featurize", glue("featurize", "--parquet", str(live / "features")), echo=False)
        procs.start("live-score", glue("score", "--model", model), echo=False,
                    echo_filter=lambda line: line if " ALERT " in line else None)
        procs.start("live-ingest", glue("ingest", "--url", url,
                                        *[a for p in opts.products for a in ("--pair", p)]), echo=False)
        view = procs.start("view", glue("view", "--model", settings.model.artifacts_dir), echo=False)
        if not wait_for(lambda: _view_url(view) is not None, 60, 0.2, alive=lambda: procs.check_alive(view)):
            raise StageFailed("glue view did not start within 60 s", f"see {view.log_path}")
        view_url = _view_url(view)
        assert view_url is not None  # wait_for saw it
        self.result.paths["view"] = Path(view_url)
        self.done("live", t0, "running")
        self.result.timings_s["total"] = round(time.monotonic() - self.started, 1)
        self.echo(format_summary(self.result))
        spike = (f"; the market spikes {opts.view_spike_at_s:g} s in, so an alert shows"
                 if opts.view_spike_at_s > 0 and not opts.live else "")
        self.echo(f"\n  live view              {view_url}   (open it in a browser{spike})\n"
                  f"  live settings          {config}   (glue --config {config} view)\n"
                  "  Ctrl-C stops the live market, the pipeline and the view.")
        try:
            while True:
                for child in procs.children:
                    if child.name.startswith(("live-", "view")):
                        procs.check_alive(child)
                time.sleep(1)
        except Interrupted:
            self.echo("\nstopping the live market, the pipeline and the view ...")

    # -- waiting -----------------------------------------------------------------------------
    def _ingest_args(self) -> list[str]:
        args = ["--url", self.settings.ingest.url]
        for p in self.opts.products:
            args += ["--pair", p]
        if self.opts.live:
            args += ["--minutes", str(self.opts.minutes)]
        return args

    def _wait_market_done(self, procs: Processes, ingest: Child, exchange: Child | None) -> None:
        """Sim: the exchange closes the connection with "replay finished" once its market minutes are
        served; ingest archives that disconnect marker after every frame before it, so when the marker
        is in the archive, everything the exchange sent is archived (and handed to the Kafka producer)."""
        if exchange is None:  # live: ingest stops itself after --minutes
            ingest.popen.wait(timeout=self.opts.minutes * 60 + 120)
            return
        counter = ArchiveCounter(Path(self.settings.ingest.archive_dir))
        last_report = time.monotonic()
        # Generous: the market is read as fast as ingest can archive and produce it.
        deadline = time.monotonic() + 60 + self.opts.minutes * 6
        while not counter.scan():
            procs.check_alive(ingest)
            procs.check_alive(exchange)
            if time.monotonic() > deadline:
                raise StageFailed("the simulated market did not finish in time", f"see {ingest.log_path}")
            if time.monotonic() - last_report >= 10:
                last_report = time.monotonic()
                self.echo(f"      ... {counter.count} frames archived so far")
            time.sleep(0.5)
        self.result.counts["frames"] = counter.count

    def _wait_featurize_caught_up(self, procs: Processes, featurize: Child) -> None:
        """Caught up: featurize's committed offsets on ticks.raw reach its end, or the features topic
        has stopped growing for a while (the last seconds wait for the watermark and stay open)."""
        topic = self.settings.kafka.topic_features
        raw_end = kafka.end_offsets(self.settings.kafka, self.settings.kafka.topic_raw)
        last, stable_since = -1, time.monotonic()
        deadline = time.monotonic() + 900
        last_report = time.monotonic()
        while time.monotonic() < deadline:
            procs.check_alive(featurize)
            total = sum(kafka.end_offsets(self.settings.kafka, topic).values())
            done = kafka.committed_offsets(self.settings.kafka, FEATURIZE_GROUP, self.settings.kafka.topic_raw)
            behind = sum(max(0, end - done.get(p, 0)) for p, end in raw_end.items())
            if total != last:
                last, stable_since = total, time.monotonic()
            stable_s = time.monotonic() - stable_since
            if total > 0 and ((behind == 0 and stable_s >= 3) or stable_s >= 20):
                return
            if time.monotonic() - last_report >= 10:
                last_report = time.monotonic()
                self.echo(f"      ... {total} feature rows published, {behind} raw records still to featurize")
            time.sleep(1)
        raise StageFailed("featurize did not catch up within 15 minutes", f"see {featurize.log_path}")

    # -- the summary -------------------------------------------------------------------------
    def collect(self) -> None:
        s = self.settings
        reports = Path(s.model.reports_dir)
        self.result.paths = {
            "settings": self.config_path,
            "archive": Path(s.ingest.archive_dir),
            "warehouse": Path(s.features.warehouse),
            "features": self.features_dir,
            "mlflow_db": self.out / "mlflow.db",
            "model": Path(s.model.artifacts_dir),
            "train_eval_pdf": reports / "train_eval.pdf",
            "evidently": reports / "evidently",
            "predictions": self.predictions_path,
            "logs": self.out / "logs",
        }
        self.result.mlflow = mlflow_summary(s)
        import pyarrow.dataset as ds

        self.result.counts["feature_rows"] = ds.dataset(str(self.features_dir), format="parquet").count_rows()


class FirstAlerts:
    """Console filter for glue score: the first few ALERT lines, then one note (all are in the log)."""

    def __init__(self, keep: int, log_path: Path):
        self.keep, self.seen, self.log_path = keep, 0, log_path

    def __call__(self, line: str) -> str | None:
        if " ALERT " not in line:
            return line
        self.seen += 1
        if self.seen <= self.keep:
            return line
        if self.seen == self.keep + 1:
            return f"... further ALERT lines are in {self.log_path} (the summary below counts them all)"
        return None


class ArchiveCounter:
    """Counts archived frames incrementally (files are append-only, so only new bytes are read) and
    spots the exchange's end-of-market close ("replay finished") among the disconnect markers."""

    END_TOKEN = b"replay finished"

    def __init__(self, root: Path):
        self.root = root
        self.offsets: dict[Path, int] = {}
        self.count = 0
        self.ended = False

    def scan(self) -> bool:
        """Read what was appended since the last call; True once the market's end is archived."""
        for path in sorted(self.root.rglob("*.ndjson")):
            start = self.offsets.get(path, 0)
            with open(path, "rb") as f:
                f.seek(start)
                chunk = f.read()
            end = chunk.rfind(b"\n") + 1  # only whole lines
            whole = chunk[:end]
            self.count += whole.count(b'"kind":"frame"')
            if self.END_TOKEN in whole and any(
                self.END_TOKEN in line and b'"kind":"marker"' in line for line in whole.splitlines()
            ):
                self.ended = True
            self.offsets[path] = start + end
        return self.ended


def _view_url(child: Child) -> str | None:
    for line in list(child.tail):
        if line.startswith("view: open "):
            return line.split()[2]
    return None


def _listening_url(child: Child) -> str | None:
    for line in list(child.tail):
        if line.startswith("exchange listening on "):
            return line.split()[-1]
    return None


def export_training_set(warehouse: str, out: Path) -> int:
    """The warehouse's training view (features + sigma_future_bps at the same t) as one Parquet file."""
    import duckdb

    from glue import warehouse as wh

    view = getattr(wh, "TRAINING_VIEW", "trn_training_1s")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute(f"COPY (SELECT * FROM {view} ORDER BY second_at, product_id) TO '{out}' (FORMAT parquet)")
        return con.execute(f"SELECT count(*) FROM '{out}'").fetchall()[0][0]
    finally:
        con.close()


def mlflow_summary(settings: Settings) -> dict[str, Any]:
    """Experiment id, run names and the UI command for the run's MLflow store."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=settings.model.tracking_uri)
    exp = client.get_experiment_by_name(settings.model.experiment)
    if exp is None:
        return {"experiment_id": None, "runs": []}
    runs = client.search_runs([exp.experiment_id], max_results=100)
    return {
        "experiment_id": exp.experiment_id,
        "runs": sorted(r.info.run_name for r in runs),
        "ui": f"mlflow ui --backend-store-uri {settings.model.tracking_uri} --port 5000",
        "url": f"http://127.0.0.1:5000/#/experiments/{exp.experiment_id}/runs",
    }


def format_summary(result: DemoResult) -> str:
    p = result.paths
    lines = [
        "",
        f"Demo finished in {result.timings_s.get('total', 0):.0f} s ({result.mode} path). Where everything is:",
        f"  features (Parquet)     {p['features']}",
        f"  raw archive (NDJSON)   {p['archive']}",
        f"  warehouse (DuckDB)     {p['warehouse']}",
        f"  model artifacts        {p['model']}",
        f"  training report        {p['train_eval_pdf']}",
        f"  Evidently reports      {p['evidently']}",
        f"  predictions            {p['predictions']}",
        f"  logs of every stage    {p['logs']}",
        f"  settings of this run   {p['settings']}   (use: glue --config {p['settings']} <command>)",
    ]
    m = result.mlflow
    if m.get("experiment_id") is not None:
        lines += [
            f"  MLflow runs            {len(m['runs'])} in {p['mlflow_db']}: {', '.join(m['runs'][:8])}",
            f"    open the UI:         {m['ui']}",
            f"    then the runs page:  {m['url']}",
        ]
    if result.counts:
        lines.append("  counts                 " + ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items())))
    lines.append("  stage timings (s)      " + ", ".join(f"{k} {v}" for k, v in result.timings_s.items()))
    return "\n".join(lines)


def run_demo(base: Settings, opts: DemoOptions, echo: Callable[[str], None] | None = None) -> DemoResult:
    """Run the demo end to end and return where everything is; raises `GlueError` on failure."""
    demo = Demo(base, opts, echo or (lambda line: print(line, flush=True)))
    return demo.run()
