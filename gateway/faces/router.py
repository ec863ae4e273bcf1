"""The router, with client polls tried first.

Starlette's router tries every route in order until one matches; a poll (``GET /v1/videos/video_…``)
is the eleventh, so every poll paid for ten regular-expression matches first. The routes named in
:data:`HOT` are tried first for the paths only they can answer: ``GET``/``HEAD`` of one path segment
after their prefix, which starts like a gateway id (no earlier route has such a segment; a test
checks this against the real route table). Everything else is routed as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Router
from starlette.types import Receive, Scope, Send

HOT = (("/v1/videos/video_", "retrieve_video"), ("/v1/video/generations/video_", "retrieve_generation"))
READS = ("GET", "HEAD")


class PollsFirstRouter(Router):
    def __init__(self, routes: Sequence[BaseRoute], **options: Any) -> None:
        super().__init__(list(routes), **options)
        by_name = {getattr(route, "name", None): route for route in self.routes}
        self.hot = [(prefix, by_name[name]) for prefix, name in HOT if name in by_name]

    def hot_route(self, scope: Scope) -> tuple[BaseRoute, dict[str, Any]] | None:
        """The hot route that answers this request, with its child scope; ``None``: route as usual."""
        if scope["type"] != "http" or scope["method"] not in READS:
            return None
        path: str = scope["path"]
        for prefix, route in self.hot:
            if path.startswith(prefix) and "/" not in path[len(prefix) :]:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    return route, child
        return None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.hot_route(scope)
        if found is None:
            await super().app(scope, receive, send)
            return
        route, child = found
        scope.setdefault("router", self)
        scope["route"] = route
        scope.update(child)
        await route.handle(scope, receive, send)
