"""Settings: precedence, coercion, secrets, and config.yaml / .env.example in step with the code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from glue.config import Secret, Settings, load_settings
from glue.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _leaf_keys(obj, prefix=""):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaf_keys(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", value


def test_precedence_defaults_file_env_flags(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("kafka:\n  bootstrap_servers: file:1\n  linger_ms: 7\nexchange:\n  port: 1\n")
    env = {"GLUE_KAFKA__BOOTSTRAP_SERVERS": "env:2", "GLUE_EXCHANGE__PORT": "2", "OTHER": "x"}
    s = load_settings(cfg, env, {"exchange.port": 3, "ingest.minutes": None})
    assert s.kafka.bootstrap_servers == "env:2"  # env beats file
    assert s.kafka.linger_ms == 7  # file beats default
    assert s.exchange.port == 3  # flag beats env
    assert s.ingest.minutes == 0.0  # None flags are ignored
    assert s.broker.port == Settings().broker.port


def test_coercion_of_tuples_bools_and_numbers():
    env = {"GLUE_INGEST__PAIRS": "BTC-USD, ETH-USD", "GLUE_EXCHANGE__EMIT_CLIENT_ID": "yes",
           "GLUE_FEATURES__WINDOWS_S": "5,10"}
    s = load_settings(None, env)
    assert s.ingest.pairs == ("BTC-USD", "ETH-USD")
    assert s.exchange.emit_client_id is True
    assert s.features.windows_s == (5, 10)


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().kafka.topic_raw = "x"  # type: ignore[misc]


def test_secret_never_prints():
    s = load_settings(None, {"GLUE_KAFKA__SASL_PASSWORD": "hunter2"})
    assert isinstance(s.kafka.sasl_password, Secret)
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.kafka) and "hunter2" not in f"{s}"
    assert s.kafka.sasl_password.reveal() == "hunter2"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [({"GLUE_KAFKA__NOPE": "1"}, "unknown setting 'nope'"), ({"GLUE_EXCHANGE__PORT": "x"}, "bad value")],
)
def test_bad_settings_give_one_actionable_line(env, fragment):
    with pytest.raises(ConfigError) as exc:
        load_settings(None, env)
    assert fragment in str(exc.value) and "\n" not in str(exc.value)


def test_config_yaml_names_every_setting_with_its_default():
    data = yaml.safe_load((ROOT / "config.yaml").read_text())
    flat = {}
    for section, values in data.items():
        if isinstance(values, dict):
            flat.update({f"{section}.{k}": v for k, v in values.items()})
        else:
            flat[section] = values
    for key, default in _leaf_keys(Settings()):
        if isinstance(default, Secret):
            assert key not in flat, f"secret {key} must not live in config.yaml"
            continue
        assert key in flat, f"config.yaml lacks {key}"
        expected = list(default) if isinstance(default, tuple) else default
        assert flat[key] == expected, f"config.yaml {key}={flat[key]!r} but the code default is {expected!r}"
    assert load_settings(ROOT / "config.yaml", {}) == Settings()


def test_env_example_documents_every_setting():
    text = (ROOT / ".env.example").read_text()
    for key, _ in _leaf_keys(Settings()):
        var = "GLUE_" + key.upper().replace(".", "__")
        assert var in text, f".env.example does not mention {var}"
