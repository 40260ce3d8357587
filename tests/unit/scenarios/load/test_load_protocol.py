"""The driver-runner protocol: commands round-trip and are validated once, events parse, the stdout reader waits."""

from __future__ import annotations

import io

import pytest

from core.errors import UsageError
from scenarios.load.protocol import Event, SetUsers, Stop, event_line, parse_command, parse_event
from scenarios.load.readers import EventReader
from scenarios.load.spec import MAX_USERS


@pytest.mark.parametrize("command", [SetUsers(5), SetUsers(0, 2.5), SetUsers(MAX_USERS, 1e-3), Stop()])
def test_protocol_command_lines_parse_back(command: SetUsers | Stop) -> None:
    """What the driver sends is what the runner reads."""
    assert parse_command(command.line()) == command


def test_protocol_blank_line_is_no_command() -> None:
    """An empty or whitespace line is skipped, not refused."""
    assert parse_command("") is None
    assert parse_command("   ") is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("users", "unknown command"),
        ("users 1 2 3", "unknown command"),
        ("stop now", "unknown command"),
        ("spawn 3", "unknown command"),
        ("users many", "bad number"),
        ("users 3 fast", "bad number"),
        (f"users {MAX_USERS + 1}", f"between 0 and {MAX_USERS}"),
        ("users -1", f"between 0 and {MAX_USERS}"),
        ("users 3 0", "must be positive"),
    ],
)
def test_protocol_refused_command_says_why(line: str, reason: str) -> None:
    """A line the runner cannot apply raises UsageError with the reason it reports as an error event."""
    with pytest.raises(UsageError, match=reason):
        parse_command(line)


def test_protocol_set_users_validates_when_built() -> None:
    """The driver cannot even build a command the runner would refuse."""
    with pytest.raises(UsageError, match=str(MAX_USERS)):
        SetUsers(MAX_USERS + 1)
    with pytest.raises(UsageError, match="spawn rate"):
        SetUsers(3, 0.0)


def test_protocol_event_lines_parse_back() -> None:
    """An event line carries its kind and every field."""
    event = parse_event(event_line(Event.USERS, users=3, rate=1.5, t=12.0).encode())
    assert event is not None
    assert (event.kind, event.data["users"], event.data["rate"]) == (Event.USERS, 3, 1.5)


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'{"users": 3}', b'{"event": 3}', b'{"event": "dance"}', b"\xff"])
def test_protocol_other_stdout_lines_are_no_events(raw: bytes) -> None:
    """Stray prints, other JSON and unknown event names are ignored, not fatal."""
    assert parse_event(raw) is None


def test_event_reader_returns_wanted_or_stopped_then_the_end() -> None:
    """Unwanted events are skipped, a stopped event ends a wait, and the end of the stream stays visible."""
    lines = [event_line(Event.READY), "noise", event_line(Event.USERS, users=2), event_line(Event.STOPPED, reason="x")]
    reader = EventReader(io.BytesIO("".join(line + "\n" for line in lines).encode()))
    reader.start()
    reader.join(5.0)
    users = reader.wait({Event.USERS}, 1.0)
    assert users is not None and users.kind is Event.USERS
    stopped = reader.wait({Event.ERROR}, 1.0)
    assert stopped is not None and stopped.kind is Event.STOPPED
    assert reader.wait({Event.READY}, 1.0) is None
    assert reader.wait({Event.READY}, 1.0) is None


def test_event_reader_wait_times_out_on_silence() -> None:
    """With no line coming, a wait ends in TimeoutError once its time is up."""
    reader = EventReader(io.BytesIO(b""))  # not started: nothing will ever arrive
    with pytest.raises(TimeoutError):
        reader.wait({Event.READY}, 0.05)


def test_event_reader_pending_collects_what_nobody_waited_for() -> None:
    """pending() returns the events left in the queue without blocking."""
    reader = EventReader(io.BytesIO((event_line(Event.STOPPED, reason="command") + "\n").encode()))
    reader.start()
    reader.join(5.0)
    assert [event.kind for event in reader.pending()] == [Event.STOPPED]
    assert reader.pending() == []
