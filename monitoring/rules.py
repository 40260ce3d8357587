"""Alert rule files: read with line numbers, checked by promtool, copied (``for:`` maybe shrunk) for a run.

    load_rules(paths)       YAML + structure, ours: every mistake is a ConfigError naming file:line
    check_rules(set, tool)  ``promtool check rules``: PromQL and templates, Prometheus's own parser
    write_for_run(set, dir) the copies Prometheus loads; ``for_override_s`` replaces every ``for:``

Why both checks: promtool knows PromQL, but its YAML errors say "line 1" of a flow mapping and its
duration errors name no line at all; our pass names the line of the rule a user must edit, and keeps
the alert names and ``for:`` durations the steps are checked against before a run starts.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError, PrometheusError

_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNITS_S = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)
_ALERT_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
_RECORD_KEYS = {"record", "expr", "labels"}
_GROUP_KEYS = {"name", "interval", "rules", "limit"}
# promtool: "rules.yml: 5:11: group "g", rule 1, "A": could not parse expression: ..."
_PROMTOOL_AT = re.compile(r"^(?P<file>.+?): (?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")


def parse_duration(text: str) -> float:
    """A Prometheus duration (``1m30s``, ``500ms``, ``0``) in seconds; ValueError when it is not one."""
    match = _DURATION.match(text)
    if text == "0":
        return 0.0
    if not text or match is None:
        raise ValueError(f"{text!r} is not a Prometheus duration (like 30s, 1m30s, 500ms)")
    return sum(int(g) * unit for g, unit in zip(match.groups(), _UNITS_S, strict=True) if g)


def format_duration(seconds: float) -> str:
    """Seconds as a Prometheus duration, to the millisecond (``1s``, ``250ms``, ``0s``)."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule as written: where, what, and how long it must hold before it fires."""

    name: str
    expr: str
    for_s: float
    path: Path
    line: int
    group: str
    keep_firing_for_s: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class RuleSet:
    """The alert rules of a run, from one or more files (order kept, as Prometheus loads them)."""

    files: tuple[Path, ...]
    alerts: tuple[AlertRule, ...]

    def names(self) -> frozenset[str]:
        return frozenset(rule.name for rule in self.alerts)

    def named(self, name: str) -> list[AlertRule]:
        """Every rule with this alert name (Prometheus allows several, e.g. one per severity)."""
        return [rule for rule in self.alerts if rule.name == name]

    def longest_for_s(self, name: str | None = None) -> float:
        """The longest ``for:`` (of ``name``'s rules, or of all): how long a pending alert may stay pending."""
        rules = self.alerts if name is None else tuple(self.named(name))
        return max((rule.for_s for rule in rules), default=0.0)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: yaml.Node | None, message: str) -> ConfigError:
        return ConfigError(str(self.path), message, node.start_mark.line + 1 if node is not None else None)

    def mapping(self, node: yaml.Node, what: str, allowed: set[str]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = str(key.value)
            if name not in allowed:
                raise self.fail(key, f"{what}: unknown key {name!r} (allowed: {', '.join(sorted(allowed))})")
            if name in out:
                raise self.fail(key, f"{what}: duplicate key {name!r}")
            out[name] = value
        return out

    def string(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            raise self.fail(node, f"{what} must be a non-empty string")
        return str(node.value)

    def duration(self, node: yaml.Node, what: str) -> float:
        try:
            return parse_duration(self.string(node, what))
        except ValueError as exc:
            raise self.fail(node, f"{what}: {exc}") from None

    def strings(self, node: yaml.Node, what: str) -> dict[str, str]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping of names to strings")
        out: dict[str, str] = {}
        for key, value in node.value:
            if not isinstance(value, yaml.ScalarNode):
                raise self.fail(value, f"{what}.{key.value} must be a string")
            out[str(key.value)] = str(value.value)
        return out


def _read(path: Path) -> list[AlertRule]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read the alert rules: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), f"not valid YAML: {problem}", mark.line + 1 if mark else None) from None
    r = _Reader(path)
    if root is None:
        raise ConfigError(str(path), "the rule file is empty (expected 'groups:')")
    top = r.mapping(root, "rule file", {"groups"})
    groups = top.get("groups")
    if not isinstance(groups, yaml.SequenceNode):
        raise r.fail(groups or root, "'groups' must be a list of rule groups")
    alerts: list[AlertRule] = []
    seen_groups: set[str] = set()
    for group_node in groups.value:
        group = r.mapping(group_node, "group", _GROUP_KEYS)
        name = r.string(group["name"], "group.name") if "name" in group else None
        if name is None:
            raise r.fail(group_node, "group: missing key 'name'")
        if name in seen_groups:
            raise r.fail(group["name"], f"group {name!r} is defined twice in this file")
        seen_groups.add(name)
        if "interval" in group:
            r.duration(group["interval"], f"group {name!r}: interval")
        rules = group.get("rules")
        if not isinstance(rules, yaml.SequenceNode):
            raise r.fail(rules or group_node, f"group {name!r}: 'rules' must be a list")
        for rule_node in rules.value:
            if not isinstance(rule_node, yaml.MappingNode):
                raise r.fail(rule_node, f"group {name!r}: each rule must be a mapping")
            keys = {str(k.value) for k, _ in rule_node.value}
            if "record" in keys:
                rule = r.mapping(rule_node, f"group {name!r}: recording rule", _RECORD_KEYS)
                r.string(rule.get("expr") or rule_node, f"recording rule {rule['record'].value!r}: expr")
                continue
            rule = r.mapping(rule_node, f"group {name!r}: rule", _ALERT_KEYS)
            if "alert" not in rule:
                raise r.fail(rule_node, f"group {name!r}: a rule needs 'alert' or 'record'")
            alert = r.string(rule["alert"], "alert")
            what = f"alert {alert!r}"
            if "expr" not in rule:
                raise r.fail(rule_node, f"{what}: missing key 'expr'")
            alerts.append(AlertRule(
                name=alert,
                expr=r.string(rule["expr"], f"{what}: expr"),
                for_s=r.duration(rule["for"], f"{what}: for") if "for" in rule else 0.0,
                path=path,
                line=rule["alert"].start_mark.line + 1,
                group=name,
                keep_firing_for_s=r.duration(rule["keep_firing_for"], f"{what}: keep_firing_for")
                if "keep_firing_for" in rule else 0.0,
                labels=r.strings(rule["labels"], f"{what}: labels") if "labels" in rule else {},
                annotations=r.strings(rule["annotations"], f"{what}: annotations") if "annotations" in rule else {},
            ))
    return alerts


def load_rules(paths: tuple[Path, ...] | list[Path]) -> RuleSet:
    """Read every rule file; ``ConfigError`` (exit 2) names the file and line of the first mistake."""
    files = tuple(Path(p).resolve() for p in paths)
    alerts: list[AlertRule] = []
    for path in files:
        alerts.extend(_read(path))
    return RuleSet(files, tuple(alerts))


def check_rules(rules: RuleSet, promtool: Path) -> None:
    """``promtool check rules`` on every file: a PromQL or template error becomes a ConfigError with its line."""
    for path in rules.files:
        try:
            done = subprocess.run([str(promtool), "check", "rules", str(path)], capture_output=True, text=True,
                                  timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            raise PrometheusError(f"cannot run {promtool} check rules: {exc}") from None
        if done.returncode == 0:
            continue
        raise _promtool_error(path, done.stdout + done.stderr)


def _promtool_error(path: Path, output: str) -> ConfigError:
    """The first complaint in promtool's output, as ``file:line: message`` when it names a line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    complaints = [line for line in lines if not line.startswith(("Checking", "FAILED", "SUCCESS"))]
    for line in complaints:
        match = _PROMTOOL_AT.match(line)
        if match is not None:
            return ConfigError(str(path), f"promtool: {match['message']}", int(match["line"]))
    first = complaints[0] if complaints else "promtool check rules failed"
    prefix = f"{path}: "
    return ConfigError(str(path), "promtool: " + (first[len(prefix):] if first.startswith(prefix) else first))


def write_for_run(rules: RuleSet, out_dir: Path, for_override_s: float | None = None) -> tuple[Path, ...]:
    """The rule files Prometheus loads for a run: copies in ``out_dir``, every ``for:`` replaced when
    ``for_override_s`` is set (tests shrink the wait this way; the shipped files never change)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for i, path in enumerate(rules.files, 1):
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        if for_override_s is not None:
            for group in data.get("groups") or []:
                for rule in group.get("rules") or []:
                    if "alert" in rule:
                        rule["for"] = format_duration(for_override_s)
        target = out_dir / f"{i:02d}-{path.name}"
        target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        written.append(target)
    return tuple(written)


def with_for_override(rules: RuleSet, for_override_s: float | None) -> RuleSet:
    """The rule set as Prometheus will hold it: with every ``for:`` replaced when an override is set."""
    if for_override_s is None:
        return rules
    from dataclasses import replace

    return RuleSet(rules.files, tuple(replace(rule, for_s=for_override_s) for rule in rules.alerts))
