"""Rules of the HTTP fault proxy: parsing, matching, probabilities, the token bucket, Retry-After, plans."""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from faults.http.params import RuleError
from faults.http.rules import LiveRule, Plan, TokenBucket, parse_rule, plan, retry_after_headers

CHAT = "/v1/chat/completions"


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def live(raw: dict[str, Any], clock: FakeClock | None = None) -> LiveRule:
    return LiveRule(parse_rule(raw), clock or FakeClock())


def plan_for(rules: list[LiveRule], body: str = "{}", method: str = "POST", path: str = CHAT,
             wall: float = 1_800_000_000.0) -> Plan:
    return plan(rules, method, path, body.encode(), lambda: wall)


# -- parsing -------------------------------------------------------------------------------------------


def test_http_rule_parse_fills_defaults_and_generates_id_and_seed() -> None:
    """A minimal rule gets an id naming its kind, a recorded seed, probability 1 and default params."""
    rule = parse_rule({"kind": "rate_limit"})
    assert rule.id.startswith("rate_limit-")
    assert isinstance(rule.seed, int)
    out = rule.to_json()
    assert out["probability"] == 1.0 and out["match"] == {}
    assert out["params"] == {"requests": None, "window_s": 1.0, "retry_after_s": None,
                             "retry_after_format": "seconds", "status": 429}


def test_http_rule_parse_round_trips_through_json() -> None:
    """What GET shows back parses to the same rule (the harness may re-post it)."""
    raw = {"id": "harness-delay-1a2b", "kind": "delay", "match": {"method": "post", "path": "^/v1", "body": "運賃"},
           "probability": 0.25, "seed": 7, "params": {"seconds": 0.5, "phase": "response"}}
    rule = parse_rule(raw)
    assert rule.match.method == "POST"
    assert parse_rule(json.loads(json.dumps(rule.to_json()))) == rule


@pytest.mark.parametrize(("raw", "field"), [
    ([1], "body"),
    ({"kind": "explode"}, "kind"),
    ({}, "kind"),
    ({"kind": "delay", "params": {"seconds": 1}, "color": "red"}, "color"),
    ({"kind": "delay", "id": "has space", "params": {"seconds": 1}}, "id"),
    ({"kind": "delay", "probability": 0, "params": {"seconds": 1}}, "probability"),
    ({"kind": "delay", "probability": 1.5, "params": {"seconds": 1}}, "probability"),
    ({"kind": "delay", "probability": True, "params": {"seconds": 1}}, "probability"),
    ({"kind": "delay", "seed": "7", "params": {"seconds": 1}}, "seed"),
    ({"kind": "delay", "match": "POST", "params": {"seconds": 1}}, "match"),
    ({"kind": "delay", "match": {"verb": "POST"}, "params": {"seconds": 1}}, "match.verb"),
    ({"kind": "delay", "match": {"method": 3}, "params": {"seconds": 1}}, "match.method"),
    ({"kind": "delay", "match": {"path": "(unclosed"}, "params": {"seconds": 1}}, "match.path"),
    ({"kind": "delay", "match": {"body": "[a-"}, "params": {"seconds": 1}}, "match.body"),
    ({"kind": "delay", "params": []}, "params"),
    ({"kind": "delay", "params": {}}, "params.seconds"),
    ({"kind": "delay", "params": {"seconds": -1}}, "params.seconds"),
    ({"kind": "delay", "params": {"seconds": 3601}}, "params.seconds"),
    ({"kind": "delay", "params": {"seconds": "1"}}, "params.seconds"),
    ({"kind": "delay", "params": {"seconds": 1, "phase": "later"}}, "params.phase"),
    ({"kind": "delay", "params": {"seconds": 1, "jitter": 2}}, "params.jitter"),
    ({"kind": "first_token_delay", "params": {"seconds": True}}, "params.seconds"),
    ({"kind": "token_delay", "params": {"seconds": float("nan")}}, "params.seconds"),
    ({"kind": "http_error", "params": {}}, "params.status"),
    ({"kind": "http_error", "params": {"status": 302}}, "params.status"),
    ({"kind": "http_error", "params": {"status": 500, "body": 1}}, "params.body"),
    ({"kind": "http_error", "params": {"status": 500, "retry_after_s": -1}}, "params.retry_after_s"),
    ({"kind": "rate_limit", "params": {"requests": 0}}, "params.requests"),
    ({"kind": "rate_limit", "params": {"requests": 1.5}}, "params.requests"),
    ({"kind": "rate_limit", "params": {"window_s": 0}}, "params.window_s"),
    ({"kind": "rate_limit", "params": {"retry_after_format": "minutes"}}, "params.retry_after_format"),
    ({"kind": "rate_limit", "params": {"status": 200}}, "params.status"),
    ({"kind": "cut_after", "params": {"events": -1}}, "params.events"),
    ({"kind": "error_event", "params": {"after": 1, "type": 5}}, "params.type"),
    ({"kind": "malformed_event", "params": {}}, "params.at"),
    ({"kind": "truncate", "params": {"bytes": "10"}}, "params.bytes"),
    ({"kind": "malformed_json", "params": {"x": 1}}, "params.x"),
    ({"kind": "wrong_content_type", "params": {"content_type": ""}}, "params.content_type"),
    ({"kind": "wrong_content_type", "params": {"content_type": "text/html\r\nX-Evil: 1"}}, "params.content_type"),
])
def test_http_rule_parse_names_the_bad_field(raw: Any, field: str) -> None:
    """Each invalid value is refused with the JSON path of the field in error."""
    with pytest.raises(RuleError) as caught:
        parse_rule(raw)
    assert caught.value.field == field
    assert str(caught.value).startswith(field)


# -- matching and probability ---------------------------------------------------------------------


def test_http_rule_match_checks_method_path_and_utf8_body() -> None:
    """Method is exact, path and body are regex searches; the body regex sees decoded UTF-8 text."""
    rule = live({"kind": "delay", "match": {"method": "POST", "path": "^/v1/chat", "body": "運賃|fare"},
                 "params": {"seconds": 1}})
    question = json.dumps({"messages": [{"content": "東京までの運賃は？"}]}, ensure_ascii=False)
    assert rule.roll("POST", CHAT, question.encode())
    assert rule.roll("POST", CHAT, b'{"content": "what is the fare"}')
    assert not rule.roll("POST", CHAT, "営業時間は？".encode())
    assert not rule.roll("GET", CHAT, question.encode())
    assert not rule.roll("POST", "/health/ready", question.encode())


def test_http_rule_match_sees_json_escaped_text_unescaped() -> None:
    """A JSON body written with ``\\u`` escapes (Python's default) still matches the words it encodes."""
    rule = live({"kind": "delay", "match": {"body": "運賃"}, "params": {"seconds": 1}})
    assert rule.roll("POST", CHAT, json.dumps({"content": "東京までの運賃は？"}).encode())
    assert not rule.roll("POST", CHAT, json.dumps({"content": "営業時間は？"}).encode())
    assert not rule.roll("POST", CHAT, b'not json \\u904b')


def test_http_rule_match_survives_a_body_that_is_not_utf8() -> None:
    """Invalid UTF-8 is decoded with replacement characters instead of failing the request."""
    rule = live({"kind": "delay", "match": {"body": "fare"}, "params": {"seconds": 1}})
    assert rule.roll("POST", CHAT, b"\xff\xfe fare")
    assert not rule.roll("POST", CHAT, b"\xff\xfe")


def test_http_rule_probability_is_reproducible_from_the_seed() -> None:
    """Two rules with one seed hit the same requests; about half of 1000 at p=0.5."""
    first = live({"kind": "delay", "probability": 0.5, "seed": 11, "params": {"seconds": 1}})
    second = live({"kind": "delay", "probability": 0.5, "seed": 11, "params": {"seconds": 1}})
    other = live({"kind": "delay", "probability": 0.5, "seed": 12, "params": {"seconds": 1}})
    a = [first.roll("GET", "/", b"") for _ in range(1000)]
    b = [second.roll("GET", "/", b"") for _ in range(1000)]
    c = [other.roll("GET", "/", b"") for _ in range(1000)]
    assert a == b
    assert a != c
    assert 430 <= sum(a) <= 570


def test_http_rule_probability_does_not_roll_for_requests_it_does_not_match() -> None:
    """Only matching requests advance a rule's random sequence, so other traffic cannot shift it."""
    quiet = live({"kind": "delay", "match": {"path": "^/chat"}, "probability": 0.5, "seed": 3, "params": {"seconds": 1}})
    busy = live({"kind": "delay", "match": {"path": "^/chat"}, "probability": 0.5, "seed": 3, "params": {"seconds": 1}})
    rolls_quiet = [quiet.roll("GET", "/chat", b"") for _ in range(50)]
    rolls_busy = []
    for _ in range(50):
        busy.roll("GET", "/health", b"")
        rolls_busy.append(busy.roll("GET", "/chat", b""))
    assert rolls_quiet == rolls_busy


# -- token bucket ------------------------------------------------------------------------------------


def test_http_token_bucket_allows_the_burst_then_refuses() -> None:
    """A bucket of 3 per second lets 3 requests through at once and refuses the 4th."""
    clock = FakeClock()
    bucket = TokenBucket(3, 1.0, clock)
    assert [bucket.take() for _ in range(3)] == [None, None, None]
    wait = bucket.take()
    assert wait == pytest.approx(1 / 3)


def test_http_token_bucket_refills_continuously_and_caps_at_capacity() -> None:
    """Tokens come back at requests/window_s; a long pause never stores more than the burst."""
    clock = FakeClock()
    bucket = TokenBucket(2, 10.0, clock)  # one token every 5 s
    bucket.take(), bucket.take()
    clock.now += 2.5
    assert bucket.take() == pytest.approx(2.5)  # half a token there: 2.5 s to the next
    clock.now += 2.5
    assert bucket.take() is None
    clock.now += 1000
    assert [bucket.take() for _ in range(3)][:2] == [None, None]
    assert bucket.take() == pytest.approx(5.0)


def test_http_rate_limit_retry_after_is_the_time_to_the_next_token() -> None:
    """Without retry_after_s, Retry-After announces when the bucket has a token again (rounded up)."""
    clock = FakeClock()
    rule = live({"kind": "rate_limit", "params": {"requests": 1, "window_s": 4}}, clock)
    assert plan_for([rule]).answer is None
    clock.now += 1.5
    answer = plan_for([rule]).answer
    assert answer is not None and answer.status == 429
    assert dict(answer.headers) == {"Retry-After": "3"}  # 2.5 s left
    assert json.loads(answer.body)["error"]["type"] == "rate_limit_error"
    assert rule.hits == 1


def test_http_rate_limit_without_requests_refuses_every_hit_with_the_fixed_value() -> None:
    """No bucket: every matching request is limited; retry_after_s and status are used as given."""
    rule = live({"kind": "rate_limit", "params": {"retry_after_s": 7, "status": 503}})
    answers = [plan_for([rule]).answer for _ in range(3)]
    assert all(a is not None and a.status == 503 and dict(a.headers) == {"Retry-After": "7"} for a in answers)


# -- Retry-After formats --------------------------------------------------------------------------------


def test_http_retry_after_seconds_rounds_up_to_whole_seconds() -> None:
    """``seconds``: an integer, never below the real wait, with no float noise added."""
    assert retry_after_headers(0.3, "seconds", 0) == [("Retry-After", "1")]
    assert retry_after_headers(2.0, "seconds", 0) == [("Retry-After", "2")]
    assert retry_after_headers(0.0, "seconds", 0) == [("Retry-After", "0")]


def test_http_retry_after_ms_sends_both_headers() -> None:
    """``ms``: ``retry-after-ms`` in milliseconds beside a whole-second ``Retry-After``."""
    assert retry_after_headers(0.3, "ms", 0) == [("retry-after-ms", "300"), ("Retry-After", "1")]
    assert retry_after_headers(1.2345, "ms", 0) == [("retry-after-ms", "1235"), ("Retry-After", "2")]


def test_http_retry_after_date_is_an_imf_fixdate_after_the_wait() -> None:
    """``date``: an HTTP date (GMT) at or after now + the wait."""
    now = 1_800_000_000.25
    [(name, value)] = retry_after_headers(4.5, "date", now)
    assert name == "Retry-After"
    assert value.endswith(" GMT") and value[3:5] == ", "
    assert parsedate_to_datetime(value).timestamp() == 1_800_000_005


def test_http_retry_after_none_sends_no_header() -> None:
    """``none``: the 429 comes without any Retry-After."""
    assert retry_after_headers(3.0, "none", 0) == []


# -- plans ------------------------------------------------------------------------------------------


def test_http_plan_first_short_circuit_wins_and_later_ones_still_roll() -> None:
    """The first hitting short-circuit rule answers; a later one does not count a hit."""
    error = live({"kind": "http_error", "params": {"status": 500}})
    html = live({"kind": "wrong_content_type"})
    result = plan_for([error, html])
    assert result.answer is not None and result.answer.kind == "http_error"
    assert result.answer.content_type == "application/json"
    assert json.loads(result.answer.body)["error"]["type"] == "api_error"
    assert (error.hits, html.hits) == (1, 0)


def test_http_plan_adds_delays_and_keeps_the_earliest_positions() -> None:
    """Delays of one kind add up; the earliest cut, error event and truncation win; malformed indexes gather."""
    rules = [live(r) for r in (
        {"kind": "delay", "params": {"seconds": 0.1}},
        {"kind": "delay", "params": {"seconds": 0.2}},
        {"kind": "delay", "params": {"seconds": 0.5, "phase": "response"}},
        {"kind": "first_token_delay", "params": {"seconds": 0.3}},
        {"kind": "token_delay", "params": {"seconds": 0.05}},
        {"kind": "cut_after", "params": {"events": 9}},
        {"kind": "cut_after", "params": {"events": 4}},
        {"kind": "error_event", "params": {"after": 6, "type": "late"}},
        {"kind": "error_event", "params": {"after": 2, "type": "early"}},
        {"kind": "malformed_event", "params": {"at": 1}},
        {"kind": "malformed_event", "params": {"at": 3}},
        {"kind": "truncate", "params": {"bytes": 40}},
        {"kind": "truncate", "params": {"bytes": 10}},
        {"kind": "malformed_json"},
    )]
    result = plan_for(rules)
    assert result.answer is None
    assert result.request_delay_s == pytest.approx(0.3)
    assert result.response_delay_s == 0.5
    assert (result.first_token_delay_s, result.token_delay_s) == (0.3, 0.05)
    assert result.cut_after == 4
    assert result.error_event is not None and result.error_event.type == "early"
    assert result.malformed_at == {1, 3}
    assert (result.truncate, result.malformed_json) == (10, True)
    assert result.streams and result.rewrites_body
    assert all(rule.hits == 1 for rule in rules)


def test_http_plan_with_no_hit_changes_nothing() -> None:
    """Rules that do not match leave a plan with no answer, no delay and no stream or body fault."""
    rules = [live({"kind": "http_error", "match": {"body": "never"}, "params": {"status": 500}}),
             live({"kind": "cut_after", "match": {"method": "GET"}, "params": {"events": 1}})]
    result = plan_for(rules)
    assert result.answer is None and not result.streams and not result.rewrites_body
    assert result.request_delay_s == 0 and result.kinds == []


def test_http_plan_current_drops_removed_rules_only() -> None:
    """A plan re-made after a rule's removal keeps the other rules' faults and forgets the removed one's."""
    slow = live({"kind": "token_delay", "params": {"seconds": 0.2}})
    cut = live({"kind": "cut_after", "params": {"events": 3}})
    result = plan_for([slow, cut])
    assert result.current() is result and not result.revoked
    slow.active = False
    assert result.revoked
    now = result.current()
    assert now.token_delay_s == 0 and now.cut_after == 3 and now.kinds == ["cut_after"]
