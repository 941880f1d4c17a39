"""How fast the collector takes events, beside a bare ASGI app that answers 204 without work.

    .venv/bin/python bench/collector.py [--seconds 10] [--connections 64] [--no-build]

Both servers run on the same uvicorn settings, one process each, pinned to one
core; Debian's `wrk` drives them from the other core with keep-alive
connections and the same request bodies: single events, then batches of 20,
each with fresh event ids. The collector's rate limit is off (every request
comes from one IP). Prints events/s and p50/p99 latency, and the ratios the
Collector issue set as goals (>= 0.5x the bare app's rate, p99 within 50 ms).
Then signed CallRail webhooks (a realistic post-call body, a fresh call id
each) go to `/webhooks/callrail` on the same server: calls/s beside the
single-event `/collect` rate of the same run. Afterwards `touchpoint build`
loads what was acknowledged, and the count is checked.

Needs `wrk`: `apt-get install -y wrk`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
UVICORN_OPTIONS = {
    "log_level": "warning",
    "access_log": False,
    "proxy_headers": True,
    "server_header": False,
}
SERVER_CPU, CLIENT_CPU = 1, 0

# One body per request, built by wrk's Lua: fresh event ids, realistic fields.
WRK_SCRIPT = r"""
local count = 0
local size = tonumber(os.getenv("BENCH_EVENTS"))
local event = '{"event_id":"%s-%d-%d","visitor_id":"0123456789abcdef0123456789abcdef",'
  .. '"type":"page_view","occurred_at":%d,'
  .. '"url":"https://www.example.com/pricing?utm_source=google&utm_medium=cpc&gclid=c%d",'
  .. '"referrer":"https://www.google.com/","title":"Pricing"}'
local run = os.getenv("BENCH_RUN")
local headers = {["Content-Type"] = "text/plain;charset=UTF-8",
  ["Origin"] = "https://www.example.com",
  ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"}
request = function()
  count = count + 1
  local events = {}
  for i = 1, size do
    events[i] = string.format(event, run, count, i, 1772626620000 + count, count)
  end
  return wrk.format("POST", "/collect", headers, "[" .. table.concat(events, ",") .. "]")
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"seconds":%f,"p50_us":%d,"p99_us":%d,"status_errors":%d,'
    .. '"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


# Signed CallRail webhooks, read from a file of "signature<TAB>body" lines, in turn.
WEBHOOK_SCRIPT = r"""
local bodies, signatures, count = {}, {}, 0
init = function(args)
  for line in io.lines(os.getenv("BENCH_WEBHOOKS")) do
    local tab = line:find("\t")
    signatures[#signatures + 1] = line:sub(1, tab - 1)
    bodies[#bodies + 1] = line:sub(tab + 1)
  end
end
request = function()
  count = count + 1
  local i = (count - 1) % #bodies + 1
  local headers = {["Content-Type"] = "application/json", ["Signature"] = signatures[i]}
  return wrk.format("POST", "/webhooks/callrail", headers, bodies[i])
end
""" + WRK_SCRIPT[WRK_SCRIPT.index("done = function") :]
CALLRAIL_KEY = "bench-callrail-signing-key"
WEBHOOK_BODIES = 20_000


def write_webhooks(path: Path) -> None:
    """Signed CallRail post-call bodies, each a different call, one per line."""
    from touchpoint.sources.vendors.signatures import callrail_signature

    call = json.loads((ROOT / "tests/fixtures/vendors/callrail-post-call.json").read_text())
    with path.open("w") as handle:
        for n in range(WEBHOOK_BODIES):
            record = {**call, "id": str(700_000_000 + n), "resource_id": f"CALbench{n:024d}"}
            body = json.dumps(record, separators=(",", ":")).encode()
            handle.write(f"{callrail_signature(body, CALLRAIL_KEY)}\t{body.decode()}\n")


async def bare_app(scope, receive, send):  # type: ignore[no-untyped-def]
    """The reference: reads the request body, answers 204, does nothing else."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PIN = True


def pinned(cpu: int):  # type: ignore[no-untyped-def]
    """Run a child on one core (when the machine allows it and --no-pin was not given)."""
    if not PIN or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server at {url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    sys.exit(f"server at {url} did not come up")


def start_bare(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-bare", str(port)], preexec_fn=pinned(SERVER_CPU)
    )
    wait_up(f"http://127.0.0.1:{port}/", process)
    return process


def start_collector(directory: Path, port: int) -> subprocess.Popen[bytes]:
    (directory / "touchpoint.toml").write_text(
        '[site]\ndomains = ["example.com"]\n[collector]\nrate_limit_per_minute = 0\n'
        "max_bytes_per_minute = 0\n[server]\nmax_connections_per_client = 0\n"
        f'[webhooks]\ncallrail_secret = "{CALLRAIL_KEY}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "touchpoint", "--quiet", "serve", "--port", str(port)],
        cwd=directory,
        env=env,
        stderr=subprocess.DEVNULL,
        preexec_fn=pinned(SERVER_CPU),
    )
    wait_up(f"http://127.0.0.1:{port}/healthz", process)
    return process


def wrk(
    url: str, script: Path, events: int, run: str, seconds: int, connections: int, **extra: str
) -> dict:
    """One wrk run; its summary as a dict."""
    env = {**os.environ, "BENCH_EVENTS": str(events), "BENCH_RUN": run, **extra}
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, preexec_fn=pinned(CLIENT_CPU), check=True
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH "))
    summary = json.loads(line.removeprefix("BENCH "))
    summary["events_per_request"] = events
    return summary


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections")
    parser.add_argument("--no-build", action="store_true", help="skip loading the events")
    parser.add_argument("--no-pin", action="store_true", help="let servers and wrk use any core")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        import uvicorn

        uvicorn.run(bare_app, host="127.0.0.1", port=args.serve_bare, **UVICORN_OPTIONS)
        return
    global PIN
    PIN = not args.no_pin
    if shutil.which("wrk") is None:
        sys.exit("bench/collector.py needs wrk: apt-get install -y wrk")

    directory = Path(tempfile.mkdtemp(prefix="touchpoint-bench-"))
    script = directory / "collect.lua"
    script.write_text(WRK_SCRIPT)
    bare_port, collector_port = free_port(), free_port()
    bare = start_bare(bare_port)
    collector = start_collector(directory, collector_port)
    results: dict[tuple[str, str], dict] = {}
    try:
        for mode, events in (("single", 1), ("batch20", 20)):
            for app, port in (("bare", bare_port), ("collector", collector_port)):
                url = f"http://127.0.0.1:{port}/collect"
                wrk(url, script, events, f"warm-{mode}-{app}", 2, args.connections)
                results[mode, app] = wrk(
                    url, script, events, f"{mode}-{app}", args.seconds, args.connections
                )
        hooks = directory / "webhooks.lua"
        hooks.write_text(WEBHOOK_SCRIPT)
        bodies = directory / "webhooks.tsv"
        write_webhooks(bodies)
        url = f"http://127.0.0.1:{collector_port}/webhooks/callrail"
        for run, seconds in (("warm-webhooks", 2), ("webhooks", args.seconds)):
            results["webhooks", "collector"] = wrk(
                url, hooks, 1, run, seconds, args.connections, BENCH_WEBHOOKS=str(bodies)
            )
    finally:
        stop(bare)
        stop(collector)

    report(results, args)
    if not args.no_build:
        check_build(directory, results)
    shutil.rmtree(directory, ignore_errors=True)


def report(results: dict[tuple[str, str], dict], args: argparse.Namespace) -> None:
    print(
        f"\ncollector vs bare ASGI app: wrk, {args.connections} keep-alive connections, "
        f"{args.seconds}s per run, "
        + (f"server on cpu {SERVER_CPU}, client on cpu {CLIENT_CPU}\n" if PIN else "not pinned\n")
    )
    print(
        f"{'mode':<9} {'app':<10} {'req/s':>9} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7}"
    )
    for (mode, app), r in results.items():
        if mode == "webhooks":
            continue
        rate = r["requests"] / r["seconds"]
        r["events_per_s"] = rate * r["events_per_request"]
        errors = r["status_errors"] + r["socket_errors"]
        print(
            f"{mode:<9} {app:<10} {rate:>9,.0f} {r['events_per_s']:>10,.0f} "
            f"{r['p50_us'] / 1000:>8.2f} {r['p99_us'] / 1000:>8.2f} {errors:>7}"
        )
    print()
    for mode in ("single", "batch20"):
        bare, ours = results[mode, "bare"], results[mode, "collector"]
        ratio = ours["events_per_s"] / bare["events_per_s"]
        extra = (ours["p99_us"] - bare["p99_us"]) / 1000
        verdict = "met" if ratio >= 0.5 and extra <= 50 else "MISSED"
        print(
            f"{mode:<9} rate {ratio:.2f}x the bare app (goal >= 0.5x); "
            f"p99 {extra:+.1f} ms (goal <= +50 ms): {verdict}"
        )
    hooks, single = results["webhooks", "collector"], results["single", "collector"]
    rate = hooks["requests"] / hooks["seconds"]
    errors = hooks["status_errors"] + hooks["socket_errors"]
    print(
        f"\nwebhooks  signed CallRail calls: {rate:,.0f} calls/s, p50 "
        f"{hooks['p50_us'] / 1000:.2f} ms, p99 {hooks['p99_us'] / 1000:.2f} ms, {errors} errors; "
        f"{rate / single['events_per_s']:.2f}x the single-event /collect rate of this run"
    )


def check_build(directory: Path, results: dict[tuple[str, str], dict]) -> None:
    """Load what the collector acknowledged and compare the counts."""
    acknowledged = sum(
        (r["requests"] - r["status_errors"]) * r["events_per_request"]
        for (mode, app), r in results.items()
        if app == "collector" and mode != "webhooks"
    )
    hooks = results["webhooks", "collector"]
    calls = min(hooks["requests"] - hooks["status_errors"], WEBHOOK_BODIES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "touchpoint", "build", "--json"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        print(f"\nbuild failed: {done.stderr.strip()}")
        return
    intake = json.loads(done.stdout)["stages"][0]
    print(
        f"\nbuild: the intake stage loaded {intake['rows_in']:,} log records "
        f"({intake['rows_out']:,} new rows) in {intake['seconds']:.1f}s; "
        f"whole build {time.perf_counter() - started:.1f}s. "
        f"wrk counted {acknowledged:,} events acknowledged in measured runs, and the "
        f"webhook run sent {calls:,} distinct calls (at most {WEBHOOK_BODIES:,}; a call sent "
        "again lands once); warm-up runs and requests still in flight at the end add to the log."
    )


if __name__ == "__main__":
    main()
