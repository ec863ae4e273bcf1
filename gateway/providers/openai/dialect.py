"""Adapter for the OpenAI Videos API (``/v1/videos``), any version."""

from __future__ import annotations

import asyncio
import json as jsonlib
from pathlib import Path
from typing import Any

import httpx

from gateway.core.models import Reference
from gateway.upstreams.base import ContentStream, GenerationSpec, ListPage, UpstreamError, UpstreamVideo
from gateway.upstreams.http import HttpAdapter, UpstreamHttp

LIST_PAGE = 100
_KIND_PATHS = {"create": "/videos", "extend": "/videos/extensions", "edit": "/videos/edits"}


def parse_video(data: dict[str, Any], poll_after_ms: int | None = None) -> UpstreamVideo:
    return UpstreamVideo(
        id=str(data["id"]),
        status=str(data.get("status", "queued")),
        progress=int(data.get("progress") or 0),
        error=data.get("error"),
        expires_at=data.get("expires_at"),
        seconds=data.get("seconds"),
        size=data.get("size"),
        model=data.get("model"),
        poll_after_ms=poll_after_ms,
        prompt=data.get("prompt"),
        created_at=data.get("created_at"),
        remixed_from=data.get("remixed_from_video_id"),
    )


def _poll_after(response: httpx.Response) -> int | None:
    value = response.headers.get("openai-poll-after-ms")
    try:
        return int(value) if value else None
    except ValueError:
        return None


async def _file_part(ref: Reference, default_name: str, default_type: str) -> tuple[str, bytes, str]:
    """A kept upload as a multipart file part, read in a worker thread (never on the event loop)."""
    try:
        payload = await asyncio.to_thread(Path(str(ref.path)).read_bytes)
    except OSError:
        raise UpstreamError(400, f"The uploaded file {ref.filename or ''} is no longer available.") from None
    return ref.filename or default_name, payload, ref.content_type or default_type


class OpenAIVideosUpstream(HttpAdapter):
    """Speaks ``POST/GET/DELETE /videos…`` to an OpenAI-compatible base URL."""

    name = "openai"
    lists = True

    def __init__(self, base_url: str, api_key: str, *, http: UpstreamHttp | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or UpstreamHttp(self.base_url, {"Authorization": f"Bearer {api_key}"}, upstream=self.name)

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        headers = {"Idempotency-Key": spec.idempotency_key} if spec.idempotency_key else {}
        if spec.kind == "remix":
            path, body = f"/videos/{spec.source_id}/remix", {"prompt": spec.prompt}
            response = await self.http.request("POST", path, operation="remix", json=body, headers=headers)
            return parse_video(response.json(), _poll_after(response))
        path = _KIND_PATHS[spec.kind]
        fields: dict[str, Any] = {"prompt": spec.prompt}
        files: dict[str, tuple[str, bytes, str]] = {}
        if spec.kind == "create":
            fields.update(model=spec.model, size=spec.size, seconds=str(spec.seconds))
        elif spec.source_file is not None and spec.source_file.path:
            files["video"] = await _file_part(spec.source_file, "video.mp4", "video/mp4")
        else:
            fields.update(video={"id": spec.source_id})
        if spec.kind == "extend":
            fields.update(seconds=str(spec.seconds))
        ref = spec.reference
        if ref is not None and ref.path:
            files["input_reference"] = await _file_part(ref, "reference", "application/octet-stream")
        elif ref is not None:
            fields["input_reference"] = {k: v for k, v in (("image_url", ref.image_url), ("file_id", ref.file_id)) if v}
        if files:
            data = {k: v if isinstance(v, str) else jsonlib.dumps(v) for k, v in fields.items()}
            response = await self.http.request(
                "POST", path, operation=spec.kind, data=data, files=files, headers=headers
            )
        else:
            response = await self.http.request("POST", path, operation=spec.kind, json=fields, headers=headers)
        return parse_video(response.json(), _poll_after(response))

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        response = await self.http.request("GET", f"/videos/{upstream_id}", operation="retrieve")
        return parse_video(response.json(), _poll_after(response))

    async def delete(self, upstream_id: str) -> None:
        await self.http.request("DELETE", f"/videos/{upstream_id}", operation="delete")

    async def list_page(self, after: str | None = None) -> ListPage:
        """``GET /videos?order=desc&limit=100[&after=id]``."""
        params: dict[str, str | int] = {"order": "desc", "limit": LIST_PAGE}
        if after:
            params["after"] = after
        response = await self.http.request("GET", "/videos", operation="list", params=params)
        page = response.json()
        videos = [parse_video(item) for item in page.get("data") or []]
        return ListPage(videos, bool(page.get("has_more")), _poll_after(response))

    async def list_models(self) -> list[dict[str, Any]]:
        response = await self.http.request("GET", "/models", operation="models")
        return list(response.json().get("data", []))

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        headers = {"Range": range_header} if range_header else {}
        return await self.http.stream(
            f"/videos/{upstream_id}/content", params={"variant": variant}, headers=headers, operation="content"
        )

    async def moderate(self, text: str) -> dict[str, Any]:
        """``POST /moderations``: OpenAI's moderation verdict on ``text`` (``results[0].flagged``)."""
        body = {"input": text, "model": "omni-moderation-latest"}
        response = await self.http.request("POST", "/moderations", operation="moderations", json=body)
        return dict(response.json())

    async def complete_chat(self, model: str, messages: list[dict[str, str]], *, timeout_s: float = 30.0) -> str:
        """``POST /chat/completions``: the first choice's text (prompt enhancement)."""
        body = {"model": model, "messages": messages}
        response = await self.http.request(
            "POST", "/chat/completions", operation="chat_completions", json=body, timeout=timeout_s
        )
        try:
            text = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise UpstreamError(502, "The upstream's chat completion had no text.") from None
        if not isinstance(text, str) or not text.strip():
            raise UpstreamError(502, "The upstream's chat completion had no text.")
        return text.strip()

    async def forward(
        self, method: str, path: str, *, json: Any = None, files: Any = None, data: Any = None
    ) -> tuple[int, Any]:
        try:
            response = await self.http.request(method, path, operation="forward", json=json, files=files, data=data)
        except UpstreamError as exc:
            if exc.client_fault:
                return self.refusal(exc.status, exc.message, type=exc.type, param=exc.param, code=exc.code)
            raise
        return response.status_code, response.json()
