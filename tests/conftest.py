"""The test session's own signal dispositions, whatever started it.

A job started in the background by a non-interactive shell (``cmd &`` in a CI script, nohup) begins
with SIGINT ignored, and Python then never raises ``KeyboardInterrupt``: the tests that press Ctrl-C on
the harness, in-process or on a child ``harness`` command, would hang or fail although nothing is
wrong. A terminal's foreground job has SIGINT at its default, so the session restores Python's own
handler here. Children started by the tests get the default disposition: a caught signal is reset by
``exec``, an ignored one would not be.
"""

from __future__ import annotations

import signal

signal.signal(signal.SIGINT, signal.default_int_handler)
