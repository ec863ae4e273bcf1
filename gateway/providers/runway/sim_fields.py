"""The simulated Runway's body validation: a discriminated union on ``model`` per endpoint, zod-style issues.

A refusal is Runway's validator 400 (a live capture's shape, docs.dev.runwayml.com/errors/errors)::

    {"error": "Validation of body failed", "issues": [{"code", "path", "message", ...}], "docUrl": "..."}

Wire types are checked as Runway's schema types them: ``duration`` and ``seed`` JSON integers (``"5"`` is
refused), ``ratio`` one of the model's pixel strings, ``promptText`` a string of 1..1000 UTF-16 units,
``audio`` a boolean, ``promptImage`` an HTTPS URL, a ``runway://`` URI or an image data URI of at most
5 MB (or ``[{uri, position}]``). Unknown keys are refused (strict objects), so a misspelt field fails
loudly. Only the models of :data:`~gateway.providers.runway.table.WIRE` are known here.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gateway.providers.runway.table import WIRE, WireModel
from gateway.simulator.errors import SimError

DOC_URL = "https://docs.dev.runwayml.com/api"
MAX_PROMPT = 1000
MAX_DATA_URI = 5 * 1024 * 1024
MAX_URL = 2048
MAX_SEED = 4294967295
_DATA_URI = re.compile(r"^data:(image/[a-z+.-]+);base64,(.*)$", re.DOTALL)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/webp")
MISSING: Any = object()


class Invalid(SimError):
    """Runway's validator refusal: 400 ``Validation of body failed`` with zod ``issues``."""

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        super().__init__(400, "Validation of body failed")
        self.issues = issues


def received(value: Any) -> str:
    if value is MISSING:
        return "undefined"
    for kind, name in ((bool, "boolean"), (int, "number"), (float, "number"), (str, "string"), (list, "array")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else "object"


@dataclass
class Create:
    model: str
    wire: WireModel
    prompt: str
    ratio: str
    duration: int
    audio: bool


def issue(code: str, path: list[Any], message: str, **extra: Any) -> dict[str, Any]:
    """One zod issue: ``{"code", ..., "path", "message"}``."""
    return {"code": code, **extra, "path": path, "message": message}


class Checker:
    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        self.issues: list[dict[str, Any]] = []

    def typed(self, path: list[Any], expected: str, value: Any) -> None:
        message = f"Invalid input: expected {expected}, received {received(value)}"
        self.issues.append(issue("invalid_type", path, message, expected=expected))

    def custom(self, path: list[Any], message: str) -> None:
        self.issues.append(issue("custom", path, message))

    def string(self, name: str, required: bool, max_units: int | None = None) -> str | None:
        value = self.fields.get(name, MISSING)
        if value is MISSING and not required:
            return None
        if not isinstance(value, str):
            self.typed([name], "string", value)
            return None
        units = len(value.encode("utf-16-le")) // 2
        if units < 1:
            message = "Too small: expected string to have >=1 characters"
            self.issues.append(issue("too_small", [name], message, origin="string", minimum=1, inclusive=True))
        elif max_units is not None and units > max_units:
            message = f"Too big: expected string to have <={max_units} characters"
            self.issues.append(issue("too_big", [name], message, origin="string", maximum=max_units, inclusive=True))
        return value

    def choice(self, name: str, values: tuple[str, ...], required: bool) -> str | None:
        value = self.fields.get(name, MISSING)
        if value is MISSING and not required:
            return None
        if value not in values:
            self.one_of([name], values)
            return None
        return str(value)

    def integer(self, name: str, low: int, high: int, required: bool, values: tuple[int, ...] = ()) -> int | None:
        """A JSON integer from ``low`` to ``high`` (and one of ``values`` when given: a union of literals)."""
        value = self.fields.get(name, MISSING)
        if value is MISSING and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.typed([name], "number", value)
            return None
        if not float(value).is_integer():
            message = "Invalid input: expected int, received number"
            self.issues.append(issue("invalid_type", [name], message, expected="int", format="safeint"))
            return None
        number = int(value)
        if values and number not in values:
            self.one_of([name], values)
            return None
        if number > high:
            message = f"Too big: expected number to be <={high}"
            self.issues.append(issue("too_big", [name], message, origin="number", maximum=high, inclusive=True))
            return None
        if number < low:
            message = f"Too small: expected number to be >={low}"
            self.issues.append(issue("too_small", [name], message, origin="number", minimum=low, inclusive=True))
            return None
        return number

    def one_of(self, path: list[Any], values: tuple[Any, ...]) -> None:
        options = "|".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values)
        self.issues.append(
            issue("invalid_value", path, f"Invalid option: expected one of {options}", values=list(values))
        )

    def boolean(self, name: str) -> bool | None:
        value = self.fields.get(name, MISSING)
        if value is MISSING:
            return None
        if not isinstance(value, bool):
            self.typed([name], "boolean", value)
            return None
        return value

    # promptImage ---------------------------------------------------------------------------------
    def image_uri(self, path: list[Any], value: Any) -> None:
        if not isinstance(value, str):
            self.typed(path, "string", value)
        elif value.startswith("data:"):
            self._data_uri(path, value)
        elif not value.startswith("runway://"):
            self._url(path, value)

    def _data_uri(self, path: list[Any], value: str) -> None:
        match = _DATA_URI.match(value)
        if match is None:
            return self.custom(path, "Invalid data URI.")
        if match.group(1) not in IMAGE_TYPES:
            return self.custom(path, "Unsupported asset type.")
        if len(value) > MAX_DATA_URI:
            return self.custom(path, f"Data URIs must be at most {MAX_DATA_URI} bytes.")
        try:
            base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            self.custom(path, "Invalid data URI.")
        return None

    def _url(self, path: list[Any], value: str) -> None:
        parts = urlsplit(value)
        if not parts.scheme or not parts.hostname:
            return self.custom(path, "Invalid URL")
        if parts.scheme != "https":
            return self.custom(path, "Only HTTPS URLs are allowed.")
        try:
            ipaddress.ip_address(parts.hostname)
        except ValueError:
            if len(value) > MAX_URL:
                self.custom(path, f"URLs must be at most {MAX_URL} characters.")
            return None
        return self.custom(path, "URLs must be hosted on a domain.")

    def prompt_image(self, wire: WireModel) -> None:
        value = self.fields.get("promptImage", MISSING)
        if not isinstance(value, list):
            return self.image_uri(["promptImage"], value)
        positions: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                self.typed(["promptImage", index], "object", item)
                continue
            self.image_uri(["promptImage", index, "uri"], item.get("uri", MISSING))
            position = item.get("position", MISSING)
            if position not in ("first", "last"):
                self.one_of(["promptImage", index, "position"], ("first", "last"))
            else:
                positions.append(position)
        if "last" in positions and not wire.last_frame:
            self.custom(["promptImage"], "This model does not support a last frame.")
        elif positions.count("first") != 1 or len(positions) != len(set(positions)):
            self.custom(["promptImage"], "Provide exactly one first frame, and at most one last frame.")
        return None


def _model(fields: dict[str, Any], endpoint: str) -> tuple[str, WireModel]:
    models = {m: w for m, w in WIRE.items() if (w.t2v_ratios if endpoint == "t2v" else w.i2v_ratios)}
    model = fields.get("model", MISSING)
    issues: list[dict[str, Any]] = []
    if not isinstance(model, str):
        checker = Checker(fields)
        checker.typed(["model"], "string", model)
        issues = checker.issues
    if not isinstance(model, str) or model not in models:
        note = "No matching discriminator"
        issues.append(issue("invalid_union", ["model"], "Invalid input", errors=[], note=note, discriminator="model"))
        raise Invalid(issues)
    return model, models[model]


def check_create(fields: dict[str, Any], endpoint: str) -> Create:
    """``endpoint``: ``t2v`` (``/v1/text_to_video``) or ``i2v`` (``/v1/image_to_video``); raises :class:`Invalid`."""
    model, wire = _model(fields, endpoint)
    image = endpoint == "i2v"
    allowed = {"model", "promptText", "ratio", "duration"} | ({"promptImage"} if image else set())
    optional = {"seed": wire.seed, "negativePrompt": wire.negative_prompt, "audio": wire.audio}
    allowed |= {name for name, has in {**optional, "contentModeration": wire.content_moderation}.items() if has}
    check = Checker(fields)
    unknown = [key for key in fields if key not in allowed]
    if unknown:
        keys = ", ".join(f'"{k}"' for k in unknown)
        message = f"Unrecognized key{'s' if len(unknown) > 1 else ''}: {keys}"
        check.issues.append(issue("unrecognized_keys", [], message, keys=unknown))
    if image:
        check.prompt_image(wire)
    prompt = check.string("promptText", not image or wire.i2v_prompt_required, MAX_PROMPT)
    ratio = check.choice("ratio", wire.i2v_ratios if image else wire.t2v_ratios, True)
    contiguous = wire.durations == tuple(range(min(wire.durations), max(wire.durations) + 1))
    duration = check.integer(
        "duration",
        min(wire.durations),
        max(wire.durations),
        wire.duration_required,
        () if contiguous else wire.durations,
    )
    if "seed" in allowed:
        check.integer("seed", 0, MAX_SEED, False)
    if "negativePrompt" in allowed:
        check.string("negativePrompt", False)
    audio = check.boolean("audio") if "audio" in allowed else None
    moderation = fields.get("contentModeration", MISSING)
    if "contentModeration" in allowed and moderation is not MISSING:
        threshold = moderation.get("publicFigureThreshold", "auto") if isinstance(moderation, dict) else None
        if threshold not in ("auto", "low"):
            check.custom(["contentModeration", "publicFigureThreshold"], 'Expected "auto" or "low".')
    if check.issues or ratio is None:
        raise Invalid(check.issues)
    return Create(model, wire, prompt or "", ratio, duration or wire.default_duration, audio is not False)
