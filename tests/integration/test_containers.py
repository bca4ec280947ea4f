"""The image and the Compose stack, built and run for real (Podman here; Docker where an engine runs).

One stack per test run, on free 127.0.0.1 ports and its own project name, started with the documented
entry point `docker/stack up` (which installs Podman if needed) and removed by `docker/stack down
--volumes` in the fixture's finalizer, so a failed test still leaves no container behind.
Checked: the image runs `glue --help` as a non-root user; every service runs and passes its health
check; the simulated market flows through ingest into ticks.raw (`glue check` passes from the host),
features and (with a model) predictions appear; killing a service's process makes its restart policy
bring it back; `down` leaves no container.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.containers, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "docker" / "stack"
SERVICES = ("kafka", "mlflow", "exchange", "ingest", "featurize", "score")
UP_TIMEOUT_S = 1800  # a cold build on a busy 2-core machine; cached runs take a few minutes


def _docker_engine() -> bool:
    if not shutil.which("docker"):
        return False
    ok = subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    return ok and subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def _engine() -> str | None:
    """docker or podman, as docker/stack will choose; None when neither can run nor be installed."""
    if _docker_engine():
        return "docker"
    if shutil.which("podman") or (shutil.which("apt-get") and os.geteuid() == 0):
        return "podman"
    return None


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _model_dir(tmp: Path, into: Path) -> str:
    """Put a model the score service can load into `into`; return how it was found ("no model: ...").

    The repo's models/artifacts if it was trained on the current SQL version; otherwise the training
    stage of `glue demo --no-kafka` on the host (simulated market -> features -> `glue train`), which
    is interrupted (it stops everything it started on Ctrl-C) once the model is written."""
    from glue.warehouse.manifest import read_manifest

    current = read_manifest(ROOT / "sql")["current"]
    repo_model = ROOT / "models" / "artifacts"
    source, note = None, ""
    meta_file = repo_model / "model.json"
    if meta_file.is_file() and json.loads(meta_file.read_text()).get("sql_version") == current:
        source, note = repo_model, "models/artifacts"
    if source is None:
        out = tmp / "demo"
        log = (tmp / "demo.log").open("w")
        demo = subprocess.Popen(
            [sys.executable, "-m", "glue", "demo", "--no-kafka", "--minutes", "60", "--out", str(out)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline and demo.poll() is None:
                found = sorted(out.rglob("model.json"))
                if found and (found[0].parent / "tau.json").is_file():  # written last
                    source, note = found[0].parent, "glue demo --no-kafka (training stage)"
                    break
                time.sleep(3)
        finally:
            if demo.poll() is None:
                demo.send_signal(signal.SIGINT)
                try:
                    demo.wait(120)
                except subprocess.TimeoutExpired:
                    demo.kill()
                    demo.wait()
            log.close()
        if source is None:
            tail = (tmp / "demo.log").read_text().strip().splitlines()[-1:] or ["no output"]
            return f"no model: glue demo made none ({tail[0][:200]})"
    shutil.copytree(source, into, dirs_exist_ok=True)
    return note


class Stack:
    def __init__(self, engine: str, env: dict[str, str], kafka_port: int, mlflow_port: int, model_note: str):
        self.engine, self.env, self.kafka_port, self.mlflow_port = engine, env, kafka_port, mlflow_port
        self.model_note = model_note
        self.project = env["STACK_PROJECT"]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def run(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(STACK), *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker/stack {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        return proc

    def engine_cmd(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.engine, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def containers(self) -> dict[str, str]:
        """service -> container name, for every container of this project (running or not)."""
        out = self.engine_cmd("ps", "-a", "--filter", f"label=com.docker.compose.project={self.project}",
                              "--format", '{{.Names}}\t{{index .Labels "com.docker.compose.service"}}').stdout
        return {svc: name for name, _, svc in (line.partition("\t") for line in out.splitlines() if line)}

    def inspect(self, name: str, fmt: str) -> str:
        return self.engine_cmd("inspect", "-f", fmt, name).stdout.strip()

    def health(self, name: str) -> str:
        if self.engine == "podman":  # Podman here runs no health-check timer: run the check now
            self.engine_cmd("healthcheck", "run", name, timeout=60)
        return self.inspect(name, "{{if .State.Health}}{{.State.Health.Status}}{{end}}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    engine = _engine()
    if engine is None:
        pytest.skip("neither Docker nor Podman can run here (no engine, and no root apt-get to install Podman)")
    tmp = tmp_path_factory.mktemp("stack")
    # The score container runs as an unprivileged user: the model must sit under world-readable
    # directories (pytest's temporary directories are private), so it goes under .cache/stack.
    model_dir = ROOT / ".cache" / "stack" / f"test-model-{os.getpid()}"
    model_dir.mkdir(parents=True, exist_ok=True)
    model_dir.chmod(0o755)
    model_note = _model_dir(tmp, model_dir)
    kafka_port, controller_port, mlflow_port, exchange_port = _free_ports(4)
    env_file = tmp / "stack.env"
    shutil.copy(ROOT / ".env.example", env_file)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GLUE_")},
        "STACK_PROJECT": f"glue-test-{os.getpid()}",
        "STACK_KAFKA_PORT": str(kafka_port),
        "STACK_KAFKA_CONTROLLER_PORT": str(controller_port),
        "STACK_MLFLOW_PORT": str(mlflow_port),
        "STACK_EXCHANGE_PORT": str(exchange_port),
        "KAFKA_PORT": str(kafka_port),  # the Docker path publishes the same ports
        "MLFLOW_PORT": str(mlflow_port),
        "EXCHANGE_PORT": str(exchange_port),
        "MODELS_DIR": str(model_dir),
        "ENV_FILE": str(env_file),
        "STACK_TIMEOUT": "600",
    }
    if engine == "podman":
        env["CONTAINERS_CONF"] = str(ROOT / ".cache" / "stack" / "containers.conf")
    s = Stack(engine, env, kafka_port, mlflow_port, model_note)
    try:
        started = time.monotonic()
        s.run("up", timeout=UP_TIMEOUT_S)
        print(f"stack up and healthy in {time.monotonic() - started:.0f} s ({engine}; model: {model_note})")
        yield s
    finally:
        s.run("down", "--volumes", timeout=300, check=False)
        if engine == "podman":  # belt and braces: nothing of this project may survive the test
            left = s.containers()
            if left:
                s.engine_cmd("rm", "-f", *left.values())
        shutil.rmtree(model_dir, ignore_errors=True)


def test_image_runs_glue_help_as_a_non_root_user(stack: Stack):
    image = "localhost/glue:local" if stack.engine == "podman" else "glue:local"
    proc = stack.engine_cmd("run", "--rm", "--network", "host", image, "sh", "-c", "id -u && glue --help")
    assert proc.returncode == 0, proc.stderr
    uid, _, help_text = proc.stdout.partition("\n")
    assert int(uid) != 0
    assert "Commands:" in help_text and "ingest" in help_text
    assert stack.inspect(image, "{{.Config.User}}") not in ("", "root", "0")


def test_every_service_is_running_and_healthy(stack: Stack):
    containers = stack.containers()
    assert set(SERVICES) <= set(containers), containers
    for service in SERVICES:
        name = containers[service]
        assert stack.inspect(name, "{{.State.Status}}") == "running", service
        assert stack.health(name) == "healthy", f"{service} is not healthy"
    ps = stack.run("ps").stdout
    for service in SERVICES:
        assert service in ps


def _topic_count(bootstrap: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "glue-test-count", "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        parts = metadata.topics[topic].partitions if topic in metadata.topics else {}
        total = 0
        for p in parts:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def _wait_for(predicate, timeout_s: float, every_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return predicate()


def test_market_flows_through_the_stack_and_glue_check_passes_from_the_host(stack: Stack):
    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "glue", "check", "--topic", "ticks.raw", "--min", "100",
             "--bootstrap", stack.bootstrap],
            cwd=ROOT, capture_output=True, text=True, timeout=180,
        )

    assert _wait_for(lambda: check().returncode == 0, 180), check().stdout + check().stderr
    assert _wait_for(lambda: _topic_count(stack.bootstrap, "ticks.features") > 0, 240), "no feature rows"
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{stack.mlflow_port}/health", timeout=10) as response:
        assert response.status == 200


def test_predictions_flow_with_a_model(stack: Stack):
    if stack.model_note.startswith("no model"):
        logs = stack.run("logs", "score", check=False).stdout
        assert "no model in /app/models/artifacts yet" in logs  # it waits with a clear line
        pytest.skip(f"score waits for a model ({stack.model_note})")
    ok = _wait_for(lambda: _topic_count(stack.bootstrap, "ticks.predictions") > 0, 240)
    assert ok, "no predictions: " + stack.run("logs", "score", check=False).stdout[-2000:]


def test_restart_policy_brings_a_killed_service_back(stack: Stack):
    name = stack.containers()["ingest"]
    restarts = int(stack.inspect(name, "{{.RestartCount}}") or 0)
    pid = int(stack.inspect(name, "{{.State.Pid}}"))
    assert pid > 0
    os.kill(pid, signal.SIGKILL)  # a crash, not a stop: the policy must restart it

    def back() -> bool:
        return (stack.inspect(name, "{{.State.Status}}") == "running"
                and int(stack.inspect(name, "{{.RestartCount}}") or 0) > restarts)

    assert _wait_for(back, 90, every_s=2), f"ingest did not come back: {stack.inspect(name, '{{.State.Status}}')}"
    assert _wait_for(lambda: stack.health(name) == "healthy", 120, every_s=5), "ingest is back but not healthy"


def test_down_leaves_no_container(stack: Stack):
    stack.run("down", "--volumes", timeout=300)
    assert stack.containers() == {}
