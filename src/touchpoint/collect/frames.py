"""Framed records of the intake log: what one record looks like on disk.

A record is a 12-byte header — `MAGIC`, the payload length and a CRC-32 of
length and payload (little-endian u32s) — then the payload: one JSON object
`{"table": "raw_events", "row": {...}}` naming the raw table the row is for.

A reader takes records while they check out. A half-written tail (the server
died inside a write) fails the length or the checksum and is dropped, never
misread. Damage inside a file (not expected: every write is fsynced before it
is acknowledged) is skipped by looking for the next `MAGIC`, which UTF-8 JSON
can never contain (the byte 0xFE never occurs in UTF-8).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

MAGIC = b"\xfeTP\x01"
HEADER = struct.Struct("<4sII")
LENGTH = struct.Struct("<I")
# Far above any record the collector writes (a request body is capped well below).
MAX_PAYLOAD = 256 * 1024 * 1024

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class BadRecord(ValueError):
    """A record whose frame checked out but whose payload is not a row for a raw table."""


def frame(payload: bytes) -> bytes:
    """One payload framed with magic, length and checksum."""
    length = LENGTH.pack(len(payload))
    checksum = zlib.crc32(payload, zlib.crc32(length))
    return HEADER.pack(MAGIC, len(payload), checksum) + payload


def encode_record(table: str, row: Mapping[str, Any]) -> bytes:
    """The framed record of one raw-table row.

    Times (naive UTC datetimes, as raw tables keep them) are written as ISO 8601
    text to the microsecond, which msgspec does without a Python call per field.
    """
    return frame(_encoder.encode({"table": table, "row": row}))


def decode_record(payload: bytes) -> tuple[str, dict[str, Any]]:
    """(table, row) of a record's payload, or `BadRecord`."""
    try:
        record = _decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise BadRecord(f"payload is not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise BadRecord("payload is not an object")
    table, row = record.get("table"), record.get("row")
    if not isinstance(table, str) or not isinstance(row, dict):
        raise BadRecord("payload has no table name and row")
    return table, row


@dataclass
class Scan:
    """What reading a segment's bytes found."""

    payloads: list[bytes] = field(default_factory=list)
    end: int = 0  # offset just after the last good record
    damaged: int = 0  # bytes skipped between good records
    torn: int = 0  # bytes after the last good record (a write the server did not finish)


def scan(data: bytes) -> Scan:
    """Every good record in `data`, and how many bytes were not part of one."""
    found = Scan()
    for start, payload in _records(data):
        found.damaged += start - found.end
        found.payloads.append(payload)
        found.end = start + HEADER.size + len(payload)
    found.torn = len(data) - found.end
    return found


def _records(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, payload) of each record that checks out, resyncing on `MAGIC` after damage."""
    position = 0
    size = len(data)
    while position + HEADER.size <= size:
        magic, length, checksum = HEADER.unpack_from(data, position)
        end = position + HEADER.size + length
        if magic == MAGIC and length <= MAX_PAYLOAD and end <= size:
            payload = data[position + HEADER.size : end]
            if zlib.crc32(payload, zlib.crc32(LENGTH.pack(length))) == checksum:
                yield position, payload
                position = end
                continue
        position = data.find(MAGIC, position + 1)
        if position < 0:
            return
