"""Benchmark Toxiproxy's cost and speed: hop overhead per small HTTP request, and how fast faults bite.

    python -m bench.toxiproxy_hop [--requests 3000] [--trials 20] [--latency-ms 100] [--json FILE]

    client ──(keep-alive or fresh connection)──> toxiproxy-server ──> upstream (http.server, own process)
           └──────────────────────────── direct ─────────────────────────────┘

Overhead: the same small GET, sent sequentially, directly and through an idle proxy; p50/p99 and
their ratio, on one keep-alive connection and on a fresh connection per request. Speed of faults:
after the API call that injects (or reverts) a partition or a latency toxic returns, requests on fresh
connections are sent back to back; the figure is how long after the call returned the first request
*started* that showed the effect (or the recovery), so it does not include the injected delay itself.
Everything runs on loopback ports found free; the servers it starts are stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.child_server import child_server
from bench.hello import QuietServer, hello_handler
from core.ports import free_port_offset
from core.settings import PROJECT_ROOT
from core.topology import DEFAULT_TOPOLOGY, Topology, load_topology
from faults.network import NetworkInjector
from faults.network_specs import Latency, Partition
from faults.proxies import ProxyManager
from faults.toxiproxy import ToxiproxyClient
from faults.toxiproxy_server import ServerConfig, api_port, find_binary, start_server

HOST = "127.0.0.1"
TARGET = "vector-db"
BODY = b'{"status": "pass"}'


# -- the upstream: a hello server in its own process, so the client's timing is not its GIL's ------


def serve_upstream(port: int) -> None:
    with QuietServer((HOST, port), hello_handler(BODY, "application/json")) as server:
        server.serve_forever()


@contextmanager
def upstream_process(port: int) -> Iterator[None]:
    with child_server(["bench.toxiproxy_hop", "--serve-upstream", str(port)], port):
        yield


# -- requests ----------------------------------------------------------------------------------------


def fresh_request(port: int, timeout_s: float = 5.0) -> bool:
    """One GET on a new connection; True when the full answer arrived, False on any socket failure."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        return data.endswith(BODY)
    except OSError:
        return False


def keepalive_latencies(port: int, count: int) -> list[float]:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        out = []
        for _ in range(count):
            started = time.perf_counter()
            conn.request("GET", "/")
            response = conn.getresponse()
            if response.read() != BODY:
                raise RuntimeError("unexpected answer")
            out.append(time.perf_counter() - started)
        return out
    finally:
        conn.close()


def fresh_latencies(port: int, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        if not fresh_request(port):
            raise RuntimeError("a request failed without a fault")
        out.append(time.perf_counter() - started)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# -- measurements ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lab:
    topology: Topology
    client: ToxiproxyClient
    injector: NetworkInjector

    @property
    def direct(self) -> int:
        return self.topology.service(TARGET).port

    @property
    def proxied(self) -> int:
        return next(e.proxy_port for e in self.topology.edges if e.target == TARGET)


def overhead(lab: Lab, requests: int) -> list[dict[str, Any]]:
    rows = []
    for mode, measure in (("keep-alive", keepalive_latencies), ("fresh connection", fresh_latencies)):
        count = requests if mode == "keep-alive" else max(100, requests // 3)
        measure(lab.direct, 200), measure(lab.proxied, 200)  # warm-up
        direct, proxied = measure(lab.direct, count), measure(lab.proxied, count)
        row: dict[str, Any] = {"connection": mode, "requests": count}
        for q in (50, 99):
            d, p = percentile(direct, q) * 1000, percentile(proxied, q) * 1000
            row[f"direct_p{q}_ms"], row[f"proxy_p{q}_ms"] = round(d, 3), round(p, 3)
            row[f"ratio_p{q}"] = round(p / d, 2)
            row[f"added_p{q}_us"] = round((p - d) * 1000, 1)
        rows.append(row)
    return rows


def first_start_showing(check: Callable[[], bool], since: float, timeout_s: float = 10.0) -> tuple[float, int]:
    """Seconds from ``since`` to the start of the first request for which ``check`` is true, and how
    many requests before it did not show it yet."""
    deadline = since + timeout_s
    misses = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        if check():
            return started - since, misses
        misses += 1
    raise RuntimeError("the effect never showed")


def fault_speed(lab: Lab, trials: int, latency_ms: int) -> list[dict[str, Any]]:
    port = lab.proxied
    slow = latency_ms / 1000 * 0.9

    def took(port: int) -> float:
        started = time.perf_counter()
        ok = fresh_request(port)
        return time.perf_counter() - started if ok else float("inf")

    cases: dict[str, tuple[Any, Callable[[], bool], Callable[[], bool]]] = {
        "partition": (Partition(TARGET), lambda: not fresh_request(port), lambda: fresh_request(port)),
        f"latency {latency_ms} ms": (Latency(TARGET, latency_ms), lambda: slow <= took(port) < 10, lambda: took(port) < slow / 2),
    }
    rows = []
    for name, (spec, affected, recovered) in cases.items():
        calls, effects, recoveries, misses = [], [], [], 0
        for _ in range(trials):
            called = time.perf_counter()
            handle = lab.injector.inject(spec)
            returned = time.perf_counter()
            effect, missed_effect = first_start_showing(affected, returned)
            called_back = time.perf_counter()
            handle.revert()
            reverted = time.perf_counter()
            recovery, missed_recovery = first_start_showing(recovered, reverted)
            calls += [returned - called, reverted - called_back]
            effects.append(effect)
            recoveries.append(recovery)
            misses += missed_effect + missed_recovery
        rows.append({
            "fault": name,
            "trials": trials,
            "api_call_p50_ms": round(statistics.median(calls) * 1000, 3),
            "inject_to_effect_p50_ms": round(statistics.median(effects) * 1000, 3),
            "inject_to_effect_max_ms": round(max(effects) * 1000, 3),
            "revert_to_recovery_p50_ms": round(statistics.median(recoveries) * 1000, 3),
            "revert_to_recovery_max_ms": round(max(recoveries) * 1000, 3),
            "requests_before_effect_or_recovery": misses,
        })
    return rows


@contextmanager
def hop_lab() -> Iterator[tuple[Lab, str]]:
    """An upstream process and a Toxiproxy server with the default topology's proxies, on a free port
    offset; yields the lab and the server's version, and stops both by PID afterwards."""
    base = load_topology(DEFAULT_TOPOLOGY)
    offset = free_port_offset(base, start=11_200, stop=11_500)
    topology = base.with_port_offset(offset)
    with tempfile.TemporaryDirectory(prefix="bench-toxiproxy-") as tmp:
        config = ServerConfig(find_binary(PROJECT_ROOT), Path(tmp) / "toxiproxy.log", port=api_port(offset))
        with upstream_process(topology.service(TARGET).port):
            server = start_server(config)
            try:
                with ToxiproxyClient(server.url) as client:
                    ProxyManager(client, topology).ensure()
                    yield Lab(topology, client, NetworkInjector(client, topology)), server.version
            finally:
                server.stop()


def measure_overhead(requests: int) -> dict[str, Any]:
    """Only the hop's overhead (what ``harness bench`` reports), without the fault-speed trials."""
    with hop_lab() as (lab, version):
        return {"toxiproxy_version": version, "overhead": overhead(lab, requests)}


def run(requests: int, trials: int, latency_ms: int) -> dict[str, Any]:
    with hop_lab() as (lab, version):
        return {
            "toxiproxy_version": version,
            "overhead": overhead(lab, requests),
            "faults": fault_speed(lab, trials, latency_ms),
        }


def render(result: dict[str, Any]) -> str:
    lines = [
        f"Toxiproxy {result['toxiproxy_version']} hop overhead (small HTTP GET, sequential, loopback)",
        "",
        "| connection | requests | direct p50 / p99 ms | proxy p50 / p99 ms | ratio p50 / p99 | added p50 / p99 µs |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["overhead"]:
        lines.append(
            f"| {r['connection']} | {r['requests']} | {r['direct_p50_ms']} / {r['direct_p99_ms']} "
            f"| {r['proxy_p50_ms']} / {r['proxy_p99_ms']} | {r['ratio_p50']} / {r['ratio_p99']} "
            f"| {r['added_p50_us']} / {r['added_p99_us']} |"
        )
    lines += [
        "",
        "How fast faults bite (ms after the API call returned to the start of the first request showing it)",
        "",
        "| fault | trials | API call p50 ms | inject → effect p50 / max ms | revert → recovery p50 / max ms "
        "| requests that missed it |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["faults"]:
        lines.append(
            f"| {r['fault']} | {r['trials']} | {r['api_call_p50_ms']} "
            f"| {r['inject_to_effect_p50_ms']} / {r['inject_to_effect_max_ms']} "
            f"| {r['revert_to_recovery_p50_ms']} / {r['revert_to_recovery_max_ms']} "
            f"| {r['requests_before_effect_or_recovery']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=3000, help="keep-alive requests per path")
    parser.add_argument("--trials", type=int, default=20, help="inject/revert cycles per fault")
    parser.add_argument("--latency-ms", type=int, default=100, help="the latency fault's delay")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--serve-upstream", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream is not None:
        serve_upstream(args.serve_upstream)
        return
    result = run(args.requests, args.trials, args.latency_ms)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
