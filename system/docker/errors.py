"""The Docker backend's error boundary: whatever the SDK or its HTTP transport raises becomes one
``DockerError`` with a one-line message that says what the harness was doing and what to do next.

    docker.errors.APIError (incl. NotFound)       -> "<action>: <the engine's explanation>"
    requests ConnectionError, engine unreachable  -> "cannot reach the Docker engine ...: is the engine
                                                      running? run scripts/setup.sh"
    requests Timeout                              -> "<action>: the Docker engine did not answer in time"
    permission denied on the socket               -> "... run as root or join the docker group"
    any other docker.errors.DockerException       -> "<action>: <message>"

The SDK (and ``requests``, which it brings) are imported only when an error is being translated, so
importing the harness never imports them.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import DockerError, HarnessError

UNREACHABLE_HINT = "is the engine running? run scripts/setup.sh"


def _one_line(text: object) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def translate(action: str, exc: BaseException) -> DockerError | None:
    """The ``DockerError`` for ``exc`` raised while doing ``action``; None when it is neither a Docker
    nor a transport error (those, the harness's own errors included, propagate untouched)."""
    if isinstance(exc, HarnessError):
        return None
    errors = importlib.import_module("docker.errors")
    transport = importlib.import_module("requests.exceptions")
    if isinstance(exc, errors.APIError):
        # Checked first: an APIError is also a requests HTTPError. The explanation is the engine's words.
        reason = exc.response.reason if exc.response is not None else None
        return DockerError(f"{action}: {_one_line(exc.explanation or reason or exc)}")
    if not isinstance(exc, errors.DockerException | transport.RequestException):
        return None
    text = _one_line(exc)
    if "Permission denied" in text:
        return DockerError(f"{action}: permission denied on the Docker socket: run as root or join the docker group")
    if isinstance(exc, transport.Timeout):
        return DockerError(f"{action}: the Docker engine did not answer in time")
    # A missing or refusing socket is a ConnectionError, or, when the SDK first asks for the API
    # version, a plain DockerException wrapping one.
    if isinstance(exc, transport.ConnectionError) or "Error while fetching server API version" in text:
        return DockerError(f"cannot reach the Docker engine ({action}: {text[:200]}): {UNREACHABLE_HINT}")
    return DockerError(f"{action}: {text}")


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Run the block; re-raise any Docker or transport error as ``DockerError`` (without the SDK's
    traceback, which says nothing a user can act on)."""
    try:
        yield
    except Exception as exc:
        error = translate(action, exc)
        if error is None:
            raise
        raise error from None
