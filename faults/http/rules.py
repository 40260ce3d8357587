"""A fault rule: which requests it matches, how often it hits, and what one request's faults add up to.

    JSON ──parse_rule──> Rule (frozen spec) ──LiveRule──> roll (own seeded Random), token bucket, hits
                                                 │
    request (method, path, body) ──plan(rules)───┴──> Plan: a short-circuit answer, or delays and
                                                      stream/body faults for the forwarder to apply

Everything here is pure (the clock is injected), so matching, probabilities, the bucket and the
Retry-After formats are tested without a server. A spec is kept apart from its live state, as
Toxiproxy keeps a toxic apart from its per-connection state: ``GET /routes`` shows the spec, and
replacing a rule resets its random sequence and bucket.
"""

from __future__ import annotations

import json
import math
import random
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from faults.http.params import (
    KINDS,
    SHORT_CIRCUIT,
    CutAfter,
    Delay,
    ErrorEvent,
    HttpError,
    MalformedEvent,
    Params,
    RateLimit,
    RetryAfterFormat,
    RuleError,
    StreamDelay,
    Truncate,
    WrongContentType,
    parse_params,
    params_json,
)

Clock = Callable[[], float]
_RULE_KEYS = frozenset({"id", "kind", "match", "probability", "seed", "params"})
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
HTML_PAGE = b"<html><body>upstream error</body></html>"


@dataclass(frozen=True)
class Match:
    """Which requests a rule looks at; an empty field matches everything."""

    method: str = ""
    path: re.Pattern[str] | None = None
    body: re.Pattern[str] | None = None

    def matches(self, method: str, path: str, body: bytes) -> bool:
        if self.method and method != self.method:
            return False
        if self.path is not None and self.path.search(path) is None:
            return False
        return self.body is None or _body_matches(self.body, body)

    def to_json(self) -> dict[str, str]:
        out = {"method": self.method} if self.method else {}
        if self.path is not None:
            out["path"] = self.path.pattern
        if self.body is not None:
            out["body"] = self.body.pattern
        return out


def _body_matches(pattern: re.Pattern[str], body: bytes) -> bool:
    """Search the UTF-8 text of the body, and, when it is JSON with ``\\u`` escapes, its unescaped
    form too: Python's ``json.dumps`` (so aiohttp's ``json=`` and the gateway) writes 運賃 as
    ``\\u904b\\u8cc3``, and a rule on the question's words must still see them. Decoded only when a
    body rule asks, so most rules never pay for it."""
    text = body.decode("utf-8", "replace")
    if pattern.search(text) is not None:
        return True
    if "\\u" not in text:
        return False
    try:
        unescaped = json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return False
    return pattern.search(unescaped) is not None


@dataclass(frozen=True)
class Rule:
    """One fault rule as stored (the spec; live state is in ``LiveRule``)."""

    id: str
    kind: str
    params: Params
    match: Match = Match()
    probability: float = 1.0
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "match": self.match.to_json(), "probability": self.probability,
                "seed": self.seed, "params": params_json(self.params)}


def parse_rule(raw: object) -> Rule:
    """A rule from the control API's JSON; raises ``RuleError`` naming the first bad field."""
    if not isinstance(raw, Mapping):
        raise RuleError("body", "must be a JSON object")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise RuleError(unknown[0], f"is not a rule field (known: {sorted(_RULE_KEYS)})")
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise RuleError("kind", f"must be one of {list(KINDS)}, got {kind!r}")
    rule_id = raw.get("id")
    if rule_id is None:
        rule_id = f"{kind}-{secrets.token_hex(4)}"
    elif not isinstance(rule_id, str) or not _ID.match(rule_id):
        raise RuleError("id", f"must be 1..128 characters of letters, digits and _.:-, got {rule_id!r}")
    probability = raw.get("probability", 1.0)
    if isinstance(probability, bool) or not isinstance(probability, int | float) or not 0 < probability <= 1:
        raise RuleError("probability", f"must be a number with 0 < p <= 1, got {probability!r}")
    seed = raw.get("seed")
    if seed is None:
        seed = secrets.randbits(32)  # recorded in the rule, so a run can be repeated with it
    elif isinstance(seed, bool) or not isinstance(seed, int):
        raise RuleError("seed", f"must be an integer, got {seed!r}")
    return Rule(rule_id, kind, parse_params(kind, raw.get("params")), _parse_match(raw.get("match")),
                float(probability), seed)


def _parse_match(raw: object) -> Match:
    if raw is None:
        return Match()
    if not isinstance(raw, Mapping):
        raise RuleError("match", "must be an object")
    unknown = sorted(set(raw) - {"method", "path", "body"})
    if unknown:
        raise RuleError(f"match.{unknown[0]}", "is not a match field (known: body, method, path)")
    method = raw.get("method", "")
    if not isinstance(method, str):
        raise RuleError("match.method", f"must be a string, got {method!r}")
    return Match(method.upper(), _regex(raw, "path"), _regex(raw, "body"))


def _regex(raw: Mapping[str, Any], name: str) -> re.Pattern[str] | None:
    value = raw.get(name, "")
    if not isinstance(value, str):
        raise RuleError(f"match.{name}", f"must be a string (a regular expression), got {value!r}")
    if not value:
        return None
    try:
        return re.compile(value)
    except re.error as exc:
        raise RuleError(f"match.{name}", f"is not a valid regular expression: {exc}") from None


# -- live state ----------------------------------------------------------------------------------------


class TokenBucket:
    """``capacity`` requests per ``window_s``, full at start, refilled continuously."""

    def __init__(self, capacity: int, window_s: float, clock: Clock) -> None:
        self._capacity = float(capacity)
        self._rate = capacity / window_s
        self._tokens = float(capacity)
        self._clock = clock
        self._last = clock()

    def take(self) -> float | None:
        """Take one token: ``None`` when there was one, else the seconds until the next one."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self._rate


class LiveRule:
    """A rule in force on a route: its own random sequence, its bucket, and how often it hit."""

    __slots__ = ("rule", "hits", "active", "_random", "_bucket")

    def __init__(self, rule: Rule, clock: Clock) -> None:
        self.rule = rule
        self.hits = 0
        self.active = True  # False once removed: requests in flight stop applying it
        self._random = random.Random(rule.seed)
        params = rule.params
        self._bucket = (TokenBucket(params.requests, params.window_s, clock)
                        if isinstance(params, RateLimit) and params.requests is not None else None)

    def roll(self, method: str, path: str, body: bytes) -> bool:
        """Whether this rule hits this request (matches, then wins its roll)."""
        rule = self.rule
        if not rule.match.matches(method, path, body):
            return False
        return rule.probability >= 1.0 or self._random.random() < rule.probability

    def take(self) -> float | None:
        """For a bucketed rate limit: ``None`` if the request may pass, else the wait for a token."""
        return None if self._bucket is None else self._bucket.take()

    def to_json(self) -> dict[str, Any]:
        return {**self.rule.to_json(), "hits": self.hits}


# -- Retry-After -------------------------------------------------------------------------------------


def _ceil(value: float) -> int:
    # 0.3 * 1000 is 300.00000000000006: round first so float noise never adds a unit.
    return max(0, math.ceil(round(value, 6)))


def retry_after_headers(seconds: float, fmt: RetryAfterFormat, now: float) -> list[tuple[str, str]]:
    """The headers announcing a wait of ``seconds`` in ``fmt``; ``now`` is the wall clock (epoch s)."""
    if fmt == "none":
        return []
    if fmt == "date":
        return [("Retry-After", formatdate(_ceil(now + seconds), usegmt=True))]
    whole = ("Retry-After", str(_ceil(seconds)))
    return [("retry-after-ms", str(_ceil(seconds * 1000))), whole] if fmt == "ms" else [whole]


# -- one request's plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What the proxy answers itself (the upstream is never called)."""

    kind: str
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Plan:
    """Everything the rules that hit one request ask for; several of a kind add up (delays) or the
    earliest wins (event and byte positions)."""

    answer: Answer | None = None
    request_delay_s: float = 0.0
    response_delay_s: float = 0.0
    first_token_delay_s: float = 0.0
    token_delay_s: float = 0.0
    cut_after: int | None = None
    error_event: ErrorEvent | None = None
    malformed_at: set[int] = field(default_factory=set)
    truncate: int | None = None
    malformed_json: bool = False
    kinds: list[str] = field(default_factory=list)  # the kinds in force, for the metrics
    sources: list[LiveRule] = field(default_factory=list)  # the rules behind everything but ``answer``

    @property
    def revoked(self) -> bool:
        """Whether a rule behind this plan was removed since the plan was made."""
        return any(not live.active for live in self.sources)

    def current(self) -> Plan:
        """This plan without the rules removed since (itself when none was): a long stream or delay
        in flight stops applying a fault the moment it is removed, as a removed Toxiproxy toxic does."""
        if not self.revoked:
            return self
        out = Plan()
        for live in self.sources:
            if live.active:
                _add(out, live)
        return out

    @property
    def streams(self) -> bool:
        return bool(self.first_token_delay_s or self.token_delay_s or self.cut_after is not None
                    or self.error_event is not None or self.malformed_at)

    @property
    def rewrites_body(self) -> bool:
        return self.truncate is not None or self.malformed_json


def plan(rules: Sequence[LiveRule], method: str, path: str, body: bytes, wall: Clock) -> Plan:
    """Roll every rule that matches (each rolls on every request it matches, so its sequence depends
    only on its seed and those requests) and collect what the hits ask for."""
    out = Plan()
    for live in rules:
        if not live.roll(method, path, body):
            continue
        if live.rule.kind in SHORT_CIRCUIT:
            if out.answer is None and (answer := _answer(live, wall)) is not None:
                out.answer = answer
                live.hits += 1
            continue
        live.hits += 1
        _add(out, live)
    return out


def _answer(live: LiveRule, wall: Clock) -> Answer | None:
    params = live.rule.params
    if isinstance(params, HttpError):
        headers = () if params.retry_after_s is None else tuple(retry_after_headers(params.retry_after_s, "seconds", 0))
        body = params.body.encode()
        return Answer("http_error", params.status, body, _content_type_of(body), headers)
    if isinstance(params, RateLimit):
        wait = live.take() if params.requests is not None else params.window_s
        if wait is None:
            return None  # a token was left: this request passes
        announced = params.retry_after_s if params.retry_after_s is not None else wait
        limit = (f"{params.requests} requests per {params.window_s:g} s" if params.requests is not None
                 else "every request")
        message = {"error": {"type": "rate_limit_error", "message": f"rate limit exceeded ({limit}, injected)"}}
        return Answer("rate_limit", params.status, json.dumps(message).encode(), "application/json",
                      tuple(retry_after_headers(announced, params.retry_after_format, wall())))
    if isinstance(params, WrongContentType):
        return Answer("wrong_content_type", 200, HTML_PAGE, params.content_type)
    raise AssertionError(f"not a short-circuit kind: {live.rule.kind}")


def _content_type_of(body: bytes) -> str:
    return "application/json" if body[:1] in (b"{", b"[") else "text/plain; charset=utf-8"


def _add(out: Plan, live: LiveRule) -> None:
    kind, params = live.rule.kind, live.rule.params
    out.kinds.append(kind)
    out.sources.append(live)
    if isinstance(params, Delay):
        if params.phase == "request":
            out.request_delay_s += params.seconds
        else:
            out.response_delay_s += params.seconds
    elif isinstance(params, StreamDelay):
        if kind == "first_token_delay":
            out.first_token_delay_s += params.seconds
        else:
            out.token_delay_s += params.seconds
    elif isinstance(params, CutAfter):
        out.cut_after = params.events if out.cut_after is None else min(out.cut_after, params.events)
    elif isinstance(params, ErrorEvent):
        if out.error_event is None or params.after < out.error_event.after:
            out.error_event = params
    elif isinstance(params, MalformedEvent):
        out.malformed_at.add(params.at)
    elif isinstance(params, Truncate):
        out.truncate = params.bytes if out.truncate is None else min(out.truncate, params.bytes)
    else:
        out.malformed_json = True
