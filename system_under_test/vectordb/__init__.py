"""The vector-db service: passage search over the bundled support corpus, and a semantic answer cache.

    POST /search        {"query", "top_k"}   -> {"hits": [{"id", "title", "text", "score"}]}
    POST /cache/search  {"query"}            -> {"hit": {"query", "answer", "similarity"} | null}
    POST /cache/put     {"query", "answer"}  -> 204

    corpus.jsonl --load--> Passage[] --HashingEmbedder--> Index (numpy | qdrant) <-- /search
                                                           SemanticCache        <-- /cache/*

The gateway calls it through Toxiproxy; the chaos scenarios kill, pause and slow it down, so it starts
fast (well under a second), keeps no state worth losing, and says "not ready" until its index is built.
"""

from __future__ import annotations

from system_under_test.vectordb.app import create_app
from system_under_test.vectordb.settings import VectorDbSettings, from_env

__all__ = ["VectorDbSettings", "create_app", "from_env"]
