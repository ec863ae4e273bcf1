"""The web console: ``GET /console`` (and ``/`` redirects there), a page served by the gateway itself.

Static files shipped as package data (``gateway/console/``: the page, its stylesheet, and ES modules in
``js/`` the browser loads as they are): no external assets, no build step.
The page talks to the same public API a client uses, with the key the user typed kept in the tab's
``sessionStorage`` and sent only as an ``Authorization`` header (never in a URL). Videos and
thumbnails are fetched as blobs with that header and shown through object URLs.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.errors import ApiError

ASSETS = {
    "console.html": "text/html; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
JS = "text/javascript; charset=utf-8"
HEADERS = {
    # everything from this origin; media and thumbnails from blob: object URLs
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' blob: data:; media-src 'self' blob:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}


MODULE = re.compile(r"^[a-z][a-z0-9_-]{0,40}\.js$")


@cache
def asset(name: str) -> bytes:
    return resources.files("gateway.console").joinpath(name).read_bytes()


@cache
def modules() -> frozenset[str]:
    """The console's ES modules (``gateway/console/js/*.js``): only these names are served."""
    folder = resources.files("gateway.console").joinpath("js")
    return frozenset(entry.name for entry in folder.iterdir() if MODULE.match(entry.name))


def _serve(name: str) -> Response:
    return Response(asset(name), media_type=ASSETS[name], headers=HEADERS)


async def root(request: Request) -> Response:
    return RedirectResponse("/console", status_code=302)  # a path, never built from the Host header


async def page(request: Request) -> Response:
    return _serve("console.html")


async def style(request: Request) -> Response:
    return _serve("console.css")


async def module(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in modules():
        raise ApiError(404, "No such console module.", code="not_found")
    return Response(asset("js/" + name), media_type=JS, headers=HEADERS)


routes = [
    Route("/", root, methods=["GET"]),
    Route("/console", page, methods=["GET"]),
    Route("/console/console.css", style, methods=["GET"]),
    Route("/console/js/{name}", module, methods=["GET"]),
]
