"""The project's local Kafka broker from Python: a thin bridge to `docker/local-kafka`.

The script owns resolving, formatting, starting and stopping the broker; this module only turns
settings into its flags, and after `up` creates the project's topics (explicit partitions).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from glue.config import Settings
from glue.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "docker" / "local-kafka"
ACTIONS = ("up", "down", "status")


def script_args(action: str, settings: Settings, timeout_s: float | None = None) -> list[str]:
    """The `docker/local-kafka` command line for an action under these settings."""
    if action not in ACTIONS:
        raise ConfigError(f"unknown broker action '{action}'", f"use one of {', '.join(ACTIONS)}")
    b = settings.broker
    home = Path(b.home)
    if not home.is_absolute():  # same default as the script: relative to the repository
        home = REPO_ROOT / home
    args = [str(SCRIPT), action, "--home", str(home)]
    if action == "up":
        args += [
            "--port", str(b.port),
            "--controller-port", str(b.controller_port),
            "--version", b.kafka_version,
            "--heap", b.heap,
            "--max-message-bytes", str(settings.kafka.max_message_bytes),
            "--python", sys.executable,
        ]
    if timeout_s is not None:
        args += ["--timeout", f"{timeout_s:g}"]
    return args


def run_broker(action: str, settings: Settings, create_topics: bool = True, timeout_s: float | None = None) -> int:
    """Run `docker/local-kafka <action>` (its output goes to the terminal); returns its exit code.

    After a successful `up`, the project's topics are created on it (unless `create_topics` is
    False), with the partition counts from settings.
    """
    if not SCRIPT.is_file():
        raise ConfigError(f"{SCRIPT} not found", "run glue from a checkout of the repository")
    code = subprocess.run(script_args(action, settings, timeout_s), check=False).returncode
    if code == 0 and action == "up" and create_topics:
        from glue.kafka import ensure_topics

        kafka = dataclasses.replace(settings.kafka, bootstrap_servers=f"{settings.broker.host}:{settings.broker.port}")
        created = ensure_topics(kafka)
        print("topics: " + ", ".join(f"{name} ({n} partitions)" for name, n in created.items()))
    return code
