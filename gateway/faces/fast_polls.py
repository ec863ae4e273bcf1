"""Client polls answered below Starlette: ``GET /v1/videos/video_…`` with the very bytes and headers of the route.

A poll is most of a gateway's traffic, and Starlette's layers (its exception middleware, the router, the
route's request/response wrapper, a ``Request`` and a ``Response``) cost more than the poll's own work. The
:class:`~gateway.middleware.GatewayMiddleware` asks :class:`FastPolls` first for a request without a body;
it answers only the plain case — a team's key that authenticates and a video of that team — with what
:func:`gateway.faces.openai_videos.retrieve_video` would send. Everything else (no key, a wrong key, the admin
key, an unknown id, ``HEAD``) returns ``None`` and goes the usual way, so every refusal keeps one author.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import ApiError
from gateway.faces.openai_videos import poll_body, retrieve_video
from gateway.faces.resources import poll_headers, queue_position_in

PREFIX = "/v1/videos/video_"
JSON = (b"content-type", b"application/json")

Answer = tuple[list[tuple[bytes, bytes]], bytes]  # response headers (without x-request-id), body; status 200


class FastPolls:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx  # the app's Context (auth, service, driver, quota): read at each poll, as the routes do

    async def answer(self, scope: dict[str, Any], headers: dict[bytes, bytes]) -> Answer | None:
        """The 200 for a plain poll, with ``scope`` filled in as the router would (endpoint, path params, tenant)
        for the access log and metrics; ``None``: not a plain poll, route it as usual."""
        path: str = scope["path"]
        if scope["method"] != "GET" or not path.startswith(PREFIX) or "/" in path[len(PREFIX) :]:
            return None
        ctx = self.ctx
        authorization = headers.get(b"authorization")
        if authorization is None:
            return None
        try:
            tenant = ctx.auth.authenticate(authorization.decode("latin-1"))
            video_id = path[len("/v1/videos/") :]
            snap = await ctx.service.poll(tenant, video_id)
        except ApiError:
            return None
        body = poll_body(snap, queue_position_in(ctx, snap.job))
        extra = poll_headers(snap.job)
        if ctx.quota is not None:
            extra = {**extra, **ctx.quota.headers_for(tenant)}
        scope["endpoint"] = retrieve_video
        scope["path_params"] = {"video_id": video_id}
        scope["state"]["tenant"] = tenant.name
        out = [(b"content-length", str(len(body)).encode("latin-1")), JSON]
        out += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()]
        return out, body
