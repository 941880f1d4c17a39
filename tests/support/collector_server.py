"""A real `touchpoint serve` on a free port for the collector's tests, and what its log holds."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from touchpoint.collect.frames import decode_record, scan

# Settings every test server gets unless a test says otherwise.
TEST_SETTINGS = {"rate_limit_per_minute": 0, "segment_max_age": "300ms"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without TOUCHPOINT_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    kept = {k: v for k, v in os.environ.items() if k.startswith("TOUCHPOINT_RETENTION__")}
    return {**env, **kept, **extra}  # retention off in tests, as conftest.RETENTION_OFF


def write_config(directory: Path, domains: list[str] | None = None, **collector: Any) -> None:
    """A touchpoint.toml in `directory` with the test settings and these `[collector]` ones."""
    values = {**TEST_SETTINGS, **collector}
    lines = ["[site]", f"domains = {_toml(domains or [])}", "[collector]"]
    lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
    (directory / "touchpoint.toml").write_text("\n".join(lines) + "\n")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@dataclass
class Server:
    """A `touchpoint serve` process working in `directory`."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def intake(self) -> Path:
        return self.directory / "touchpoint.duckdb.intake"

    def stop(self) -> None:
        """Stop it the way an operator does (SIGTERM: pending writes finish, the segment closes)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """kill -9."""
        self.process.kill()
        self.process.wait()

    def log_text(self) -> str:
        return (self.directory / f"serve-{self.port}.log").read_text(errors="replace")


def start(directory: Path, port: int | None = None, env: dict[str, str] | None = None) -> Server:
    """Start `touchpoint serve` in `directory` and wait until `/healthz` answers."""
    port = port or free_port()
    log = (directory / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "touchpoint", "serve", "--port", str(port)],
        cwd=directory,
        env=env or clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    server = Server(directory, port, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"touchpoint serve exited {process.returncode}: {server.log_text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"touchpoint serve did not come up: {server.log_text()}")


def touchpoint(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run another `touchpoint` command (build, export) on the same store."""
    return subprocess.run(
        [sys.executable, "-m", "touchpoint", *args],
        cwd=directory,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def logged_payloads(intake: Path) -> list[bytes]:
    """The record payloads of every segment of the log, open, closed or loaded.

    A running server renames segments as it goes (`.open` to `.seg`, then into
    `loaded/`): when one moves between listing and reading, the log is read again.
    """
    for _ in range(50):
        segments = sorted(intake.glob("*.open")) + sorted(intake.glob("*.seg"))
        segments += sorted(intake.glob("loaded/*.seg"))
        try:
            return [part for segment in segments for part in scan(segment.read_bytes()).payloads]
        except FileNotFoundError:
            time.sleep(0.01)
    raise AssertionError(f"the segments of {intake} kept moving while they were read")


def logged_rows(intake: Path, table: str = "raw_events") -> list[dict[str, Any]]:
    """Rows for `table` in every segment of the log, open, closed or loaded."""
    rows = []
    for payload in logged_payloads(intake):
        name, row = decode_record(payload)
        if name == table:
            rows.append(row)
    return rows


def wait_for(condition, timeout: float = 20.0, every: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll `condition` until it returns something truthy; return that, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout}s")
        time.sleep(every)
