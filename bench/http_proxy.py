"""Benchmark the HTTP fault proxy: what it adds per request, how much it carries, how exact its delays are.

    python -m bench.http_proxy [--quick] [--json FILE]

    (1) client ─keep-alive GET─> fault proxy route (no fault) ──> hello upstream (own process)
               └──────────────── direct, same run ─────────────────┘
    (2) aiohttp load (closed loop, C workers) ──> fault proxy ──> trivial /chat (own process)
        the same load generator ──> the reference gateway's /chat, normal mode, LLM unpaced
    (3) streamed completions through the proxy from the LLM service (unpaced, own process) with a
        first_token_delay / token_delay fault: measured against requested

(1) is the cost every proxied call pays; the goal is under 1 ms added at p50. (2) says whether the
proxy can ever be what limits a load scenario: its ceiling should be at least 3x the gateway's normal
capacity measured in the same run. (3) checks the timing faults against their tolerance (10% or 20 ms,
whichever is more). ``harness bench`` runs (1)-(3) through ``measure`` and takes the gateway's capacity
from its own capacity section. Every server runs on free loopback ports and is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from core.errors import InfrastructureError
from core.ports import free_port_offset
from core.settings import PROJECT_ROOT, HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, load_topology
from system.local.supervisor import LocalSupervisor

from .child_server import HOST, child_server, connects, free_port
from .loadgen import run_load
from .toxiproxy_hop import keepalive_latencies, percentile, upstream_process
from .trivial_chat import trivial_server

CONCURRENCY = 16
CHAT_BODIES = [{"message": "How much is the fare to Tokyo?", "user_id": "bench"}]
# Requested delays (seconds) whose accuracy is measured; the first of each kind is what harness bench shows.
FIRST_TOKEN_DELAYS = (0.5, 0.1)
TOKEN_DELAYS = (0.05, 0.01)
SYSTEM_OFFSETS = (10_600, 11_200)  # between the tests' range and bench.toxiproxy_hop's


def tolerance_s(requested_s: float) -> float:
    """What the timing faults promise: within 10% of the requested value or 20 ms, whichever is more."""
    return max(0.1 * requested_s, 0.020)


# -- processes -------------------------------------------------------------------------------------


class Proxy:
    """A running fault proxy and a control client for it."""

    def __init__(self, control_port: int) -> None:
        self.control = httpx.Client(base_url=f"http://{HOST}:{control_port}", timeout=10.0, trust_env=False)

    def route(self, name: str, upstream_port: int) -> int:
        """Create the route ``name`` to ``upstream_port`` on a free port; its listen port."""
        listen = free_port()
        answer = self.control.put(f"/routes/{name}", json={"listen": f"{HOST}:{listen}",
                                                            "upstream": f"{HOST}:{upstream_port}"})
        if answer.status_code != 200:
            raise InfrastructureError(f"the fault proxy refused route {name}: {answer.text}")
        return listen

    def fault(self, route: str, rule: dict[str, Any]) -> str:
        answer = self.control.post(f"/routes/{route}/faults", json=rule)
        if answer.status_code != 201:
            raise InfrastructureError(f"the fault proxy refused {rule}: {answer.text}")
        return str(answer.json()["id"])

    def reset(self) -> None:
        self.control.post("/reset")


@contextmanager
def proxy_process(log: Path) -> Iterator[Proxy]:
    port = free_port()
    with child_server(["faults.http.server", "--host", HOST, "--port", str(port), "--log", str(log)], port):
        proxy = Proxy(port)
        try:
            yield proxy
        finally:
            proxy.control.close()


@contextmanager
def llm_process(port: int, log: Path) -> Iterator[None]:
    """The project's LLM service with its pacing off: a stream's timing is then the proxy's."""
    env = {**os.environ, "HOST": HOST, "PORT": str(port), "LLM_BASE_DELAY_MS": "0", "LLM_TOKEN_DELAY_MS": "0",
           "LOG_LEVEL": "WARNING"}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "system_under_test.llm"], cwd=PROJECT_ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while not connects(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise InfrastructureError(f"the LLM service did not start (see {log})")
                time.sleep(0.05)
            yield
        finally:
            process.terminate()  # by PID: the process started here
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- (1) added latency ---------------------------------------------------------------------------------


def added_latency(proxy: Proxy, requests: int) -> dict[str, Any]:
    with upstream_process(direct := free_port()):
        via = proxy.route("hello", direct)
        keepalive_latencies(direct, 200), keepalive_latencies(via, 200)  # warm-up
        direct_s, via_s = keepalive_latencies(direct, requests), keepalive_latencies(via, requests)
    row: dict[str, Any] = {"requests": requests}
    for q in (50, 99):
        d, p = percentile(direct_s, q) * 1000, percentile(via_s, q) * 1000
        row[f"direct_p{q}_ms"], row[f"proxy_p{q}_ms"], row[f"added_p{q}_ms"] = round(d, 3), round(p, 3), round(p - d, 3)
    return row


# -- (2) throughput ------------------------------------------------------------------------------------


def throughput(proxy: Proxy, duration_s: float, concurrency: int) -> dict[str, Any]:
    with trivial_server(free_port()) as url:
        via = f"http://{HOST}:{proxy.route('trivial', int(url.rsplit(':', 1)[1]))}/chat"
        asyncio.run(run_load(via, CHAT_BODIES, concurrency=concurrency, duration_s=1.0))  # warm-up
        proxied = asyncio.run(run_load(via, CHAT_BODIES, concurrency=concurrency, duration_s=duration_s))
        direct = asyncio.run(run_load(url + "/chat", CHAT_BODIES, concurrency=concurrency, duration_s=duration_s))
    return {"concurrency": concurrency, "proxy": proxied.summary(), "direct": direct.summary(),
            "proxy_errors": dict(proxied.errors), "proxy_non_200": sum(n for s, n in proxied.statuses.items() if s != 200)}


def gateway_capacity(duration_s: float, concurrency: int, state_dir: Path) -> dict[str, Any]:
    """The reference gateway's normal-mode rate with the same load generator (LLM unpaced, as in
    ``bench.reference_system``)."""
    base = load_topology(DEFAULT_TOPOLOGY)
    offset = free_port_offset(base, *SYSTEM_OFFSETS)
    settings = HarnessSettings.from_env({}).with_overrides(port_offset=offset, state_dir=state_dir)
    system = LocalSupervisor(base.with_port_offset(offset), settings, overrides={
        "gateway": {"LOG_LEVEL": "WARNING", "GATEWAY_SEED": "1"},
        "llm": {"LLM_TOKEN_DELAY_MS": "0", "LLM_BASE_DELAY_MS": "0", "LOG_LEVEL": "WARNING"},
        "vector-db": {"LOG_LEVEL": "WARNING"}})
    url = system.address("gateway") + "/chat"
    try:
        system.start_all()
        asyncio.run(run_load(url, CHAT_BODIES, concurrency=concurrency, duration_s=1.0))  # warm-up
        result = asyncio.run(run_load(url, CHAT_BODIES, concurrency=concurrency, duration_s=duration_s))
    finally:
        system.stop_all()
    return {"concurrency": concurrency, **result.summary(), "modes": dict(result.modes)}


# -- (3) timing faults ---------------------------------------------------------------------------------


async def _stream(session: aiohttp.ClientSession, url: str) -> list[float]:
    """Seconds from sending to each complete SSE event of one streamed completion."""
    body = {"messages": [{"role": "user", "content": "How much is the fare to Tokyo?"}], "stream": True,
            "max_tokens": 32}
    started = time.perf_counter()
    times, tail = [], b""
    async with session.post(url, json=body) as response:
        while chunk := await response.content.readany():
            now = time.perf_counter() - started
            tail += chunk
            while b"\n\n" in tail:
                _, tail = tail.split(b"\n\n", 1)
                times.append(now)
    return times


async def _streams(url: str, trials: int) -> list[list[float]]:
    async with aiohttp.ClientSession() as session:
        await _stream(session, url)  # warm-up: the connection is open before timing starts
        return [await _stream(session, url) for _ in range(trials)]


def delay_accuracy(proxy: Proxy, trials: int, log_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with llm_process(llm := free_port(), log_dir / "llm.log"):
        url = f"http://{HOST}:{proxy.route('llm', llm)}/v1/chat/completions"
        baseline = asyncio.run(_streams(url, trials))
        rows.append(_row("none (passthrough)", 0.0, [s[0] for s in baseline], "time to first event"))
        for seconds in FIRST_TOKEN_DELAYS:
            proxy.fault("llm", {"kind": "first_token_delay", "params": {"seconds": seconds}})
            streams = asyncio.run(_streams(url, trials))
            proxy.reset()
            rows.append(_row("first_token_delay", seconds, [s[0] for s in streams], "time to first event"))
        for seconds in TOKEN_DELAYS:
            proxy.fault("llm", {"kind": "token_delay", "params": {"seconds": seconds}})
            streams = asyncio.run(_streams(url, trials))
            proxy.reset()
            gaps = [(s[-1] - s[0]) / (len(s) - 1) for s in streams if len(s) > 1]
            rows.append(_row("token_delay", seconds, gaps, "mean gap between events",
                             events=statistics.median(len(s) for s in streams)))
    return rows


def _row(fault: str, requested_s: float, measured_s: list[float], what: str, **extra: Any) -> dict[str, Any]:
    median, worst = statistics.median(measured_s), max(measured_s, key=lambda m: abs(m - requested_s))
    row = {"fault": fault, "measured": what, "requested_ms": round(requested_s * 1000, 3), "trials": len(measured_s),
           "median_ms": round(median * 1000, 3), "worst_ms": round(worst * 1000, 3),
           "tolerance_ms": round(tolerance_s(requested_s) * 1000, 3) if requested_s else None,
           "within": abs(worst - requested_s) <= tolerance_s(requested_s) if requested_s else None}
    return {**row, **extra}


# -- together ------------------------------------------------------------------------------------------


def measure(requests: int, duration_s: float, trials: int, concurrency: int = CONCURRENCY,
            with_gateway: bool = False) -> dict[str, Any]:
    """(1)-(3), and the gateway's capacity with ``with_gateway`` (``harness bench`` has its own)."""
    with tempfile.TemporaryDirectory(prefix="bench-http-proxy-") as tmp:
        with proxy_process(Path(tmp) / "http-fault-proxy.log") as proxy:
            result: dict[str, Any] = {
                "latency": added_latency(proxy, requests),
                "throughput": throughput(proxy, duration_s, concurrency),
                "timing": delay_accuracy(proxy, trials, Path(tmp)),
            }
        if with_gateway:
            result["gateway"] = gateway_capacity(duration_s, concurrency, Path(tmp) / "state")
    return result


def render(result: dict[str, Any]) -> str:
    lat, thr = result["latency"], result["throughput"]
    lines = [
        "HTTP fault proxy, no fault: small keep-alive GET, sequential, loopback",
        "",
        "| requests | direct p50 / p99 ms | proxy p50 / p99 ms | added p50 / p99 ms (goal: p50 < 1) |",
        "|---|---|---|---|",
        f"| {lat['requests']} | {lat['direct_p50_ms']} / {lat['direct_p99_ms']} | {lat['proxy_p50_ms']} / "
        f"{lat['proxy_p99_ms']} | {lat['added_p50_ms']} / {lat['added_p99_ms']} |",
        "",
        f"Throughput, closed loop, {thr['concurrency']} workers (aiohttp load generator, same process for every row)",
        "",
        "| target | req/s | p50 / p99 ms |",
        "|---|---|---|",
        f"| trivial /chat direct | {thr['direct']['rps']} | {thr['direct']['p50_ms']} / {thr['direct']['p99_ms']} |",
        f"| trivial /chat through the fault proxy | {thr['proxy']['rps']} | {thr['proxy']['p50_ms']} / "
        f"{thr['proxy']['p99_ms']} |",
    ]
    gateway = result.get("gateway")
    if gateway:
        ratio = thr["proxy"]["rps"] / gateway["rps"] if gateway["rps"] else float("nan")
        lines.append(f"| reference gateway /chat, normal mode | {gateway['rps']} | {gateway['p50_ms']} / "
                     f"{gateway['p99_ms']} |")
        lines += ["", f"proxy / gateway capacity: {ratio:.1f}x (goal: at least 3x)"]
    lines += [
        "",
        "Timing faults on a streamed completion (LLM unpaced; tolerance 10% or 20 ms)",
        "",
        "| fault | measured | requested ms | median ms | worst ms | within tolerance |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["timing"]:
        within = "-" if r["within"] is None else ("yes" if r["within"] else "NO")
        lines.append(f"| {r['fault']} | {r['measured']} | {r['requested_ms']:g} | {r['median_ms']} | {r['worst_ms']} "
                     f"| {within} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer requests and shorter load (about a minute)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    requests, duration, trials = (1000, 3.0, 5) if args.quick else (3000, 8.0, 20)
    result = measure(requests, duration, trials, with_gateway=True)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
