"""Importing vendor call files: CTM JSON and CallRail webhook bodies against Salesforce Task CSV.

Prints calls per second for each format on the same number of synthetic calls;
the Task CSV import (the Foundation's path) is the reference of the same run.

    .venv/bin/python bench/vendor_import.py [CALLS]
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
from pathlib import Path

from touchpoint.config import load_settings
from touchpoint.importers import import_calls


def ctm_calls(count: int) -> dict:
    return {
        "calls": [
            {
                "id": 2_150_000_000 + n,
                "sid": f"CAL{n:032x}",
                "unix_time": 1_768_842_000 + n * 37,
                "caller_number": f"(617) 555-{n % 10_000:04d}",
                "tracking_number": "+18885550147",
                "duration": 60 + n % 300,
                "direction": "inbound",
                "source": "Google Ads",
                "location": f"https://www.acmehvac.com/p{n % 50}?utm_campaign=c{n % 7}&gclid=G{n}",
                "referrer": "https://www.google.com/",
                "custom_fields": {"tp_uid": f"{n:032x}"},
            }
            for n in range(count)
        ]
    }


def callrail_lines(count: int) -> str:
    return "\n".join(
        json.dumps(
            {
                "resource_id": f"CAL{n:032x}",
                "id": str(900_000_000 + n),
                "start_time": "2026-03-04T10:20:07.512-05:00",
                "duration": str(60 + n % 300),
                "answered": "true",
                "customer_phone_number": f"+1781555{n % 10_000:04d}",
                "tracking_phone_number": "+16175550111",
                "utm_source": "google",
                "utm_medium": "cpc",
                "landing_page_url": f"https://www.acmehvac.com/?gclid=G{n}",
                "referrer_domain": "www.google.com",
                "custom_fields": {"tp_uid": f"{n:032x}"},
            }
        )
        for n in range(count)
    )


def task_csv(path: Path, count: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Id", "CreatedDate", "Type", "CallObject", "bizible2__BizibleId__c"])
        for n in range(count):
            writer.writerow(
                [f"00T5e{n:010d}", "2026-03-04T12:10:00.000+0000", "Inbound Call", n, f"{n:032x}"]
            )


def timed(directory: Path, name: str, path: Path, fmt: str, count: int) -> float:
    settings = load_settings(None, db=directory / f"{name}.duckdb")
    started = time.perf_counter()
    result = import_calls(settings, [path], fmt)
    seconds = time.perf_counter() - started
    assert result.landed == count, (name, result)
    print(f"{name:<24} {count:>8,} calls  {seconds:7.2f} s  {count / seconds:>10,.0f} calls/s")
    return seconds


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        (directory / "ctm.json").write_text(json.dumps(ctm_calls(count)))
        (directory / "callrail.ndjson").write_text(callrail_lines(count))
        task_csv(directory / "tasks.csv", count)
        reference = timed(
            directory, "salesforce-csv (ref)", directory / "tasks.csv", "salesforce-csv", count
        )
        for name, file, fmt in (
            ("ctm", "ctm.json", "ctm"),
            ("callrail (ndjson)", "callrail.ndjson", "callrail"),
        ):
            seconds = timed(directory, name, directory / file, fmt, count)
            print(f"{'':<24} {seconds / reference:.2f}× the reference's time")


if __name__ == "__main__":
    main()
