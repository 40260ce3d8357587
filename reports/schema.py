"""The JSON Schema of ``results.json`` (``results.schema.json``, draft 2020-12), and a check against it.

The schema is the contract for everything that reads a run besides this package: CI jobs, dashboards,
another team's tooling. Checking is optional at run time: ``jsonschema`` is a development dependency,
imported only when a check is asked for, so the harness itself never needs it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import UsageError

SCHEMA_PATH = Path(__file__).with_name("results.schema.json")


def load_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


def schema_errors(results: Mapping[str, Any]) -> list[str]:
    """Every place where ``results`` breaks the schema, as ``path.to.field: message``; empty when valid."""
    try:
        from jsonschema import Draft202012Validator
    except ImportError:
        raise UsageError("checking results.json needs the jsonschema package: pip install -e '.[dev]'") from None

    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
            for error in sorted(validator.iter_errors(results), key=lambda e: list(map(str, e.absolute_path)))]
