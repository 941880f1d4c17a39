"""sObject Collections calls for the push: upsert on an external id, delete by id.

`PATCH /services/data/vXX.X/composite/sobjects/{SObject}/{ExternalIdField}`
with `{"allOrNone": false, "records": [...]}` and `DELETE
/services/data/vXX.X/composite/sobjects?ids=...&allOrNone=false`, at most 200
records a call, each answered with its own `success`, `errors` (and for an
upsert `created`). The sync's connection does the rest: sign-in, a new session
once when one expires, retries of 5xx and dropped connections, the API
allowance. Records refused only because another writer held their row
(`UNABLE_TO_LOCK_ROW`) are sent again after the same backoff.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from touchpoint.errors import TouchpointError
from touchpoint.sync.salesforce_client import SalesforceClient

MAX_RECORDS = 200
RETRIED_CODES = ("UNABLE_TO_LOCK_ROW",)
Result = dict[str, Any]


class CollectionsClient(SalesforceClient):
    """A `SalesforceClient` that also writes and deletes records in collections."""

    def upsert(self, sobject: str, external_id: str, records: list[dict[str, Any]]) -> list[Result]:
        """Per record (in order): `{"id", "success", "errors", "created"}`."""
        assert len(records) <= MAX_RECORDS
        path = f"composite/sobjects/{sobject}/{external_id}"

        def send(batch: list[dict[str, Any]]) -> list[Result]:
            body = {
                "allOrNone": False,
                "records": [{"attributes": {"type": sobject}, **r} for r in batch],
            }
            return self._results(
                f"the {sobject} upsert",
                lambda api: api.restful(path, method="PATCH", json=body, **self.options),
                len(batch),
            )

        return self._with_lock_retries(records, send)

    def delete(self, ids: list[str]) -> list[Result]:
        """Per id (in order): `{"id", "success", "errors"}`."""
        assert len(ids) <= MAX_RECORDS

        def send(batch: list[str]) -> list[Result]:
            params = {"ids": ",".join(batch), "allOrNone": "false"}
            return self._results(
                "the delete",
                lambda api: api.restful(
                    "composite/sobjects", params=params, method="DELETE", **self.options
                ),
                len(batch),
            )

        return self._with_lock_retries(ids, send)

    def _results(self, what: str, send: Callable[[Any], Any], count: int) -> list[Result]:
        answer = self._rest(what, lambda api: {"results": send(api)})["results"]
        if not isinstance(answer, list) or len(answer) != count:
            raise_unexpected(what)
        return [r if isinstance(r, dict) else {"success": False, "errors": []} for r in answer]

    def _with_lock_retries(
        self, items: list[Any], send: Callable[[list[Any]], list[Result]]
    ) -> list[Result]:
        results: list[Result | None] = [None] * len(items)
        waiting = list(range(len(items)))
        attempt = 0
        while waiting:
            answered = send([items[i] for i in waiting])
            again = []
            for index, result in zip(waiting, answered, strict=True):
                results[index] = result
                if locked(result) and attempt < self.settings.retries:
                    again.append(index)
            waiting = again
            if waiting:
                attempt += 1
                self.sleep(self._backoff(attempt))
        return [r for r in results if r is not None]


def locked(result: Result) -> bool:
    """Refused only because another transaction held the row: worth sending again."""
    errors = result.get("errors") or []
    return (
        not result.get("success")
        and bool(errors)
        and all(isinstance(e, dict) and e.get("statusCode") in RETRIED_CODES for e in errors)
    )


def reason(result: Result) -> str:
    """The org's words for a refused record: `CODE: message (fields)`, each error."""
    said = []
    for error in result.get("errors") or []:
        if not isinstance(error, dict):
            continue
        fields = error.get("fields") or []
        where = f" ({', '.join(str(f) for f in fields)})" if fields else ""
        said.append(f"{error.get('statusCode') or 'ERROR'}: {error.get('message') or ''}{where}")
    return "; ".join(said) or "Salesforce refused the record without a reason"


def raise_unexpected(what: str) -> NoReturn:
    raise TouchpointError(f"Salesforce answered {what} without one result per record")
