"""`POST /numbers`: a visitor's tracking numbers, one per pool (DESIGN §15).

The request passes the checks `/collect` makes (`endpoint.admit`: origin and
CORS, rate, size, content type, byte budget, bots, GPC, DNT). A browser that
sends GPC or DNT (or a bot) gets `{"numbers": []}` and nothing is kept: the
snippet leaves the page's own number. Otherwise each pool asked for
(`numbers_state`) gives the visitor its number, and every pool or fallback
number given is one `raw_number_assignments` row in the intake log, on disk
before the answer goes out: an answered assignment survives a crash, and at
start the server reads the log again (`replayed_assigner`: open, closed and
loaded segments) so a restart keeps every hold.

A request is `{"visitor_id": "...", "pools": ["main"], "url": "...",
"referrer": "..."}`; `pools` may be left out (every pool). Bad input is a 4xx
with the reason, never a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from touchpoint.collect.endpoint import (
    Collector,
    Receive,
    Scope,
    Send,
    admit,
    answer,
    append_or_refuse,
)
from touchpoint.collect.frames import (
    HEADER,
    LENGTH,
    MAGIC,
    BadRecord,
    decode_record,
    encode_record,
)
from touchpoint.collect.numbers_channel import ChannelClassifier
from touchpoint.collect.numbers_state import Assigned, Assigner, PoolState
from touchpoint.collect.segments import CLOSED, LOADED, OPEN
from touchpoint.config import Settings
from touchpoint.sources.events import VISITOR_ID
from touchpoint.sources.records import from_us, stable_hash, to_us

TABLE = "raw_number_assignments"
ORIGIN = "collector"
MAX_URL = 8192
_ONE_US = timedelta(microseconds=1)
_decode = msgspec.json.Decoder().decode
_NO_STORE = [(b"cache-control", b"no-store")]


class BadRequest(ValueError):
    """What is wrong with a `/numbers` request body (HTTP 400)."""


def assigner_for(settings: Settings) -> Assigner:
    """An empty state for the pools of the settings."""
    return Assigner(
        PoolState(pool.name, pool.numbers, pool.replace, pool.fallback)
        for pool in settings.numbers.pools
    )


def replayed_assigner(settings: Settings, directory: Path) -> Assigner:
    """The state the intake log's assignment rows give (open, closed and loaded segments)."""
    assigner = assigner_for(settings)
    if not settings.numbers.pools:
        return assigner
    read: set[str] = set()
    # A build may move a segment to loaded/ while it is listed: the second pass finds it there.
    for _ in range(2):
        for path in sorted(_segments(directory)):
            if path.stem in read:
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            read.add(path.stem)
            assigner.replay(assignment_rows(data))
    return assigner


def _segments(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    loaded = directory / LOADED
    return [
        *directory.glob(f"*{OPEN}"),
        *directory.glob(f"*{CLOSED}"),
        *(loaded.glob(f"*{CLOSED}") if loaded.is_dir() else ()),
    ]


_PREFIX = b'{"table":"' + TABLE.encode() + b'"'


def assignment_rows(data: bytes) -> Iterator[dict[str, Any]]:
    """The `raw_number_assignments` rows among a segment's records (found by their table name,
    so the many event records are not decoded)."""
    start = data.find(_PREFIX)
    while start >= 0:
        header = start - HEADER.size
        if header >= 0:
            magic, length, checksum = HEADER.unpack_from(data, header)
            payload = data[start : start + length]
            crc = zlib.crc32(payload, zlib.crc32(LENGTH.pack(length)))
            if magic == MAGIC and len(payload) == length and crc == checksum:
                with contextlib.suppress(BadRecord):  # the build keeps it as a reject
                    yield decode_record(payload)[1]
        start = data.find(_PREFIX, start + 1)


class NumbersEndpoint:
    """The ASGI app behind `/numbers`."""

    def __init__(
        self,
        settings: Settings,
        collector: Collector,
        clock: Callable[[], datetime] | None = None,
    ):
        self.settings = settings
        self.collector = collector
        self.assigner = assigner_for(settings)
        self.classifier = ChannelClassifier(settings)
        self.pools = {pool.name: pool for pool in settings.numbers.pools}
        self.timeout = settings.sessions.timeout
        self.clock = clock or (lambda: datetime.now(UTC))
        if self.needs_channels:
            self.classifier.check()

    @property
    def needs_channels(self) -> bool:
        return any(pool.channels for pool in self.pools.values())

    async def start(self, directory: Path) -> None:
        """Take in every hold the intake log has, before the first request is answered."""
        self.assigner = await asyncio.to_thread(replayed_assigner, self.settings, directory)
        if self.needs_channels:
            await self.classifier.warm()  # a bad rules file stops serve here

    def close(self) -> None:
        self.classifier.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admitted = await admit(self.collector, scope, receive, send, what="number requests")
        if admitted is None:
            return
        cors = [*admitted.cors, *_NO_STORE]
        if admitted.quiet is not None:
            await answer(send, 200, {"numbers": []}, cors)
            return
        try:
            visitor_id, names, url, referrer = read_request(admitted.body, self.pools)
        except BadRequest as exc:
            await answer(send, 400, {"error": str(exc)}, cors)
            return
        channel = None
        if self.needs_channels:
            channel = await self.classifier.channel(url, referrer)
        now = self.clock()
        now_us = to_us(now)
        given = [self._assign(name, visitor_id, now_us, channel) for name in names]
        records = [
            encode_record(TABLE, assignment_row(a, visitor_id, now_us, channel))
            for a in given
            if a.logged
        ]
        if records and not await append_or_refuse(self.collector, b"".join(records), cors, send):
            for assigned in given:
                self.assigner.pools[assigned.pool].undo(assigned)
            return
        shown = [
            {
                "pool": a.pool,
                "replace": self.pools[a.pool].replace,
                "number": a.number,
                "fallback": a.fallback,
                "held_until": _iso(a.held_until_us),
            }
            for a in given
        ]
        await answer(send, 200, {"numbers": shown}, cors)

    def _assign(self, name: str, visitor_id: str, now_us: int, channel: str | None) -> Assigned:
        pool = self.pools[name]
        state = self.assigner.pools[name]
        hold_us = pool.hold_or(self.timeout) // _ONE_US
        # A visitor that holds a number keeps it on every page (whatever its channel).
        held = state.held_number(visitor_id, now_us) is not None
        if pool.channels and not held and channel not in pool.channels:
            return Assigned(name, pool.replace, False, False, now_us + hold_us)
        return state.assign(visitor_id, now_us, hold_us)


def read_request(
    body: bytes, pools: dict[str, Any]
) -> tuple[str, list[str], str | None, str | None]:
    """(visitor_id, pool names, url, referrer) of a request body, or `BadRequest`."""
    try:
        request = _decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise BadRequest("send a JSON object with visitor_id (and pools, url, referrer)")
    visitor_id = request.get("visitor_id")
    if not isinstance(visitor_id, str) or not re.fullmatch(VISITOR_ID, visitor_id):
        raise BadRequest("visitor_id must be 1-64 characters of letters, digits, _ and -")
    names = request.get("pools")
    if names is None:
        names = list(pools)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadRequest("pools must be a list of pool names")
    unknown = [n for n in names if n not in pools]
    if unknown:
        raise BadRequest(f"no pool named {unknown[0]!r}")
    texts = []
    for key in ("url", "referrer"):
        value = request.get(key)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"{key} must be a string")
        if value is not None and len(value) > MAX_URL:
            raise BadRequest(f"{key} is longer than {MAX_URL} characters")
        texts.append(value or None)
    return visitor_id, list(dict.fromkeys(names)), texts[0], texts[1]


def assignment_row(
    assigned: Assigned, visitor_id: str, now_us: int, channel: str | None
) -> dict[str, Any]:
    """The `raw_number_assignments` row of one assignment: [now, held_until]."""
    return {
        "assignment_id": stable_hash(assigned.pool, assigned.number, visitor_id, now_us),
        "pool": assigned.pool,
        "number": assigned.number,
        "visitor_id": visitor_id,
        "assigned_at": from_us(now_us),
        "assigned_us": now_us,
        "held_until": from_us(assigned.held_until_us),
        "held_until_us": assigned.held_until_us,
        "fallback": assigned.fallback,
        "channel": channel,
        "received_at": from_us(now_us),
        "origin": ORIGIN,
    }


def _iso(us: int) -> str:
    return from_us(us).isoformat(timespec="seconds") + "Z"
