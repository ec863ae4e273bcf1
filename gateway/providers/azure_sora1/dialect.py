"""Adapter for Azure OpenAI Sora 1 (the preview "video generation jobs" API).

``POST {base}/video/generations/jobs?api-version=preview`` with ``model, prompt, width, height,
n_seconds, n_variants``; jobs move through ``preprocessing, queued, running, processing`` to
``succeeded | failed | cancelled``; the video of a succeeded job is its first generation's
``GET {base}/video/generations/{generation_id}/content/video``. ``base`` is the resource's
``https://<name>.openai.azure.com/openai/v1``; the key goes in the ``api-key`` header.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cachetools import LRUCache

from gateway.upstreams.base import ContentStream, GenerationSpec, ListPage, UpstreamError, UpstreamVideo
from gateway.upstreams.http import HttpAdapter, UpstreamHttp

API_VERSION = "preview"
JOBS = "/video/generations/jobs"
# Azure status -> (gateway status, progress shown while in it)
STATUSES: dict[str, tuple[str, int]] = {
    "preprocessing": ("queued", 0),
    "queued": ("queued", 5),
    "running": ("in_progress", 30),
    "processing": ("in_progress", 80),
    "succeeded": ("completed", 100),
    "failed": ("failed", 0),
    "cancelled": ("failed", 0),
}
# Azure failure_reason -> the OpenAI error code the gateway speaks (moderation is never retried)
FAILURES: dict[str, str] = {
    "input_moderation": "moderation_blocked",
    "output_moderation": "moderation_blocked",
    "internal_error": "video_generation_failed",
}
VARIANTS = {"video": "video", "thumbnail": "thumbnail"}
LIST_PAGE = 100
GENERATIONS_MAX = 10_000  # remembered job -> generation ids (an LRU; older ones are retrieved again)


def azure_base(base_url: str) -> str:
    """The jobs API base for a configured upstream URL.

    An Azure base already names ``/openai/...`` and is used as is; a plain host (or an OpenAI-style
    ``…/v1`` base, as the SDK's ``base_url`` takes it) gets ``/openai/v1`` on its origin.
    """
    base = base_url.rstrip("/")
    parts = urlsplit(base)
    if "/openai" in parts.path:
        return base
    return urlunsplit((parts.scheme, parts.netloc, "/openai/v1", "", ""))


def parse_job(data: dict[str, Any]) -> UpstreamVideo:
    raw = str(data.get("status", "queued"))
    status, progress = STATUSES.get(raw, ("queued", 0))
    error = None
    if status == "failed":
        reason = str(data.get("failure_reason") or raw)
        error = {"code": FAILURES.get(reason, reason), "message": f"Azure job {raw}: {reason}."}
    generations = data.get("generations") or []
    width, height = data.get("width"), data.get("height")
    return UpstreamVideo(
        id=str(data["id"]),
        status=status,
        progress=progress,
        error=error,
        expires_at=data.get("expires_at"),
        seconds=str(data["n_seconds"]) if data.get("n_seconds") is not None else None,
        size=f"{width}x{height}" if width and height else None,
        model=data.get("model"),
        content_ids={"generation": str(generations[0]["id"])} if generations else {},
        prompt=data.get("prompt"),
        created_at=data.get("created_at"),
    )


class AzureSora1Upstream(HttpAdapter):
    """Speaks the Azure jobs API; one generation (``n_variants: 1``) per job."""

    name = "azure"
    title = "Azure Sora 1"  # in refusals: "not offered by the Azure Sora 1 upstream"
    # Azure Sora 1 has no moderation endpoint (it moderates each job: ``input_moderation``)
    # A Sora 1 resource has no chat deployment the gateway knows of: prompts are not enhanced
    lists = True

    def __init__(self, base_url: str, api_key: str, *, http: UpstreamHttp | None = None) -> None:
        self.base_url = azure_base(base_url)
        self.http = http or UpstreamHttp(
            self.base_url, {"api-key": api_key}, upstream=self.name, params={"api-version": API_VERSION}
        )
        # job id -> generation id; bounded: a forgotten one is looked up again with a retrieve
        self._generations: LRUCache[str, str] = LRUCache(maxsize=GENERATIONS_MAX)

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        if spec.kind != "create":
            raise UpstreamError(400, f"Azure Sora 1 has no {spec.kind} operation.", code="unsupported_by_upstream")
        width, _, height = spec.size.partition("x")
        body = {
            "model": spec.model,
            "prompt": spec.prompt,
            "width": int(width),
            "height": int(height),
            "n_seconds": spec.seconds,
            "n_variants": 1,
        }
        headers = {"Idempotency-Key": spec.idempotency_key} if spec.idempotency_key else {}
        response = await self.http.request("POST", JOBS, operation="create", json=body, headers=headers)
        return self._remember(parse_job(response.json()))

    def _remember(self, video: UpstreamVideo) -> UpstreamVideo:
        if "generation" in video.content_ids:
            self._generations[video.id] = video.content_ids["generation"]
        return video

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        response = await self.http.request("GET", f"{JOBS}/{upstream_id}", operation="retrieve")
        return self._remember(parse_job(response.json()))

    async def delete(self, upstream_id: str) -> None:
        self._generations.pop(upstream_id, None)
        await self.http.request("DELETE", f"{JOBS}/{upstream_id}", operation="delete")

    async def list_page(self, after: str | None = None) -> ListPage:
        """``GET …/jobs?limit=100[&after=id]`` (newest first)."""
        params: dict[str, str | int] = {"limit": LIST_PAGE}
        if after:
            params["after"] = after
        page = (await self.http.request("GET", JOBS, operation="list", params=params)).json()
        jobs = [self._remember(parse_job(item)) for item in page.get("data") or []]
        return ListPage(jobs, bool(page.get("has_more")))

    async def list_models(self) -> list[dict[str, Any]]:
        response = await self.http.request("GET", "/models", operation="models")
        return list(response.json().get("data", []))

    async def _generation(self, upstream_id: str) -> str:
        known = self._generations.get(upstream_id)
        if known is not None:
            return known
        video = await self.retrieve(upstream_id)
        if "generation" not in video.content_ids:
            raise UpstreamError(404, f"Azure job {upstream_id} has no generation (status {video.status}).")
        return video.content_ids["generation"]

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        if variant not in VARIANTS:
            raise UpstreamError(404, f"Azure Sora 1 has no {variant}.", code="not_found")
        generation = await self._generation(upstream_id)
        headers = {"Range": range_header} if range_header else {}
        return await self.http.stream(
            f"/video/generations/{generation}/content/{VARIANTS[variant]}", headers=headers, operation="content"
        )
