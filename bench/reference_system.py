"""Benchmark the reference chatbot in each mode: throughput, p50/p99, and fast-fail against the timeout.

    python -m bench.reference_system [--duration 10] [--concurrency 16]

Starts the reference system on free loopback ports (its own state directory), loads it in normal mode,
then kills dependencies to reach each degraded mode and loads it again while the breakers are open.
The LLM's simulated pacing is switched off for the mode comparison, so the figures are the gateway's
own cost; one extra row shows normal mode with the LLM's default pacing, as a user would run it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from core.ports import free_port_offset
from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, load_topology
from system.client import SystemClient
from system.local.supervisor import LocalSupervisor

from .loadgen import LoadResult, run_load, run_paced

QUESTIONS = Path(__file__).resolve().parent.parent / "system_under_test" / "vectordb" / "data" / "eval_questions.jsonl"
VECTORDB_TIMEOUT_S = 3.0


def _wait(client: SystemClient, want_mode: str, timeout_s: float = 45.0) -> float:
    """Send requests back to back until an answer comes in ``want_mode`` and /status agrees; return
    the seconds from the call to that first answer (the fault-to-effect time when called right after
    a fault)."""
    started = time.monotonic()
    first: float | None = None
    deadline = started + timeout_s
    while time.monotonic() < deadline:
        answer = client.chat("warm up", "bench")
        if first is None and answer.mode == want_mode:
            first = time.monotonic() - started
        if first is not None and client.status().mode == want_mode:
            return first
    raise RuntimeError(f"the system did not reach {want_mode} within {timeout_s}s: {client.status()}")


def _kill(sup: LocalSupervisor, service: str) -> None:
    os.kill(sup.running()[service].pid, signal.SIGKILL)


def _row(name: str, capacity: LoadResult, paced: LoadResult, rate: float) -> dict[str, Any]:
    """One case: capacity at saturation (closed loop) and latency at a fixed, moderate rate (open loop)."""
    row: dict[str, Any] = {"case": name, "capacity": capacity.summary(), "paced": paced.summary(), "rate": rate}
    row["paced_p99_over_timeout"] = round(paced.percentile(99) / VECTORDB_TIMEOUT_S, 5)
    modes = capacity.modes + paced.modes
    row["modes"] = dict(modes)
    row["errors"] = dict(capacity.errors + paced.errors)
    statuses = capacity.statuses + paced.statuses
    row["non_200"] = sum(n for code, n in statuses.items() if code != 200)
    return row


def run(duration_s: float, concurrency: int, rate: float) -> tuple[list[dict[str, Any]], dict[str, float]]:
    bodies = [{"message": json.loads(line)["question"], "user_id": "bench"}
              for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    base = load_topology(DEFAULT_TOPOLOGY)
    offset = free_port_offset(base, start=11_500, stop=11_700)
    topology = base.with_port_offset(offset)
    rows: list[dict[str, Any]] = []
    effects: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-state-") as state_dir:
        settings = HarnessSettings.from_env({}).with_overrides(port_offset=offset, state_dir=Path(state_dir))
        gateway_env = {"LOG_LEVEL": "WARNING", "GATEWAY_SEED": "1"}
        paced = LocalSupervisor(topology, settings, overrides={"gateway": gateway_env})
        unpaced = LocalSupervisor(
            topology, settings,
            overrides={"gateway": gateway_env, "llm": {"LLM_TOKEN_DELAY_MS": "0", "LLM_BASE_DELAY_MS": "0"}},
        )
        url = paced.address("gateway") + "/chat"
        client = SystemClient.for_entry(topology, settings)  # the gateway is the topology's entry

        def load(name: str) -> None:
            asyncio.run(run_load(url, bodies, concurrency=concurrency, duration_s=1.0))  # warm-up
            capacity = asyncio.run(run_load(url, bodies, concurrency=concurrency, duration_s=duration_s))
            paced = asyncio.run(run_paced(url, bodies, rate=rate, duration_s=duration_s))
            rows.append(_row(name, capacity, paced, rate))
            print(json.dumps(rows[-1]), flush=True)

        try:
            paced.start_all()
            load("normal (LLM default pacing)")
            unpaced.stop("llm")
            unpaced.start_all()
            _wait(client, "normal")
            load("normal")
            _kill(unpaced, "vector-db")
            effects["kill vector-db -> first degraded-no-context answer"] = _wait(client, "degraded-no-context")
            load("degraded-no-context (vector-db breaker open)")
            started = time.monotonic()
            unpaced.start_all()
            effects["vector-db process start (startup probe passed)"] = time.monotonic() - started
            effects["restart vector-db -> first normal answer (waits out what is left of the 30 s breaker reset)"] = (
                time.monotonic() - started + _wait(client, "normal", timeout_s=60))
            asyncio.run(run_load(url, bodies, concurrency=4, duration_s=2.0))  # fill the answer cache
            _kill(unpaced, "llm")
            effects["kill llm -> first degraded-cache-only answer"] = _wait(client, "degraded-cache-only")
            load("degraded-cache-only (LLM breaker open)")
            _kill(unpaced, "vector-db")
            effects["kill vector-db too -> first static-only answer"] = _wait(client, "static-only")
            load("static-only (both breakers open)")
        finally:
            client.close()
            unpaced.stop_all()
    return rows, effects


def render(rows: list[dict[str, Any]]) -> str:
    rate = rows[0]["rate"] if rows else 0
    lines = [
        f"| case | capacity req/s | p50 / p99 ms at capacity | p50 / p99 ms at {rate:g} req/s "
        "| p99 at that rate / 3 s timeout | modes seen | non-200 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, p = r["capacity"], r["paced"]
        modes = ", ".join(f"{m} {n}" for m, n in r["modes"].items())
        lines.append(
            f"| {r['case']} | {c['rps']} | {c['p50_ms']} / {c['p99_ms']} | {p['p50_ms']} / {p['p99_ms']} "
            f"| {r['paced_p99_over_timeout'] * 100:.2f}% | {modes} | {r['non_200']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per case")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent closed-loop clients")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second for the paced run")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    rows, effects = run(args.duration, args.concurrency, args.rate)
    print(render(rows))
    print()
    print("| fault | seconds |\n|---|---|")
    for name, seconds in effects.items():
        print(f"| {name} | {seconds:.3f} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "effects": effects}, indent=2))


if __name__ == "__main__":
    main()
