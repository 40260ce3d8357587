"""The LLM service: an OpenAI-compatible chat-completions server for the reference chatbot.

    POST /v1/chat/completions ──► embedded extractive generator (default: offline, deterministic,
                              │    paced like a model by LLM_BASE_DELAY_MS + tokens × LLM_TOKEN_DELAY_MS)
                              └─► or a real OpenAI-compatible server when LLM_UPSTREAM_URL is set

Modules, one concept each: ``settings`` (environment), ``text`` (language, tokens, terms),
``generator`` (the extractive answer), ``pacing`` (model-like delay), ``streaming`` (SSE framing),
``schema`` (OpenAI wire format), ``upstream`` (forwarding), ``metrics``, ``routes``, ``app``
(composition root). Run with ``python -m system_under_test.llm``.
"""
