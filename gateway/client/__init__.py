"""The client command: ``sora-gateway generate|status|download``, talking to a gateway over its OpenAI API.

It uses httpx directly (already a runtime dependency; the gateway speaks the OpenAI API), reads the
base URL and key the way the official SDK does (``--base-url``/``--api-key`` or ``OPENAI_BASE_URL``/
``OPENAI_API_KEY``) and draws its progress bar with rich on stderr.
"""
