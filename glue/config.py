"""Settings: one frozen object, built once, passed down.

Precedence, lowest first: the dataclass defaults below < `config.yaml` < environment
(`GLUE_<SECTION>__<KEY>`, also read from `.env`) < command-line flags. Only the CLI calls
`load_settings`; library code receives a `Settings` (or one of its sections) and never reads
`os.environ` itself.

Secrets are `Secret` values: they print as `'***'` and are unwrapped only where they are used.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from glue.errors import ConfigError

ENV_PREFIX = "GLUE_"
COINBASE_WS_URL = "wss://advanced-trade-ws.coinbase.com"


class Secret(str):
    """A string that never shows its value in repr, str or logs."""

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def __str__(self) -> str:
        return "***" if self else ""

    def reveal(self) -> str:
        return str.__str__(self)


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_raw: str = "ticks.raw"
    topic_features: str = "ticks.features"
    topic_predictions: str = "ticks.predictions"
    topic_dlq: str = "ticks.dlq"
    partitions_raw: int = 6
    partitions_features: int = 6
    partitions_predictions: int = 6
    replication_factor: int = 1
    # Raw level2 snapshots are several MB; every size limit in the path is raised to this.
    max_message_bytes: int = 33554432
    compression: str = "zstd"
    linger_ms: int = 20
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: Secret = Secret("")  # noqa: RUF009 (immutable str)


@dataclass(frozen=True)
class BrokerSettings:
    """The project's local (no-Docker) Kafka broker, `docker/local-kafka`."""

    kafka_version: str = "4.1.1"
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    home: str = ".kafka"
    heap: str = "1g"


@dataclass(frozen=True)
class ExchangeSettings:
    """The fake Coinbase exchange (`glue exchange`)."""

    host: str = "127.0.0.1"
    port: int = 8765
    source: str = "sim"  # sim | recording
    recording: tuple[str, ...] = ()
    speed: float = 1.0  # 1 = real time; 0 = as fast as the client reads
    products: tuple[str, ...] = ("BTC-USD", "ETH-USD")
    seed: int = 7
    subscribe_deadline_s: float = 5.0
    emit_client_id: bool = True  # the real feed sends client_id:"" (the official SDK requires it)
    ack_after_snapshots: bool = True


@dataclass(frozen=True)
class IngestSettings:
    url: str = COINBASE_WS_URL
    pairs: tuple[str, ...] = ("BTC-USD",)
    channels: tuple[str, ...] = ("ticker", "market_trades", "level2", "heartbeats")
    minutes: float = 0.0  # 0 = until stopped
    watchdog_s: float = 10.0
    # After a sequence gap, level2 is unsubscribed and resubscribed for fresh book snapshots: at most once
    # per this many seconds per connection; no snapshot for timeout seconds after that -> reconnect.
    l2_resnapshot_interval_s: float = 5.0
    l2_resnapshot_timeout_s: float = 30.0
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 30.0
    backoff_jitter_s: float = 0.2
    connect_timeout_s: float = 15.0
    max_frame_bytes: int = 134217728
    archive_dir: str = "data/raw"
    archive_rotate_mb: int = 256
    spool_dir: str = "data/spool"
    progress_interval_s: float = 5.0
    kafka_status_interval_s: float = 30.0  # while the broker is away: one status line (spool size) this often
    cdp_api_key_name: str = ""
    cdp_api_private_key: Secret = Secret("")  # noqa: RUF009 (immutable str)


@dataclass(frozen=True)
class FeatureSettings:
    warehouse: str = "warehouse.duckdb"
    sql_dir: str = "sql"
    sql_version: str = ""  # "" = the manifest's current version
    parquet: str = "data/processed/features.parquet"
    lateness_s: int = 2
    horizon_s: int = 60
    windows_s: tuple[int, ...] = ()  # () = the SQL version's (sql/manifest.yml); set, it must equal them
    max_batch_frames: int = 5000
    poll_timeout_s: float = 0.5
    group_id: str = "glue-featurize"


@dataclass(frozen=True)
class ModelSettings:
    artifacts_dir: str = "models/artifacts"
    tracking_uri: str = "sqlite:///mlflow.db"
    experiment: str = "crypto-volatility"
    registered_model: str = "volatility-spike"
    alias: str = "champion"
    seed: int = 42
    tau_quantile: float = 0.90
    train_frac: float = 0.6
    val_frac: float = 0.2
    embargo_s: int = 60
    reports_dir: str = "reports"
    score_group_id: str = "glue-score"
    # Modelling (helper F): tau per product or pooled; block bootstrap for CIs; walk-forward folds.
    tau_per_product: bool = True
    bootstrap_block_s: int = 300
    bootstrap_samples: int = 500
    walk_forward_folds: int = 3
    # The label the product is trained on and alerts on (issue 17; docs/models.md, "Labels"):
    # "assignment" (sigma_future_bps >= tau) or "relative" (sigma_future_bps / ref_vol_bps >= k, the
    # reference the RMS 1-s return over the trailing `reference_s` seconds). tau and k come from train only.
    label: str = "assignment"
    reference_s: int = 600

    def __post_init__(self) -> None:
        if self.label not in ("assignment", "relative"):
            raise ConfigError(f"model.label must be 'assignment' or 'relative', not {self.label!r}",
                              "set model.label in config.yaml, GLUE_MODEL__LABEL or glue train --label")
        if self.reference_s < 60:
            raise ConfigError(f"model.reference_s {self.reference_s} is shorter than a minute",
                              "use a reference window of at least 600 s (the relative label's default)")


@dataclass(frozen=True)
class ViewSettings:
    """The live view (`glue view`): a read-only page over the three topics."""

    host: str = "127.0.0.1"
    port: int = 8050
    history_s: float = 600.0  # a fresh page starts this far in the past; charts show this much
    push_interval_s: float = 0.25  # the page gets new rows this often (half of it is the mean added latency)
    stale_s: float = 5.0  # a topic whose newest row is older than this is shown stale (red)
    max_alerts: int = 50  # recent alerts kept for the list
    model: str = ""  # artifacts dir whose model.json gives the label threshold (tau); "" = model.artifacts_dir


@dataclass(frozen=True)
class MetricsSettings:
    """Prometheus /metrics of the services; a port of 0 turns a service's endpoint off."""

    host: str = "127.0.0.1"
    ingest_port: int = 0  # documented choice when on: 9101
    featurize_port: int = 0  # 9102
    score_port: int = 0  # 9103


@dataclass(frozen=True)
class Settings:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    exchange: ExchangeSettings = field(default_factory=ExchangeSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    features: FeatureSettings = field(default_factory=FeatureSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    view: ViewSettings = field(default_factory=ViewSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    log_level: str = "INFO"

    def replace(self, overrides: Mapping[str, Any]) -> Settings:
        """A copy with dotted-key overrides applied (`{"kafka.bootstrap_servers": "..."}`)."""
        return _apply(self, _nest(overrides), source="override")


def load_settings(
    config_path: str | Path | None = "config.yaml",
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    config_required: bool = False,
) -> Settings:
    """Build the settings once: defaults < config file < environment < overrides.

    `environ` is a plain mapping (the CLI passes `os.environ` merged with `.env`);
    only keys starting with `GLUE_` are read, as `GLUE_SECTION__KEY`.
    `overrides` holds dotted keys from command-line flags; `None` values are ignored.
    `config_required` (the user named the file, `--config`): a missing file is an error, not the defaults.
    """
    settings = Settings()
    if config_path is not None and config_required and not Path(config_path).is_file():
        raise ConfigError(f"config file {config_path} does not exist (or is not a file)",
                          "pass --config with the path of an existing YAML file, or leave it out for config.yaml")
    if config_path is not None and Path(config_path).is_file():
        try:
            data = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{config_path} is not UTF-8 text (byte {exc.start}: {exc.reason})",
                              "save the file as UTF-8") from exc
        except OSError as exc:
            raise ConfigError(f"{config_path} cannot be read ({exc.strerror})", "check the path and permissions") \
                from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{config_path} is not valid YAML ({' '.join(str(exc).split())})",
                              "fix the file or remove it") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{config_path} must hold a mapping of sections", "see config.yaml in the repo")
        settings = _apply(settings, data, source=str(config_path))
    if environ:
        settings = _apply(settings, _nest(_from_env(environ)), source="environment")
    if overrides:
        settings = settings.replace({k: v for k, v in overrides.items() if v is not None})
    return settings


def _from_env(environ: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX):
            out[key[len(ENV_PREFIX) :].lower().replace("__", ".")] = value
    return out


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _apply(obj: Any, data: Mapping[str, Any], source: str) -> Any:
    hints = typing.get_type_hints(type(obj))
    known = {f.name for f in dataclasses.fields(obj)}
    changes = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"unknown setting '{key}' in {source}", f"known here: {', '.join(sorted(known))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                raise ConfigError(f"setting '{key}' in {source} must be a mapping", "see config.yaml")
            changes[key] = _apply(current, value, source)
        else:
            changes[key] = _coerce(value, hints[key], key, source)
    return dataclasses.replace(obj, **changes)


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    try:
        if hint is Secret:
            return Secret(str(value))
        if hint is bool:
            if isinstance(value, str):
                if value.lower() not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                    raise ValueError(value)
                return value.lower() in {"1", "true", "yes", "on"}
            return bool(value)
        if hint in (int, float, str):
            return hint(value)
        origin = typing.get_origin(hint)
        if origin is tuple:
            (item_type, *_rest) = typing.get_args(hint)
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(item_type(v.strip() if isinstance(v, str) else v) for v in items if v != "")
        if isinstance(hint, types.UnionType):
            return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting '{key}' in {source} has a bad value {value!r}", f"expected {hint}") from exc
    return value
