"""Finding, parsing, filtering and checking feature files before anything runs.

    paths -> feature files -> parsed (pytest-bdd's Gherkin parser) -> tag filter -> every step matched

Every problem becomes a ``ConfigError`` naming ``file:line`` (exit code 2), so a malformed file or an
unknown step is reported before the system is touched, not minutes into a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from _pytest.mark.expression import Expression
from pytest_bdd.exceptions import GherkinParseError
from pytest_bdd.parser import Feature, FeatureParser, ScenarioTemplate

from core.errors import ConfigError, UsageError

from .vocabulary import StepEntry


_FILE_LINE = re.compile(r"^(?P<file>.+\.feature):(?P<line>\d+)$")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class PlannedStep:
    keyword: str
    type: str
    text: str
    line: int


@dataclass(frozen=True)
class PlannedScenario:
    """One scenario as it will run: where it is written, its tags and its steps (background first)."""

    feature: str
    path: Path
    name: str
    line: int
    tags: frozenset[str]
    steps: tuple[PlannedStep, ...]

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.line}"


def feature_files(paths: Sequence[Path]) -> list[Path]:
    """The ``.feature`` files named by ``paths`` (files, or directories searched recursively)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.feature")))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path}: no such feature file or directory")
    if not files:
        raise UsageError(f"no .feature files in {', '.join(map(str, paths))}")
    return files


def parse_feature(path: Path) -> Feature:
    """Parse one feature file; a Gherkin syntax error becomes ``ConfigError`` with its line."""
    try:
        return FeatureParser(str(path.parent), path.name).parse()
    except GherkinParseError as exc:
        raise ConfigError(str(path), exc.message.strip().splitlines()[0], exc.line) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read: {exc}") from None
    except KeyError as exc:
        # pytest-bdd's document builder reads data["feature"] without asking: a file with no Feature
        # line (empty, only comments) parses to a document without one.
        if exc.args == ("feature",):
            raise ConfigError(str(path), "no 'Feature:' line (the file is empty or only comments)", 1) from None
        raise


def tag_filter(expression: str | None) -> Expression | None:
    """Compile a tag expression (``smoke and not docker``); a malformed one is a usage error."""
    if not expression:
        return None
    try:
        return Expression.compile(expression)
    except SyntaxError as exc:
        raise UsageError(f"--tags {expression!r}: {exc.msg} (column {exc.offset})") from None


def _at_line(path: Path) -> tuple[Path, int | None]:
    """``features/x.feature:47`` -> (the file, 47): one scenario, by the line of its title (or inside it)."""
    match = _FILE_LINE.match(str(path))
    if match is None or path.exists():
        return path, None
    return Path(match["file"]), int(match["line"])


def plan(paths: Sequence[Path], tags: str | None = None) -> list[PlannedScenario]:
    """Every selected scenario of the features under ``paths``, with background steps included.

    A path may end in ``:LINE`` to pick the one scenario written at (or spanning) that line.
    """
    selector = tag_filter(tags)
    planned: list[PlannedScenario] = []
    for given in paths:
        path, line = _at_line(given)
        for file in feature_files([path]):
            feature = parse_feature(file)
            chosen = list(feature.scenarios.values())
            if line is not None:
                length = len(file.read_text(encoding="utf-8").splitlines())
                if line > length:
                    raise UsageError(f"{file}:{line}: the file has {length} lines, so no scenario is at this line")
                starts = [t for t in chosen if t.line_number <= line]
                if not starts:
                    raise UsageError(f"{file}:{line}: no scenario at or before this line")
                chosen = [max(starts, key=lambda t: t.line_number)]
            for template in chosen:
                scenario_tags = frozenset(feature.tags | template.tags)
                if selector is not None and not selector.evaluate(_TagMatcher(scenario_tags)):
                    continue
                planned.append(_planned(file, feature, template, scenario_tags))
    return planned


class _TagMatcher:
    """Answers pytest's expression evaluator: is this tag on the scenario?"""

    def __init__(self, tags: frozenset[str]) -> None:
        self._tags = tags

    def __call__(self, name: str, /, **kwargs: str | int | bool | None) -> bool:
        return name in self._tags


def _planned(path: Path, feature: Feature, template: ScenarioTemplate, tags: frozenset[str]) -> PlannedScenario:
    if template.templated:
        raise ConfigError(str(path), "Scenario Outlines are not supported yet; write one scenario per case",
                          template.line_number)
    steps = tuple(PlannedStep(s.keyword.strip(), s.type, s.name, s.line_number) for s in template.steps)
    return PlannedScenario(feature.name, path, template.name, template.line_number, tags, steps)


def check_steps(scenarios: Iterable[PlannedScenario], vocabulary: Sequence[StepEntry]) -> None:
    """Raise ``ConfigError`` at the first step no definition matches, with close candidates."""
    for scenario in scenarios:
        if not scenario.steps:
            raise ConfigError(str(scenario.path), f"scenario {scenario.name!r} has no steps", scenario.line)
        for step in scenario.steps:
            if any(entry.matches(step.type, step.text) for entry in vocabulary):
                continue
            hint = _closest(step, vocabulary)
            raise ConfigError(str(scenario.path), f'unknown step: {step.keyword} {step.text}{hint}', step.line)


def _closest(step: PlannedStep, vocabulary: Sequence[StepEntry], count: int = 5) -> str:
    """The ``count`` step patterns of the same type most like ``step``, for the one-line error.

    Each pattern is the first line of its definition's docstring (the rest explains it). Likeness is
    the words the two share first (a typo keeps most of them), then the character similarity."""
    patterns = [e.doc.splitlines()[0] for e in vocabulary if e.type == step.type and e.doc]
    words = set(_WORD.findall(step.text.lower()))

    def likeness(pattern: str) -> tuple[int, float]:
        shared = len(words & set(_WORD.findall(pattern.lower())))
        return shared, SequenceMatcher(None, step.text.lower(), pattern.lower()).ratio()

    patterns.sort(key=likeness, reverse=True)
    return f"; closest {step.type} steps: " + " || ".join(patterns[:count]) if patterns else ""
