"""Segment files of the intake log: appended with group commit, closed, recovered.

The intake directory holds:

- `<name>.open`: the segment a running server appends to; it holds an
  exclusive `flock` on it for as long as it lives;
- `<name>.seg`: closed segments, ready for `touchpoint build`;
- `loaded/<name>.seg`: segments a build has loaded, kept for `log_retention`;
- `.<name>.new`: a segment being created.

A writer creates each segment under a temporary name, locks it, and only then
renames it to `.open`, so nobody can take a live segment for an abandoned one.
An `.open` segment whose lock can be taken has lost its server (a crash, a
`kill -9`): `recover_abandoned` cuts its torn tail and closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from touchpoint.collect.frames import scan
from touchpoint.config import Settings

OPEN, CLOSED, NEW = ".open", ".seg", ".new"
LOADED = "loaded"


class IntakeUnavailable(OSError):
    """The log could not be written: nothing in the failed group was acknowledged."""


def intake_dir(settings: Settings) -> Path:
    """Where the collector appends and build loads: `[collector] intake_dir` or `<db>.intake`."""
    if settings.collector.intake_dir:
        return Path(settings.collector.intake_dir)
    return settings.db.with_name(settings.db.name + ".intake")


def fsync_dir(directory: Path) -> None:
    """Make renames and new files in `directory` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def closed_segments(directory: Path) -> list[Path]:
    """Closed, not yet loaded segments, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f"*{CLOSED}"))


class SegmentWriter:
    """Appends framed records to the current segment; they are on disk when `write` returns."""

    def __init__(self, directory: Path, max_bytes: int, max_age: float):
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._opened_at = 0.0
        self._count = 0

    def write(self, data: bytes) -> None:
        """Append `data` and fdatasync it; `IntakeUnavailable` when the disk refuses."""
        with self._lock:
            try:
                if self._fd is None:
                    self._open()
                assert self._fd is not None
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
                os.fdatasync(self._fd)
            except OSError as exc:
                # A group that failed half-way may have left a torn record: close the
                # segment so it is never appended to again; readers drop the torn tail.
                with contextlib.suppress(OSError):
                    self._close()
                self._fd = None
                raise IntakeUnavailable(exc.errno, f"intake log: {exc.strerror}") from exc
            self._size += len(data)
            if self._size >= self.max_bytes:
                self._close()

    def close_if_older(self, now: float) -> bool:
        """Close the current segment when it holds records and is `max_age` old."""
        with self._lock:
            if self._fd is not None and self._size and now - self._opened_at >= self.max_age:
                self._close()
                return True
            return False

    def close(self) -> None:
        """Close the current segment (removed when empty)."""
        with self._lock:
            if self._fd is not None:
                self._close()

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._count += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{os.getpid()}-{self._count:06d}"
        creating = self.directory / f".{name}{NEW}"
        fd = os.open(
            creating, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path = self.directory / f"{name}{OPEN}"
            os.rename(creating, path)
            fsync_dir(self.directory)
        except BaseException:
            os.close(fd)
            creating.unlink(missing_ok=True)
            raise
        self._fd, self._path, self._size = fd, path, 0
        self._opened_at = time.monotonic()

    def _close(self) -> None:
        fd, path = self._fd, self._path
        self._fd, self._path = None, None
        if fd is None or path is None:
            return
        try:
            if self._size == 0:
                path.unlink(missing_ok=True)
            else:
                os.rename(path, path.with_suffix(CLOSED))
            fsync_dir(self.directory)
        finally:
            os.close(fd)  # releases the lock only after the rename
            self._size = 0


class IntakeLog:
    """Group commit: requests wait while one thread writes and fsyncs all that is pending."""

    def __init__(self, writer: SegmentWriter):
        self.writer = writer
        self._pending: list[bytes] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-log")

    async def append(self, records: bytes) -> None:
        """Return once `records` (framed) are on disk; raise `IntakeUnavailable` if they are not."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._pending.append(records)
        self._waiters.append(waiter)
        if self._flushing is None:
            self._flushing = loop.create_task(self._flush())
        # A client that disconnects cancels its wait, not the write of its records.
        await waiter

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                data, waiters = b"".join(self._pending), self._waiters
                self._pending, self._waiters = [], []
                try:
                    await loop.run_in_executor(self._executor, self.writer.write, data)
                except BaseException as exc:
                    # Whatever went wrong, no waiter may hang and none is told "stored".
                    failure = exc if isinstance(exc, OSError) else IntakeUnavailable(str(exc))
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(failure)
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
        finally:
            self._flushing = None

    async def rotate(self) -> None:
        """Close the current segment if it is old enough for a build to load."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.writer.close_if_older, time.monotonic())

    async def close(self) -> None:
        """Write what is pending, close the segment and stop the writer thread."""
        while self._flushing is not None:
            await asyncio.shield(self._flushing)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.writer.close)
        self._executor.shutdown(wait=True)


@dataclass(frozen=True)
class Recovery:
    segments: int  # abandoned segments closed
    torn_bytes: int  # half-written tails cut off


def recover_abandoned(directory: Path) -> Recovery:
    """Close the `.open` segments no live server holds, cutting any torn tail."""
    if not directory.is_dir():
        return Recovery(0, 0)
    segments = torn = 0
    for path in sorted(directory.glob(f"*{OPEN}")):
        with _abandoned(path) as fd:
            if fd is None:
                continue
            data = _read_all(fd)
            found = scan(data)
            if found.torn:
                os.ftruncate(fd, found.end)
                torn += found.torn
            os.fsync(fd)
            if found.end == 0:
                path.unlink()
            else:
                os.rename(path, path.with_suffix(CLOSED))
            fsync_dir(directory)
            segments += 1
    for creating in directory.glob(f".*{NEW}"):
        with _abandoned(creating) as fd:
            if fd is not None:
                creating.unlink()
    return Recovery(segments, torn)


@contextlib.contextmanager
def _abandoned(path: Path) -> Iterator[int | None]:
    """An open, locked descriptor of `path` when no live writer holds it, else None."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None  # a live server is writing it
            return
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        # Its server may have closed (renamed) it between our open and our lock.
        yield fd if same else None
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""
