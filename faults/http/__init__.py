"""The HTTP fault layer: faults a TCP proxy cannot make (statuses, rate limits, broken streams).

    caller ──> Toxiproxy ──> HTTP fault proxy (one process, one listener per route) ──> callee
                                   ^
                                   │ JSON control API (PUT routes, POST faults, POST /reset)
                              the harness

Two halves live here. The proxy server, a separate process the harness starts:
``server.py`` (process, control API), ``proxy.py`` (one route's listener and forwarding),
``rules.py`` and ``params.py`` (a fault rule: validation, matching, token bucket, Retry-After),
``streams.py`` (SSE events and body rewrites), ``metrics.py`` (Prometheus text). The harness side
(``specs.py`` fault specs, ``client.py`` the control-API client, ``lifecycle.py`` and ``manager.py``
starting the process and its routes, ``injector.py``) talks to it over HTTP only, exactly as the
network faults talk to Toxiproxy; it never imports the server's modules.
"""
