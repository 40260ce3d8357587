"""The simulated users of a run and the writer of their request records, one file per process.

``make_user_class`` builds the one concrete ``ChatUser`` class of a process from its config; each user
draws its questions, languages, waits and repeats from its own seeded rng, so a run with the same seed
asks the same things. Every request becomes a ``RequestRecord`` line, batched by ``RecordWriter``
into one ``write`` of whole lines, so a reader tailing the file never sees a line from two writes.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gevent
from gevent import GreenletExit
from locust import task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

from core.errors import UsageError
from scenarios.load.spec import is_streaming
from scenarios.records import RequestRecord
from scenarios.sse import StreamTally
from scenarios.stream_user import ask_stream, error_name

from .config import RunnerConfig

# None sends no header (the gateway's default language); the others mix plain and weighted forms.
ACCEPT_LANGUAGES: tuple[str | None, ...] = ("en", "en-US,en;q=0.9", "ja", "ja-JP,ja;q=0.9,en;q=0.8", None)
FLUSH_INTERVAL_S = 0.1


@dataclass(frozen=True)
class Question:
    text: str
    lang: str  # "en" or "ja"


def load_questions(path: Path) -> list[Question]:
    """Questions from a JSON-lines file (``question``, optional ``lang`` or ``passage_id`` ending in
    ``-en``/``-ja``) or a plain text file with one question per line."""
    out: list[Question] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            data = json.loads(line)
            text = str(data["question"])
            lang = str(data.get("lang") or str(data.get("passage_id", "")).rpartition("-")[2])
        else:
            text, lang = line, ""
        if lang not in {"en", "ja"}:
            lang = "en" if text.isascii() else "ja"
        out.append(Question(text, lang))
    if not out:
        raise UsageError(f"questions file {path} holds no questions")
    return out


class RecordWriter:
    """Appends records to one file in batches: one ``write`` of whole lines every ``FLUSH_INTERVAL_S``."""

    def __init__(self, path: Path, worker: str) -> None:
        self.path, self.worker = path, worker
        self.count = 0
        self._pending: list[str] = []
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._flusher = gevent.spawn(self._flush_loop)

    def write(self, record: RequestRecord) -> None:
        self._pending.append(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
        self.count += 1

    def flush(self) -> None:
        if not self._pending:
            return
        data = "".join(self._pending).encode()
        self._pending = []
        while data:
            written = os.write(self._fd, data)
            data = data[written:]

    def close(self) -> None:
        self._flusher.kill()
        self.flush()
        os.close(self._fd)

    def _flush_loop(self) -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL_S)
            self.flush()


class ChatUser(FastHttpUser):
    """One simulated person asking questions; its choices come from its own seeded rng."""

    abstract = True
    config: ClassVar[RunnerConfig]
    writer: ClassVar[RecordWriter | None]
    questions: ClassVar[Sequence[Question]]
    indexes: ClassVar[Iterator[int]]

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        cfg = self.config
        self.index = next(self.indexes)
        self.rng = random.Random(f"{cfg.seed}:{cfg.worker_index}:{self.index}")
        self.user_id = f"load-{cfg.worker_id}-{self.index}"
        self.previous: Question | None = None
        self.streaming = is_streaming(self.index, cfg.stream_share)

    def wait_time(self) -> float:
        return self.rng.uniform(self.config.wait_min_s, self.config.wait_max_s)

    @task
    def chat(self) -> None:
        if self.previous is not None and self.config.repeat_ratio and self.rng.random() < self.config.repeat_ratio:
            question, name = self.previous, "chat-repeat"
        else:
            question, name = self.rng.choice(self.questions), "chat"
        self.previous = question
        language = self.rng.choice(ACCEPT_LANGUAGES)
        headers = {"Accept-Language": language} if language else {}
        if self.streaming:
            self.ask_stream(question, name.replace("chat", "chat-stream", 1), headers)
        else:
            self.ask(question, name, headers)

    def ask_stream(self, question: Question, name: str, headers: dict[str, str]) -> None:
        def write(tally: StreamTally) -> None:
            if self.writer is not None:
                self.writer.write(tally.record(name, self.config.worker_id, self.user_id))

        payload = {"message": question.text, "user_id": self.user_id}
        ask_stream(self.client, payload, headers, name, self.config.timeout_s, write)

    def ask(self, question: Question, name: str, headers: dict[str, str]) -> None:
        payload = {"message": question.text, "user_id": self.user_id}
        started, wall = time.monotonic(), time.time()
        deadline = gevent.Timeout(self.config.timeout_s)
        deadline.start()
        status, error, body = 0, None, b""
        try:
            response = self.client.post("/chat", json=payload, headers=headers, name=name)
            status = int(response.status_code or 0)
            if status:
                body = response.content or b""
            else:
                error = error_name(getattr(response, "error", None))
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            status, error = 0, "Timeout"
        except GreenletExit:
            self.record(started, wall, 0, "Cancelled", b"", name)
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to get a response is a data point
            status, error = 0, error_name(exc)
        finally:
            deadline.close()
        self.record(started, wall, status, error, body, name)

    def record(self, started: float, wall: float, status: int, error: str | None, body: bytes, name: str) -> None:
        latency = time.monotonic() - started
        mode, notice, cached = None, False, False
        if status:
            try:
                data = json.loads(body)
            except ValueError:
                data = None
                if status == 200:
                    error = "JSONDecodeError"
            if isinstance(data, dict):
                mode = data["mode"] if isinstance(data.get("mode"), str) else None
                notice, cached = bool(data.get("notice")), bool(data.get("cached"))
        if self.writer is not None:
            self.writer.write(RequestRecord(
                t=started, wall=wall, latency_s=latency, status=status, mode=mode, notice=notice,
                cached=cached, error=error, name=name, worker=self.config.worker_id, user=self.user_id,
            ))


def make_user_class(cfg: RunnerConfig, writer: RecordWriter | None) -> type[ChatUser]:
    """A concrete user class for this run (named ``ChatUser`` on master and workers alike)."""
    attrs: dict[str, Any] = {
        "abstract": False, "host": cfg.host, "config": cfg, "writer": writer,
        "questions": load_questions(cfg.questions), "indexes": itertools.count(),
        # The per-request deadline is enforced above; socket timeouts only back it up.
        "network_timeout": cfg.timeout_s + 1.0, "connection_timeout": cfg.timeout_s + 1.0,
        "__module__": __name__,
    }
    return type("ChatUser", (ChatUser,), attrs)
