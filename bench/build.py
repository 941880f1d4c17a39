"""Benchmark: import and build N page views and N/10 calls, beside plain DuckDB SQL.

    .venv/bin/python bench/build.py --events 2000000
    .venv/bin/python bench/build.py --phones   # Tasks with caller and tracking numbers

Generates a world of multi-page sessions (cached under bench/out/), runs the real
`touchpoint import events`, `import calls` and `build` commands, and prints each
stage's time and rows per second and the peak memory of each command. Then a
hand-written DuckDB SQL reference does the same core work (read the files,
derive source and medium, sessionize, classify, merge calls) in one process, and
the ratio of the two is printed: the machine is noisy, the ratio less so.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CATEGORIES = ROOT / "src" / "touchpoint" / "data" / "ga4-source-categories.csv"
START_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z
ARRIVALS = [
    ("?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid={n}", "https://www.google.com/"),
    ("", "https://www.google.com/"),
    ("", "https://www.bing.com/"),
    ("?utm_source=facebook&utm_medium=paid_social&fbclid={n}", "https://l.facebook.com/"),
    ("?utm_source=newsletter&utm_medium=email&utm_campaign=march", ""),
    ("", "https://partner-blog.net/review"),
    ("", ""),
]


def generate(events: int, seed: int, phones: bool = False) -> tuple[Path, Path]:
    """Events as NDJSON in multi-page sessions and calls as a Salesforce Task CSV.

    With `phones`, each Task also holds its caller's national number (one per
    visitor) and one of 20 tracking numbers; the rest is the same data.
    """
    OUT.mkdir(parents=True, exist_ok=True)
    events_path = OUT / f"events-{events}-{seed}.ndjson"
    tasks_path = OUT / f"tasks-{events}-{seed}{'-phones' if phones else ''}.csv"
    if events_path.exists() and tasks_path.exists():
        return events_path, tasks_path
    rng = random.Random(seed)
    calls_wanted = events // 10
    written = calls = 0
    visitor = 0
    with events_path.open("w") as out, tasks_path.open("w") as tasks:
        numbers = ",Caller__c,Tracking__c" if phones else ""
        tasks.write(
            f"Id,CreatedDate,Type,Subject,bizible2__BizibleId__c,CallDurationInSeconds{numbers}\n"
        )
        while written < events:
            visitor += 1
            vid = f"{visitor:032x}"
            moment = START_MS + rng.randrange(30 * 86_400_000)
            for _session in range(rng.choice((1, 1, 2, 3))):
                query, referrer = ARRIVALS[rng.randrange(len(ARRIVALS))]
                pages = rng.randint(2, 8)
                started = moment
                lines = []
                for page in range(pages):
                    url = f"https://www.example.com/p{rng.randrange(40)}" + (
                        query.format(n=visitor * 10 + page) if page == 0 else ""
                    )
                    ref = referrer if page == 0 else "https://www.example.com/"
                    ref_part = f',"referrer":"{ref}"' if ref else ""
                    lines.append(
                        f'{{"visitor_id":"{vid}","type":"page_view","occurred_at":{moment},'
                        f'"url":"{url}"{ref_part}}}\n'
                    )
                    moment += rng.randrange(10_000, 300_000)
                out.write("".join(lines))
                written += pages
                if calls < calls_wanted and rng.random() < 0.55:
                    calls += 1
                    gap = rng.randrange(60_000, 90 * 60_000)
                    called = time.gmtime((started + gap) / 1000)
                    who = vid if rng.random() < 0.9 else ""
                    dialled = (
                        f",({200 + visitor // 10_000 % 800}) 555-{visitor % 10_000:04d},"
                        f"(800) 555-{100 + calls % 20:04d}"
                        if phones
                        else ""
                    )
                    tasks.write(
                        f"00T{calls:015d},{time.strftime('%Y-%m-%dT%H:%M:%S', called)}.000+0000,"
                        f"Inbound Call,Call,{who},{rng.randrange(20, 900)}{dialled}\n"
                    )
                moment += rng.randrange(2, 72) * 3_600_000
    return events_path, tasks_path


def measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run a command; return its seconds, its own peak RSS in MB, and its stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            sys.exit(f"{' '.join(command[:6])} failed: {err.read().strip()[-2000:]}")
        return seconds, usage.ru_maxrss // 1024, out.read()


# With --phones: the Task fields holding the numbers.
PHONE_SETTINGS = {
    "TOUCHPOINT_SALESFORCE__CALLER_NUMBER_FIELD": "Caller__c",
    "TOUCHPOINT_SALESFORCE__TRACKING_NUMBER_FIELD": "Tracking__c",
}


def run(args: list[str], db: Path, phones: bool = False) -> tuple[float, int, str]:
    """Run a touchpoint command on the bench store."""
    limit = os.environ.get("MEMORY_LIMIT", "2GB")
    return measured(
        [sys.executable, "-m", "touchpoint", "--db", str(db), *args],
        {"TOUCHPOINT_STORE__MEMORY_LIMIT": limit, **(PHONE_SETTINGS if phones else {})},
    )


REFERENCE_SQL = """
CREATE TEMP TABLE categories AS SELECT lower(source) AS source, any_value(source_category) AS category
  FROM read_csv('{categories}') GROUP BY 1;
CREATE TEMP TABLE ev AS
WITH raw AS (
  SELECT * FROM read_json('{events}', format = 'newline_delimited',
    columns = {{visitor_id: 'VARCHAR', type: 'VARCHAR', occurred_at: 'BIGINT', url: 'VARCHAR', referrer: 'VARCHAR'}})
), parsed AS (
  SELECT visitor_id, type, occurred_at * 1000 AS us, url, referrer,
    lower(regexp_extract(url, '^[a-z]+://([^/?#:]*)', 1)) AS host,
    nullif(lower(regexp_extract(referrer, '^[a-z]+://([^/?#:]*)', 1)), '') AS ref_host,
    nullif(lower(regexp_extract(url, '[?&]utm_source=([^&#]*)', 1)), '') AS utm_source,
    nullif(lower(regexp_extract(url, '[?&]utm_medium=([^&#]*)', 1)), '') AS utm_medium,
    nullif(regexp_extract(url, '[?&]utm_campaign=([^&#]*)', 1), '') AS utm_campaign,
    nullif(regexp_extract(url, '[?&]gclid=([^&#]*)', 1), '') AS gclid,
    nullif(regexp_extract(url, '[?&]fbclid=([^&#]*)', 1), '') AS fbclid
  FROM raw
), sourced AS (
  SELECT *, ref_host IS NOT NULL AND ref_host <> host AS external,
    regexp_replace(ref_host, '^(www|l|m)\\.', '') AS ref_name
  FROM parsed
)
SELECT *,
  coalesce(utm_source, CASE WHEN gclid IS NOT NULL THEN 'google' WHEN fbclid IS NOT NULL THEN 'facebook' END,
           CASE WHEN external THEN regexp_replace(ref_name, '\\.(com|net|org)$', '') END, '(direct)') AS source,
  coalesce(utm_medium, CASE WHEN gclid IS NOT NULL THEN 'cpc' END,
           CASE WHEN external AND ref_name IN ('google.com', 'bing.com') THEN 'organic'
                WHEN external THEN 'referral' END, '(none)') AS medium,
  utm_source IS NOT NULL OR gclid IS NOT NULL OR fbclid IS NOT NULL OR external AS acquired
FROM sourced;
CREATE TEMP TABLE sessions AS
WITH keyed AS (
  SELECT *, CASE WHEN acquired THEN concat_ws('|', source, medium, utm_campaign, gclid, fbclid) END AS key,
    us - lag(us) OVER w > 1800000000 OR lag(us) OVER w IS NULL AS new_visit
  FROM ev WINDOW w AS (PARTITION BY visitor_id ORDER BY us)
), grouped AS (
  SELECT *, sum(CAST(new_visit OR acquired AS INT)) OVER (PARTITION BY visitor_id ORDER BY us) AS grp FROM keyed
), carried AS (
  SELECT *, first_value(key) OVER (PARTITION BY visitor_id, grp ORDER BY us) AS grp_key FROM grouped
), marked AS (
  SELECT *, new_visit OR (acquired AND key IS DISTINCT FROM lag(grp_key) OVER (PARTITION BY visitor_id ORDER BY us)) AS starts
  FROM carried
), numbered AS (
  SELECT *, sum(CAST(starts AS INT)) OVER (PARTITION BY visitor_id ORDER BY us) AS session_no FROM marked
)
SELECT visitor_id, session_no, min(us) AS started_us, max(us) AS last_us, count(*) AS events,
  arg_min(url, us) AS landing_page, arg_min(source, us) AS source, arg_min(medium, us) AS medium,
  arg_min(utm_campaign, us) AS campaign
FROM numbered GROUP BY visitor_id, session_no;
CREATE TEMP TABLE classified AS
SELECT s.*, CASE
  WHEN s.source = '(direct)' THEN 'Direct'
  WHEN c.category = 'SEARCH' AND regexp_matches(s.medium, '^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Search'
  WHEN c.category = 'SOCIAL' AND regexp_matches(s.medium, '^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Social'
  WHEN regexp_matches(s.medium, '^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Other'
  WHEN c.category = 'SOCIAL' THEN 'Organic Social'
  WHEN c.category = 'SEARCH' OR s.medium = 'organic' THEN 'Organic Search'
  WHEN s.medium = 'referral' THEN 'Referral'
  WHEN s.medium = 'email' THEN 'Email'
  ELSE 'Unassigned' END AS channel
FROM sessions s LEFT JOIN categories c USING (source);
CREATE TEMP TABLE merged AS
WITH calls AS (
  SELECT Id AS call_id, nullif(bizible2__BizibleId__c, '') AS visitor_id,
    epoch_us(CAST(CreatedDate AS TIMESTAMPTZ)) AS called_us
  FROM read_csv('{tasks}', all_varchar = true)
), latest AS (
  SELECT c.call_id, s.started_us, s.channel
  FROM calls c JOIN classified s ON s.visitor_id = c.visitor_id AND s.started_us <= c.called_us
  QUALIFY row_number() OVER (PARTITION BY c.call_id ORDER BY s.started_us DESC) = 1
)
SELECT c.*, l.channel, CASE
  WHEN c.visitor_id IS NULL THEN 'no_visitor_id'
  WHEN l.started_us IS NULL THEN 'no_session'
  WHEN c.called_us - l.started_us <= 1800000000 THEN 'merged'
  ELSE 'outside_window' END AS outcome
FROM calls c LEFT JOIN latest l USING (call_id);
"""


def reference(events: Path, tasks: Path, directory: Path) -> tuple[float, int, dict[str, int]]:
    """The core work in plain DuckDB SQL in a child process: seconds, peak MB, row counts."""
    script = f"""
import duckdb, json, sys
con = duckdb.connect({str(directory / "reference.duckdb")!r}, config={{'memory_limit': '2GB'}})
con.execute("SET TimeZone = 'UTC'")
con.execute('SET enable_progress_bar = false')
con.execute({REFERENCE_SQL.format(categories=CATEGORIES, events=events, tasks=tasks)!r})
counts = {{t: con.execute(f'SELECT count(*) FROM {{t}}').fetchone()[0] for t in ('ev', 'classified', 'merged')}}
counts = {{'events': counts['ev'], 'sessions': counts['classified'], 'calls': counts['merged']}}
outcomes = dict(con.execute('SELECT outcome, count(*) FROM merged GROUP BY 1').fetchall())
print(json.dumps({{**counts, **outcomes}}))
"""
    seconds, peak, out = measured([sys.executable, "-c", script])
    return seconds, peak, json.loads(out)


def tiny_store(directory: Path) -> tuple[float, float]:
    """Seconds of a first build and of a build with nothing new, on one event and one call."""
    directory.mkdir()
    db = directory / "touchpoint.duckdb"
    events = directory / "events.ndjson"
    events.write_text(
        f'{{"visitor_id":"{1:032x}","type":"page_view","occurred_at":{START_MS},'
        '"url":"https://www.example.com/?utm_source=google&utm_medium=cpc"}\n'
    )
    calls = directory / "calls.csv"
    calls.write_text(f"call_id,called_at,visitor_id\nc1,2026-03-01T00:10:00Z,{1:032x}\n")
    run(["-q", "import", "events", str(events)], db)
    run(["-q", "import", "calls", str(calls), "--format", "calls-csv"], db)
    first, _, _ = run(["-q", "build"], db)
    again, _, out = run(["build", "--json"], db)
    if not json.loads(out).get("nothing_new"):
        sys.exit("the tiny store built again with nothing new")
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="page views to generate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--phones", action="store_true", help="Tasks carry caller and tracking numbers"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    events, tasks = generate(args.events, args.seed, args.phones)
    print(
        f"data: {events.name} ({events.stat().st_size / 1e6:,.0f} MB), {tasks.name} "
        f"(generated or reused in {time.perf_counter() - started:.1f}s)"
    )
    with tempfile.TemporaryDirectory(dir=OUT) as scratch:
        directory = Path(scratch)
        db = directory / "touchpoint.duckdb"
        t_events, m_events, _ = run(["-q", "import", "events", str(events)], db)
        t_calls, m_calls, _ = run(
            ["-q", "import", "calls", str(tasks), "--format", "salesforce-csv"], db, args.phones
        )
        t_build, m_build, out = run(["build", "--json"], db, args.phones)
        summary = json.loads(out)
        # DESIGN §17: a build with nothing new, whole process, here and on a store of one
        # event and one call (goal: 1.5 s on any store).
        t_again, m_again, out_again = run(["build", "--json"], db, args.phones)
        again = json.loads(out_again)
        t_tiny, t_tiny_again = tiny_store(directory / "tiny")
        t_ref, m_ref, counts = reference(events, tasks, directory)
    ours = t_events + t_calls + t_build
    print(f"\n{'step':<24}{'seconds':>9}{'rows/s':>14}{'peak MB':>10}")
    n = args.events
    print(f"{'import events':<24}{t_events:>9.2f}{n / t_events:>14,.0f}{m_events:>10,}")
    print(f"{'import calls':<24}{t_calls:>9.2f}{(n // 10) / t_calls:>14,.0f}{m_calls:>10,}")
    print(f"{'build (all stages)':<24}{t_build:>9.2f}{n / t_build:>14,.0f}{m_build:>10,}")
    for stage in summary["stages"]:
        rate = stage["rows_in"] / stage["seconds"] if stage["seconds"] else 0
        print(f"  {stage['stage']:<22}{stage['seconds']:>9.2f}{rate:>14,.0f}")
    new = "nothing new" if again.get("nothing_new") else "BUILT AGAIN"
    print(f"{'build, ' + new:<24}{t_again:>9.2f}{'':>14}{m_again:>10,}  (goal: 1.5 s)")
    print(f"{'tiny store: build':<24}{t_tiny:>9.2f}")
    print(f"{'tiny store: nothing new':<24}{t_tiny_again:>9.2f}{'':>14}{'':>10}  (goal: 1.5 s)")
    print(
        f"{'touchpoint total':<24}{ours:>9.2f}{n / ours:>14,.0f}{max(m_events, m_calls, m_build):>10,}"
    )
    print(f"{'plain DuckDB SQL':<24}{t_ref:>9.2f}{n / t_ref:>14,.0f}{m_ref:>10,}")
    print(f"\nratio touchpoint / reference: {ours / t_ref:.2f}x (goal: within 1.5x)")
    print(
        f"rows: touchpoint {summary['rows']['sessions']:,} sessions, {summary['rows']['calls']:,} "
        f"calls; reference {counts['sessions']:,} sessions, {counts['calls']:,} calls"
    )
    print(
        f"reference outcomes: { {k: v for k, v in counts.items() if k not in ('events', 'sessions', 'calls')} }"
    )


if __name__ == "__main__":
    main()
