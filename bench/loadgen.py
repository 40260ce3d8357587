"""A small HTTP load generator for benchmarks (asyncio + aiohttp, one process), in two shapes.

* ``run_load`` (closed loop): ``concurrency`` workers each send the next request when the previous one
  answered, so the figure is the system's capacity at that concurrency (and its latency at saturation).
* ``run_paced`` (open loop): requests start at a fixed rate whatever the answers, so the latency is
  what a user sees at that load, without the queueing a saturated closed loop adds.

Both are bounded in time and in concurrent requests by construction and refuse non-loopback targets.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp


@dataclass
class LoadResult:
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    modes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_s)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, q: float) -> float:
        """The q-th percentile latency in seconds (nearest rank)."""
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
        return ordered[rank]

    def summary(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.percentile(50) * 1000, 2),
            "p99_ms": round(self.percentile(99) * 1000, 2),
            "mean_ms": round(statistics.fmean(self.latencies_s) * 1000, 2) if self.latencies_s else float("nan"),
        }


def _require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise ValueError(f"benchmarks only send load to loopback addresses, not {host!r}")


async def _one(
    session: aiohttp.ClientSession, url: str, body: dict[str, str], result: LoadResult
) -> None:
    started = time.monotonic()
    try:
        async with session.post(url, json=body, headers={"Accept-Language": "en"}) as resp:
            data = await resp.json(content_type=None)
            result.statuses[resp.status] += 1
            if isinstance(data, dict) and "mode" in data:
                result.modes[str(data["mode"])] += 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        result.errors[type(exc).__name__] += 1
        return
    result.latencies_s.append(time.monotonic() - started)


async def run_paced(
    url: str, bodies: Sequence[dict[str, str]], *, rate: float, duration_s: float, max_in_flight: int = 256,
    timeout_s: float = 40.0,
) -> LoadResult:
    """Start ``rate`` requests per second for ``duration_s``; at most ``max_in_flight`` at once."""
    _require_loopback(url)
    result = LoadResult()
    interval = 1.0 / rate
    limit = asyncio.Semaphore(max_in_flight)
    connector = aiohttp.TCPConnector(limit=max_in_flight)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:

        async def fire(body: dict[str, str]) -> None:
            async with limit:
                await _one(session, url, body, result)

        began = time.monotonic()
        tasks: list[asyncio.Task[None]] = []
        for i in range(int(rate * duration_s)):
            delay = began + i * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(fire(bodies[i % len(bodies)])))
        await asyncio.gather(*tasks)
        result.elapsed_s = time.monotonic() - began
    return result


async def run_load(
    url: str, bodies: Sequence[dict[str, str]], *, concurrency: int, duration_s: float, timeout_s: float = 40.0
) -> LoadResult:
    """POST the bodies round-robin to ``url`` from ``concurrency`` workers for ``duration_s``."""
    _require_loopback(url)
    result = LoadResult()
    stop_at = time.monotonic() + duration_s
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:

        async def worker(offset: int) -> None:
            i = offset
            while time.monotonic() < stop_at:
                body = bodies[i % len(bodies)]
                i += concurrency
                await _one(session, url, body, result)

        began = time.monotonic()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        result.elapsed_s = time.monotonic() - began
    return result
