"""The router tries client polls first (faces/router.py) and still routes every request where Starlette's
in-order matching would: checked against the gateway's real route table."""

from __future__ import annotations

import pytest
from starlette.routing import Match

from gateway.app import create_app
from gateway.config import Settings
from gateway.faces.router import PollsFirstRouter


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> PollsFirstRouter:
    root = tmp_path_factory.mktemp("router")
    (root / "tenants").mkdir()
    settings = Settings(
        store="memory://",
        policies=str(root),
        allow_anonymous=True,
        data_dir=str(root / "data"),
        upstream="http://127.0.0.1:9/v1",
        upstream_profile="openai-2025-10",
    )
    app = create_app(settings)
    assert isinstance(app.router, PollsFirstRouter)
    return app.router


def in_order(router: PollsFirstRouter, scope: dict[str, object]) -> object:
    """The route Starlette's router would pick: the first full match, else the first partial one."""
    partial = None
    for route in router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial


PATHS = [
    "/v1/videos/video_0123456789abcdef0123456789abcdef",
    "/v1/videos/video_x",
    "/v1/videos/video_",
    "/v1/videos/video_1/content",
    "/v1/videos/video_1/remix",
    "/v1/videos/characters",
    "/v1/videos/edits",
    "/v1/videos",
    "/v1/video/generations/video_0123456789abcdef",
    "/v1/video/generations/video_1/extra",
    "/v1/video/generations",
    "/healthz",
]


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE"])
@pytest.mark.parametrize("path", PATHS)
def test_polls_first_picks_the_route_in_order_matching_would(router: PollsFirstRouter, method: str, path: str) -> None:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    hot = router.hot_route(dict(scope))
    if hot is not None:
        assert hot[0] is in_order(router, scope), (method, path)


def test_polls_of_both_dialects_take_the_hot_path(router: PollsFirstRouter) -> None:
    for path, name in (
        ("/v1/videos/video_abc", "retrieve_video"),
        ("/v1/video/generations/video_abc", "retrieve_generation"),
    ):
        found = router.hot_route({"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []})
        assert found is not None and getattr(found[0], "name", None) == name
        assert found[1]["path_params"] == {"video_id" if name == "retrieve_video" else "generation_id": "video_abc"}
