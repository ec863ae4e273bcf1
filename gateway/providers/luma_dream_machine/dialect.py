"""Adapter for Luma's Dream Machine API (``https://api.lumalabs.ai/dream-machine/v1``; ray-2, ray-flash-2).

Docs: Luma's OpenAPI spec (``lumalabs/lumaai-api`` ``openapi.yaml`` v1.1.0: ``POST /generations/video``,
``GET``/``DELETE /generations/{id}``, ``GET /generations?limit=&offset=``), the SDK generated from it
(``lumalabs/lumaai-python`` v1.18.1), https://docs.lumalabs.ai/docs/video-generation and the changelog
"Callbacks & Credits Balance" (https://docs.lumalabs.ai/changelog/callbacks-and-credits-balance).

Every call carries ``Authorization: Bearer <key>``. A create is ``POST /generations/video``::

    {"model": "ray-2", "generation_type": "video", "prompt": "...", "aspect_ratio": "16:9",
     "resolution": "720p", "duration": "5s", "keyframes": {"frame0": {"type": "image", "url": "..."}},
     "callback_url": "..."}

(``duration`` a string with its ``s``; keyframes are image URLs only), answered 201 with a Generation. The
generation is polled (or announced at ``callback_url``: a POST of the Generation, unsigned: the gateway's token
is in the URL path and every callback is confirmed by a GET); ``assets.video`` is a plain URL fetched without
the key. Generations are listed newest first (``limit``/``offset``) with the create's ``request`` echoed, so a
create whose answer was lost is found by its prompt, model, size and length before anything is sent again.
"""

from __future__ import annotations

from typing import Any

from cachetools import LRUCache

from gateway.providers.luma_dream_machine.answers import cdn_error, parse_generation, read_error
from gateway.providers.luma_dream_machine.table import ASPECTS, PROFILES
from gateway.upstreams.base import ContentStream, GenerationSpec, ListPage, UpstreamError, UpstreamVideo
from gateway.upstreams.http import HttpAdapter, UpstreamHttp
from gateway.upstreams.signed import only_video, range_of, stream_signed, video_url_of

LIST_LIMIT = 100  # the documented default page
OUTPUTS_MAX = 10_000
OFFSETS_MAX = 1_000


def _json(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise UpstreamError(502, "Luma's answer was not a JSON object.")
    return data


class LumaDreamMachineUpstream(HttpAdapter):
    """Speaks Dream Machine's generations API; one video per generation."""

    name = "luma-dream-machine"
    title = "Luma Dream Machine"  # in refusals: "not offered by the Luma Dream Machine upstream"
    lists = True  # GET /generations: the status sweep and the reconciliation of a lost create use it
    callbacks = True  # callback_url on create: the Generation is POSTed at each change

    def __init__(self, base_url: str, api_key: str, *, http: UpstreamHttp | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self.http = http or UpstreamHttp(self.base_url, headers, upstream=self.name, errors=read_error)
        self.cdn = UpstreamHttp("", {}, upstream=self.name, errors=cdn_error)  # no key to the asset host
        self.cdn.client.follow_redirects = True
        self._outputs: LRUCache[str, str] = LRUCache(maxsize=OUTPUTS_MAX)
        self._offsets: LRUCache[str, int] = LRUCache(maxsize=OFFSETS_MAX)  # last id of a page -> next offset

    def body(self, spec: GenerationSpec) -> dict[str, Any]:
        """The JSON body of a create, in Dream Machine's words; refuses what it would refuse, before sending."""
        if spec.kind != "create":
            raise UpstreamError(400, f"Luma has no {spec.kind} operation here.", code="unsupported_by_upstream")
        aspect = ASPECTS.get(spec.size)
        if aspect is None:
            raise UpstreamError(400, f"Luma makes no {spec.size} video.", code="invalid_value", param="size")
        ratio, resolution = aspect
        body: dict[str, Any] = {"model": spec.model, "generation_type": "video", "prompt": spec.prompt}
        body.update(aspect_ratio=ratio, resolution=resolution, duration=f"{spec.seconds}s")
        ref = spec.reference
        if ref is not None:
            url = ref.image_url or ""
            if not url.lower().startswith(("https://", "http://")):  # "the only way to pass an image" is a URL
                raise UpstreamError(
                    400,
                    "Luma's Dream Machine takes images as URLs only.",
                    code="invalid_value",
                    param="input_reference",
                )
            body["keyframes"] = {"frame0": {"type": "image", "url": url}}
        if spec.callback_url:
            body["callback_url"] = spec.callback_url
        return body

    async def create(self, spec: GenerationSpec) -> UpstreamVideo:
        body = self.body(spec)
        response = await self.http.request("POST", "/generations/video", operation="create", json=body)
        try:
            video = parse_generation(_json(response))
        except (KeyError, TypeError, AttributeError):  # a generation may exist: found by the listing, not re-sent
            raise UpstreamError(502, "Luma's create answer named no generation.") from None
        video.seconds, video.size, video.model = str(spec.seconds), spec.size, spec.model
        return video

    async def retrieve(self, upstream_id: str) -> UpstreamVideo:
        response = await self.http.request("GET", f"/generations/{upstream_id}", operation="retrieve")
        try:
            video = parse_generation(_json(response))
        except (KeyError, TypeError, AttributeError):
            raise UpstreamError(502, "Luma's answer was not a generation.") from None
        if "video" in video.content_ids:
            self._outputs[video.id] = video.content_ids["video"]
        return video

    async def list_page(self, after: str | None = None) -> ListPage:
        """One page of ``GET /generations`` (newest first); ``after``: the last id of the page before."""
        offset = 0 if after is None else self._offsets.get(after)
        if offset is None:
            raise UpstreamError(400, "Unknown listing position.", code="invalid_value")
        params = {"limit": str(LIST_LIMIT), "offset": str(offset)}
        data = _json(await self.http.request("GET", "/generations", operation="list", params=params))
        items = data.get("generations")
        videos = (
            [parse_generation(g) for g in items if isinstance(g, dict) and "id" in g] if isinstance(items, list) else []
        )
        if videos:
            self._offsets[videos[-1].id] = offset + len(items or [])
        return ListPage(videos=videos, has_more=bool(data.get("has_more")) and bool(videos))

    async def delete(self, upstream_id: str) -> None:
        """``DELETE /generations/{id}`` (204); one already gone is fine."""
        self._outputs.pop(upstream_id, None)
        try:
            await self.http.request("DELETE", f"/generations/{upstream_id}", operation="delete")
        except UpstreamError as exc:
            if exc.status != 404:
                raise

    async def open_content(self, upstream_id: str, variant: str, range_header: str | None = None) -> ContentStream:
        """``assets.video``, fetched without the key; a refused URL is looked up once more."""
        only_video(variant, "Luma's Dream Machine")
        return await stream_signed(self.cdn, self._outputs, upstream_id, range_of(range_header), self._output_url)

    async def _output_url(self, upstream_id: str) -> str:
        return video_url_of(await self.retrieve(upstream_id), f"Luma generation {upstream_id}")

    async def list_models(self) -> list[dict[str, Any]]:
        """The table's models, after one free read that proves the key and the host (``GET /generations?limit=1``)."""
        await self.http.request("GET", "/generations", operation="models", params={"limit": "1", "offset": "0"})
        return [{"id": m, "object": "model", "owned_by": "luma"} for m in PROFILES["luma-dream-machine"].models]

    async def close(self) -> None:
        await self.http.close()
        await self.cdn.close()
