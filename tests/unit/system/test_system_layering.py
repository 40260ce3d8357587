"""The package layering holds: faults never reach up into system, and the local path never loads Docker."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from core.settings import PROJECT_ROOT

# Which of our packages each package may import (beyond itself); the layers above are not restricted.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "faults": {"core"},
    "monitoring": {"core"},
    "system": {"core", "faults"},
    "scenarios": {"core", "faults", "system", "monitoring"},
}
OURS = {*ALLOWED, "reports", "bench", "harness", "system_under_test"}


def _imported_packages(path: Path) -> set[str]:
    tops: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            tops.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops & OURS


def test_system_layering_each_package_imports_only_the_layers_below() -> None:
    """No module of core, faults, monitoring, system or scenarios imports a package above its layer."""
    wrong = [
        f"{path.relative_to(PROJECT_ROOT)} imports {other}"
        for package, allowed in ALLOWED.items()
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
        for other in sorted(_imported_packages(path) - allowed - {package})
    ]
    assert wrong == []


def test_system_local_backend_loads_no_docker_code(tmp_path: Path) -> None:
    """A local ManagedSystem is built without importing the Docker SDK or the Docker backend's modules."""
    script = f"""
import sys
from pathlib import Path
from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, load_topology
from system import ManagedSystem
system = ManagedSystem(load_topology(DEFAULT_TOPOLOGY), HarnessSettings.from_env({{}}).with_overrides(state_dir=Path({str(tmp_path)!r})))
system.close()
print(sorted(name for name in sys.modules if name == "docker" or name.startswith(("docker.", "system.docker"))))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
