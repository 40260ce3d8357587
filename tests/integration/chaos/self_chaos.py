"""The pure parts of the harness's self-chaos test: the scenario, the seeded plan, the phase a signal
landed in, and the leftover inspection of the world.

    plan(seed, n)        -> n Interruptions: a signal, the phase it aims at (its trigger: a stdout line
                            or a journal event of the run) and a seeded extra delay
    landed_phase(...)    -> where the run really was when the signal was sent (read from its journal)
    RunPorts / inspect   -> what is left in the world: processes of the run found in /proc (not in the
                            harness's state files), ports that still listen, toxics and disabled
                            proxies in Toxiproxy, faults in the HTTP fault proxy

Leftovers are looked for from the outside, the way a user would find them, so that a harness whose
bookkeeping is wrong cannot hide its own leftovers.
"""

from __future__ import annotations

import json
import random
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from core.ports import port_is_free
from core.settings import HTTP_FAULT_PROXY_PORT, PROMETHEUS_PORT, TOXIPROXY_API_PORT
from core.topology import Topology

# Each step with the phase a signal during it lands in. Four kinds of fault are held at once (a toxic,
# an HTTP fault, a paused and a killed service); "all faults are removed" reverts them newest first
# (the restart of the killed vector-db makes the revert phase long enough to hit); the second set is
# still held when the last step ends, so the engine's teardown stops the load with faults in force.
STEPS: tuple[tuple[str, str, str], ...] = (
    ("Given", "a steady load of 3 users", "ramp_up"),
    ("When", 'latency of 50 ms is added to "vector-db"', "injection"),
    ("And", '"llm" answers 503 for 20% of requests', "injection"),
    ("And", 'the "llm" service is paused', "injection"),
    ("And", 'the "vector-db" service is killed', "injection"),
    ("And", "3 seconds pass", "held"),
    ("And", "all faults are removed", "revert"),
    ("And", '"vector-db" answers 503 for 50% of requests', "injection"),
    ("And", 'latency of 50 ms is added to "llm"', "injection"),
    ("And", 'the "llm" service is paused', "injection"),
    ("And", "1 seconds pass", "held"),
)
FEATURE = "Feature: The harness under its own chaos\n  Scenario: Faults held while the harness is interrupted\n" + \
    "".join(f"    {keyword} {text}\n" for keyword, text, _ in STEPS)

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
PHASES = ("startup", "ramp_up", "injection", "held", "revert", "stop_load", "report")
# Phases in which a scenario is running: an interrupt there must mark results.json "interrupted".
SCENARIO_PHASES = frozenset({"scenario_setup", "ramp_up", "injection", "held", "revert", "stop_load",
                             "teardown_revert"})


@dataclass(frozen=True)
class Trigger:
    """When to start the delay: a stdout line starting with ``stdout``, or the ``count``-th journal
    event of type ``event``."""

    stdout: str | None = None
    event: str | None = None
    count: int = 1

    def fired(self, lines: list[str], events: list[dict[str, Any]]) -> bool:
        if self.stdout is not None:
            return any(line.startswith(self.stdout) for line in lines)
        return len([e for e in events if e.get("type") == self.event]) >= self.count


@dataclass(frozen=True)
class Interruption:
    index: int
    signal: signal.Signals
    phase: str
    trigger: Trigger
    delay_s: float
    monitoring: bool
    seed: int


def _trigger(phase: str, rng: random.Random) -> tuple[Trigger, float]:
    """The trigger of ``phase`` and a seeded delay after it that stays, mostly, within the phase."""
    steps = [i for i, (_, _, p) in enumerate(STEPS) if p == phase]
    if phase == "startup":  # the CLI prints this once the plan is checked, as the system starts
        return Trigger(stdout="running "), rng.uniform(0.0, 3.0)
    if phase == "stop_load":  # the last step done: the engine's teardown stops the load, then reverts
        return Trigger(event="step_finished", count=len(STEPS)), rng.uniform(0.0, 1.0)
    if phase == "report":  # the scenario is over: results, system down, the HTML report
        return Trigger(event="scenario_finished"), rng.uniform(0.0, 2.5)
    step = rng.choice(steps)
    window = {"ramp_up": 1.0, "injection": 0.2, "revert": 0.8}.get(phase)
    if window is None:  # a held fault: anywhere in its hold
        window = float(STEPS[step][1].split()[0])
    return Trigger(event="step_started", count=step + 1), rng.uniform(0.0, window)


def plan(seed: int, n: int) -> list[Interruption]:
    """``n`` interruptions: signals in turn, each signal through every phase in a seeded order, every
    fourth run with Prometheus (--monitoring)."""
    rng = random.Random(seed)
    orders = {sig: rng.sample(PHASES, len(PHASES)) for sig in SIGNALS}
    out: list[Interruption] = []
    for i in range(n):
        sig = SIGNALS[i % len(SIGNALS)]
        phase = orders[sig][(i // len(SIGNALS)) % len(PHASES)]
        trigger, delay = _trigger(phase, rng)
        out.append(Interruption(i, sig, phase, trigger, round(delay, 3), i % 4 == 1, rng.randrange(2**31)))
    return out


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The events written so far (a line being written is skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def _phase_of_step(text: str) -> str:
    return next(phase for _, step, phase in STEPS if step == text)


def landed_phase(events: list[dict[str, Any]], results_written: bool) -> str:
    """Where the run was, by its journal, when the signal was sent."""
    types = [e.get("type") for e in events]
    if "scenario_started" not in types:
        return "startup"
    if "scenario_finished" in types:
        return "report" if results_written else "cleanup"
    steps = [e for e in events if e.get("type") in ("step_started", "step_finished")]
    if not steps:
        return "scenario_setup"
    last = steps[-1]
    if last["type"] == "step_started":
        return _phase_of_step(str(last["text"]))
    finished = len([e for e in steps if e["type"] == "step_finished"])
    if finished >= len(STEPS):  # teardown: stop_load, then the fault session's exit
        after = events[events.index(last) + 1:]
        stopped = any(e.get("type") == "load_changed" and e.get("users") == 0 for e in after)
        return "teardown_revert" if stopped else "stop_load"
    return STEPS[finished][2]  # between two steps: the next one is about to start


def active_faults(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(kind, target) of the faults the journal says are injected and not reverted."""
    active: list[tuple[str, str]] = []
    for e in events:
        key = (str(e.get("fault")), str(e.get("target")))
        if e.get("type") == "fault_injected":
            active.append(key)
        elif e.get("type") == "fault_reverted" and key in active:
            active.remove(key)
    return active


# -- the world --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPorts:
    """Every port of one run with the given port offset."""

    host: str
    services: dict[str, int]
    proxies: dict[str, int]
    routes: dict[str, int]
    toxiproxy: int
    fault_proxy: int
    prometheus: int

    @classmethod
    def of(cls, topology: Topology, offset: int) -> RunPorts:
        shifted = topology.with_port_offset(offset)
        return cls(shifted.host, {s.name: s.port for s in shifted.services.values()},
                   {e.name: e.proxy_port for e in shifted.edges},
                   {e.name: e.http_proxy_port for e in shifted.edges if e.http_proxy_port is not None},
                   TOXIPROXY_API_PORT + offset, HTTP_FAULT_PROXY_PORT + offset, PROMETHEUS_PORT + offset)

    def named(self) -> list[tuple[int, str]]:
        ports = [(p, n) for n, p in self.services.items()] + [(p, f"proxy {n}") for n, p in self.proxies.items()]
        ports += [(p, f"HTTP route {n}") for n, p in self.routes.items()]
        return ports + [(self.toxiproxy, "Toxiproxy API"), (self.fault_proxy, "HTTP fault proxy API"),
                        (self.prometheus, "Prometheus")]


@dataclass(frozen=True)
class WorldProcess:
    pid: int
    state: str
    role: str


def _proc(pid: int) -> tuple[list[str], dict[str, str], str] | None:
    base = Path(f"/proc/{pid}")
    try:
        args = base.joinpath("cmdline").read_bytes().decode(errors="replace").split("\0")
        raw_env = base.joinpath("environ").read_bytes().decode(errors="replace").split("\0")
        stat = base.joinpath("stat").read_text()
    except OSError:  # gone, or another user's
        return None
    env = dict(item.split("=", 1) for item in raw_env if "=" in item)
    return args, env, stat[stat.rfind(")") + 2:].split()[0]


def _after(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args[:-1] else None


def _role(args: list[str], env: dict[str, str], ports: RunPorts, out_dir: Path) -> str | None:
    module = _after(args, "-m") or ""
    if module.startswith("system_under_test."):
        by_port = {str(p): n for n, p in ports.services.items()}
        return f"service {by_port[env['PORT']]}" if env.get("PORT") in by_port else None
    if module == "faults.http.server":
        return "HTTP fault proxy" if _after(args, "--port") == str(ports.fault_proxy) else None
    if module == "scenarios.locust_runner":
        return "load generator" if any(str(out_dir) in a for a in args) else None
    if Path(args[0]).name.startswith("toxiproxy") and _after(args, "-port") == str(ports.toxiproxy):
        return "Toxiproxy"
    if f"--web.listen-address={ports.host}:{ports.prometheus}" in args:
        return "Prometheus"
    return None


def run_processes(ports: RunPorts, out_dir: Path) -> list[WorldProcess]:
    """The live processes of one run (by command line and environment in /proc; zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        info = _proc(int(entry.name))
        if info is None or info[2] in ("Z", "X") or not info[0][0]:
            continue
        role = _role(info[0], info[1], ports, out_dir)
        if role is not None:
            found.append(WorldProcess(int(entry.name), info[2], role))
    return found


def listening(ports: RunPorts) -> list[str]:
    return [f"port {p} ({name}) still listens" for p, name in ports.named() if not port_is_free(ports.host, p)]


def _get(url: str) -> Any:
    """The JSON at ``url``; None when nothing answers there."""
    try:
        response = httpx.get(url, timeout=5.0, trust_env=False)
    except httpx.TransportError:
        return None
    try:
        return response.json()
    except ValueError:  # it answers, but not in JSON
        return {}


def network_faults(ports: RunPorts) -> list[tuple[str, tuple[str, ...]]]:
    """Toxics and disabled proxies of this run's proxies in Toxiproxy (none when it does not answer),
    each with the words a ``cleaned:`` line of ``harness up`` names it by."""
    proxies = _get(f"http://{ports.host}:{ports.toxiproxy}/proxies") or {}
    found: list[tuple[str, tuple[str, ...]]] = []
    for name, proxy in proxies.items():
        if name in ports.proxies:
            found += [(f"toxic {t.get('name')} on {name}", ("toxic", str(t.get("name")), name))
                      for t in proxy.get("toxics") or []]
            found += [] if proxy.get("enabled", True) else [(f"proxy {name} disabled", ("re-enabled", name))]
    return found


def http_faults(ports: RunPorts) -> list[tuple[str, tuple[str, ...]]]:
    """Faults on this run's routes in the HTTP fault proxy (none when it does not answer), with words."""
    routes = _get(f"http://{ports.host}:{ports.fault_proxy}/routes") or []
    return [(f"HTTP fault {f.get('id')} ({f.get('kind')}) on {r.get('name')}", ("HTTP fault", str(f.get("id"))))
            for r in routes if r.get("name") in ports.routes for f in r.get("faults") or []]


def stale_faults(ports: RunPorts, out_dir: Path, events: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    """The faults a killed run left in the world, each with the words of the ``cleaned:`` line the next
    ``harness up`` must print for it: toxics, disabled proxies, HTTP faults, paused services, and the
    services the journal says were killed that are still dead."""
    found = network_faults(ports) + http_faults(ports)
    processes = run_processes(ports, out_dir)
    found += [(f"{p.role} paused", ("resumed paused service", p.role.split()[-1]))
              for p in processes if p.role.startswith("service ") and p.state in ("T", "t")]
    alive = {p.role for p in processes}
    found += [(f"service {target} killed", ("restarted dead service", target))
              for kind, target in active_faults(events) if kind == "kill" and f"service {target}" not in alive]
    return found


def leftovers(ports: RunPorts, out_dir: Path, *, system_up: bool) -> list[str]:
    """Everything of the run left in the world. With ``system_up`` (after a follow-up ``harness up``)
    the services, Toxiproxy and the fault proxy are expected to run, healthy and clean; otherwise
    nothing of the run may run or listen."""
    found = [text for text, _ in network_faults(ports) + http_faults(ports)]
    processes = run_processes(ports, out_dir)
    found += [f"{p.role} pid {p.pid} paused (state T)" for p in processes if p.state in ("T", "t")]
    if system_up:
        running = {p.role for p in processes}
        for port, name in ((ports.toxiproxy, "Toxiproxy"), (ports.fault_proxy, "HTTP fault proxy")):
            if _get(f"http://{ports.host}:{port}/version") is None:
                found.append(f"{name} not answering after 'harness up'")
        found += [f"load generator pid {p.pid} still running" for p in processes if p.role == "load generator"]
        found += [f"service {name} not running after 'harness up'" for name in ports.services
                  if f"service {name}" not in running]
        return found
    found += [f"{p.role} pid {p.pid} still running" for p in processes if p.state not in ("T", "t")]
    return found + listening(ports)


def render_table(rows: list[dict[str, Any]]) -> str:
    """The summary: one line per interruption, then the totals by signal and landed phase."""
    head = f"{'#':>3} {'signal':<8} {'aimed at':<10} {'landed in':<16} {'delay':>6} {'mon':<4} {'exit':>5} " \
           f"{'follow-up':<10} problems"
    lines = [head]
    for r in rows:
        lines.append(f"{r['index']:>3} {r['signal']:<8} {r['phase']:<10} {r['landed']:<16} {r['delay_s']:>6.2f} "
                     f"{'yes' if r['monitoring'] else 'no':<4} {str(r['exit']):>5} {r['follow_up']:<10} "
                     f"{'; '.join(r['leftovers']) or '-'}")
    by: dict[tuple[str, str], int] = {}
    for r in rows:
        by[(r["signal"], r["landed"])] = by.get((r["signal"], r["landed"]), 0) + 1
    lines.append("")
    lines.append(f"interruptions tried: {len(rows)}; with a leftover or a wrong exit code: "
                 f"{sum(bool(r['leftovers']) for r in rows)}; problems found: {sum(len(r['leftovers']) for r in rows)}")
    lines += [f"  {sig:<8} {phase:<16} {count}" for (sig, phase), count in sorted(by.items())]
    return "\n".join(lines)
