"""Pieces every service of the reference system shares: probes, logs, metrics, env parsing, embeddings."""
