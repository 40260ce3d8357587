"""Open a page in headless Chromium and report what a reader's browser would see: a test helper.

Driver: the Chrome DevTools Protocol over ``websocket-client``, not Playwright. The check needs five
calls (create a tab, record its network requests, navigate, evaluate an expression, take a screenshot),
which CDP gives directly; Playwright would add a Node.js driver process and a wheel of tens of MB, and
pins the browser revision it was built against, while this test must drive whatever Chromium Debian
ships (``scripts/setup-chromium.sh``). websocket-client is small, pure Python and typed.

    Chromium(--headless, --remote-debugging-port=0, own profile dir)
        └── writes DevToolsActivePort ──► ws://127.0.0.1:<port>/devtools/browser/<id>
             Target.createTarget + attachToTarget(flatten) ──► one session for the tab
             Network.enable (every request the tab makes) · Page.navigate · Page.loadEventFired
             Runtime.evaluate · Page.captureScreenshot

The debugging port listens on 127.0.0.1 only and is chosen by Chromium (port 0, read back from the
profile), so two runs never collide. The browser runs in its own session and is killed by its process
group in every case, including a failed assertion or a hung browser.

Run as a script it writes a screenshot of a report, for docs/images/:
``.venv/bin/python -m tests.integration.reports.browser REPORT.html OUT.png [WIDTH HEIGHT [SELECTOR]]``.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = Path("/usr/bin/chromium")
_TIMEOUT_S = 60.0

# What every <img> on the page says about itself once the page has loaded.
_IMAGES = "Array.from(document.images).map(i => ({src: i.src.slice(0, 40), complete: i.complete, " \
          "naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight}))"


class BrowserError(Exception):
    """Chromium did not start, or a DevTools call failed or timed out."""


@dataclass(frozen=True)
class PageView:
    """What loading one page showed: its images, every URL it requested, its size, and a screenshot."""

    images: list[dict[str, Any]]
    requests: list[str]
    height: int
    screenshot: bytes


class _Session:
    """One tab's DevTools session: numbered commands, with events collected while waiting for replies."""

    def __init__(self, ws: websocket.WebSocket, session_id: str | None = None) -> None:
        self._ws, self._session_id, self._next_id = ws, session_id, 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self._session_id is not None:
            message["sessionId"] = self._session_id
        self._ws.send(json.dumps(message))
        reply = self._receive(lambda m: m.get("id") == self._next_id, f"a reply to {method}")
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait_for(self, method: str) -> dict[str, Any]:
        """The first ``method`` event, whether it already arrived or is still to come."""
        for event in self.events:
            if event.get("method") == method:
                return event
        return self._receive(lambda m: m.get("method") == method, method)

    def _receive(self, wanted: Any, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + _TIMEOUT_S
        while True:
            self._ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                message: dict[str, Any] = json.loads(self._ws.recv())
            except websocket.WebSocketTimeoutException:
                raise BrowserError(f"no {what} within {_TIMEOUT_S:g}s") from None
            if "method" in message:
                self.events.append(message)
            if wanted(message):
                return message


@contextmanager
def chromium(binary: Path = CHROMIUM) -> Iterator[_Session]:
    """A headless Chromium with a fresh profile, as the browser-level DevTools session; killed on exit."""
    if not binary.exists():
        raise BrowserError(f"{binary} is missing: run scripts/setup-chromium.sh (Debian package 'chromium')")
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        args = [str(binary), "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={profile}",
                "about:blank"]
        if os.geteuid() == 0:
            # Chromium refuses to run its sandbox as root (CI containers); the page is our own file.
            args.insert(1, "--no-sandbox")
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        ws: websocket.WebSocket | None = None
        try:
            ws = websocket.create_connection(_browser_url(Path(profile), proc), timeout=_TIMEOUT_S,
                                             suppress_origin=True)
            yield _Session(ws)
        finally:
            _close(proc, ws)


def load(browser: _Session, page: Path, width: int = 1280, height: int = 1000, full_page: bool = True,
         from_selector: str | None = None) -> PageView:
    """Open ``page`` (a local file) in a new tab, wait for its load event, and describe what it shows.

    The screenshot is the whole page, or with ``full_page=False`` a ``height`` tall window starting at the
    top of the page or of the element ``from_selector`` names.
    """
    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    session_id = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    tab = _Session(browser._ws, session_id)  # noqa: SLF001 - the same socket, a different session
    tab.call("Network.enable")
    tab.call("Page.enable")
    tab.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
    navigation = tab.call("Page.navigate", url=page.resolve().as_uri())
    if navigation.get("errorText"):
        raise BrowserError(f"{page}: {navigation['errorText']}")
    tab.wait_for("Page.loadEventFired")
    images = _evaluate(tab, _IMAGES)
    page_height = int(_evaluate(tab, "document.documentElement.scrollHeight"))
    top = 0.0
    if from_selector is not None:
        top = float(_evaluate(tab, f"document.querySelector({json.dumps(from_selector)})"
                                   ".getBoundingClientRect().top + window.scrollY"))
    shot = tab.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                    clip={"x": 0, "y": top, "width": width, "height": page_height if full_page else height,
                          "scale": 1})
    requests = [str(e["params"]["request"]["url"]) for e in tab.events
                if e.get("method") == "Network.requestWillBeSent"]
    browser.call("Target.closeTarget", targetId=target)
    return PageView(images=images, requests=requests, height=page_height, screenshot=base64.b64decode(shot["data"]))


def _evaluate(tab: _Session, expression: str) -> Any:
    reply = tab.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
    if "exceptionDetails" in reply:
        raise BrowserError(f"{expression}: {reply['exceptionDetails']}")
    return reply["result"].get("value")


def _browser_url(profile: Path, proc: subprocess.Popen[bytes]) -> str:
    """The browser's DevTools URL, from the DevToolsActivePort file Chromium writes once it listens."""
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + _TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise BrowserError(f"chromium exited with {proc.returncode} before listening: {stderr}")
        lines = active.read_text().splitlines() if active.exists() else []
        if len(lines) >= 2:
            return f"ws://127.0.0.1:{int(lines[0])}{lines[1]}"
        time.sleep(0.05)  # polling a file Chromium writes; there is nothing to block on
    raise BrowserError(f"chromium did not listen within {_TIMEOUT_S:g}s")


def _close(proc: subprocess.Popen[bytes], ws: websocket.WebSocket | None) -> None:
    """Ask the browser to quit, so it reaps its own renderer, GPU and zygote processes; then SIGKILL
    whatever is left of its process group (all of it, when it hung or never answered) and reap it."""
    if ws is not None:
        try:
            _Session(ws).call("Browser.close")
            proc.wait(timeout=10)
        except (BrowserError, OSError, websocket.WebSocketException, subprocess.TimeoutExpired):
            pass  # the kill below does it
        finally:
            ws.close()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    if proc.stderr is not None:
        proc.stderr.close()


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 4, 5):
        print("usage: python -m tests.integration.reports.browser REPORT.html OUT.png [WIDTH HEIGHT [SELECTOR]]",
              file=sys.stderr)
        return 2
    width, height = (int(argv[2]), int(argv[3])) if len(argv) >= 4 else (1280, 1600)
    with chromium() as browser:
        view = load(browser, Path(argv[0]), width=width, height=height, full_page=False,
                    from_selector=argv[4] if len(argv) == 5 else None)
    Path(argv[1]).write_bytes(view.screenshot)
    print(f"{argv[1]}: {width}x{height} of a {view.height}px page, {len(view.images)} images")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
