r"""The reference RAG chatbot: three FastAPI services that the harness exercises.

    gateway (POST /chat) --> vector-db (search, answer cache)
                        \--> LLM (OpenAI-compatible completions)

The gateway reaches both dependencies only through the addresses it is given (Toxiproxy in a harness
run), and implements timeouts, deadlines, retries, circuit breakers and four operating modes. This
package never imports the harness: the harness reaches it only over HTTP, signals, Docker and Toxiproxy,
exactly as it would reach a user's system.
"""
