"""A request URL the gateway does not serve, and the one it probably meant.

A base URL without ``/v1`` (``OpenAI(base_url="http://gw:8080")``) sends ``POST /videos``; a hand-written
client may add a trailing slash (``POST /v1/videos/``) or ``/v1`` twice. Each gets a 404 naming the route
that does exist (:func:`did_you_mean`): only a path the app really serves for that method is suggested. A
trailing slash is never redirected (Starlette's redirect would build its ``Location`` from the ``Host``
header a client chose): the app is built with ``redirect_slashes`` off and the 404 names the path.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

API_PREFIX = "/v1"


def _candidates(path: str) -> list[tuple[str, str]]:
    """(path, why) pairs a mistaken path may have meant, most likely first."""
    found: list[tuple[str, str]] = []
    trimmed = path.rstrip("/") or "/"
    if trimmed != path:
        found.append((trimmed, "without the trailing slash"))
    if not trimmed.startswith(API_PREFIX + "/"):
        found.append((API_PREFIX + trimmed, f"the base URL must end in {API_PREFIX}"))
    if trimmed.startswith(API_PREFIX + API_PREFIX + "/"):
        found.append((trimmed[len(API_PREFIX) :], f"{API_PREFIX} appears twice; the base URL already ends in it"))
    return found


def _served(routes: Iterable[BaseRoute], scope: Scope, path: str) -> bool:
    probe = {**scope, "path": path, "root_path": ""}
    return any(route.matches(probe)[0] == Match.FULL for route in routes)


def did_you_mean(routes: Iterable[BaseRoute], scope: Scope) -> str:
    """The sentence a 404 adds: ``Did you mean POST /v1/videos? The base URL must end in /v1.`` (or nothing)."""
    routes = list(routes)
    method = str(scope.get("method", "GET"))
    for path, why in _candidates(str(scope.get("path", ""))):
        if path != scope.get("path") and _served(routes, scope, path):
            return f" Did you mean {method} {path}? ({why}.)"
    return ""
