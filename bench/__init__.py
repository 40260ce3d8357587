"""Benchmarks: figures measured on a running system, printed as tables, never asserted in tests."""
