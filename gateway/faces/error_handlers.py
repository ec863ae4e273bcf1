"""The app's exception handlers: an :class:`ApiError` and Starlette's own 404/405, in OpenAI's error shape."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.errors import ApiError
from gateway.faces.http import error_response
from gateway.faces.paths import did_you_mean

HTTP_CODES = {
    404: ("not_found", "Unknown request URL: {method} {path}."),
    405: ("method_not_allowed", "Method {method} is not allowed for {path}."),
}


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, template = HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
    message = template.format(method=request.method, path=request.url.path)
    if exc.status_code == 404:  # a path that exists under /v1, or without its trailing slash, is named
        message += did_you_mean(request.app.router.routes, request.scope)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # every method the path takes, not only the first route's
        allowed = {
            m
            for r in request.app.router.routes
            if isinstance(r, Route) and r.path_regex.match(request.url.path)
            for m in (r.methods or ())
        }
        headers["Allow"] = ", ".join(sorted(allowed)) or headers.get("Allow", "")
    return error_response(ApiError(exc.status_code, message, code=code), headers)


HANDLERS = {ApiError: api_error, HTTPException: http_error}
