"""A typed client of the Prometheus HTTP API (the few calls the harness needs), every call with a timeout.

    ready()                    GET /-/ready                 (True/False; never raises for "not yet")
    query(expr, at)            GET /api/v1/query            -> [Sample]  (instant vector or scalar)
    query_range(expr, ...)     GET /api/v1/query_range      -> [Series]
    alerts()                   GET /api/v1/alerts           -> [Alert]   (pending and firing)
    rules()                    GET /api/v1/rules            -> [RuleInfo] (alerting rules, their health)
    targets()                  GET /api/v1/targets          -> [Target]

Errors are translated at this boundary, in one place (``_translate``): a connection that cannot be made
or times out is ``PrometheusUnreachable``, an API error (``"status": "error"``, a non-2xx answer, a body
that is not the API's JSON) is ``PrometheusError`` with Prometheus's own ``errorType: error``. Both are
infrastructure errors (exit 3): a measurement that could not be taken never reads as a pass.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from core.errors import PrometheusError


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


class PrometheusUnreachable(PrometheusError):
    """Nothing answered at the URL, or it did not answer within the timeout."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float
    at: float  # Unix seconds


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]  # (Unix seconds, value)


@dataclass(frozen=True)
class Alert:
    name: str
    state: str  # pending | firing
    labels: dict[str, str]
    active_at: float | None  # Unix seconds the expression first held (the start of pending)
    value: float | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        """Identity of one alert instance: its label set (which includes ``alertname``)."""
        return tuple(sorted(self.labels.items()))


@dataclass(frozen=True)
class RuleInfo:
    name: str
    group: str
    file: str
    health: str  # ok | err | unknown
    for_s: float
    last_error: str | None = None


@dataclass(frozen=True)
class Target:
    job: str
    url: str
    health: str  # up | down | unknown
    last_error: str | None = None


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _unix(text: Any) -> float | None:
    """Prometheus's RFC 3339 times (``2026-01-02T03:04:05.123456789Z``) as Unix seconds; None for none."""
    match = _RFC3339.match(text) if isinstance(text, str) else None
    if match is None or text.startswith("0001-"):  # Go's zero time: "never"
        return None
    base = datetime.fromisoformat(match[1] + ("+00:00" if match[3] == "Z" else match[3]))
    return base.timestamp() + (float("0." + match[2]) if match[2] else 0.0)


class PrometheusClient:
    """One Prometheus server's API. ``transport`` is the test seam (``httpx.MockTransport``)."""

    def __init__(self, url: str, timeout_s: float = 3.0, transport: httpx.BaseTransport | None = None,
                 source: str = "Prometheus") -> None:
        self.url = url.rstrip("/")
        self.source = source  # how errors name it: "Prometheus" or "--prometheus-url http://..."
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, trust_env=False, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        try:
            yield
        except httpx.TimeoutException:
            raise PrometheusUnreachable(f"{self.source} at {self.url} did not answer {what} in time") from None
        except httpx.TransportError as exc:
            raise PrometheusUnreachable(f"{self.source} at {self.url} is unreachable ({what}: "
                                        f"{type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise PrometheusError(f"{self.source} at {self.url}: {what} failed ({exc})") from None

    def _api(self, path: str, params: dict[str, str] | None = None) -> Any:
        what = f"GET {path}"
        with self._translate(what):
            response = self._http.get(path, params=params)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            raise PrometheusError(f"{self.source} at {self.url}: {what} answered {response.status_code} without "
                                  "the API's JSON; is this a Prometheus?")
        if body["status"] != "success":
            raise PrometheusError(f"{self.source} at {self.url}: {what} refused: "
                                  f"{body.get('errorType', 'error')}: {body.get('error', '?')}")
        return body.get("data")

    # -- calls -------------------------------------------------------------------------------------

    def ready(self) -> bool:
        """True when the server answers ``/-/ready`` with 200 (it has loaded its config and rules)."""
        try:
            return self._http.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def version(self) -> str:
        data = self._api("/api/v1/status/buildinfo")
        return str(data.get("version", "?")) if isinstance(data, dict) else "?"

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        data = self._api("/api/v1/query", params)
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar":
            return [Sample({}, _number(result[1]), float(result[0]))]
        if kind != "vector":
            raise PrometheusError(f"{self.source}: {expr!r} is a {kind}, not an instant vector or scalar")
        return [Sample(dict(item["metric"]), _number(item["value"][1]), float(item["value"][0])) for item in result]

    def query_range(self, expr: str, start: float, end: float, step_s: float) -> list[Series]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{max(step_s, 0.001):.3f}"}
        data = self._api("/api/v1/query_range", params)
        if data.get("resultType") != "matrix":
            raise PrometheusError(f"{self.source}: {expr!r} did not give a range of values")
        return [Series(dict(item["metric"]), tuple((float(t), _number(v)) for t, v in item["values"]))
                for item in data["result"]]

    def alerts(self) -> list[Alert]:
        data = self._api("/api/v1/alerts")
        out = []
        for item in data.get("alerts", []):
            labels = dict(item.get("labels", {}))
            out.append(Alert(labels.get("alertname", "?"), str(item.get("state", "?")), labels,
                             _unix(item.get("activeAt")), _number(item.get("value")),
                             dict(item.get("annotations", {}))))
        return out

    def rules(self) -> list[RuleInfo]:
        data = self._api("/api/v1/rules", {"type": "alert"})
        out = []
        for group in data.get("groups", []):
            for rule in group.get("rules", []):
                if rule.get("type") != "alerting":
                    continue
                out.append(RuleInfo(str(rule.get("name")), str(group.get("name")), str(group.get("file", "")),
                                    str(rule.get("health", "unknown")), float(rule.get("duration") or 0.0),
                                    rule.get("lastError") or None))
        return out

    def targets(self) -> list[Target]:
        data = self._api("/api/v1/targets", {"state": "active"})
        return [Target(str(t.get("labels", {}).get("job", "?")), str(t.get("scrapeUrl", "")),
                       str(t.get("health", "unknown")), t.get("lastError") or None)
                for t in data.get("activeTargets", [])]
