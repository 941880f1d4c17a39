"""Path attribution against ChannelAttribution: the same numbers, and how fast.

    .venv/bin/python bench/paths.py [--ca-python /tmp/ca/bin/python] [--rows 1000000]

ChannelAttribution is GPL, so it never enters touchpoint's dependencies or
process: install it in a scratch environment of its own

    python3 -m venv /tmp/ca && /tmp/ca/bin/pip install channelattribution matplotlib

and this script runs it through that interpreter in a subprocess. It compares,
on ../shared/data/PathData.csv on that file replicated to `--rows` rows, and on as many random paths over its
channels (nearly all distinct, so summing identical paths does not help):

- first touch, last touch and linear against its heuristic models (equal up to
  float rounding);
- Markov removal effects against its simulated ones (ours are solved exactly,
  so it should land within a few percent on the large channels, and closer as
  it simulates more: `--ca-nsim`);
- the time each takes from reading the CSV to the results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from touchpoint.stages.attribution import markov
from touchpoint.stages.attribution.paths import attribute_paths, markov_credit, read_paths

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "PathData.csv"

# Runs inside ChannelAttribution's own interpreter; prints one JSON object.
CA_SCRIPT = r"""
import contextlib, io, json, sys, time
import pandas as pd
with contextlib.redirect_stdout(io.StringIO()):
    import ChannelAttribution as ca
path, nsim = sys.argv[1], float(sys.argv[2])
started = time.perf_counter()
data = pd.read_csv(path)
read = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    heuristic = ca.heuristic_models(data, "path", "total_conversions",
        var_value="total_conversion_value", flg_pro=False)
heuristic_done = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    model = ca.markov_model(data, "path", "total_conversions",
        var_value="total_conversion_value", var_null="total_null", out_more=True,
        nsim_start=nsim, verbose=False, flg_pro=False)
done = time.perf_counter()
print(json.dumps({
    "seconds_read": read - started,
    "seconds_heuristic": heuristic_done - read,
    "seconds_markov": done - heuristic_done,
    "heuristic": heuristic.to_dict(orient="records"),
    "markov": model["result"].to_dict(orient="records"),
    "removal_effects": model["removal_effects"].to_dict(orient="records"),
}))
"""

HEURISTICS = {"first_touch": "first_touch", "last_touch": "last_touch", "linear": "linear_touch"}


def run_ca(python: str, path: Path, nsim: float) -> dict:
    """ChannelAttribution's results and timings, from its own interpreter."""
    done = subprocess.run(
        [python, "-c", CA_SCRIPT, str(path), str(nsim)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"ChannelAttribution failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_ours(path: Path) -> tuple[dict, float]:
    """Our results by (model, channel), and the seconds from reading the file to the end."""
    started = time.perf_counter()
    paths = read_paths(path)
    rows = attribute_paths(paths, ("first_touch", "last_touch", "linear", "markov", "shapley"))
    seconds = time.perf_counter() - started
    return {(model, channel): (c, v) for channel, model, c, v in rows}, seconds


def our_removal_effects(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Our exact removal effects on a path file: on conversions, and on value."""
    captured: dict[str, float] = {}
    on_value: dict[str, float] = {}
    original = markov.removal_effects

    def keep(transitions):  # type: ignore[no-untyped-def]
        effects = original(transitions)
        captured.update(effects.conversions)
        on_value.update(effects.value)
        return effects

    import touchpoint.stages.attribution.paths as paths_module

    paths_module.removal_effects = keep
    try:
        markov_credit(read_paths(path))
    finally:
        paths_module.removal_effects = original
    return captured, on_value


def replicate(source: Path, rows: int, target: Path) -> None:
    """`source` repeated until it has `rows` data rows (same header)."""
    lines = source.read_text().splitlines()
    header, body = lines[0], lines[1:]
    with target.open("w") as out:
        out.write(header + "\n")
        written = 0
        while written < rows:
            chunk = body[: rows - written]
            out.write("\n".join(chunk) + "\n")
            written += len(chunk)


def synthesize(source: Path, rows: int, target: Path, seed: int = 7) -> None:
    """`rows` random paths over the source's channels, nearly all distinct (seeded)."""
    import random

    rng = random.Random(seed)
    channels = sorted(
        {
            c.strip()
            for line in source.read_text().splitlines()[1:]
            for c in line.split(",")[0].split(">")
        }
    )
    with target.open("w") as out:
        out.write("path,total_conversions,total_conversion_value,total_null\n")
        for _ in range(rows):
            steps = " > ".join(rng.choice(channels) for _ in range(rng.randint(1, 12)))
            conversions = rng.randint(0, 3)
            value = round(conversions * rng.uniform(1, 10), 3)
            out.write(f"{steps},{conversions},{value},{rng.randint(0, 6)}\n")


def compare(name: str, path: Path, python: str, nsim: float) -> None:
    ours, our_seconds = run_ours(path)
    theirs = run_ca(python, path, nsim)
    print(f"\n== {name}: {path.name}")
    worst = 0.0
    for row in theirs["heuristic"]:
        channel = row["channel_name"]
        for model, prefix in HEURISTICS.items():
            c, v = ours.get((model, channel), (0.0, 0.0))
            worst = max(
                worst,
                abs(c - row[f"{prefix}_conversions"]) / max(1.0, abs(row[f"{prefix}_conversions"])),
                abs(v - row[f"{prefix}_value"]) / max(1.0, abs(row[f"{prefix}_value"])),
            )
    print(f"first/last/linear vs heuristic_models: largest relative difference {worst:.2e}")
    exact, exact_value = our_removal_effects(path)
    print(
        f"{'channel':10} {'RE exact':>10} {'RE CA':>10} {'diff %':>8} {'conv ours':>11} "
        f"{'conv CA':>11} {'REv exact':>10} {'REv CA':>10}"
    )
    simulated = {
        r["channel_name"]: r["removal_effects_conversion"] for r in theirs["removal_effects"]
    }
    simulated_value = {
        r["channel_name"]: r["removal_effects_conversion_value"] for r in theirs["removal_effects"]
    }
    ca_conv = {r["channel_name"]: r["total_conversions"] for r in theirs["markov"]}
    for channel in sorted(exact, key=lambda c: -exact[c]):
        re_ca = simulated.get(channel, 0.0)
        diff = 100 * (re_ca - exact[channel]) / exact[channel] if exact[channel] else 0.0
        print(
            f"{channel:10} {exact[channel]:10.5f} {re_ca:10.5f} {diff:8.2f} "
            f"{ours[('markov', channel)][0]:11.2f} {ca_conv.get(channel, 0.0):11.2f} "
            f"{exact_value[channel]:10.5f} {simulated_value.get(channel, 0.0):10.5f}"
        )
    ca_total = theirs["seconds_read"] + theirs["seconds_heuristic"] + theirs["seconds_markov"]
    print(
        f"seconds, CSV to results: touchpoint {our_seconds:.2f} (first, last, linear, markov, "
        f"shapley); ChannelAttribution {ca_total:.2f} (read {theirs['seconds_read']:.2f}, "
        f"heuristic {theirs['seconds_heuristic']:.2f}, markov {theirs['seconds_markov']:.2f}, "
        f"nsim_start {nsim:g})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ca-python", default="/tmp/ca/bin/python")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--ca-nsim", type=float, default=1e5, help="its nsim_start (default 1e5)")
    args = parser.parse_args()
    if not Path(args.ca_python).exists():
        sys.exit(
            f"no ChannelAttribution interpreter at {args.ca_python}; see this script's docstring"
        )
    compare("PathData", args.data, args.ca_python, args.ca_nsim)
    with tempfile.TemporaryDirectory() as scratch:
        big = Path(scratch) / f"PathData-{args.rows}.csv"
        replicate(args.data, args.rows, big)
        compare(f"PathData replicated to {args.rows:,} rows", big, args.ca_python, args.ca_nsim)
        distinct = Path(scratch) / f"random-{args.rows}.csv"
        synthesize(args.data, args.rows, distinct)
        compare(
            f"{args.rows:,} random, mostly distinct paths", distinct, args.ca_python, args.ca_nsim
        )


if __name__ == "__main__":
    main()
