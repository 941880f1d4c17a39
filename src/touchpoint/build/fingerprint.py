"""What a build was made from, in one string: a build with nothing new publishes nothing.

A build's results depend on the store's input tables, the settings, the channel
rules file they name, the engine and the code (DESIGN §17). `fingerprint` sums
all of it up cheaply: per input table, how many rows and an order-free hash of
each row's key and row id (raw tables are only appended to and deleted from, so
a row that came or went changes it); a hash of the settings as the build keeps
them and of the rules file's bytes; the versions of the libraries that run the
stages and a hash of touchpoint's own files that make results. The published snapshot keeps the
fingerprint it was built from (`build_info.fingerprint`); when the next build's
is the same, nothing could differ and that build publishes nothing new.

Kept free of Ibis and the stages, so that a build with nothing new never imports them.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import duckdb

import touchpoint
from touchpoint.config import Settings, without_secrets
from touchpoint.privacy.suppression import SALT_TABLE
from touchpoint.privacy.suppression import TABLE as SUPPRESSION
from touchpoint.store import RAW_KEYS

_VERSION = "1"  # of this fingerprint's recipe
# Tables besides the raw ones, and what makes a row itself: the suppression list (erase
# adds to it). Not `phone_numbers`: the build adds to it, from raw rows and settings.
_DERIVED = {SUPPRESSION: ("hash",), SALT_TABLE: ("salt",)}
_LIBRARIES = ("duckdb", "ibis-framework", "pyarrow", "pyspark", "phonenumbers")
# touchpoint's parts that turn the store's tables into results. The others (the CLI,
# report, serve, destinations, imports and syncs) change results only through the
# tables they write, which the fingerprint holds.
_CODE = ("stages", "build", "sources", "config", "privacy", "collect", "data", "schema.py")
_CODE_FILES = ("__init__.py", "store.py", "errors.py")
_code_hash: str | None = None


def fingerprint(con: duckdb.DuckDBPyConnection, settings: Settings, engine: str) -> str:
    """Everything a build's results depend on, for the store open on `con`."""
    parts = [
        f"recipe {_VERSION}",
        f"engine {engine}",
        f"code {code_hash()}",
        f"settings {_settings_hash(settings)}",
        *_tables(con),
    ]
    return "; ".join(parts)


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Rows per input table: count and an order-free hash of (row id, key), in one query."""
    present = {
        str(name)
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
    }
    tables = {**RAW_KEYS, **_DERIVED}
    selects = [
        f"SELECT '{name}', count(*), coalesce(bit_xor(hash(rowid{_columns(keys)})), 0) "
        f'FROM "{name}"'
        for name, keys in sorted(tables.items())
        if name in present
    ]
    if not selects:
        return []
    rows = con.execute(" UNION ALL ".join(selects)).fetchall()
    return [f"{name} {count}/{digest}" for name, count, digest in sorted(rows)]


def _columns(keys: tuple[str, ...]) -> str:
    return "".join(f', "{key}"' for key in keys)


def _settings_hash(settings: Settings) -> str:
    """The settings as the build keeps them, and the bytes of the channel rules file."""
    seen = hashlib.blake2b(digest_size=16)
    dumped = without_secrets(settings.model_dump(mode="json"))
    seen.update(json.dumps(dumped, sort_keys=True).encode())
    rules = settings.channels.rules.strip()
    if rules:
        try:
            seen.update(Path(rules).read_bytes())
        except OSError as exc:  # the real build says what is wrong with it
            seen.update(f"unreadable: {exc}".encode())
    return seen.hexdigest()


def code_hash() -> str:
    """touchpoint's version, its files' bytes and the stage libraries' versions, once a process."""
    global _code_hash
    if _code_hash is None:
        seen = hashlib.blake2b(digest_size=16)
        seen.update(touchpoint.__version__.encode())
        for library in _LIBRARIES:
            try:
                seen.update(f"{library} {metadata.version(library)}".encode())
            except metadata.PackageNotFoundError:
                seen.update(f"{library} absent".encode())
        package = Path(touchpoint.__file__).parent
        for path in sorted(package.rglob("*")):
            relative = path.relative_to(package)
            if relative.parts[0] not in (*_CODE, *_CODE_FILES) or "__pycache__" in relative.parts:
                continue
            if path.is_file():
                seen.update(str(relative).encode())
                seen.update(path.read_bytes())
        _code_hash = seen.hexdigest()
    return _code_hash
