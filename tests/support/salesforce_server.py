"""A local Salesforce org for the sync's tests: OAuth token endpoint and REST query API over TLS.

A real HTTPS server (a thread in the test process, on a free port) that speaks
Salesforce's wire format: `POST /services/oauth2/token` (client credentials
and JWT bearer, the assertion checked against the connected app's public key),
`GET /services/data/vXX.X/query` and `/queryAll` with `q=` (a small SOQL
reader: a SELECT list with parent fields such as `Campaign.Name`, `WHERE` with
comparisons joined by AND, each may be a parenthesised OR of comparisons,
`ORDER BY`, `LIMIT`), pages of `totalSize`, `done`,
`nextRecordsUrl` and `records` with `attributes`, datetimes as Salesforce
writes them, error bodies `[{"message", "errorCode"}]` and the
`Sforce-Limit-Info` header. Records change between runs through `put` and
`delete`; `break_page`, `token_lifetime` and `api_used` make it fail the ways
Salesforce does. `seen` records every request it answered.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from support import salesforce_collections

COMMON = ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")
SCHEMA: dict[str, set[str]] = {
    "Task": {
        *COMMON,
        "Type",
        "Subject",
        "WhoId",
        "WhatId",
        "CallType",
        "CallDurationInSeconds",
        "CallObject",
        "TaskSubtype",
        "CallDisposition",
        "Description",
        "bizible2__BizibleId__c",
        "bizible2__Bizible_Touchpoint_Date__c",
        "tp_uid__c",  # an org's own visitor-id field ([salesforce] visitor_id_field)
    },
    "Lead": {
        *COMMON,
        "Email",
        "Phone",
        "IsConverted",
        "ConvertedContactId",
        "ConvertedAccountId",
        "ConvertedOpportunityId",
    },
    "Contact": {*COMMON, "Email", "Phone", "AccountId"},
    "Opportunity": {
        *COMMON,
        "AccountId",
        "Name",
        "Amount",
        "CloseDate",
        "IsClosed",
        "IsWon",
        "StageName",
    },
    "OpportunityContactRole": {*COMMON, "OpportunityId", "ContactId", "IsPrimary", "Role"},
    "CampaignMember": {
        *COMMON,
        "CampaignId",
        "LeadId",
        "ContactId",
        "HasResponded",
        "FirstRespondedDate",
    },
    "Campaign": {*COMMON, "Name", "Type"},
}
SCHEMA.update(salesforce_collections.custom_schema())  # the objects `push salesforce` writes
# Parent relationships a SELECT may follow: `Campaign.Name` reads the Campaign whose Id is CampaignId.
PARENTS = {("CampaignMember", "Campaign"): "Campaign"}
KEY_PREFIX = {
    "Task": "00T",
    "Lead": "00Q",
    "Contact": "003",
    "Opportunity": "006",
    "OpportunityContactRole": "00K",
    "CampaignMember": "00v",
    "Campaign": "701",
    **salesforce_collections.KEY_PREFIXES,
}
DEFAULT_PAGE_SIZE = 2000
LIMIT_EXCEEDED = ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
UNKNOWN_EXCEPTION = (
    "UNKNOWN_EXCEPTION",
    "An unexpected error occurred. Please include this ErrorId if you contact support: "
    "1234567890-12345 (-1234567890)",
)


def sf_time(moment: datetime) -> str:
    """A datetime as Salesforce writes it: `2026-03-04T20:21:30.000+0000`."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}+0000"
    )


def read_sf_time(text: str) -> datetime:
    """Salesforce's datetime, or a SOQL datetime literal (`...Z`, `...+00:00`)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- TLS and keys made by the test ------------------------------------------------


@dataclass(frozen=True)
class Tls:
    ca: Path  # what the client trusts ([salesforce] ca_bundle)
    cert: Path
    key: Path


def make_tls(directory: Path) -> Tls:
    """A one-day CA and a certificate it signed for 127.0.0.1 and localhost."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "touchpoint test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    tls = Tls(directory / "test-ca.pem", directory / "server.pem", directory / "server-key.pem")
    tls.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    tls.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tls


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_rsa_key(path: Path) -> str:
    """A connected app's RSA key: the private key PEM written to `path`, the public PEM returned."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


# -- a little SOQL ------------------------------------------------------------------


class SoqlError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(
    r"^\s*(?P<field>[\w.]+)\s*(?P<op>>=|<=|!=|=|>|<)\s*(?P<value>'(?:[^'\\]|\\.)*'|\S+)\s*$"
)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class Query:
    sobject: str
    fields: list[str]
    conditions: list[list[tuple[str, str, Any]]]  # ANDed; each one a list of ORed comparisons
    order: list[tuple[str, bool]]  # (field, descending)
    limit: int | None


def parse_soql(text: str) -> Query:
    """The parts of a SOQL query this server understands, or `SoqlError` as Salesforce says it."""
    match = _QUERY.match(text)
    if not match:
        raise SoqlError("MALFORMED_QUERY", f"unexpected query: {text[:80]}")
    sobject = match["object"]
    if sobject not in SCHEMA:
        raise SoqlError("INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
    fields = [name.strip() for name in match["fields"].split(",")]
    for name in fields:
        _check_field(sobject, name)
    conditions = []
    if match["where"]:
        for part in re.split(r"\s+AND\s+", match["where"], flags=re.IGNORECASE):
            inner = part.strip()
            if inner.startswith("(") and inner.endswith(")"):
                inner = inner[1:-1]
            either = []
            for alternative in re.split(r"\s+OR\s+", inner, flags=re.IGNORECASE):
                condition = _CONDITION.match(alternative)
                if not condition:
                    raise SoqlError("MALFORMED_QUERY", f"unexpected condition: {part}")
                _check_field(sobject, condition["field"])
                value = _literal(condition["value"])
                either.append((condition["field"], condition["op"], value))
            conditions.append(either)
    order = []
    if match["order"]:
        for part in match["order"].split(","):
            words = part.split()
            if (
                not words
                or len(words) > 2
                or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC"))
            ):
                raise SoqlError("MALFORMED_QUERY", f"unexpected ORDER BY: {part}")
            _check_field(sobject, words[0])
            order.append((words[0], len(words) == 2 and words[1].upper() == "DESC"))
    return Query(
        sobject, fields, conditions, order, int(match["limit"]) if match["limit"] else None
    )


def _check_field(sobject: str, name: str) -> None:
    parent, _, child = name.partition(".")
    if child:
        target = PARENTS.get((sobject, parent))
        if target is None or child not in SCHEMA[target]:
            raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'.")
    elif name not in SCHEMA[sobject]:
        raise SoqlError(
            "INVALID_FIELD",
            f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a "
            "custom field, be sure to append the '__c' after the custom field name.",
        )


def _literal(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1].replace("\\'", "'")
    if _DATETIME.match(text):
        return read_sf_time(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    try:
        return float(text)
    except ValueError:
        raise SoqlError("MALFORMED_QUERY", f"unexpected value: {text}") from None


def _comparable(value: Any, like: Any) -> Any:
    if isinstance(like, datetime) and isinstance(value, str):
        return read_sf_time(value)
    return value


def _holds(record: dict[str, Any], condition: tuple[str, str, Any]) -> bool:
    name, op, wanted = condition
    value = _comparable(record.get(name), wanted)
    if op in ("=", "!="):
        return (value == wanted) == (op == "=")
    if value is None or wanted is None:
        return False
    return {
        ">=": value >= wanted,
        ">": value > wanted,
        "<=": value <= wanted,
        "<": value < wanted,
    }[op]


# -- the org ----------------------------------------------------------------------


@dataclass
class Seen:
    """One request the server answered."""

    method: str
    path: str
    status: int
    soql: str | None = None
    ids: list[str] = field(default_factory=list)  # records on the page it returned
    grant: str | None = None


@dataclass
class Broken:
    how: str  # "500", "429", "limit" (403 REQUEST_LIMIT_EXCEEDED) or "drop" (close the connection)
    times: int  # how many more requests to fail (a large number: for good)


class SalesforceOrg:
    """The records, the connected app and the knobs; `serve()` puts it on HTTPS."""

    def __init__(self, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in SCHEMA}
        self.clock = datetime(2026, 3, 4, 20, 0, tzinfo=UTC)
        self.page_size = page_size
        self.clients: dict[str, str] = {}  # client id -> secret
        self.jwt_apps: dict[str, tuple[str, str]] = {}  # client id -> (username, public key PEM)
        self.audience = ""
        self.tokens: dict[str, int] = {}  # live token -> REST calls it has made
        self.token_lifetime: int | None = None  # REST calls a token lives for; None: for ever
        self.api_used = 0
        self.api_total = 15_000
        self.broken: dict[tuple[str, int], Broken] = {}  # (sobject, page) -> failure
        self.cursors: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        self.seen: list[Seen] = []
        self.collections = salesforce_collections.CollectionsState()  # upserts and deletes
        self.errors: list[str] = []  # handler crashes: a test that sees one fails
        self._ids = itertools.count(1)
        self._cursor_ids = itertools.count(1)
        self.base_url = ""  # set by serve()
        self.ca: Path | None = None  # the CA a client must trust, set by serve()

    # records ---------------------------------------------------------------------

    def tick(self, minutes: int = 1) -> datetime:
        self.clock += timedelta(minutes=minutes)
        return self.clock

    def new_id(self, sobject: str) -> str:
        """An 18-character id with the object's key prefix."""
        return f"{KEY_PREFIX[sobject]}5e00000{next(self._ids):05d}AAA"

    def put(self, sobject: str, record_id: str | None = None, **fields: Any) -> str:
        """Create or change a record now (the clock moves on a minute); returns its Id."""
        with self.lock:
            now = sf_time(self.tick())
            record_id = record_id or self.new_id(sobject)
            record = self.records[sobject].setdefault(
                record_id, {"Id": record_id, "IsDeleted": False, "CreatedDate": now}
            )
            unknown = set(fields) - SCHEMA[sobject]
            assert not unknown, f"{sobject} has no fields {unknown}"
            record.update(fields)
            record["LastModifiedDate"] = now
            record["SystemModstamp"] = now
            return record_id

    def delete(self, sobject: str, record_id: str) -> None:
        """Move a record to the recycle bin: queryAll still returns it, with IsDeleted true."""
        with self.lock:
            now = sf_time(self.tick())
            record = self.records[sobject][record_id]
            record.update(IsDeleted=True, LastModifiedDate=now, SystemModstamp=now)

    def copy(self) -> SalesforceOrg:
        """A new org, not serving, with these records, clients, clock and next ids."""
        with self.lock:
            made = SalesforceOrg(self.page_size)
            made.records = copy.deepcopy(self.records)
            made.clients, made.clock, made.api_used = dict(self.clients), self.clock, self.api_used
            ours = (
                re.fullmatch(r"\w{3}5e00000(\d{5})AAA", i) for r in self.records.values() for i in r
            )
            made._ids = itertools.count(max((int(m[1]) for m in ours if m), default=0) + 1)
            return made

    def current(
        self, sobject: str, fields: list[str], deleted: bool = True
    ) -> list[dict[str, Any]]:
        """Records as a `SELECT fields` returns them (what the sync should end up with)."""
        with self.lock:
            rows = [r for r in self.records[sobject].values() if deleted or not r["IsDeleted"]]
            return [self._project(sobject, r, fields) for r in rows]

    def _project(self, sobject: str, record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        row: dict[str, Any] = {"attributes": self._attributes(sobject, record["Id"])}
        for name in fields:
            parent, _, child = name.partition(".")
            if not child:
                row[name] = record.get(name)
                continue
            target = PARENTS[(sobject, parent)]
            parent_id = record.get(f"{parent}Id")
            parent_record = self.records[target].get(parent_id) if parent_id else None
            if parent_record is None:
                row[parent] = None
                continue
            nested = row.get(parent) or {"attributes": self._attributes(target, parent_id)}
            nested[child] = parent_record.get(child)
            row[parent] = nested
        return row

    def _attributes(self, sobject: str, record_id: str) -> dict[str, str]:
        return {"type": sobject, "url": f"/services/data/v61.0/sobjects/{sobject}/{record_id}"}

    # the connected app and failures -----------------------------------------------

    def add_client(self, client_id: str, secret: str) -> None:
        self.clients[client_id] = secret

    def add_jwt_app(self, client_id: str, username: str, public_key: str, audience: str) -> None:
        self.jwt_apps[client_id] = (username, public_key)
        self.audience = audience

    def issue_token(self) -> str:
        with self.lock:
            token = "00D5e0000000001!" + secrets.token_urlsafe(24)
            self.tokens[token] = 0
            return token

    def break_page(self, sobject: str, page: int, how: str, times: int = 1_000) -> None:
        """Fail the `page`-th page (1 = the query itself) of queries over `sobject`."""
        self.broken[(sobject, page)] = Broken(how, times)

    def heal(self) -> None:
        self.broken.clear()

    def queries(self, since: int = 0) -> list[Seen]:
        """The first-page query requests answered with 200 (from `seen[since:]`)."""
        return [s for s in self.seen[since:] if s.soql is not None and s.status == 200]

    def returned_ids(self, sobject: str, since: int = 0) -> list[str]:
        """Ids of `sobject` records on every page answered after `seen[since]`."""
        prefix = KEY_PREFIX[sobject]
        return [
            i for s in self.seen[since:] if s.status == 200 for i in s.ids if i.startswith(prefix)
        ]

    # requests -----------------------------------------------------------------------

    def answer(
        self, method: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, Any, dict[str, str]] | None:
        """(status, JSON body, headers) for a request, or None to drop the connection."""
        url = urlsplit(target)
        with self.lock:
            if method == "POST" and url.path == "/services/oauth2/token":
                return self._token(headers, body)
            match = re.fullmatch(r"/services/data/v(\d+\.\d)/(query|queryAll)(?:/(.*))?", url.path)
            collection = salesforce_collections.route(method, url.path)
            if (method != "GET" or not match) and collection is None:
                return self._log(target, 404, "NOT_FOUND", "The requested resource does not exist")
            token = (headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            if token not in self.tokens or (
                self.token_lifetime is not None and self.tokens[token] >= self.token_lifetime
            ):
                self.tokens.pop(token, None)
                return self._log(target, 401, "INVALID_SESSION_ID", "Session expired or invalid")
            self.tokens[token] += 1
            if self.api_used >= self.api_total:
                return self._log(target, 403, *LIMIT_EXCEEDED)
            self.api_used += 1
            if collection is not None:
                answered = salesforce_collections.answer(self, collection, url.query, body)
                self.seen.append(Seen(method, url.path, answered[0]))
                return answered
            assert match is not None
            version, resource, rest = match.groups()
            try:
                if rest:
                    sobject, page, records = self._next_page(version, rest)
                    soql = None
                else:
                    soql = (parse_qs(url.query).get("q") or [""])[0]
                    sobject, page, records = self._first_page(version, soql, resource == "queryAll")
            except SoqlError as exc:
                return self._log(target, 400, exc.code, str(exc))
            broken = self.broken.get((sobject, page["number"]))
            if broken and broken.times > 0:
                broken.times -= 1
                return self._fail(target, broken.how)
            self.seen.append(Seen(method, url.path, 200, soql, [r["Id"] for r in records]))
            return 200, page["body"], self._limit_header()

    def _first_page(
        self, version: str, soql: str, deleted: bool
    ) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        query = parse_soql(soql)
        rows = [
            r
            for r in self.records[query.sobject].values()
            if (deleted or not r["IsDeleted"])
            and all(any(_holds(r, c) for c in either) for either in query.conditions)
        ]
        for name, descending in reversed(query.order):
            rows.sort(
                key=lambda r, n=name: (r.get(n) is None, _sort_value(r.get(n))), reverse=descending
            )
        if query.limit is not None:
            rows = rows[: query.limit]
        result = [self._project(query.sobject, r, query.fields) for r in rows]
        cursor = f"01g5e0000{next(self._cursor_ids):06d}AAA"
        self.cursors[cursor] = (query.sobject, result)
        return query.sobject, self._page(version, cursor, 0), result[: self.page_size]

    def _next_page(
        self, version: str, rest: str
    ) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        cursor, _, offset = rest.rpartition("-")
        if cursor not in self.cursors or not offset.isdigit():
            raise SoqlError("INVALID_QUERY_LOCATOR", "invalid query locator")
        sobject, result = self.cursors[cursor]
        start = int(offset)
        return sobject, self._page(version, cursor, start), result[start : start + self.page_size]

    def _page(self, version: str, cursor: str, start: int) -> dict[str, Any]:
        _sobject, result = self.cursors[cursor]
        end = start + self.page_size
        body: dict[str, Any] = {"totalSize": len(result), "done": end >= len(result)}
        if end < len(result):
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor}-{end}"
        body["records"] = result[start:end]
        return {"number": start // self.page_size + 1, "body": body}

    def _fail(self, target: str, how: str) -> tuple[int, Any, dict[str, str]] | None:
        if how == "drop":
            self.seen.append(Seen("GET", urlsplit(target).path, 0))
            return None
        if how == "429":
            return self._log(target, 429, "REQUEST_LIMIT_EXCEEDED", "Too many requests")
        if how == "limit":
            return self._log(target, 403, *LIMIT_EXCEEDED)
        return self._log(target, 500, *UNKNOWN_EXCEPTION)

    def _log(
        self, target: str, status: int, code: str, message: str
    ) -> tuple[int, Any, dict[str, str]]:
        """An error answer, as Salesforce's REST API gives it: `[{"message", "errorCode"}]`."""
        self.seen.append(Seen("GET", urlsplit(target).path, status))
        body = [{"message": message, "errorCode": code}]
        return status, body, self._limit_header() if status != 401 else {}

    def _limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_total}"}

    def _token(self, headers: Any, body: bytes) -> tuple[int, Any, dict[str, str]]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        grant = form.get("grant_type", "")
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = headers.get("Authorization") or ""
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        if grant == "client_credentials":
            if client_id not in self.clients or self.clients[client_id] != secret:
                return self._token_error(400, "invalid_client", "invalid client credentials", grant)
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            problem = self._jwt_problem(form.get("assertion", ""))
            if problem:
                return self._token_error(400, "invalid_grant", problem, grant)
        else:
            return self._token_error(
                400, "unsupported_grant_type", "grant type not supported", grant
            )
        self.seen.append(Seen("POST", "/services/oauth2/token", 200, grant=grant))
        return (
            200,
            {
                "access_token": self.issue_token(),
                "instance_url": self.base_url,
                "id": f"{self.base_url}/id/00D5e0000000001AAA/0055e000000001AAA",
                "token_type": "Bearer",
                "issued_at": str(int(self.clock.timestamp() * 1000)),
                "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
            },
            {},
        )

    def _jwt_problem(self, assertion: str) -> str | None:
        try:
            issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            return "invalid assertion"
        if issuer not in self.jwt_apps:
            return "invalid_client_id: client identifier invalid"
        username, public_key = self.jwt_apps[issuer]
        try:
            claims = jwt.decode(assertion, public_key, algorithms=["RS256"], audience=self.audience)
        except jwt.PyJWTError as exc:
            return f"invalid assertion: {exc}"
        if claims.get("sub") != username:
            return "user hasn't approved this consumer"
        return None

    def _token_error(
        self, status: int, error: str, description: str, grant: str
    ) -> tuple[int, Any, dict[str, str]]:
        self.seen.append(Seen("POST", "/services/oauth2/token", status, grant=grant))
        return status, {"error": error, "error_description": description}, {}

    # serving ----------------------------------------------------------------------

    def serve(self, tls: Tls) -> OrgServer:
        """Start serving on a free port of 127.0.0.1 (call `stop()` on the result)."""
        return OrgServer(self, tls)


def _sort_value(value: Any) -> Any:
    if isinstance(value, str) and _DATETIME.match(value.replace("+0000", "Z")):
        return read_sf_time(value)
    return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(length))

    do_PATCH = do_DELETE = do_POST  # sObject Collections (support.salesforce_collections)

    def _answer(self, body: bytes) -> None:
        org = self.server.org
        try:
            answer = org.answer(self.command, self.path, self.headers, body)
        except Exception as exc:  # a bug here, not a Salesforce answer: the test must see it
            org.errors.append(f"{type(exc).__name__}: {exc}")
            answer = (500, [{"message": "test server crashed", "errorCode": "TEST_SERVER"}], {})
        if answer is None:
            self.close_connection = True
            self.connection.close()
            return
        status, payload, headers = answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    org: SalesforceOrg

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up mid-request (the sync's own timeouts) are not server bugs


class OrgServer:
    """A running HTTPS server for a `SalesforceOrg`."""

    def __init__(self, org: SalesforceOrg, tls: Tls) -> None:
        self.httpd = _HttpServer(("127.0.0.1", 0), _Handler)
        self.httpd.org = org
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert, tls.key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        org.base_url = self.url
        org.ca = tls.ca
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
