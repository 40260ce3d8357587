"""A benchmark server in a child process: started, waited for until it accepts, stopped by PID.

Servers a benchmark measures against (the hop's upstream, the trivial ``/chat`` endpoint) run in
their own process, so their work is not the measuring process's GIL's.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from core.errors import InfrastructureError
from core.settings import PROJECT_ROOT

HOST = "127.0.0.1"


def connects(port: int, host: str = HOST) -> bool:
    """Whether something accepts TCP connections on ``host:port`` now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def child_server(module_args: Sequence[str], port: int, timeout_s: float = 10.0) -> Iterator[None]:
    """Run ``python -m <module_args...>`` until it accepts on ``port``; stop it by PID on the way out."""
    process = subprocess.Popen([sys.executable, "-m", *module_args], cwd=PROJECT_ROOT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while not connects(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise InfrastructureError(f"{module_args[0]} did not start accepting on port {port}")
            time.sleep(0.02)
        yield
    finally:
        process.terminate()  # by PID: the process this function started
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port(host: str = HOST) -> int:
    """A port the kernel says is free now (from the ephemeral range: for servers no user configures)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
