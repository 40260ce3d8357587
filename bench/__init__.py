"""Benchmarks: figures measured on a running system (``harness bench``) and the detection matrix
(``python -m bench.detection``), printed as tables, never asserted in tests.

The top of the layering with ``harness.py``: it may import every package of the harness; none of them
imports it (its table and page are drawn by ``reports``).
"""
