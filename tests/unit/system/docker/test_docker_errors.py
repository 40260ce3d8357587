"""The Docker error boundary: every SDK and transport failure becomes a one-line DockerError."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import requests
import requests.exceptions

from core.errors import DockerError, ExitCode, FaultError
from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, load_topology
from system.docker.containers import DockerBackend
from system.docker.errors import UNREACHABLE_HINT, translate, translated

# The SDK ships no type information; imported like system.docker.engine does, so mypy needs no exception for it.
sdk_errors: Any = importlib.import_module("docker.errors")


def api_error(status: int, explanation: str | None) -> Exception:
    response = requests.Response()
    response.status_code = status
    response.reason = "Conflict"
    error: Exception = sdk_errors.APIError("409 Client Error", response=response, explanation=explanation)
    return error


def test_translate_api_error_keeps_the_engines_explanation_on_one_line() -> None:
    """The engine's explanation, whitespace folded, follows what the harness was doing."""
    error = translate("pause c1", api_error(409, "Container c1 is not running\n  (exited)"))
    assert isinstance(error, DockerError)
    assert str(error) == "pause c1: Container c1 is not running (exited)"
    assert error.exit_code == ExitCode.INFRASTRUCTURE


def test_translate_api_error_without_explanation_uses_the_http_reason() -> None:
    """An error body the SDK could not read still yields the HTTP reason."""
    assert str(translate("stop c1", api_error(409, None))) == "stop c1: Conflict"


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError("('Connection aborted.', FileNotFoundError(2, 'No such file'))"),
        sdk_errors.DockerException("Error while fetching server API version: ('Connection aborted.')"),
    ],
)
def test_translate_unreachable_engine_says_how_to_start_it(exc: Exception) -> None:
    """A missing socket, raw or wrapped by the SDK's version check, tells the user to run the setup."""
    message = str(translate("list containers", exc))
    assert message.startswith("cannot reach the Docker engine")
    assert message.endswith(UNREACHABLE_HINT)


def test_translate_permission_denied_names_the_fix() -> None:
    """A socket the user may not open says to run as root or join the docker group."""
    exc = requests.exceptions.ConnectionError("('Connection aborted.', PermissionError(13, 'Permission denied'))")
    assert "join the docker group" in str(translate("list containers", exc))


def test_translate_timeout_says_the_engine_did_not_answer() -> None:
    """A read timeout is reported as the engine being too slow, not as unreachable."""
    assert str(translate("stop c1", requests.exceptions.ReadTimeout("x"))) == "stop c1: the Docker engine did not answer in time"


def test_translate_leaves_other_errors_alone() -> None:
    """Errors that are not Docker's or the transport's, including the harness's own, are not translated."""
    assert translate("x", KeyError("k")) is None
    assert translate("x", FaultError("Permission denied while fetching server API version")) is None


def test_translated_reraises_as_docker_error_without_the_sdk_traceback() -> None:
    """The context manager raises DockerError from None, and passes other exceptions through."""
    with pytest.raises(DockerError) as info:
        with translated("kill c1"):
            raise sdk_errors.NotFound("404", explanation="No such container: c1")
    assert str(info.value) == "kill c1: No such container: c1"
    assert info.value.__suppress_context__
    with pytest.raises(ValueError):
        with translated("kill c1"):
            raise ValueError("mine")


def test_backend_without_an_engine_raises_docker_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pointed at a socket nobody listens on, the backend's first call fails with the setup hint."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    settings = HarnessSettings.from_env({}).with_overrides(state_dir=tmp_path)
    with DockerBackend(load_topology(DEFAULT_TOPOLOGY), settings) as backend:
        with pytest.raises(DockerError, match="is the engine running"):
            backend.containers()
