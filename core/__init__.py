"""What the harness commands share: errors, settings, the topology model and the local supervisor.

This layer sits below ``faults/``, ``scenarios/`` and ``reports/`` and imports none of them.
"""
