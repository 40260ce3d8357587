"""Network faults in place: the live handles of the specs in ``faults.network_specs``, and their injector.

    spec (validated, frozen)        Toxiproxy                          handle.revert()
    ─────────────────────────       ────────────────────────────       ──────────────────────────
    Latency, Bandwidth, SlowClose,  one toxic per stream: BOTH is      removes exactly its toxics
    Slicer, LimitData, ResetPeer,   two toxics (upstream+downstream)   (already gone is fine)
    Blackhole, TimeoutClose,
    OneWayPartition
    Partition                       PATCH enabled=false: new connects  enables the proxy
                                    refused, open ones closed
    Flap                            Partition toggled by a thread      stops the thread, enables

Every toxic we add is named ``harness-<kind>-<id>-<stream>`` so stale cleanup and people reading
``GET /proxies`` can tell ours.
"""

from __future__ import annotations

import secrets
import threading
import time

from core.errors import ToxiproxyError
from core.topology import Topology

from .base import FaultHandle, FaultSpec
from .network_specs import Flap, NetworkFault, Partition, ToxicFault, resolve_edge
from .toxiproxy import Toxic, ToxiproxyAPIError, ToxiproxyClient

TOXIC_PREFIX = "harness-"


# -- handles -------------------------------------------------------------------------------------


class ToxicHandle(FaultHandle):
    """Toxics in place on one proxy; reverting removes exactly those (a vanished one is fine)."""

    def __init__(self, spec: ToxicFault, client: ToxiproxyClient, proxy: str, toxics: tuple[str, ...]) -> None:
        super().__init__(spec)
        self.proxy, self.toxics = proxy, toxics
        self._client = client

    def _revert(self) -> None:
        for name in self.toxics:
            self._client.remove_toxic(self.proxy, name, missing_ok=True)


class PartitionHandle(FaultHandle):
    """A disabled proxy; reverting enables it again (a proxy that no longer exists is fine)."""

    def __init__(self, spec: NetworkFault, client: ToxiproxyClient, proxy: str) -> None:
        super().__init__(spec)
        self.proxy = proxy
        self._client = client

    def _revert(self) -> None:
        _enable(self._client, self.proxy)


class FlapHandle(PartitionHandle):
    """A proxy toggled down and up by a background thread until the duration ends or revert."""

    def __init__(self, spec: Flap, client: ToxiproxyClient, proxy: str) -> None:
        super().__init__(spec, client, proxy)
        self._flap = spec
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._transitions: list[tuple[float, bool]] = []
        self.error: ToxiproxyError | None = None  # what stopped the thread early, if anything
        self._thread = threading.Thread(target=self._run, name=f"flap-{proxy}", daemon=True)

    @property
    def transitions(self) -> list[tuple[float, bool]]:
        """``(time.monotonic(), enabled)`` for every change the flapping made, oldest first."""
        with self._lock:
            return list(self._transitions)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        """Take the link down now (so the fault is in effect when inject returns), then flap."""
        self._set(False)
        self._thread.start()

    def _set(self, enabled: bool) -> None:
        self._client.set_enabled(self.proxy, enabled)
        with self._lock:
            self._transitions.append((time.monotonic(), enabled))

    def _run(self) -> None:
        spec = self._flap
        started = self.transitions[0][0]
        end = started + spec.duration_s
        boundary, enabled = started, False
        try:
            while True:
                # Phase boundaries come from the start time, so API call time does not add drift.
                boundary = min(boundary + (spec.up_s if enabled else spec.down_s), end)
                if self._stop.wait(max(0.0, boundary - time.monotonic())) or boundary >= end:
                    break
                enabled = not enabled
                self._set(enabled)
        except ToxiproxyError as exc:
            self.error = exc
        finally:
            try:
                if not self.transitions[-1][1]:
                    self._set(True)
            except ToxiproxyError as exc:
                self.error = self.error or exc

    def _revert(self) -> None:
        self._stop.set()
        # The thread only blocks in an API call, which the client's timeout bounds.
        self._thread.join(timeout=self._client.timeout_s * 2 + 1)
        _enable(self._client, self.proxy)


def _enable(client: ToxiproxyClient, proxy: str) -> None:
    try:
        client.enable(proxy)
    except ToxiproxyAPIError as exc:
        if exc.status != 404:
            raise


# -- the injector --------------------------------------------------------------------------------


class NetworkInjector:
    """Puts network faults in place through a Toxiproxy client, on the proxies of a topology."""

    def __init__(self, client: ToxiproxyClient, topology: Topology) -> None:
        self._client = client
        self._topology = topology

    def supports(self, spec: FaultSpec) -> bool:
        return isinstance(spec, NetworkFault)

    def inject(self, spec: FaultSpec) -> FaultHandle:
        """Validate and resolve the spec (nothing sent yet), then apply it; all or nothing."""
        if not isinstance(spec, NetworkFault):
            raise TypeError(f"not a network fault: {spec!r}")
        spec.validate()
        proxy = resolve_edge(self._topology, spec).name
        if isinstance(spec, ToxicFault):
            return self._add_toxics(spec, proxy)
        if isinstance(spec, Flap):
            handle = FlapHandle(spec, self._client, proxy)
            handle.start()
            return handle
        if isinstance(spec, Partition):
            self._client.disable(proxy)
            return PartitionHandle(spec, self._client, proxy)
        raise TypeError(f"no network injection for {spec.kind!r}")

    def _add_toxics(self, spec: ToxicFault, proxy: str) -> ToxicHandle:
        token = secrets.token_hex(3)
        added: list[str] = []
        try:
            for stream in spec.streams():
                toxic = Toxic(
                    name=f"{TOXIC_PREFIX}{spec.kind}-{token}-{stream}",
                    type=spec.toxic_type,
                    stream=stream,
                    toxicity=spec.toxicity(),
                    attributes=spec.attributes(),
                )
                self._client.add_toxic(proxy, toxic)
                added.append(toxic.name)
        except BaseException:
            for name in added:  # no half faults: the first stream's toxic goes if the second fails
                try:
                    self._client.remove_toxic(proxy, name, missing_ok=True)
                except ToxiproxyError:
                    pass  # the original error matters more; stale cleanup will find it by its prefix
            raise
        return ToxicHandle(spec, self._client, proxy, tuple(added))
