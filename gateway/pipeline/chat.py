"""The chat model prompt enhancement asks: an OpenAI-compatible ``POST {enhance_url}/chat/completions`` of its own.

The video providers behind the face (Veo, Kling, Runway, …) have no chat endpoint, so enhancement may name one
(settings ``enhance_url``, ``enhance_api_key_env``, ``enhance_model``): OpenAI itself, Azure OpenAI's v1 API, a
local Ollama or vLLM, any server that answers the Chat Completions shape. Without ``enhance_url`` the first
upstream is asked, as before (an OpenAI-dialect upstream answers; one without chat makes enhancement fall back).
The key is read from the environment variable ``enhance_api_key_env`` names and sent as a bearer token; it is
never logged nor returned.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from gateway.upstreams.base import UpstreamError


class ChatModel(Protocol):
    async def complete_chat(self, model: str, messages: list[dict[str, str]], *, timeout_s: float = 30.0) -> str | None:
        """The first choice's text; ``None``: no chat model here (enhancement falls back, saying so)."""


class ChatEndpoint:
    """``POST {base_url}/chat/completions`` with ``Authorization: Bearer <key>`` (no header without a key)."""

    def __init__(self, base_url: str, api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._client = httpx.AsyncClient(headers=headers, follow_redirects=False)
        return self._client

    async def complete_chat(self, model: str, messages: list[dict[str, str]], *, timeout_s: float = 30.0) -> str:
        body = {"model": model, "messages": messages}
        try:
            response = await self._http().post(f"{self.base_url}/chat/completions", json=body, timeout=timeout_s)
        except httpx.HTTPError:
            raise UpstreamError(
                0, "The enhancement chat endpoint could not be reached.", code="chat_unreachable"
            ) from None
        if response.status_code >= 400:
            raise UpstreamError(response.status_code, "The enhancement chat endpoint refused the request.")
        try:
            text = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            text = None
        if not isinstance(text, str) or not text.strip():
            raise UpstreamError(502, "The enhancement chat endpoint's answer had no text.", code="chat_no_text")
        return text.strip()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
