"""The connection to the Docker engine: the one place the Docker SDK is loaded and a client is made.

The SDK is imported on first use, so the harness (local backend, catalogue, CLI) starts without it.
It ships no type information: it is reached through ``importlib`` and its objects are typed ``Any``
under the aliases below, which say what a value is.
"""

from __future__ import annotations

import importlib
import math
import socket
from types import ModuleType
from typing import Any

from core.errors import DockerError

from .errors import UNREACHABLE_HINT, translated

Client = Any  # docker.DockerClient
Container = Any  # docker.models.containers.Container


def sdk() -> ModuleType:
    """The Docker SDK module (``docker``), imported on first use."""
    return importlib.import_module("docker")


def connect(timeout_s: float) -> Client:
    """A client for the engine named by ``DOCKER_HOST`` (and its TLS variables), as the docker CLI
    reads them, defaulting to the local socket; API version negotiated with the engine."""
    docker = sdk()
    with translated("connect to the Docker engine"):
        options = docker.utils.kwargs_from_env()
        check_unix_socket(options.get("base_url") or docker.constants.DEFAULT_UNIX_SOCKET, timeout_s)
        return docker.DockerClient(version="auto", timeout=math.ceil(timeout_s), **options)


def check_unix_socket(base_url: str, timeout_s: float) -> None:
    """Fail fast, and cleanly, when the engine's socket does not answer. The SDK leaks the socket of a
    failed connect (an unclosed-socket ResourceWarning later), so the common "engine not started" case
    is caught here, before the SDK opens anything. Other schemes (tcp, ssh) are left to the SDK."""
    scheme, _, path = base_url.partition("://")
    if scheme not in {"unix", "http+unix"}:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(path)
        except PermissionError:
            raise DockerError(f"permission denied on the Docker socket {path}: run as root or join the docker group") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise DockerError(f"cannot reach the Docker engine at {path} ({reason}): {UNREACHABLE_HINT}") from None
