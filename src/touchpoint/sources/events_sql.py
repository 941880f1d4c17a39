"""The SQL that checks and enriches event rows by the rules of `events.event_row`.

Every format is first read into one shape, the fields relation: per known field
its JSON kind (`<name>_kind`) and its text (`<name>_text`), with `_seq`,
`_object` and `occurred_at_us`. `events_sql` turns that relation into raw-events
rows and an `_ok` flag in one statement; `json_fields`, `text_fields` and
`parquet_fields` make it from NDJSON lines, CSV text columns and Parquet scans.
"""

from __future__ import annotations

from touchpoint.sources.events import (
    EVENT_ID_MAX,
    EVENT_TYPES,
    KNOWN_FIELDS,
    MAX_CHARS,
    OPTIONAL_TEXT,
    VISITOR_ID,
)
from touchpoint.sources.records import DECIMAL, EARLIEST_US, INTEGER, LATEST_US, RFC3339
from touchpoint.sources.urls import (
    CLICK_ID_PARAMS,
    UTM_PARAMS,
    sql_after_userinfo,
    sql_authority,
    sql_drop_params,
    sql_host_of,
    sql_is_http_url,
    sql_param,
    sql_path,
    sql_query,
    sql_string,
    sql_strip,
)

BLANK_LINE = r"[ \t\n\r\f\v]*"
_JSON_KINDS_INT = "('BIGINT', 'UBIGINT')"


def events_sql(fields: str, drop_params: frozenset[str] = frozenset()) -> str:
    """SQL over a relation of fields (`<name>_kind`, `<name>_text`, `_seq`, `_object`,
    `occurred_at_us`) giving the raw-events columns, `_seq`, and `_ok` for a valid event.

    `drop_params` are removed from `url` and `referrer` (`urls.drop_params`). The
    columns of rows that are not `_ok` mean nothing; those rows never land. What is
    kept of the user agent is decided afterwards, once per distinct one
    (`events_bulk.reduce_user_agents`).
    """
    strip_url = sql_strip("url_text")
    occurred = sql_strip("occurred_at_text")
    event_id = sql_strip("event_id_text")
    texts = {name: f"nullif({sql_strip(f'{name}_text')}, '')" for name in OPTIONAL_TEXT}
    text_ok = " AND ".join(
        f"({name}_kind IS NULL OR {name}_kind IN ('NULL', 'VARCHAR'))"
        f" AND coalesce(length({texts[name]}) <= {MAX_CHARS[name]}, true)"
        for name in OPTIONAL_TEXT
    )
    props = sql_strip("properties_text")
    types = ", ".join(sql_string(t) for t in EVENT_TYPES)
    params = {
        name: f"CASE WHEN contains(lower(query), '{name}=') THEN {sql_param('query', name)} END"
        for name in (*UTM_PARAMS, *CLICK_ID_PARAMS)
    }
    click_param = (
        "CASE "
        + " ".join(f"WHEN {name} IS NOT NULL THEN '{name}'" for name in CLICK_ID_PARAMS)
        + " END"
    )
    click_id = "coalesce(" + ", ".join(CLICK_ID_PARAMS) + ")"
    return f"""
WITH given AS (
  SELECT *, {strip_url} AS url_given, {occurred} AS occ_clean, {event_id} AS event_id_clean,
    {texts["referrer"]} AS referrer_given
  FROM ({fields})
), cleaned AS (
  SELECT *, {sql_drop_params("url_given", drop_params)} AS url_clean,
    {sql_drop_params("referrer_given", drop_params)} AS referrer_clean
  FROM given
), authorities AS (
  SELECT *, {sql_authority("url_clean")} AS url_authority,
    {sql_authority("referrer_clean")} AS referrer_authority
  FROM cleaned
), hosts AS (
  SELECT *, {sql_after_userinfo("url_authority")} AS url_rest,
    {sql_after_userinfo("referrer_authority")} AS referrer_rest
  FROM authorities
), timed AS (
  SELECT *,
    CASE
      WHEN occurred_at_kind IN {_JSON_KINDS_INT} THEN TRY_CAST(occurred_at_text AS HUGEINT) * 1000
      WHEN occurred_at_kind = 'DOUBLE'
        THEN TRY_CAST(round_even(TRY_CAST(occurred_at_text AS DOUBLE) * 1000, 0) AS HUGEINT)
      WHEN occurred_at_kind = 'VARCHAR' AND regexp_full_match(occ_clean, {sql_string(INTEGER)})
        THEN CASE WHEN length(occ_clean) <= 19 THEN CAST(occ_clean AS HUGEINT) * 1000 END
      WHEN occurred_at_kind = 'VARCHAR' AND regexp_full_match(occ_clean, {sql_string(DECIMAL)})
        THEN TRY_CAST(round_even(TRY_CAST(occ_clean AS DOUBLE) * 1000, 0) AS HUGEINT)
      WHEN occurred_at_kind = 'VARCHAR' AND regexp_full_match(occ_clean, {sql_string(RFC3339)})
        THEN epoch_us(TRY_CAST(occ_clean AS TIMESTAMPTZ))
      WHEN occurred_at_kind = 'TIMESTAMP' THEN occurred_at_us
    END AS occ_us,
    CASE WHEN url_kind = 'VARCHAR' THEN {sql_host_of("url_rest")} END AS page_host,
    {sql_query("url_clean")} AS query
  FROM hosts
), checked AS (
  SELECT *,
    coalesce(
      _object
      AND visitor_id_kind = 'VARCHAR' AND regexp_full_match(visitor_id_text, {sql_string(VISITOR_ID)})
      AND type_kind = 'VARCHAR' AND type_text IN ({types})
      AND occ_us >= {EARLIEST_US} AND occ_us < {LATEST_US}
      AND url_kind = 'VARCHAR' AND {sql_is_http_url("url_clean")} AND page_host IS NOT NULL
      AND length(url_given) <= {MAX_CHARS["url"]}
      AND (event_id_kind IS NULL OR event_id_kind = 'NULL' OR event_id_kind IN {_JSON_KINDS_INT}
           OR (event_id_kind = 'VARCHAR' AND length(event_id_clean) <= {EVENT_ID_MAX}))
      AND {text_ok}
      AND (properties_kind IS NULL OR properties_kind IN ('NULL', 'OBJECT')
           OR (properties_kind = 'VARCHAR' AND ({props} = ''
               OR CASE WHEN json_valid({props}) THEN json_type({props}) = 'OBJECT' ELSE false END)))
      AND coalesce(length(properties_text) <= {MAX_CHARS["properties"]}, true),
      false) AS _ok
  FROM timed
), enriched AS (
  SELECT *, {", ".join(f"{expr} AS {name}" for name, expr in params.items())}
  FROM checked
)
SELECT
  CASE
    WHEN NOT _ok THEN NULL
    WHEN event_id_kind = 'VARCHAR' AND event_id_clean <> '' THEN event_id_clean
    WHEN event_id_kind IN {_JSON_KINDS_INT} THEN event_id_text
    ELSE md5(concat_ws(chr(31), visitor_id_text, type_text, CAST(occ_us AS VARCHAR), url_clean))
  END AS event_id,
  visitor_id_text AS visitor_id,
  type_text AS type,
  make_timestamp(CAST(CASE WHEN _ok THEN occ_us END AS BIGINT)) AS occurred_at,
  CAST(CASE WHEN _ok THEN occ_us END AS BIGINT) AS occurred_us,
  url_clean AS url,
  referrer_clean AS referrer,
  {texts["title"]} AS title,
  lower({texts["email"]}) AS email,
  {texts["user_agent"]} AS user_agent,
  CASE
    WHEN NOT _ok THEN NULL
    WHEN properties_kind = 'OBJECT' THEN CAST(json(properties_text) AS VARCHAR)
    WHEN properties_kind = 'VARCHAR' AND {props} <> '' THEN CAST(json({props}) AS VARCHAR)
  END AS properties,
  page_host,
  {sql_path("url_clean")} AS page_path,
  {sql_host_of("referrer_rest")} AS referrer_host,
  {", ".join(UTM_PARAMS)},
  {click_id} AS click_id,
  {click_param} AS click_id_param,
  CAST(NULL AS VARCHAR) AS client_ip,
  CAST($received_at AS TIMESTAMP) AS received_at,
  $origin AS origin,
  CAST(NULL AS VARCHAR) AS browser,
  CAST(NULL AS VARCHAR) AS os,
  CAST(NULL AS VARCHAR) AS device,
  CAST(NULL AS TIMESTAMP) AS sent_occurred_at,
  _seq,
  _ok
FROM enriched
"""


def json_fields(lines: str) -> str:
    """The fields relation of a relation `lines(_seq, line)` of JSON text.

    Two parses per line in all: one for every field's kind, one for its text.
    """
    paths = "[" + ", ".join(sql_string(f"$.{name}") for name in KNOWN_FIELDS) + "]"
    columns = []
    for index, name in enumerate(KNOWN_FIELDS, start=1):
        columns.append(f"_kinds[{index}] AS {name}_kind")
        columns.append(f"_texts[{index}] AS {name}_text")
    return f"""
SELECT _seq, _object, CAST(NULL AS BIGINT) AS occurred_at_us, {", ".join(columns)}
FROM (
  SELECT _seq, _object,
    CASE WHEN _object THEN json_type(line, {paths}) END AS _kinds,
    CASE WHEN _object THEN json_extract_string(line, {paths}) END AS _texts
  FROM (
    SELECT _seq, line, CASE WHEN _valid THEN json_type(line) = 'OBJECT' ELSE false END AS _object
    FROM (SELECT _seq, line, json_valid(line) AS _valid FROM {lines} WHERE NOT regexp_full_match(line, {sql_string(BLANK_LINE)}))
  )
)"""


def text_fields(rows: str, present: set[str]) -> str:
    """The fields relation of a relation of text columns (CSV): empty cells are missing."""
    columns = []
    for name in KNOWN_FIELDS:
        if name in present:
            columns.append(
                f"CASE WHEN \"{name}\" IS NULL THEN NULL ELSE 'VARCHAR' END AS {name}_kind"
            )
            columns.append(f'"{name}" AS {name}_text')
        else:
            columns.append(
                f"CAST(NULL AS VARCHAR) AS {name}_kind, CAST(NULL AS VARCHAR) AS {name}_text"
            )
    return f"SELECT _seq, true AS _object, CAST(NULL AS BIGINT) AS occurred_at_us, {', '.join(columns)} FROM {rows}"


_PARQUET_KINDS = {
    "VARCHAR": "VARCHAR",
    "BOOLEAN": "BOOLEAN",
    "DOUBLE": "DOUBLE",
    "FLOAT": "DOUBLE",
}


def parquet_fields(source: str, types: dict[str, str]) -> str:
    """The fields relation of a Parquet scan, by each column's native type."""
    columns = []
    occurred_us = "CAST(NULL AS BIGINT)"
    for name in KNOWN_FIELDS:
        kind_name = types.get(name)
        quoted = f'"{name}"'
        if kind_name is None:
            columns.append(
                f"CAST(NULL AS VARCHAR) AS {name}_kind, CAST(NULL AS VARCHAR) AS {name}_text"
            )
            continue
        if kind_name.startswith("TIMESTAMP"):
            kind = "'TIMESTAMP'"
            if name == "occurred_at":
                occurred_us = f"epoch_us({quoted})"
        elif kind_name in (
            "BIGINT",
            "INTEGER",
            "SMALLINT",
            "TINYINT",
            "UBIGINT",
            "UINTEGER",
            "USMALLINT",
            "UTINYINT",
            "HUGEINT",
        ):
            kind = "'BIGINT'"
        elif kind_name.startswith(("STRUCT", "MAP")):
            kind = "'OBJECT'"
        else:
            kind = sql_string(_PARQUET_KINDS.get(kind_name, "OTHER"))
        text = (
            f"CAST(to_json({quoted}) AS VARCHAR)"
            if kind == "'OBJECT'"
            else f"CAST({quoted} AS VARCHAR)"
        )
        columns.append(f"CASE WHEN {quoted} IS NULL THEN NULL ELSE {kind} END AS {name}_kind")
        columns.append(f"{text} AS {name}_text")
    return (
        f"SELECT file_row_number AS _seq, true AS _object, {occurred_us} AS occurred_at_us, "
        f"{', '.join(columns)} FROM {source}"
    )
