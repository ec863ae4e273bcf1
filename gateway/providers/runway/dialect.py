"""Adapter for Runway's developer API (``https://api.dev.runwayml.com``).

Docs: https://docs.dev.runwayml.com/api/ (``POST /v1/text_to_video``, ``POST /v1/image_to_video``,
``GET``/``DELETE /v1/tasks/{id}``, ``GET /v1/organization``), .../api-details/versioning/,
.../errors/errors, .../errors/task-failures/, .../assets/inputs; the vendor SDK ``runwayml/sdk-python``.

Every call carries ``Authorization: Bearer <key>`` and ``X-Runway-Version: 2024-11-06``. Bodies are
camelCase JSON: ``model``, ``promptText``, ``ratio`` (the output in pixels, ``"1280:720"``), ``duration``
(a JSON integer), ``promptImage`` (image to video: an HTTPS URL or a data URI), ``negativePrompt``
(Veo models), ``audio`` (Veo 3.1 models: always ``true`` here). A create answers ``{"id"}``; the task
is polled (no webhooks, no listing) and a SUCCEEDED task's ``output[0]`` is a presigned URL on
Runway's CDN, downloaded WITHOUT the key; it expires (24-48 h) and a fresh GET of the task re-signs it.

Runway has no idempotency key and no listing: a create whose answer was lost cannot be found again,
so the gateway never re-sends it (the job fails ``upstream_outcome_unknown``); the SDK's own retry of
creates is not copied.
"""

from __future__ import annotations

from typing import Any

from cachetools import LRUCache

from gateway.core.models import Reference
from gateway.providers.runway.answers import POLL_FLOOR_MS, cdn_error, parse_task, read_error
from gateway.providers.runway.images import data_uri
from gateway.providers.runway.table import API_VERSION, PROFILES, WIRE, ratio_of
from gateway.upstreams.base import ContentStream, GenerationSpec, UpstreamError, UpstreamVideo
from gateway.upstreams.http import HttpAdapter, UpstreamHttp
from gateway.upstreams.signed import only_video, range_of, stream_signed, video_url_of

MAX_PROMPT_UNITS = 1000  # promptText: "up to 1000 characters (measured in UTF-16 code units)"
OUTPUTS_MAX = 10_000  # remembered task -> output URL (an LRU; a forgotten one is retrieved again)


def runway_base(base_url: str) -> str:
    """The API origin: a configured ``…/v1`` (as many clients write it) is taken off, the paths carry it."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def prompt_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def prompt_image(ref: Reference) -> str:
    """``promptImage``: an uploaded file as a data URI, an image URL as it is (Runway fetches HTTPS only)."""
    if ref.path:
        return await data_uri(ref)
    if ref.image_url and ref.image_url.lower().startswith("https://"):
        return ref.image_url
    raise UpstreamError(400, "Runway fetches only HTTPS image URLs.", code="invalid_value", param="input_reference")


def avoid(prompt: str, negative: str) -> str:
    """A negative prompt for a model without ``negativePrompt``, as the planner words it."""
    return f"{prompt.rstrip()}\n\nAvoid: {negative.strip().rstrip('.')}."


class RunwayUpstream(HttpAdapter):
    """Speaks Runway's task API; one output video per task."""

    name = "runway"
    title = "Runway"  # in refusals: "not offered by the Runway upstream"
    # Runway has no moderation endpoint (it fails a task with ``SAFETY.INPUT.*``)
    lists = False  # no listing endpoint: no status sweep, no reconciliation of a lost create

    def __init__(self, base_url: str, api_key: str, *, http: UpstreamHttp | None = None) -> None:
        self.base_url = runway_base(base_url)
        headers = {"Authorization": f"Bearer {api_key}", "X-Runway-Version": API_VERSION}
        self.http = http or UpstreamHttp(self.base_url, headers, upstream=self.name, errors=read_error)
        # the CDN: no Runway header at all (the presigned URL carries its own token)
        self.cdn = UpstreamHttp("", {}, upstream=self.name, errors=cdn_error)
        self.cdn.client.follow_redirects = True
        self._outputs: LRUCache[str, str] = LRUCache(maxsize=OUTPUTS_MAX)

    async def body(self, spec: GenerationSpec) -> tuple[str, dict[str, Any]]:
        """(path, JSON body) of a create, in Runway's words; refuses what Runway would refuse, before sending."""
        if spec.kind != "create":
            raise UpstreamError(400, f"Runway has no {spec.kind} operation.", code="unsupported_by_upstream")
        wire = WIRE.get(spec.model)
        prompt = spec.prompt
        if spec.negative_prompt and not (wire and wire.negative_prompt):
            prompt = avoid(prompt, spec.negative_prompt)
        if prompt_units(prompt) > MAX_PROMPT_UNITS:
            raise UpstreamError(
                400,
                f"Runway takes prompts of up to {MAX_PROMPT_UNITS} characters; this one has {prompt_units(prompt)} "
                "(with the gateway's clauses).",
                code="invalid_value",
                param="prompt",
            )
        body: dict[str, Any] = {"model": spec.model}
        ref = spec.reference
        if ref is not None:
            body["promptImage"] = await prompt_image(ref)
        body.update(promptText=prompt, ratio=ratio_of(spec.size), duration=spec.seconds)
        if wire is not None and wire.seed and spec.seed is not None:
            body["seed"] = spec.seed
        if wire is not None and wire.audio:
            body["audio"] = True
        if spec.negative_prompt and wire is not None and wire.negative_prompt:
            body["negativePrompt"] = spec.negative_prompt
        return ("/v1/image_to_video" if ref is not None else "/v1/text_to_video"), body

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        path, body = await self.body(spec)
        response = await self.http.request("POST", path, operation="create", json=body)
        try:
            task_id = str(response.json()["id"])
        except (ValueError, KeyError, TypeError):  # a task may exist: retryable, so never re-sent blind
            raise UpstreamError(502, "Runway's create answer named no task.") from None
        return UpstreamVideo(
            id=task_id,
            status="queued",
            seconds=str(spec.seconds),
            size=spec.size,
            model=spec.model,
            poll_after_ms=POLL_FLOOR_MS,
        )

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        response = await self.http.request("GET", f"/v1/tasks/{upstream_id}", operation="retrieve")
        video = parse_task(response.json())
        if "video" in video.content_ids:
            self._outputs[video.id] = video.content_ids["video"]
        return video

    async def delete(self, upstream_id: str) -> None:
        """Cancels a task still running, deletes a finished one's output (``DELETE /v1/tasks/{id}``)."""
        self._outputs.pop(upstream_id, None)
        try:
            await self.http.request("DELETE", f"/v1/tasks/{upstream_id}", operation="delete")
        except UpstreamError as exc:
            if exc.status != 404:  # already gone
                raise

    async def _output_url(self, upstream_id: str) -> str:
        return video_url_of(await self.retrieve(upstream_id), f"Runway task {upstream_id}")

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        """The task's video from its presigned URL; an expired URL is re-signed by one fresh GET of the task."""
        only_video(variant, "Runway")
        return await stream_signed(self.cdn, self._outputs, upstream_id, range_of(range_header), self._output_url)

    async def list_models(self) -> list[dict[str, Any]]:
        """The table's models, after ``GET /v1/organization``: a free read that proves the key and the host."""
        await self.http.request("GET", "/v1/organization", operation="models")
        return [{"id": m, "object": "model", "owned_by": "runway"} for m in PROFILES["runway"].models]

    async def close(self) -> None:
        await self.http.close()
        await self.cdn.close()
