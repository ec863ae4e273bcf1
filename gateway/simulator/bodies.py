"""Read a request body as the real API does: JSON object or multipart/form-data.

Multipart fields may carry nested objects the way the official SDK encodes them
(``video[id]=…``, ``input_reference[image_url]=…``) or as a JSON string
(``video={"id": …}``); both end up as dicts in :attr:`Body.fields`. File parts are
read into :class:`Upload` s.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from gateway.simulator.errors import SimError, unknown_parameter

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
MAX_FIELD_BYTES = 40 * 1024 * 1024
_BRACKETS = re.compile(r"^([^\[\]]+)\[([^\[\]]+)\]$")


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Body:
    fields: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)
    multipart: bool = False

    def only(self, allowed: tuple[str, ...]) -> None:
        """Refuse parameters the endpoint does not know (as the real API does)."""
        for name in [*self.fields, *self.files]:
            if name not in allowed:
                raise unknown_parameter(name)


def _bad_json(detail: str) -> SimError:
    return SimError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
        f"HTTP library correctly. The API expects a JSON payload.) Details: {detail}",
        code="invalid_json",
    )


def _maybe_object(value: str) -> Any:
    text = value.strip()
    if text.startswith("{") and text.endswith("}"):
        try:
            return json.loads(text)
        except ValueError:
            return value
    return value


async def _read_form(request: Request) -> Body:
    body = Body(multipart=True)
    try:
        form = await request.form(max_files=20, max_fields=200, max_part_size=MAX_FIELD_BYTES)
    except (MultiPartException, HTTPException) as exc:
        detail = getattr(exc, "message", None) or getattr(exc, "detail", "")
        raise SimError(
            400, f"Could not parse the multipart/form-data body: {detail}", code="invalid_multipart"
        ) from None
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read()
            body.files[name] = Upload(value.filename or name, value.content_type or "application/octet-stream", data)
            continue
        match = _BRACKETS.match(name)
        if match:
            outer = body.fields.setdefault(match.group(1), {})
            if isinstance(outer, dict):
                outer[match.group(2)] = value
            continue
        body.fields[name] = _maybe_object(value)
    await form.close()
    return body


async def read_body(request: Request, *, allow_form: bool = True) -> Body:
    """Parse the body; an empty body is an empty JSON object."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        if not allow_form:
            raise SimError(400, f"Unsupported content type: '{content_type}'. Send application/json.")
        return await _read_form(request)
    raw = await request.body()
    if not raw.strip():
        return Body()
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _bad_json(str(exc)) from None
    if not isinstance(data, dict):
        raise _bad_json("the body must be a JSON object")
    return Body(fields=data)
