"""The scenario engine: Gherkin scenarios run under Locust load, the mode and breaker timeline, and the
assertions on it.

    features.py, vocabulary.py, preview.py   feature files checked and planned (``--dry-run``)
    runner.py -> plugin.py -> steps/          pytest-bdd runs the scenarios; steps parse and call
    context.py                                RunOptions and the per-run RunContext (system, load, journal)
    observer.py, metrics.py, prometheus.py    what the system says while it runs (/status, /metrics)
    load/                                     the load the scenarios ask for, driven in another process
    locust_runner/, stream_user.py, sse.py    that process: Locust users (imported only there: it
                                              monkey-patches with gevent)
    assertions.py, records.py, stream_metrics.py, results.py, outcome.py   verdicts and results.json
    doctor.py                                 the checks of ``harness doctor``

Layering: imports ``core``, ``faults``, ``system`` and ``monitoring``; never ``reports`` or ``bench``
(``reports`` reads only ``scenarios.outcome``).
"""
