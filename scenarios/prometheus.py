"""Reading counters from a Prometheus text endpoint, enough for before/after differences.

The engine needs two numbers at a time (say, retries and requests since a fault), not a metrics
client: a small parser of the text format's sample lines keeps the dependency list short. The system
under test's own ``/metrics`` is read through ``system.client.SystemClient.metrics``; ``scrape`` reads
another server's (the HTTP fault proxy's count of the calls each dependency received).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from core.errors import MeasurementError

_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Samples = dict[str, float]  # 'name{a="1",b="2"}' (labels sorted) -> value


def parse(text: str) -> Samples:
    """Samples of a Prometheus text exposition, keyed by name and sorted labels."""
    out: Samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels = sorted(_LABEL.findall(match["labels"] or ""))
        key = match["name"] + ("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else "")
        try:
            out[key] = float(match["value"])
        except ValueError:
            continue
    return out


def scrape(url: str, timeout_s: float = 2.0) -> Samples:
    """The samples at ``url``; ``MeasurementError`` when the endpoint cannot be read.

    An empty answer would be worse than none: "retries since the fault" would silently become
    "retries since the process started", or a difference against nothing."""
    try:
        response = httpx.get(url, timeout=timeout_s, trust_env=False)
    except httpx.HTTPError as exc:
        raise MeasurementError(f"cannot read {url}: {type(exc).__name__}: {exc}") from None
    if response.status_code != 200:
        raise MeasurementError(f"cannot read {url}: HTTP {response.status_code}")
    return parse(response.text)


def baseline(read: Callable[[], Samples]) -> Samples | None:
    """The samples ``read()`` returns before a fault, or None when they cannot be read then (the service
    may be the one that is down); a check that needs them then fails as a measurement error."""
    try:
        return read()
    except MeasurementError:
        return None


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    result = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base == name and all(w in rest for w in wanted):
            result += value
    return result
