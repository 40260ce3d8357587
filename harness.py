"""The harness command line: parse, build settings, call the library, map errors to exit codes.

    harness up      start Toxiproxy and the system under test, wait until it is ready
    harness down    stop everything ``up`` started, reverting every fault
    harness status  what is running, and the system's mode as it reports it
    harness fault   inject faults (KIND:TARGET[:PARAM=VALUE,...]), hold them, revert them
    harness run     run Gherkin resilience scenarios under load; write runs/<id>/results.json, junit.xml
                    (--dry-run: check everything and print the plan; --repeat N: pass rates)
    harness list    the features and scenarios a run would execute, with their tags
    harness report  (re-)render a run directory's HTML report from its results.json;
                    --compare BASE NEW: exit 1 when resilience regressed
    harness doctor  check prerequisites and say how to fix what is missing
    harness bench   measure failing, degrading, recovering and the harness's own cost; print a table

Exit codes: 0 ok, 1 failed (the system misbehaved), 2 bad usage or input, 3 infrastructure could not
start or a scenario could not be decided, 130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import ExitCode, HarnessError, UsageError
from core.interrupts import Terminated, shielded, sigterm_raises
from core.output_paths import check_output_dir, check_output_file
from core.settings import PROJECT_ROOT, HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, Topology, load_topology
from system import BackendKind, ManagedSystem

Command = Callable[[argparse.Namespace, HarnessSettings], int]


FEATURES = PROJECT_ROOT / "features"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own exit code for usage errors is 2 as well; this keeps the message on one line.
        self.exit(ExitCode.USAGE, f"harness: error: {message}\n")


def _backend_kind(text: str) -> BackendKind:
    """``--backend`` parsed into the closed set, with argparse's usual wording for a wrong choice."""
    try:
        return BackendKind(text)
    except ValueError:
        known = ", ".join(repr(kind.value) for kind in BackendKind)
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {known})") from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Chaos-engineering harness for RAG chatbots.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def system_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--topology", type=Path, default=DEFAULT_TOPOLOGY, help="topology file (YAML)")
        p.add_argument("--backend", type=_backend_kind, default=BackendKind.LOCAL, metavar="{" + ",".join(BackendKind) + "}",
                       help="services as processes or containers")
        p.add_argument("--port-offset", type=int, default=None, help="add N to every port, so two systems coexist")
        p.add_argument("--state-dir", type=Path, default=None, help="where the harness keeps pids and logs")
        p.add_argument("--env", action="append", default=[], metavar="SERVICE:NAME=VALUE",
                       help="set an environment variable of one service, e.g. gateway:GATEWAY_VARIANT=no-fallback")
        p.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                       help="allow load and faults to this non-loopback host (refused otherwise)")

    up = sub.add_parser("up", help="start the system under test and wait until it is ready")
    system_options(up)
    monitoring_options(up)
    system_options(sub.add_parser("down", help="stop everything 'up' started"))
    system_options(sub.add_parser("status", help="what is running and the system's mode"))
    system_options(sub.add_parser("doctor", help="check prerequisites"))
    fault = sub.add_parser("fault", help="inject faults into the running system, hold them, then revert them")
    system_options(fault)
    fault.add_argument("faults", nargs="+", metavar="KIND:TARGET[:PARAM=VALUE,...]",
                       help="e.g. latency:vector-db:latency_ms=300  partition:llm  pause:vector-db")
    fault.add_argument("--duration", type=float, default=None,
                       help="seconds to hold the faults (default: until Ctrl-C)")
    run = sub.add_parser("run", help="run resilience scenarios (default: features/)")
    system_options(run)
    monitoring_options(run)
    run.add_argument("paths", nargs="*", type=Path, default=[FEATURES], help="feature files or directories")
    run.add_argument("--tags", default=None, help="tag expression, e.g. 'smoke and not docker'")
    run.add_argument("--users", type=int, default=None, help="override the users of every steady load")
    run.add_argument("--workers", type=int, default=0, help="Locust worker processes (0: one process)")
    run.add_argument("--out", type=Path, default=None, help="run directory (default runs/<UTC time>-<id>)")
    run.add_argument("--junit", type=Path, default=None, help="also write JUnit XML here")
    run.add_argument("--seed", type=int, default=None, help="seed for every random choice (default: random, recorded)")
    run.add_argument("--repeat", type=int, default=1, metavar="N", help="run each scenario N times; report pass rates")
    run.add_argument("--dry-run", action="store_true",
                     help="check features, topology, targets and parameters; print the plan; touch nothing")
    report = sub.add_parser(
        "report", help="render RUN_DIR/index.html from RUN_DIR/results.json, or compare two runs",
        description="Render RUN_DIR/index.html from RUN_DIR/results.json; or, with --compare, compare NEW_RUN "
                    "with BASE_RUN, print a table, write an HTML page, and exit 1 when NEW regressed. "
                    "LIMIT is seconds ('2s', '500ms', a bare number), a percentage of BASE's value ('50%%'), "
                    "or both ('50%%,20ms': the growth must exceed both). See docs/report.md.")
    report.add_argument("run_dir", type=Path, nargs="?", metavar="RUN_DIR")
    report.add_argument("--compare", nargs=2, type=Path, metavar=("BASE_RUN", "NEW_RUN"),
                        help="compare two run directories (or results.json files)")
    report.add_argument("--out", type=Path, default=None, help="comparison page (default NEW_RUN/compare.html)")
    report.add_argument("--max-degrade-increase", type=_limit, default=None, metavar="LIMIT",
                        help="allowed growth of time to degrade (default 1s)")
    report.add_argument("--max-recover-increase", type=_limit, default=None, metavar="LIMIT",
                        help="allowed growth of time to recover (default 2s)")
    report.add_argument("--max-availability-drop", type=float, default=None, metavar="PP",
                        help="allowed fall of availability in percentage points (default 5)")
    report.add_argument("--max-p95-increase", type=_limit, default=None, metavar="LIMIT",
                        help="allowed growth of p95 latency (default 50%%,20ms)")
    bench = sub.add_parser("bench", help="measure how fast the system fails, degrades and recovers; print a table")
    system_options(bench)
    bench.add_argument("--quick", action="store_true", help="shorter windows and a 5 s breaker reset (about 3-4 min)")
    bench.add_argument("--out", type=Path, default=None, help="run directory (default runs/<UTC time>-bench-<id>)")
    bench.add_argument("--suite-results", type=Path, default=None, metavar="RUN_DIR",
                       help="take the suite's wall time from this run directory instead of running a suite")
    listing = sub.add_parser("list", help="features and scenarios with their tags")
    listing.add_argument("paths", nargs="*", type=Path, default=[FEATURES])
    listing.add_argument("--tags", default=None)
    return parser


def monitoring_options(p: argparse.ArgumentParser) -> None:
    """--monitoring, --alert-rules, --prometheus-url (docs/monitoring.md)."""
    p.add_argument("--monitoring", action=argparse.BooleanOptionalAction, default=None,
                   help="start a Prometheus on 127.0.0.1 scraping the system and evaluating its alert rules "
                        "(default: the topology's monitoring.enabled)")
    p.add_argument("--alert-rules", action="append", type=Path, default=[], metavar="FILE",
                   help="alert rule file(s) instead of the topology's monitoring.rules (implies --monitoring)")
    p.add_argument("--prometheus-url", default=None, metavar="URL",
                   help="use the Prometheus at URL (it scrapes the system and holds the rules) instead of starting one")


def _monitoring_plan(args: argparse.Namespace, settings: HarnessSettings, topology: Topology) -> object:
    """The command's ``monitoring.plan.MonitoringPlan`` or None (typed ``object``: imported on use)."""
    from monitoring.plan import plan_monitoring

    return plan_monitoring(topology, settings, enabled=args.monitoring, rule_files=args.alert_rules,
                           external_url=args.prometheus_url, allow_hosts=args.allow_host)


def _limit(text: str) -> object:
    """``--max-...-increase``'s argparse type (typed ``object``: reports is imported lazily, on use)."""
    from reports.compare import Limit

    try:
        return Limit.parse(text)
    except UsageError as exc:  # argparse then names the option and exits 2
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_report(args: argparse.Namespace, settings: HarnessSettings) -> int:
    from dataclasses import replace

    from reports.compare import Thresholds
    from reports.compare_page import render_table
    from reports.render import write_comparison, write_report

    if args.compare is None:
        if args.run_dir is None:
            raise UsageError("report: give RUN_DIR, or --compare BASE_RUN NEW_RUN")
        compare_only = ("out", "max_degrade_increase", "max_recover_increase", "max_availability_drop",
                        "max_p95_increase")
        given = [f"--{name.replace('_', '-')}" for name in compare_only if getattr(args, name) is not None]
        if given:
            raise UsageError(f"report: {', '.join(given)} only go with --compare")
        print(f"report: {write_report(args.run_dir)}")
        return ExitCode.OK
    if args.run_dir is not None:
        raise UsageError("report: give either RUN_DIR or --compare BASE_RUN NEW_RUN, not both")
    chosen = {"degrade": args.max_degrade_increase, "recover": args.max_recover_increase,
              "availability_drop_pp": args.max_availability_drop, "p95": args.max_p95_increase}
    thresholds = replace(Thresholds(), **{k: v for k, v in chosen.items() if v is not None})
    if args.out is not None:
        check_output_file("--out", args.out)
    comparison, page = write_comparison(args.compare[0], args.compare[1], thresholds, args.out)
    print(render_table(comparison))
    print(f"comparison: {page}")
    return ExitCode.FAILED if comparison.regressed else ExitCode.OK


def cmd_list(args: argparse.Namespace, settings: HarnessSettings) -> int:
    from scenarios.features import plan

    current = None
    for scenario in plan(args.paths, args.tags):
        if scenario.feature != current:
            current = scenario.feature
            print(f"{scenario.path}: {scenario.feature}")
        tags = " ".join(f"@{t}" for t in sorted(scenario.tags))
        print(f"  {scenario.line:>4}  {scenario.name}" + (f"  {tags}" if tags else ""))
    return ExitCode.OK


def cmd_run(args: argparse.Namespace, settings: HarnessSettings) -> int:
    import secrets

    from scenarios.context import RunOptions
    from scenarios.runner import new_run_dir, plan_run, run_scenarios
    from scenarios.load.spec import MAX_WORKERS

    topology = _topology(args, settings)
    if args.users is not None and args.users < 1:
        raise UsageError(f"--users must be at least 1, got {args.users}")
    if not 1 <= args.repeat <= 1000:
        raise UsageError(f"--repeat must be within 1..1000, got {args.repeat}")
    if not 0 <= args.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be within 0..{MAX_WORKERS}, got {args.workers}")
    if args.out is not None:
        check_output_dir("--out", args.out)
    if args.junit is not None:
        check_output_file("--junit", args.junit)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    options = RunOptions(features=tuple(args.paths), out_dir=Path("."), tags=args.tags, backend=args.backend,
                         users=args.users, workers=args.workers, seed=seed, junit=args.junit,
                         allow_hosts=tuple(args.allow_host), repeat=args.repeat, topology_file=args.topology,
                         env=tuple(args.env), monitoring=args.monitoring, alert_rules=tuple(args.alert_rules),
                         prometheus_url=args.prometheus_url)
    planned = plan_run(options)  # bad features or steps: exit 2 before anything starts
    from scenarios.preview import PreviewContext, plan_scenarios, render
    from scenarios.steps import vocabulary

    # Fault parameters and targets, load sizes: exit 2 naming file:line, before anything starts.
    plans = plan_scenarios(planned, vocabulary(), PreviewContext(topology, args.users, frozenset(args.allow_host)))
    from monitoring.plan import MonitoringPlan
    from scenarios.steps.alerts import check_alert_steps

    monitoring = _monitoring_plan(args, settings, topology)
    assert monitoring is None or isinstance(monitoring, MonitoringPlan)
    # Alert names against the loaded rules, bounds against their for:, PromQL syntax: exit 2 naming file:line.
    check_alert_steps(planned, monitoring.alerts if monitoring else None, monitoring.promtool if monitoring else None)
    if args.dry_run:
        print(render(plans))
        if monitoring is not None:
            print(monitoring.describe())
        print(f"dry run: nothing was started or changed; with --repeat {args.repeat} each scenario runs "
              f"{args.repeat} time(s); replay: {options.replay}")
        return ExitCode.OK
    out = args.out if args.out is not None else new_run_dir(settings.project_root / "runs")
    from dataclasses import replace

    options = replace(options, out_dir=out)
    print(f"running {len(planned)} scenario(s) x {args.repeat}, seed {seed}, results in {out}", flush=True)
    if monitoring is not None:
        print(monitoring.describe(), flush=True)
    summary = run_scenarios(options, settings, topology, lambda: ManagedSystem(topology, settings, args.backend),
                            monitoring.build if monitoring is not None else None)
    from reports.summary import render_summary

    print(render_summary(out / "results.json"))
    try:
        from reports.render import write_report

        print(f"report: {write_report(out)}")
    except Exception as exc:  # the verdict stands even if drawing it fails; say so and move on
        print(f"harness: the HTML report could not be rendered ({type(exc).__name__}: {exc}); "
              f"retry with 'harness report {out}'", file=sys.stderr)
    counts = ", ".join(f"{n} {k}" for k, n in summary.counts.items())
    print(f"{summary.outcome.upper()}: {counts}; results: {out / 'results.json'}")
    return summary.exit_code


def cmd_bench(args: argparse.Namespace, settings: HarnessSettings) -> int:
    from bench.profile import FULL, QUICK
    from bench.runner import BenchOptions, new_bench_dir, run_bench
    from reports.bench import write_bench_page
    from reports.bench_table import render_table

    if args.suite_results is not None and not (args.suite_results / "results.json").is_file():
        raise UsageError(f"--suite-results: {args.suite_results} has no results.json")
    if args.out is not None:
        check_output_dir("--out", args.out)
    out = args.out if args.out is not None else new_bench_dir(settings.project_root / "runs")
    options = BenchOptions(profile=QUICK if args.quick else FULL, topology_path=args.topology, backend=args.backend,
                           out_dir=out, port_offset=args.port_offset, state_dir=args.state_dir,
                           suite_results=args.suite_results, env=tuple(args.env),
                           command="harness " + " ".join(settings.argv))
    print(f"bench ({options.profile.name}), results in {out}", flush=True)
    document = run_bench(options, settings, lambda line: print(f"bench: {line}", flush=True))
    print(render_table(document["figures"]))
    print(f"bench.json: {out / 'bench.json'}")
    print(f"report: {write_bench_page(out)}")
    return ExitCode.OK


def _settings(args: argparse.Namespace, argv: Sequence[str]) -> HarnessSettings:
    """The environment's settings with this command line's options (the commands without them keep the
    environment's port offset and state directory)."""
    return HarnessSettings.from_env().with_overrides(port_offset=getattr(args, "port_offset", None),
                                                     state_dir=getattr(args, "state_dir", None), argv=argv)


def _topology(args: argparse.Namespace, settings: HarnessSettings) -> Topology:
    """The topology file with the run's --env assignments and port offset applied, its host checked."""
    from core.safety import check_host

    topology = load_topology(args.topology).with_env(args.env).with_port_offset(settings.port_offset)
    check_host(topology.host, args.allow_host, f"load and faults (host of {topology.path})")
    return topology


def _system(args: argparse.Namespace, settings: HarnessSettings) -> ManagedSystem:
    return ManagedSystem(_topology(args, settings), settings, args.backend)


def cmd_up(args: argparse.Namespace, settings: HarnessSettings) -> int:
    from monitoring.plan import MonitoringPlan

    system = _system(args, settings)
    monitoring = _monitoring_plan(args, system.settings, system.topology)  # bad rules: exit 2, nothing started
    assert monitoring is None or isinstance(monitoring, MonitoringPlan)
    for action in system.up():  # all or nothing: a failed start stops what it started
        print(f"cleaned: {action}")
    if monitoring is not None:
        prometheus = monitoring.build(system.settings.state_dir / "prometheus")
        try:
            for action in prometheus.start():
                print(f"cleaned: {action}")
            prometheus.wait_scraped()
        except BaseException:
            with shielded():
                prometheus.stop()
                system.down()  # all or nothing: a failed 'up' leaves nothing running
            raise
        prometheus.detach()  # it keeps running, recorded; 'harness down' stops it
        print(f"{'prometheus':<10} {prometheus.url:<24} {monitoring.describe()}")
    print(f"{'toxiproxy':<10} {system.toxiproxy_url:<24}")
    for service in system.topology.start_order():
        print(f"{service.name:<10} {system.address(service.name):<24} {system.backend.describe(service.name)}")
    for name, listen in system.proxies.routes().items():
        print(f"proxy      {name:<24} {listen}")
    for line in system.http_faults.status_lines():
        print(line)
    print(f"ready: POST {system.entry_url()}/chat")
    return ExitCode.OK


def cmd_down(args: argparse.Namespace, settings: HarnessSettings) -> int:
    from monitoring.session import stop_recorded

    # Prometheus first: it holds connections to every service, and a service that closes them first
    # leaves its own port in TIME_WAIT, which a program binding that port next would trip over.
    prometheus = ["prometheus"] if stop_recorded(settings) else []
    stopped = _system(args, settings).down() + prometheus
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return ExitCode.OK


def cmd_fault(args: argparse.Namespace, settings: HarnessSettings) -> int:
    from core.journal import Journal
    from faults.catalog import check_target, parse_fault
    from faults.session import FaultSession

    specs = [parse_fault(text) for text in args.faults]  # every spec checked before anything is sent
    if args.duration is not None and args.duration <= 0:
        raise UsageError(f"--duration must be positive, got {args.duration}")
    system = _system(args, settings)
    from dataclasses import replace

    specs = [replace(spec, target=system.topology.canonical(spec.target)) for spec in specs]  # aliases
    for spec in specs:
        check_target(system.topology, spec)
    if not system.backend.running():
        raise UsageError("the system is not running: start it with 'harness up'")
    journal = Journal()
    journal.subscribe(lambda e: print(f"{e.type}: {e.data.get('label', '')}", flush=True))
    for action in system.reset():
        print(f"cleaned: {action}")
    with FaultSession(system.injectors(), journal) as faults:
        for spec in specs:
            faults.inject(spec)
        print("holding; Ctrl-C to revert" if args.duration is None else f"holding for {args.duration:g}s", flush=True)
        end = None if args.duration is None else time.monotonic() + args.duration
        while end is None or time.monotonic() < end:
            time.sleep(0.2 if end is None else min(0.2, max(0.0, end - time.monotonic())))
    return ExitCode.OK


def cmd_status(args: argparse.Namespace, settings: HarnessSettings) -> int:
    from core.errors import SystemUnreachable
    from system.client import SystemClient

    system = _system(args, settings)
    for service in system.topology.start_order():
        print(f"{service.name:<10} {system.address(service.name):<24} {system.backend.describe(service.name)}")
    for line in system.http_faults.status_lines():  # the fault proxy, its routes and their active faults
        print(line)
    with SystemClient.for_entry(system.topology, system.settings) as client:
        try:
            print(f"mode: {client.status().mode}")
        except SystemUnreachable as exc:
            print(f"mode: unknown ({client.status_url}: {exc.reason})")
    return ExitCode.OK


def cmd_doctor(args: argparse.Namespace, settings: HarnessSettings) -> int:
    from scenarios.doctor import run_checks

    checks = run_checks(_system(args, settings))
    for check in checks:
        if check.found is not None:
            print(f"{check.name}: {check.found}")
    problems = [problem for check in checks for problem in check.problems]
    for line in problems:
        print(f"problem: {line}")
    print("doctor: ok" if not problems else f"doctor: {len(problems)} problem(s)")
    return ExitCode.OK if not problems else ExitCode.INFRASTRUCTURE


_COMMANDS: dict[str, Command] = {
    "up": cmd_up, "down": cmd_down, "status": cmd_status, "doctor": cmd_doctor, "fault": cmd_fault,
    "run": cmd_run, "list": cmd_list, "report": cmd_report, "bench": cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(words)
    settings: HarnessSettings | None = None
    try:
        settings = _settings(args, words)
        with sigterm_raises():  # SIGTERM is a Ctrl-C for every command, the report writing included
            return _COMMANDS[args.command](args, settings)
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, Terminated):
        print("harness: interrupted; faults reverted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:  # a bug or an unexpected environment: one line here, the traceback in a log
        log = _crash_log(settings)
        print(f"harness: unexpected {type(exc).__name__}: {exc} (traceback in {log})", file=sys.stderr)
        return ExitCode.INFRASTRUCTURE


def _crash_log(settings: HarnessSettings | None) -> str:
    """Write the current exception's traceback under the state directory's logs; the path, or why not."""
    import traceback
    from datetime import UTC, datetime

    if settings is None:
        return "no log written: the settings could not be built"
    try:
        logs = settings.log_dir
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / f"harness-error-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.log"
        path.write_text(f"harness {' '.join(settings.argv)}\n{traceback.format_exc()}", encoding="utf-8")
    except Exception as exc:  # the log itself failed: say so, still in one line
        return f"no log written: {exc}"
    return str(path)


def entry() -> None:
    """The program (console script and ``python harness.py``): ``main``'s exit code.

    Once ``main`` has returned, the work and its cleanup are done and the exit code is decided; a
    Ctrl-C or SIGTERM while the interpreter shuts down (threads joining, modules unloading) would only
    make the process die of the signal (-2, -15) instead of reporting what happened. Tests call
    ``main`` in-process and keep their own handlers."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    entry()
