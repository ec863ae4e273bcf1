"""HTTP helpers shared by faces: error responses, body parsing, the calling tenant."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway.content.space import is_space_error, raise_if_simulated_full
from gateway.core.models import Reference
from gateway.errors import ApiError, invalid
from gateway.faces.bodies import check_value, parse_json
from gateway.faces.requests import check_fields
from gateway.pipeline.auth import is_admin_key
from gateway.policies.model import Tenant

MAX_FIELD_BYTES = 1024 * 1024
_BRACKETS = re.compile(r"^([^\[\]]+)\[([^\[\]]+)\]$")


class SafeJSONResponse(JSONResponse):
    """JSON that always encodes: text that is not valid Unicode (a lone surrogate in a record stored
    before such input was refused) is sent as U+FFFD rather than failing the whole response."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


def error_response(exc: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    return SafeJSONResponse(exc.body(), status_code=exc.status, headers={**exc.headers, **(headers or {})})


def tenant_of(request: Request) -> Tenant:
    """Authenticate once per request; the tenant is kept on the request for logs and metrics."""
    try:
        tenant: Tenant = request.app.state.ctx.auth.authenticate(request.headers.get("authorization"))
    except ApiError as exc:
        if exc.status == 401 and is_admin_key(
            request.app.state.ctx.settings.admin_key, request.headers.get("authorization")
        ):
            raise admin_key_refusal(request) from None
        raise
    request.state.tenant = tenant.name
    quota = getattr(request.app.state.ctx, "quota", None)
    if quota is not None:  # x-ratelimit-* on every response (the middleware adds them)
        request.state.response_headers = quota.headers_for(tenant)
    return tenant


# a team route -> the admin route that shows the same for every team (the admin key's routes: faces/usage.py,
# faces/admin_videos.py)
ADMIN_COUNTERPARTS = (
    (re.compile(r"^/v1/gateway/usage$"), "GET /v1/gateway/admin/usage"),
    (re.compile(r"^/v1/videos$"), "GET /v1/gateway/admin/videos"),
    (re.compile(r"^/v1/videos/([^/]+)/content$"), "GET /v1/gateway/admin/videos/{}/content"),
)


def admin_key_refusal(request: Request) -> ApiError:
    """The admin key on a team's route: say what it is, and where the admin view of the same thing is."""
    path = request.url.path
    pointer = "the admin key opens GET /v1/gateway/admin/usage and GET /v1/gateway/admin/videos"
    for pattern, admin_route in ADMIN_COUNTERPARTS:
        matched = pattern.match(path)
        if matched and request.method == "GET":
            pointer = f"use {admin_route.format(*matched.groups())} with the admin key"
            break
    return ApiError(
        401,
        f"This is the gateway's admin key, not a team's API key: {path} needs a team key; {pointer}.",
        code="admin_key_not_a_team_key",
    )


async def read_body(
    request: Request,
    upload_dir: Path,
    allowed: dict[str, tuple[type, ...]] | None = None,
    required: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A create-like body as a dict, from JSON or multipart; files become References.

    With ``allowed`` the fields are checked (:func:`~gateway.faces.requests.check_fields`) *before* any file
    is kept, so a refused body leaves nothing on disk. Files kept for this request are listed on
    ``request.state.saved_uploads``; :mod:`gateway.faces.creates` removes them if the create is refused.
    """
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded":
        _refuse_json_as_form(await request.body(), ctype)  # read once: form() parses the same bytes
    if ctype == "multipart/form-data" or ctype == "application/x-www-form-urlencoded":
        try:
            form = await request.form(max_files=4, max_fields=50, max_part_size=MAX_FIELD_BYTES)
        except (MultiPartException, HTTPException, UnicodeDecodeError):
            # only parse errors: the body limit (the middleware's 413) and a dropped client propagate
            raise invalid("Could not parse the multipart body.", None, "invalid_body") from None
        data: dict[str, Any] = {}
        for key, value in form.multi_items():
            nested = _BRACKETS.match(key)  # the SDK sends an object field as ``video[id]=…``
            if nested and not isinstance(value, UploadFile) and isinstance(data.setdefault(nested.group(1), {}), dict):
                data[nested.group(1)][nested.group(2)] = value
            else:
                data[key] = value
        check_value({k: v for k, v in data.items() if not isinstance(v, UploadFile)})
        if allowed is not None:
            check_fields(data, allowed, required)
        for key, value in data.items():
            if isinstance(value, UploadFile):
                try:
                    data[key] = await save_upload(value, upload_dir, request)
                except OSError as exc:  # a full disk: refused cleanly, the partial file already removed
                    raise _upload_refusal(request, key, exc) from None
        return data
    raw = await request.body()
    if not raw:
        raise invalid("The request body is empty; expected JSON or multipart/form-data.", None, "invalid_body")
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise invalid("The JSON body must be an object.", None, "invalid_json")
    if allowed is not None:
        check_fields(data, allowed, required)
    return data


def _refuse_json_as_form(raw: bytes, ctype: str) -> None:
    """A JSON object sent as a form (``curl -d '{...}'`` without ``-H 'Content-Type: application/json'``) would be
    read as one parameter named after the whole body: refused, naming the header to send."""
    if raw.lstrip()[:1] in (b"{", b"["):
        raise invalid(
            f"The body looks like JSON but was sent as {ctype}; send the header Content-Type: application/json "
            "(with curl: -H 'Content-Type: application/json'), or send a form without JSON.",
            "Content-Type",
            "invalid_content_type",
        )


def _upload_refusal(request: Request, field: str, exc: OSError) -> ApiError:
    storage = getattr(request.app.state.ctx, "storage", None)
    if storage is not None:
        storage.write_result(exc)  # counted; a full disk also stops admission until space is back
    if is_space_error(exc):
        return ApiError(
            507,
            f"The gateway has no room to keep the uploaded file '{field}' right now; try again later.",
            type="server_error",
            param=field,
            code="insufficient_storage",
            headers={"Retry-After": "30"},
        )
    return ApiError(
        503,
        f"The gateway could not keep the uploaded file '{field}'; try again later.",
        type="server_error",
        param=field,
        code="storage_unavailable",
    )


def _copy_upload(source: BinaryIO, upload_dir: Path) -> tuple[Path, str]:
    """Copy a spooled upload to ``<upload_dir>/<sha256>-<random>`` (blocking: runs in a worker thread).

    One file per request (not per checksum): deleting a refused request's file can never take the
    file of another request that sent the same bytes. On any failure (a full disk) the partial
    ``.part`` file is removed before the error propagates.
    """
    upload_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    tmp = upload_dir / f"incoming-{uuid.uuid4().hex}.part"
    source.seek(0)
    try:
        raise_if_simulated_full()
        with open(tmp, "wb") as fh:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                fh.write(chunk)
        final = upload_dir / f"{digest.hexdigest()}-{uuid.uuid4().hex[:16]}"
        tmp.replace(final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final, digest.hexdigest()


async def save_upload(upload: UploadFile, upload_dir: Path, request: Request | None = None) -> Reference:
    """Keep an uploaded file, hashing and copying off the event loop; noted on the request for cleanup."""
    final, sha256 = await asyncio.to_thread(_copy_upload, upload.file, upload_dir)
    if request is not None:
        saved: list[Path] = getattr(request.state, "saved_uploads", None) or []
        saved.append(final)
        request.state.saved_uploads = saved
    return Reference(filename=upload.filename, content_type=upload.content_type, path=str(final), sha256=sha256)
