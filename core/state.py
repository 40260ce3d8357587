"""The state files that let one harness process find and stop what another one started.

``harness up`` exits and leaves its servers running; ``harness down``, a later run or the next run
after a crash reads the record (PID plus kernel start time, see ``core.processes``) back from here and
stops exactly those processes, by PID, and nothing else. Each kind of server keeps its own file in
the state directory (the services, Toxiproxy, the HTTP fault proxy, Prometheus).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from .errors import UsageError
from .processes import ProcessRecord


class StateFile:
    """The JSON record of what one harness instance started, written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, ProcessRecord]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise UsageError(f"{self.path}: unreadable harness state ({exc}); delete it after checking no service runs") from None
        return {name: ProcessRecord.from_json(rec) for name, rec in data.get("processes", {}).items()}

    def save(self, records: Mapping[str, ProcessRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"processes": {n: r.to_json() for n, r in records.items()}}, indent=2))
        os.replace(tmp, self.path)
