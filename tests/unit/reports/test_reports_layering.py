"""Reports stand on results files alone: no module of reports imports bench."""

from __future__ import annotations

import ast

from core.settings import PROJECT_ROOT


def test_reports_layering_no_module_imports_bench() -> None:
    """Every reports module reads bench.json through its own code, never through the bench package."""
    wrong = []
    for path in sorted((PROJECT_ROOT / "reports").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            wrong += [f"{path.name} imports {n}" for n in names if n.split(".")[0] == "bench"]
    assert wrong == []
