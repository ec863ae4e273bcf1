"""The engine's refusals: :class:`SimError` (the gateway's ``{"error": {...}}`` shape, which a profile
may render in its provider's own envelope) and the field errors every profile shares."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from gateway.errors import ApiError


class SimError(ApiError):
    """A refusal the simulator sends as an OpenAI-shaped JSON error (the gateway's :class:`ApiError`, as a response)."""

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


class DropConnection(BaseException):
    """Raised by the ``reset`` fault: the connection is closed without any response.

    A ``BaseException`` so Starlette's error middleware does not turn it into a 500;
    :func:`gateway.simulator.faults.drop_connections` catches it at the ASGI edge.
    """


def invalid_value(param: str, value: Any, allowed: tuple[str, ...] | None = None) -> SimError:
    message = f"Invalid value: {value!r}."
    if allowed:
        message += " Supported values are: " + ", ".join(repr(a) for a in allowed) + "."
    return SimError(400, message, param=param, code="invalid_value")


def missing(param: str) -> SimError:
    return SimError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def unknown_parameter(param: str) -> SimError:
    return SimError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def not_found(what: str, ident: str, param: str | None = None) -> SimError:
    return SimError(404, f"{what} with id '{ident}' not found.", param=param, code="not_found")


def invalid_url(method: str, path: str) -> SimError:
    return SimError(404, f"Invalid URL ({method} {path})")
