"""The intake log on disk: framing, torn tails, group commit, recovery after a crash."""

from __future__ import annotations

import asyncio
import fcntl
import os
import zlib
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchpoint.collect.frames import (
    HEADER,
    MAGIC,
    BadRecord,
    decode_record,
    encode_record,
    frame,
    scan,
)
from touchpoint.collect.segments import (
    CLOSED,
    OPEN,
    IntakeLog,
    SegmentWriter,
    closed_segments,
    recover_abandoned,
)

payloads = st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=12)


def test_a_record_round_trips_with_its_table_and_times_as_iso_text():
    framed = encode_record("raw_events", {"event_id": "e1", "at": datetime(2026, 3, 4, 12, 17)})
    found = scan(framed)
    assert found.torn == found.damaged == 0
    assert decode_record(found.payloads[0]) == (
        "raw_events",
        {"event_id": "e1", "at": "2026-03-04T12:17:00"},
    )


@given(payloads)
def test_every_record_written_is_read_back_in_order(records: list[bytes]):
    found = scan(b"".join(frame(p) for p in records))
    assert found.payloads == records
    assert found.torn == found.damaged == 0


@given(payloads, st.data())
def test_a_torn_tail_is_dropped_never_misread(records: list[bytes], data: st.DataObject):
    whole = b"".join(frame(p) for p in records)
    last = frame(records[-1])
    cut = data.draw(st.integers(min_value=len(whole) - len(last), max_value=len(whole) - 1))
    found = scan(whole[:cut])
    assert found.payloads == records[:-1]
    assert found.end == len(whole) - len(last)
    assert found.torn == cut - found.end


@given(payloads, st.data())
def test_damage_inside_a_file_loses_only_the_damaged_record(records, data):
    framed = [frame(p) for p in records]
    victim = data.draw(st.integers(min_value=0, max_value=len(records) - 1))
    spoiled = bytearray(framed[victim])
    offset = data.draw(st.integers(min_value=len(MAGIC), max_value=len(spoiled) - 1))
    spoiled[offset] ^= 0x5A
    framed[victim] = bytes(spoiled)
    found = scan(b"".join(framed))
    assert found.payloads == records[:victim] + records[victim + 1 :]


def test_a_record_whose_checksum_fails_is_not_read():
    good = frame(b'{"table":"raw_events","row":{}}')
    length = len(good) - HEADER.size
    bad = HEADER.pack(MAGIC, length, zlib.crc32(b"other")) + good[HEADER.size :]
    assert scan(bad).payloads == []


@pytest.mark.parametrize(
    "payload", [b"not json", b"[1, 2]", b'{"table": "raw_events"}', b'{"table": 3, "row": {}}']
)
def test_a_payload_that_is_not_a_table_row_is_a_bad_record(payload: bytes):
    with pytest.raises(BadRecord):
        decode_record(payload)


def test_written_records_are_in_a_closed_segment_after_close(tmp_path: Path):
    writer = SegmentWriter(tmp_path, max_bytes=1 << 20, max_age=60)
    writer.write(frame(b"one") + frame(b"two"))
    assert list(tmp_path.glob(f"*{OPEN}")) and not closed_segments(tmp_path)
    writer.close()
    [segment] = closed_segments(tmp_path)
    assert scan(segment.read_bytes()).payloads == [b"one", b"two"]
    assert not list(tmp_path.glob(f"*{OPEN}"))


def test_a_segment_closes_when_full_or_old(tmp_path: Path):
    writer = SegmentWriter(tmp_path, max_bytes=100, max_age=5)
    writer.write(frame(b"x" * 120))
    assert len(closed_segments(tmp_path)) == 1  # full
    writer.write(frame(b"y"))
    assert not writer.close_if_older(now=0.0)  # not old yet
    assert writer.close_if_older(now=1e12)
    assert len(closed_segments(tmp_path)) == 2
    writer.close()
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [CLOSED, CLOSED]


def test_group_commit_acknowledges_every_concurrent_append(tmp_path: Path):
    async def run() -> None:
        log = IntakeLog(SegmentWriter(tmp_path, max_bytes=1 << 20, max_age=60))
        await asyncio.gather(*(log.append(frame(str(i).encode())) for i in range(300)))
        await log.close()

    asyncio.run(run())
    read = [p for s in closed_segments(tmp_path) for p in scan(s.read_bytes()).payloads]
    assert sorted(read, key=int) == [str(i).encode() for i in range(300)]


def test_a_failed_write_is_not_acknowledged(tmp_path: Path):
    async def run() -> None:
        log = IntakeLog(SegmentWriter(tmp_path / "log", max_bytes=1 << 20, max_age=60))
        (tmp_path / "log").write_text("a file where the log directory should be")
        with pytest.raises(OSError):
            await log.append(frame(b"lost"))
        await log.close()

    asyncio.run(run())


def test_recovery_closes_an_abandoned_segment_and_cuts_its_torn_tail(tmp_path: Path):
    abandoned = tmp_path / f"20260101T000000000000-1-000001{OPEN}"
    abandoned.write_bytes(frame(b"acked") + frame(b"half-written")[:-3])
    recovery = recover_abandoned(tmp_path)
    assert (recovery.segments, recovery.torn_bytes) == (1, len(frame(b"half-written")) - 3)
    [segment] = closed_segments(tmp_path)
    assert segment.name.endswith(CLOSED)
    assert segment.read_bytes() == frame(b"acked")


def test_recovery_leaves_a_live_servers_segment_alone(tmp_path: Path):
    writer = SegmentWriter(tmp_path, max_bytes=1 << 20, max_age=60)
    writer.write(frame(b"live"))
    assert recover_abandoned(tmp_path).segments == 0
    assert not closed_segments(tmp_path)
    writer.write(frame(b"still live"))
    writer.close()
    [segment] = closed_segments(tmp_path)
    assert scan(segment.read_bytes()).payloads == [b"live", b"still live"]


def test_recovery_skips_a_segment_locked_by_another_open_file(tmp_path: Path):
    live = tmp_path / f"x{OPEN}"
    live.write_bytes(frame(b"a"))
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert recover_abandoned(tmp_path).segments == 0
    finally:
        os.close(fd)
    assert recover_abandoned(tmp_path).segments == 1


def test_an_abandoned_empty_segment_is_removed(tmp_path: Path):
    (tmp_path / f"empty{OPEN}").write_bytes(b"")
    (tmp_path / ".creating.new").write_bytes(b"")
    recover_abandoned(tmp_path)
    assert list(tmp_path.iterdir()) == []
