"""The Compose files and the Dockerfile, checked without containers.

`docker/compose.yaml` (and the Podman override `docker/compose.host.yaml`, alone and merged) against the
Compose Specification's JSON schema (vendored: tests/data/compose-spec.SOURCE.md), after variable
interpolation as Compose does it; every `glue` command the services run exists in the CLI with the
options they pass; every `GLUE_*` variable is a real setting; the Kafka version agrees with the local
broker's (config.yaml `broker.kafka_version`); the Dockerfile is multi-stage, pinned, non-root, with a
health check; .dockerignore keeps data, stores, virtualenvs and secrets out of the build context.
The real build and run are in test_containers.py.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
import yaml

from glue import health
from glue.cli import COMMANDS, cli
from glue.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yaml"
OVERRIDE = ROOT / "docker" / "compose.host.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile.ingestor"
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR, $$ -> $."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, default = match.group(2), match.group(3)
        if op in (":-",):
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    if isinstance(value, str):
        return _VAR.sub(one, value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def variables(value: Any) -> set[str]:
    """Every variable name a Compose file interpolates."""
    text = json.dumps(value)
    return {m.group(1) or m.group(4) for m in _VAR.finditer(text) if m.group(0) != "$$"}


def merge(base: Any, override: Any) -> Any:
    """Compose's merge of an override file: mappings merge, sequences and scalars are replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    # The file names draft 2019-09 by its old http:// id, which jsonschema does not look up: say it.
    assert "2019-09" in schema["$schema"]
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def _errors(validator: jsonschema.protocols.Validator, doc: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_compose_file_is_valid_against_the_compose_specification(validator):
    raw = load(COMPOSE)
    assert _errors(validator, raw) == []
    assert _errors(validator, interpolate(raw, {})) == []


def test_host_override_alone_and_merged_is_valid(validator):
    stack_env = {"STACK_KAFKA_PORT": "19092", "STACK_MLFLOW_PORT": "15000", "STACK_EXCHANGE_PORT": "18765"}
    override = load(OVERRIDE)
    assert _errors(validator, interpolate(override, stack_env)) == []
    merged = interpolate(merge(load(COMPOSE), override), stack_env)
    assert _errors(validator, merged) == []
    for name, service in merged["services"].items():
        assert service.get("network_mode") == "host", f"{name} is not on host networking in the override"
        assert service["image"].startswith("localhost/"), f"{name} does not use a local image: {service['image']}"


def test_the_schema_catches_a_broken_file(validator):
    # The validation is real: a misspelt key and a bad depends_on condition are both rejected.
    broken = interpolate(load(COMPOSE), {})
    broken["services"]["ingest"]["restrat"] = "always"
    broken["services"]["score"]["depends_on"]["kafka"]["condition"] = "service_ready"
    errors = _errors(validator, broken)
    assert any("restrat" in e for e in errors), errors
    assert any("service_ready" in e for e in errors), errors


def _commands(doc: dict[str, Any]) -> dict[str, list[list[str]]]:
    """Per service, the argument lists of every `glue ...` it runs (directly or inside `sh -c`)."""
    found: dict[str, list[list[str]]] = {}
    for name, service in doc["services"].items():
        command = service.get("command")
        if command is None:
            continue
        words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
        scripts = [words[i + 1] for i, w in enumerate(words[:-1]) if words[0] in ("sh", "bash") and w == "-c"]
        runs = [words] if words[0] == "glue" else []
        for script in scripts:
            lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            part: list[str] = []
            for token in [*lexer, ";"]:
                if token and set(token) <= set(";&|"):
                    if part[:1] == ["exec"]:
                        part = part[1:]
                    if part[:1] == ["glue"]:
                        runs.append(part)
                    part = []
                else:
                    part.append(token)
        found[name] = [r for r in runs if r and r[0] == "glue"]
    return found


def _options(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


@pytest.mark.parametrize("path", [COMPOSE, OVERRIDE], ids=lambda p: p.name)
def test_every_glue_command_and_option_exists(path):
    doc = interpolate(load(path), {})
    runs = _commands(doc)
    ctx = click.Context(cli)
    for service, commands in runs.items():
        for words in commands:
            assert len(words) > 1, f"{service}: bare 'glue'"
            name = words[1]
            assert name in COMMANDS, f"{service} runs 'glue {name}', which the CLI does not have"
            command = cli.get_command(ctx, name)
            known = _options(command)
            for word in words[2:]:
                if word.startswith("-"):
                    option = word.split("=", 1)[0]
                    assert option in known, f"{service}: 'glue {name}' has no option {option}"
    if path == COMPOSE:
        used = {words[1] for commands in runs.values() for words in commands}
        assert {"exchange", "ingest", "featurize", "score"} <= used


def test_health_checks_use_real_probes():
    for path in (COMPOSE, OVERRIDE):
        text = path.read_text()
        for probe in re.findall(r"glue\.health\W+(\w+)", text):
            assert probe in health.PROBES, f"{path.name}: unknown probe {probe}"
    dockerfile = DOCKERFILE.read_text()
    for probe in re.findall(r'"glue\.health", "(\w+)"', dockerfile):
        assert probe in health.PROBES


def test_mlflow_server_options_exist():
    from mlflow.cli import server

    doc = merge(load(COMPOSE), load(OVERRIDE))
    words = [str(w) for w in doc["services"]["mlflow"]["command"]]
    assert words[:2] == ["mlflow", "server"]
    known = _options(server)
    for word in words[2:]:
        if word.startswith("--"):
            assert word in known, f"mlflow server has no option {word}"


def _setting_names() -> set[str]:
    names = set()
    for section in Settings.__dataclass_fields__.values():
        value = getattr(Settings(), section.name)
        if hasattr(value, "__dataclass_fields__"):
            names |= {f"GLUE_{section.name.upper()}__{key.upper()}" for key in value.__dataclass_fields__}
        else:
            names.add(f"GLUE_{section.name.upper()}")
    return names


def test_every_glue_variable_is_a_real_setting():
    # glue reads every GLUE_* name as a setting and rejects unknown ones, so the Compose-only
    # variables (APP_IMAGE, MODELS_DIR, STACK_*) must not start with GLUE_.
    settings = _setting_names()
    for path in (COMPOSE, OVERRIDE):
        doc = load(path)
        names = variables(doc)
        for service in doc["services"].values():
            env = service.get("environment") or {}
            names |= set(env if isinstance(env, dict) else (e.split("=", 1)[0] for e in env))
        for name in sorted(n for n in names if n.startswith("GLUE_")):
            assert name in settings, f"{path.name} uses {name}, which is not a setting of glue/config.py"


def test_compose_variables_are_in_env_example():
    text = (ROOT / ".env.example").read_text()
    for path in (COMPOSE, OVERRIDE):
        for name in variables(load(path)):
            if not name.startswith("GLUE_"):
                assert re.search(rf"^#? ?{name}=", text, re.M), f".env.example does not mention {name}"


def test_kafka_version_agrees_with_the_local_broker():
    version = load_settings(ROOT / "config.yaml", {}).broker.kafka_version
    assert version == Settings().broker.kafka_version
    image = interpolate(load(COMPOSE), {})["services"]["kafka"]["image"]
    assert image == f"apache/kafka:{version}", f"compose runs {image}, the local broker Kafka {version}"
    local = interpolate(load(OVERRIDE), {})["services"]["kafka"]["image"]
    assert local == f"localhost/glue-kafka:{version}"
    assert f"apache/kafka:{version}" in (ROOT / ".env.example").read_text()


def test_services_have_health_checks_restart_policies_and_valid_dependencies():
    doc = interpolate(load(COMPOSE), {})
    services = doc["services"]
    assert {"kafka", "mlflow", "exchange", "ingest", "featurize", "score"} <= set(services)
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert service.get("restart") in ("always", "unless-stopped", "on-failure"), f"{name} has no restart policy"
        for dep in service.get("depends_on") or {}:
            assert dep in services, f"{name} depends on unknown service {dep}"
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"
    assert services["ingest"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "sqlite:////app/mlflow/" in " ".join(services["mlflow"]["command"])
    assert any(v.endswith(":/app/mlflow") for v in services["mlflow"]["volumes"])
    assert services["ingest"]["build"]["dockerfile"] == "docker/Dockerfile.ingestor"
    assert (COMPOSE.parent / services["ingest"]["build"]["context"] / "docker" / "Dockerfile.ingestor").is_file()


def test_dockerfile_is_multistage_pinned_non_root_with_a_health_check():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim@sha256:[0-9a-f]{64}$", text, re.M)
    stages = re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS (\w+)$", text, re.M)
    assert len(stages) >= 2, stages
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert re.search(r"^HEALTHCHECK ", text, re.M)
    assert "--no-index" in text  # installed from wheels only
    assert not re.search(r"^(ARG|ENV) .*(PASSWORD|SECRET|PRIVATE_KEY|TOKEN)", text, re.M | re.I)


def test_dockerignore_keeps_data_stores_venvs_and_secrets_out():
    patterns = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and line[0] != "#"
    }
    for needed in (".venv", "data", ".kafka", ".env", "mlflow.db", "mlruns", "*.duckdb", ".cache", "models", "**/.git"):
        assert needed in patterns, f".dockerignore lacks {needed}"
    assert "!.cache/stack/wheelhouse" in patterns
