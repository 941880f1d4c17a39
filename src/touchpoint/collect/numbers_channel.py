"""The channel of a visit from its page URL and referrer, by the build's own rules.

A pool with `channels` gives numbers only to visitors of those channels, so
`POST /numbers` classifies the page the request names as the build would
classify a session landing there: the sessions stage (`stages.sessions`, the
GA4 default channel group after `[channels] rules`) runs on a one-event table
in an in-memory DuckDB. Its SQL is compiled once (at start, some seconds);
a query costs tens of milliseconds (some 200 ms on a busy machine), so answers
are kept per distinct visit (the URL's campaign tags and click-id parameter,
the referrer's host; the whole URL and referrer when there are user rules,
which may match any part of them). It runs in a worker thread, never on the
event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.sources.events import event_row
from touchpoint.sources.records import RecordError

REMEMBER = 4096
# The visitor id and time of the one event classified: neither changes its channel.
_EVENT = {"visitor_id": "v", "type": "page_view", "occurred_at": "2026-01-01T00:00:00Z"}


class ChannelClassifier:
    """`channel(url, referrer)`: the build's channel of a visit landing on `url`."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._answers: OrderedDict[tuple[Any, ...], str | None] = OrderedDict()
        self._query: Any = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="channels")

    async def channel(self, url: str | None, referrer: str | None) -> str | None:
        """The channel, or None when `url` is no page URL."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.classify, url, referrer)

    def classify(self, url: str | None, referrer: str | None) -> str | None:
        """As `channel`, in the calling thread."""
        if not url:
            return None
        try:
            row = event_row({**_EVENT, "url": url, "referrer": referrer or None})
        except RecordError:
            return None
        key = self._key(row)
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
            try:
                channel = self._run(row)
            except Exception:  # never a 500: the visitor sees `replace`
                return None  # not kept: the next request asks again
            self._answers[key] = channel
            if len(self._answers) > REMEMBER:
                self._answers.popitem(last=False)
            return channel

    def check(self) -> None:
        """Read the channel rules the classification needs: a bad file is one `TouchpointError`
        before `serve` starts."""
        _params(self.settings)

    async def warm(self) -> None:
        """Compile the query now (at start), so a bad rules file stops `serve` at once."""
        loop = asyncio.get_running_loop()
        self._query = await loop.run_in_executor(self._executor, _compile, self.settings)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _key(self, row: dict[str, Any]) -> tuple[Any, ...]:
        if self.settings.channels.rules.strip():
            return (row["url"], row["referrer"])
        return (
            row["page_host"],
            row["referrer_host"],
            row["utm_source"],
            row["utm_medium"],
            row["utm_campaign"],
            row["utm_content"] is not None,
            row["utm_term"] is not None,
            row["click_id_param"],
        )

    def _run(self, row: dict[str, Any]) -> str | None:
        import pyarrow as pa

        from touchpoint.schema import RAW_EVENTS

        if self._query is None:
            self._query = _compile(self.settings)
        con, sql = self._query
        visit = pa.Table.from_pylist([row], schema=RAW_EVENTS)
        con.register("visit_row", visit)
        try:
            con.execute("DELETE FROM visit")
            con.execute("INSERT INTO visit SELECT * FROM visit_row")
            found = con.execute(sql).fetchone()
        finally:
            con.unregister("visit_row")
        return None if found is None else found[0]


def _compile(settings: Settings) -> tuple[Any, str]:
    """An in-memory DuckDB with an empty `visit` events table, and the channel query on it.

    Imported here: `serve` loads Ibis only when a pool has `channels`."""
    import duckdb
    import ibis

    from touchpoint.schema import RAW_EVENTS, duckdb_type
    from touchpoint.stages.sessions import referrer_lookup, sessionize, sessions

    params = _params(settings)
    con = duckdb.connect()
    columns = ", ".join(f'"{f.name}" {duckdb_type(f.type)}' for f in RAW_EVENTS)
    con.execute(f"CREATE TABLE visit ({columns})")
    backend = ibis.duckdb.from_connection(con)
    events = backend.table("visit")
    marked = sessionize(events, referrer_lookup(events), params)
    expr = sessions(marked, params).select("channel")
    expr.execute()  # registers the stages' in-memory tables (the source categories)
    return con, str(backend.compile(expr))


def _params(settings: Settings) -> Any:
    """The build's parameters (its channel rules) for these settings."""
    from touchpoint.stages.params import BuildParams

    try:
        return BuildParams.from_settings(settings)
    except (OSError, ValueError) as exc:
        raise TouchpointError(f"cannot read the channel rules: {exc}") from None
