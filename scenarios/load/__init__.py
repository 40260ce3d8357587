"""The engine's side of the load: Locust runs in a child process that this package starts, steers and reads.

    spec      what load a scenario asks for, validated when built (``LoadSpec``) and the load's bounds
    protocol  the commands and events between the driver and the runner process, shared by both sides
    driver    ``LoadDriver``: starts the runner process, sends commands, waits for events, stops it
    readers   the runner's output read back: stdout lines as events, record files as ``RequestRecord``s

The runner itself is ``scenarios.locust_runner``, a package only its own process imports (importing
Locust monkey-patches the process with gevent); nothing in this package imports Locust or gevent.
"""
