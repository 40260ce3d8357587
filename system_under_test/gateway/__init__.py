"""The chatbot gateway: ``POST /chat`` with timeouts, deadlines, retries, breakers and four modes."""
