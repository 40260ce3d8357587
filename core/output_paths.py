"""Checks that an output path given on the command line can be written, made before anything starts.

    check_output_dir(flag, path)    --out RUN_DIR: a directory, or creatable under a writable directory
    check_output_file(flag, path)   --junit FILE, report --out FILE: not a directory, its folder creatable

A run writes its results only at the end. Without these checks a ``--junit`` under a regular file or an
``--out`` that names a file fails minutes later, after the system was started and the scenarios ran,
with an ``OSError`` instead of a usage error. Nothing is created here: a dry run stays side-effect free.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import UsageError


def check_output_dir(flag: str, path: Path) -> None:
    """Raise ``UsageError`` naming ``flag`` unless ``path`` is, or can be made, a writable directory."""
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{flag} {path}: exists and is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{flag} {path}: the directory is not writable")
        return
    _check_creatable(flag, path)


def check_output_file(flag: str, path: Path) -> None:
    """Raise ``UsageError`` naming ``flag`` unless ``path`` can be written as a file."""
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a directory, give a file name")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise UsageError(f"{flag} {path}: the file is not writable")
        return
    _check_creatable(flag, path)


def _check_creatable(flag: str, path: Path) -> None:
    """The nearest existing ancestor of ``path`` must be a writable directory (the rest is made later)."""
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{flag} {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: cannot create it, {ancestor} is not writable")
