"""What the harness commands share: errors, settings, the topology model, ports, state files, processes.

This layer sits below ``faults/``, ``monitoring/``, ``system/``, ``scenarios/`` and ``reports/`` and
imports none of them.
"""
