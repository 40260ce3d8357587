"""The Gherkin step library, grouped by topic. Each module's ``steps`` lists what it defines.

    system   Given the system is running in "normal" mode; asking single questions
    load     Given a steady load of N users; When the load rises to N users; When N seconds pass
    faults   When ... is killed / paused / partitioned / slowed / reset / flapping; all faults removed
    http     When "llm" answers 429 with Retry-After 2 s ... / streamed answers ... are cut (HTTP fault proxy)
    observe  Then the mode becomes / stays ...; breakers; availability; latency; notices; outages
    alerts   Then the alert "NAME" fires / resolves ...; no alert fired; the PromQL "..." is below X (Prometheus)

Steps parse their text and call ``RunContext`` methods or library functions; nothing more.
"""

from __future__ import annotations

from types import ModuleType

from ..vocabulary import StepEntry


def step_modules() -> list[ModuleType]:
    """The step modules, imported (importing registers their pytest-bdd steps)."""
    from . import alerts, faults, http, load, observe, system

    return [system, load, faults, http, observe, alerts]


def vocabulary() -> list[StepEntry]:
    """Every step the library defines, for checking feature files before a run."""
    return [entry for module in step_modules() for entry in module.steps.entries]
