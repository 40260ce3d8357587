"""The Locust process: sends /chat (and /chat/stream) load and writes one RequestRecord line per request.

Run by ``scenarios.load.driver.LoadDriver`` as ``python -m scenarios.locust_runner --host URL --records
DIR``; this is the only package that imports Locust, because importing it monkey-patches the whole
process with gevent. So only that process may import it (or any of its modules): the engine side
(``scenarios.load``) talks to it over pipes and never imports it. With ``--workers N`` it becomes a
Locust master on 127.0.0.1 and spawns N worker processes (``--worker --master-port P --worker-index
I``) that do the sending.

Each process that sends requests appends to ``<records>/<worker-id>.jsonl`` (``local`` or
``worker-I``), flushed every 0.1 s. Every request gets a line: status 0 with the exception's name
when no response came (``Timeout`` for the request deadline), and ``Cancelled`` for a request still
in flight when its user was stopped (users being stopped first get ``--drain`` seconds to finish
the request they are making, so a healthy system shows no cancellations). With ``--stream-share S``
that share of the users ask on ``/chat/stream`` instead, read by ``scenarios.stream_user``. The
control protocol (stdin commands, stdout events) is ``scenarios.load.protocol``.

    config     the command line, checked, as a ``RunnerConfig``
    users      the simulated users and the writer of their request records
    commands   why and when a process stops, and the stdin command loop with its stdout events
    workers    a master's worker processes: spawned, awaited, watched, stopped
    __main__   the three kinds of process (local, master, worker) and the entry point
"""

from __future__ import annotations

# Locust patches the process with gevent when imported: it must come before anything else, and every
# module of this package is imported after this one.
import locust  # noqa: F401  # isort: skip
