"""The harness under its own chaos: SIGINT, SIGTERM and SIGKILL at seeded moments of a real run that
holds a toxic, an HTTP fault, a paused and a killed service; nothing of the run may outlive it.

    SIGINT / SIGTERM  the run's own exit: code 130, nothing of the run left running or listening,
                      results.json "interrupted" when a scenario had started (a signal that
                      arrives after the run printed its verdict meets a process already exiting:
                      the verdict's exit code stands, the row says "exiting")
    SIGKILL           the next 'harness up' reports and cleans every stale fault, leaves the system
                      healthy and clean; the 'harness down' after it leaves nothing

HARNESS_SELF_CHAOS_RUNS sets the number of interruptions (default 4: each signal, one with
Prometheus; the slow suite runs 30 or more), HARNESS_SELF_CHAOS_SEED the seed of the plan. The summary
table (interruptions, the phase each aimed at and landed in, problems found) is written to
``self_chaos_summary.txt`` in the test's tmp_path and printed (see it with ``-s``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from core.ports import free_port_offset
from core.settings import PROJECT_ROOT
from core.topology import load_topology
from tests.integration.chaos.self_chaos import (
    FEATURE,
    PHASES,
    SCENARIO_PHASES,
    SIGNALS,
    STEPS,
    Interruption,
    RunPorts,
    active_faults,
    landed_phase,
    leftovers,
    plan,
    read_journal,
    render_table,
    run_processes,
    stale_faults,
)
from tests.support import wait_until

# Offsets no other suite uses (grep free_port_offset( in tests/ and bench/).
OFFSETS = (1_000, 3_000)
# The last line of 'harness run' (its verdict): a signal after it meets a process that is exiting.
VERDICT_LINES = ("PASSED:", "FAILED:", "ERROR:", "INTERRUPTED:")
DEFAULT_RUNS, DEFAULT_SEED = 4, 186  # 186: SIGINT injection, SIGTERM start-up (with Prometheus), SIGKILL held, SIGINT stop_load


def _sample() -> tuple[int, int]:
    """How many interruptions, and the plan's seed (the two knobs of this test)."""
    return (int(os.environ.get("HARNESS_SELF_CHAOS_RUNS") or DEFAULT_RUNS),
            int(os.environ.get("HARNESS_SELF_CHAOS_SEED") or DEFAULT_SEED))


def _harness(offset: int, state: Path, *words: str) -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "harness.py"), words[0], "--port-offset", str(offset),
            "--state-dir", str(state), *words[1:]]


def _env(state: Path) -> dict[str, str]:
    return {**os.environ, "HARNESS_STATE_DIR": str(state)}


def _command(args: list[str], state: Path, problems: list[str]) -> subprocess.CompletedProcess[str] | None:
    """Run a follow-up command; a non-zero exit or a traceback is a problem."""
    try:
        done = subprocess.run(args, env=_env(state), capture_output=True, text=True, timeout=180, cwd=PROJECT_ROOT)
    except subprocess.TimeoutExpired:
        problems.append(f"'harness {args[2]}' did not finish within 180 s")
        return None
    if done.returncode != 0 or "Traceback" in done.stderr:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        problems.append(f"'harness {args[2]}' exit {done.returncode}: {tail}")
    return done


def _gone(ports: RunPorts, out: Path, role: str, timeout_s: float) -> bool:
    """Whether no process of ``role`` is left within ``timeout_s`` (an orphan may take a moment to go)."""
    deadline = time.monotonic() + timeout_s
    while any(p.role == role for p in run_processes(ports, out)):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _scrub(ports: RunPorts, out: Path, offset: int, state: Path) -> None:
    """After the checks: stop whatever the run left, so the next interruption starts clean (by PID)."""
    if run_processes(ports, out):
        subprocess.run(_harness(offset, state, "down"), env=_env(state), capture_output=True, timeout=180,
                       cwd=PROJECT_ROOT)
    for process in run_processes(ports, out):
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(process.pid, sig)
            except ProcessLookupError:
                pass


def _send(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    """SIGINT as Ctrl-C sends it, to the foreground process group (the harness and any child it did
    not put in a session of its own); SIGTERM and SIGKILL as ``kill PID`` (or a CI runner, or the OOM
    killer) send them, to the harness process alone."""
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)


def _check_results(out: Path, landed: str, problems: list[str]) -> None:
    """results.json after SIGINT/SIGTERM: readable once a scenario started, and "interrupted" when the
    signal landed in a scenario or in start-up (where it may not exist yet: the run had not begun)."""
    path = out / "results.json"
    if landed == "startup" and path.exists():
        outcome = json.loads(path.read_text()).get("outcome")
        if outcome != "interrupted":
            problems.append(f"results.json outcome {outcome!r} after an interrupt in start-up, expected 'interrupted'")
        return
    if landed not in SCENARIO_PHASES and landed not in ("cleanup", "report"):
        return
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        problems.append(f"results.json unreadable after the interrupt: {exc}")
        return
    if landed in SCENARIO_PHASES and data.get("outcome") != "interrupted":
        problems.append(f"results.json outcome {data.get('outcome')!r}, expected 'interrupted'")


def _interrupt(item: Interruption, feature: Path, root: Path) -> dict[str, Any]:
    """Run the scenario, deliver the signal at the planned moment, and look for what is left."""
    topology = load_topology()
    offset = free_port_offset(topology, start=OFFSETS[0], stop=OFFSETS[1])
    ports = RunPorts.of(topology, offset)
    work = root / f"{item.index:02d}-{item.signal.name}-{item.phase}"
    state, out = work / "state", work / "run"
    monitoring = "--monitoring" if item.monitoring else "--no-monitoring"
    started = time.monotonic()
    proc = subprocess.Popen(_harness(offset, state, "run", str(feature), "--out", str(out), "--seed", str(item.seed),
                                     monitoring),
                            env=_env(state), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=PROJECT_ROOT, start_new_session=True)  # its own group, as in a terminal
    stream = proc.stdout
    assert stream is not None
    lines: list[str] = []

    def pump() -> None:
        for line in stream:
            lines.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    problems: list[str] = []
    follow_up = "-"
    try:
        wait_until(lambda: item.trigger.fired(lines, read_journal(out / "journal.jsonl")) or proc.poll() is not None,
                   180, f"the trigger of {item.phase}")
        try:
            proc.wait(timeout=item.delay_s)
        except subprocess.TimeoutExpired:
            pass
        landed = "exited" if proc.poll() is not None else landed_phase(read_journal(out / "journal.jsonl"),
                                                                       (out / "results.json").exists())
        if landed != "exited":
            _send(proc, item.signal)
        try:
            code: int | str = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:  # then killed below; what it left is still looked for
            problems.append("the run did not exit within 120 s of the signal")
            proc.kill()
            code = f"kill:{proc.wait()}"
        reader.join(timeout=10)
        output = "".join(lines)
        if landed == "exited":
            problems.append(f"the run ended (exit {code}) before the signal")
        elif item.signal != signal.SIGKILL:
            if code in (0, 1, 3) and any(line.startswith(VERDICT_LINES) for line in lines):
                landed = "exiting"  # after the run's verdict line: nothing left to interrupt, the verdict stands
            elif code != 130:
                problems.append(f"exit {code}, expected 130")
            problems += leftovers(ports, out, system_up=False)  # the run's own exit, before anything else
            _check_results(out, landed, problems)
        else:
            stale = stale_faults(ports, out, read_journal(out / "journal.jsonl"))  # the world, before 'up'
            up = _command(_harness(offset, state, "up", monitoring), state, problems)
            cleaned = [line for line in up.stdout.splitlines() if line.startswith("cleaned:")] if up else []
            for what, words in stale:
                if up is not None and up.returncode == 0 and not any(all(w in line for w in words) for line in cleaned):
                    problems.append(f"'harness up' did not report the stale {what}")
            if not _gone(ports, out, "load generator", 15.0):
                problems.append("the killed run's load generator still runs 15 s after 'harness up'")
            if up is not None and up.returncode == 0:
                problems += [f"after 'harness up': {p}" for p in leftovers(ports, out, system_up=True)]
            down = _command(_harness(offset, state, "down"), state, problems)
            problems += [f"after 'harness down': {p}" for p in leftovers(ports, out, system_up=False)]
            follow_up = f"up {up.returncode if up else '?'}/down {down.returncode if down else '?'}"
        if "Traceback" in output:
            problems.append("a traceback reached the run's output")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
        stream.close()
        _scrub(ports, out, offset, state)
    return {"index": item.index, "signal": item.signal.name, "phase": item.phase, "landed": landed,
            "delay_s": item.delay_s, "monitoring": item.monitoring, "exit": code, "follow_up": follow_up,
            "leftovers": problems, "wall_s": round(time.monotonic() - started, 1), "offset": offset,
            "dir": str(work)}


def test_self_chaos_plan_covers_every_signal_and_phase() -> None:
    """The seeded plan sends each signal in turn through every phase, the same for the same seed."""
    items = plan(5, len(SIGNALS) * len(PHASES))
    assert {(i.signal, i.phase) for i in items} == {(s, p) for s in SIGNALS for p in PHASES}
    assert [i.signal for i in plan(5, 4)] == [signal.SIGINT, signal.SIGTERM, signal.SIGKILL, signal.SIGINT]
    assert plan(5, 30) == plan(5, 30) and plan(5, 30) != plan(6, 30)
    assert sum(i.monitoring for i in items) == len(items) // 4 + (len(items) % 4 > 1)


def test_self_chaos_landed_phase_reads_the_journal() -> None:
    """The phase a signal landed in follows the run's journal: start-up, each step, teardown, report."""
    started: list[dict[str, Any]] = [{"type": "scenario_started"}]

    def steps(n: int) -> list[dict[str, Any]]:  # the first n steps, started and finished
        return [{"type": t, "text": text} for _, text, _ in STEPS[:n] for t in ("step_started", "step_finished")]

    held = started + steps(5) + [{"type": "step_started", "text": STEPS[5][1]}]
    done = started + steps(len(STEPS))
    assert landed_phase([], False) == "startup"
    assert landed_phase(started, False) == "scenario_setup"
    assert landed_phase(held, False) == "held"
    assert landed_phase(started + steps(6), False) == "revert"
    assert landed_phase(done, False) == "stop_load"
    assert landed_phase(done + [{"type": "load_changed", "users": 0}], False) == "teardown_revert"
    assert landed_phase(done + [{"type": "scenario_finished"}], False) == "cleanup"
    assert landed_phase(done + [{"type": "scenario_finished"}], True) == "report"
    events = [{"type": "fault_injected", "fault": "pause", "target": "llm"},
              {"type": "fault_injected", "fault": "kill", "target": "vector-db"},
              {"type": "fault_reverted", "fault": "pause", "target": "llm"}]
    assert active_faults(events) == [("kill", "vector-db")]


@pytest.mark.integration
@pytest.mark.slow
def test_harness_self_chaos_leaves_no_leftovers(tmp_path: Path) -> None:
    """No interruption of a run holding faults (SIGINT, SIGTERM, SIGKILL, any phase) leaves a fault,
    a process or a listening port behind, and each interrupt exits 130."""
    runs, seed = _sample()
    feature = tmp_path / "self_chaos.feature"
    feature.write_text(FEATURE)
    started = time.monotonic()
    rows = [_interrupt(item, feature, tmp_path) for item in plan(seed, runs)]
    wall = time.monotonic() - started
    table = render_table(rows) + f"\nseed {seed}; wall time {wall:.0f} s"
    (tmp_path / "self_chaos_summary.txt").write_text(table + "\n")
    (tmp_path / "self_chaos_summary.json").write_text(json.dumps(rows, indent=2))
    print(f"\n{table}\nsummary: {tmp_path / 'self_chaos_summary.txt'}")
    assert not [r for r in rows if r["leftovers"]], table
