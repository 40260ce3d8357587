"""The harness command line: parse, build settings, call the library, map errors to exit codes.

    harness up      start the system under test locally and wait until it is ready
    harness down    stop everything ``up`` started
    harness status  what is running, and the system's mode as it reports it
    harness doctor  check prerequisites and say how to fix what is missing

Exit codes: 0 ok, 1 failed, 2 bad usage or input, 3 infrastructure could not start.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from core.errors import ExitCode, HarnessError
from core.settings import HarnessSettings
from core.supervisor import LocalSupervisor, port_is_free
from core.topology import DEFAULT_TOPOLOGY, load_topology


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own exit code for usage errors is 2 as well; this keeps the message on one line.
        self.exit(ExitCode.USAGE, f"harness: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Chaos-engineering harness for RAG chatbots.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def system_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--topology", type=Path, default=DEFAULT_TOPOLOGY, help="topology file (YAML)")
        p.add_argument("--port-offset", type=int, default=None, help="add N to every port, so two systems coexist")
        p.add_argument("--state-dir", type=Path, default=None, help="where the harness keeps pids and logs")

    system_options(sub.add_parser("up", help="start the system under test and wait until it is ready"))
    system_options(sub.add_parser("down", help="stop everything 'up' started"))
    system_options(sub.add_parser("status", help="what is running and the system's mode"))
    system_options(sub.add_parser("doctor", help="check prerequisites"))
    return parser


def _supervisor(args: argparse.Namespace) -> LocalSupervisor:
    settings = HarnessSettings.from_env().with_overrides(port_offset=args.port_offset, state_dir=args.state_dir)
    topology = load_topology(args.topology).with_port_offset(settings.port_offset)
    return LocalSupervisor(topology, settings)


def cmd_up(args: argparse.Namespace) -> int:
    sup = _supervisor(args)
    records = sup.start_all()
    for service in sup.topology.start_order():
        rec = records[service.name]
        print(f"{service.name:<10} {sup.address(service.name):<24} pid {rec.pid}  log {rec.log}")
    print(f"ready: POST {sup.address(sup.topology.entry)}/chat")
    return ExitCode.OK


def cmd_down(args: argparse.Namespace) -> int:
    stopped = _supervisor(args).stop_all()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return ExitCode.OK


def cmd_status(args: argparse.Namespace) -> int:
    import httpx

    sup = _supervisor(args)
    running = sup.running()
    for service in sup.topology.start_order():
        rec = running.get(service.name)
        print(f"{service.name:<10} {sup.address(service.name):<24} " + (f"pid {rec.pid}" if rec else "not running"))
    entry = sup.address(sup.topology.entry) + sup.topology.mode.status_path
    try:
        mode = httpx.get(entry, timeout=2.0, trust_env=False).json().get(sup.topology.mode.response_field)
        print(f"mode: {mode}")
    except (httpx.HTTPError, ValueError) as exc:
        print(f"mode: unknown ({entry}: {type(exc).__name__})")
    return ExitCode.OK


def cmd_doctor(args: argparse.Namespace) -> int:
    sup = _supervisor(args)
    problems: list[str] = []
    for module in ("fastapi", "uvicorn", "aiohttp", "pybreaker", "httpx", "yaml", "numpy"):
        if importlib.util.find_spec(module) is None:
            problems.append(f"python package {module!r} missing: run scripts/setup.sh")
    running = sup.running()
    for service in sup.topology.services.values():
        if service.name not in running and not port_is_free(sup.topology.host, service.port):
            problems.append(f"port {service.port} ({service.name}) is taken by another process: free it or use --port-offset")
    for line in problems:
        print(f"problem: {line}")
    print("doctor: ok" if not problems else f"doctor: {len(problems)} problem(s)")
    return ExitCode.OK if not problems else ExitCode.USAGE


_COMMANDS = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "doctor": cmd_doctor}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
