"""How a step, a scenario or a whole run ended: the closed set of words results.json carries.

    running ──> passed | failed | error | interrupted        (a scenario; the run takes the worst)

``failed`` means the system misbehaved (a Then did not hold); ``error`` that the harness could not
decide (an infrastructure problem, a measurement not taken, a bug in a step); ``interrupted`` a Ctrl-C
or SIGTERM. ``StrEnum`` so the values compare equal to, and serialize as, the plain strings that
results.json, the journal and the reports have always used.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import ExitCode


class Outcome(StrEnum):
    RUNNING = "running"  # a scenario not finished yet (never the outcome of a finished run)
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    INTERRUPTED = "interrupted"

    @property
    def exit_code(self) -> ExitCode:
        """The CLI's exit code for a run that ended this way."""
        return _EXIT_CODES.get(self, ExitCode.FAILED)


# The outcomes a pass-rate table and a run summary count (running and interrupted are not verdicts).
COUNTED = (Outcome.PASSED, Outcome.FAILED, Outcome.ERROR)

_EXIT_CODES = {Outcome.PASSED: ExitCode.OK, Outcome.FAILED: ExitCode.FAILED, Outcome.ERROR: ExitCode.INFRASTRUCTURE,
               Outcome.INTERRUPTED: ExitCode.INTERRUPTED}
