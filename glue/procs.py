"""Child processes for orchestration (the demo): start, echo, wait, and always stop them.

Owns one thing: running project commands as subprocesses in their own session (so a Ctrl-C on the
terminal reaches only the orchestrator, which then stops children in order), teeing each child's
output to a log file and to the console with a `name |` prefix, and stopping every child it started
(SIGTERM, wait, then SIGKILL of the whole process group) on success, failure or interrupt.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from glue.errors import GlueError


class StageFailed(GlueError):
    """A child process of the demo failed; the message names it and its log file."""

    exit_code = 8


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen
    echo_filter: Callable[[str], str | None] | None = None  # line -> line to show, or None to hide it
    tail: deque = field(default_factory=lambda: deque(maxlen=20))
    reader: threading.Thread | None = None

    def running(self) -> bool:
        return self.popen.poll() is None

    def last_lines(self) -> str:
        return "\n".join(self.tail)


class Processes:
    """The children of one orchestration run; use as a context manager so they are always stopped."""

    def __init__(self, log_dir: Path, echo: Callable[[str], None] | None = None, quiet_prefixes=("DEBUG",)):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []
        self.at_exit: list[Callable[[], object]] = []  # cleanups after the children (e.g. broker down)
        self.echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
        self.quiet = quiet_prefixes

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None, echo: bool = True,
              echo_filter: Callable[[str], str | None] | None = None) -> Child:
        log_path = self.log_dir / f"{name}.log"
        log_file = open(log_path, "ab")  # noqa: SIM115 - closed by the reader thread
        popen = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # our own process group: Ctrl-C goes to the orchestrator only
        )
        child = Child(name=name, argv=argv, log_path=log_path, popen=popen, echo_filter=echo_filter)
        child.reader = threading.Thread(
            target=self._pump, args=(child, log_file, echo), name=f"pump-{name}", daemon=True
        )
        child.reader.start()
        self.children.append(child)
        return child

    def _pump(self, child: Child, log_file, echo: bool) -> None:
        with log_file:
            assert child.popen.stdout is not None
            for raw in child.popen.stdout:
                log_file.write(raw)
                log_file.flush()
                line = raw.decode("utf-8", errors="replace").rstrip()
                child.tail.append(line)
                if echo and line and not any(f" {q} " in line for q in self.quiet):
                    shown = child.echo_filter(line) if child.echo_filter else line
                    if shown is not None:
                        self.echo(f"  {child.name:>9} | {shown}")

    def run(self, name: str, argv: list[str], timeout_s: float, env: dict[str, str] | None = None,
            echo_filter: Callable[[str], str | None] | None = None) -> Child:
        """Run a command to completion; raise `StageFailed` (with its last lines) if it fails."""
        child = self.start(name, argv, env=env, echo_filter=echo_filter)
        try:
            child.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            self.stop(child)
            raise StageFailed(f"{name} did not finish within {timeout_s:.0f} s", f"see {child.log_path}") from exc
        if child.reader is not None:
            child.reader.join(timeout=5)
        if child.popen.returncode != 0:
            raise StageFailed(
                f"{name} failed (exit {child.popen.returncode}): {_last_error(child)}", f"full log: {child.log_path}"
            )
        return child

    def check_alive(self, child: Child) -> None:
        if not child.running():
            if child.reader is not None:
                child.reader.join(timeout=5)
            raise StageFailed(
                f"{child.name} exited early (exit {child.popen.returncode}): {_last_error(child)}",
                f"full log: {child.log_path}",
            )

    def stop(self, child: Child, timeout_s: float = 20.0) -> int | None:
        """SIGTERM the child's process group, wait, then SIGKILL it; returns the exit code."""
        if child.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.popen.pid, signal.SIGTERM)
            try:
                child.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.popen.pid, signal.SIGKILL)
                child.popen.wait(timeout=5)
        if child.reader is not None:
            child.reader.join(timeout=5)
        return child.popen.returncode

    def stop_all(self) -> None:
        """Stop every child still running, newest first (consumers before the broker)."""
        for child in reversed(self.children):
            self.stop(child)
        while self.at_exit:
            cleanup = self.at_exit.pop()
            try:
                cleanup()
            except Exception as exc:  # a failed cleanup must not hide the others or the real error
                self.echo(f"  warning: cleanup failed: {exc}")


def _last_error(child: Child) -> str:
    """The most telling line of a failed child's output: its `error:` line, else its last line."""
    lines = [line for line in child.tail if line.strip()]
    for line in reversed(lines):
        if line.startswith("error:") or "Error" in line:
            return line.strip()
    return lines[-1].strip() if lines else "no output"


def wait_for(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.5,
             alive: Callable[[], None] | None = None) -> bool:
    """Poll `predicate` until true or timeout; `alive` may raise when a needed child died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        if alive is not None:
            alive()
        time.sleep(interval_s)
    return predicate()
