"""The request reader every face shares: what each common field may be, and how a body becomes a VideoRequest.

:data:`SHARED` is the one table of the fields several faces take: for each, the types a client may send, the
reader that turns a checked value into what :class:`~gateway.core.models.VideoRequest` holds, and which kinds
of request take it (a create in either dialect or a batch, a story's film-wide fields, a remix, an extension, an
edit). A :class:`Dialect` only renames (the seed guide's ``duration_seconds`` and ``resolution``, from
:data:`gateway.core.translate.PARAM_NAMES`), leaves a field out or widens its types. A face asks its dialect for
the fields a use takes (:meth:`Dialect.fields`, for ``create_like(fields=…)``), adds its own extras (``n``,
``scenes``, ``video``) and reads the checked body with :meth:`Dialect.request` or :meth:`Dialect.read`.

A new shared field is one line in :data:`SHARED` (plus its attribute on ``VideoRequest``); a use that should
take an existing field is one more name in that line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import UploadFile

from gateway.core.models import Reference, VideoRequest
from gateway.core.translate import param_name
from gateway.errors import invalid
from gateway.faces.hints import unknown_parameter
from gateway.faces.image_urls import image_url_problem

Kinds = tuple[type, ...]
Reader = Callable[[Any, str], Any]  # (a present, type-checked value, the client's name for it) -> its reading

STR: Kinds = (str,)
WHOLE: Kinds = (str, int)  # "8" or 8
NUMBER: Kinds = (int, float, str)  # the seed dialect also sends 8.0
FLAG: Kinds = (bool, str)  # true, or "true" in a form
REFERENCE: Kinds = (str, dict, Reference)  # an uploaded file, an object, or that object as a JSON string

# the kinds of request a shared field can belong to
CREATE, STORY, REMIX, EXTEND, EDIT = "create", "story", "remix", "extend", "edit"


def text(value: Any, param: str) -> str:
    return str(value)


def flag(value: Any, param: str) -> bool:
    """A boolean from JSON (true/false) or a form ("true"/"false"/"1"/"0")."""
    if isinstance(value, bool):
        return value
    written = str(value).strip().lower()
    if written in ("true", "1", "yes", "on"):
        return True
    if written in ("false", "0", "no", "off"):
        return False
    raise invalid(f"Invalid '{param}': expected true or false.", param, "invalid_type")


def reference(value: Any, param: str) -> Reference:
    """An uploaded file (already a Reference), or ``{"image_url"}`` / ``{"file_id"}`` (or that as a JSON string):
    each a string; an image URL ``https://`` on a public host or a ``data:image/`` URI (:mod:`.image_urls`)."""
    if isinstance(value, Reference):
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise invalid(
                f"Invalid '{param}': expected a file or an object with image_url or file_id.", param
            ) from None
    if not isinstance(value, dict) or not (value.get("image_url") or value.get("file_id")):
        raise invalid(f"Invalid '{param}': provide exactly one of image_url or file_id.", param)
    for key in ("image_url", "file_id"):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise invalid(f"Invalid type for '{param}.{key}': expected a string.", f"{param}.{key}", "invalid_type")
    image_url = value.get("image_url") or None
    if image_url is not None and (problem := image_url_problem(image_url)) is not None:
        raise invalid(f"Invalid '{param}.image_url': {problem}.", f"{param}.image_url")
    return Reference(image_url=image_url, file_id=value.get("file_id") or None)


def seconds(value: Any, param: str) -> str:
    """A duration as the client wrote it (the planner decides whether it is a usable number): never a boolean,
    and written with the digits 0-9 only (``"²".isdigit()`` and ``float("٣")`` would let other digits through)."""
    if isinstance(value, bool):
        raise invalid(f"Invalid type for '{param}': expected a number.", param, "invalid_type")
    written = str(value)
    if not written.isascii():
        raise invalid(f"Invalid '{param}': {value!r} is not a number of seconds; use the digits 0-9.", param)
    return written


def whole_seconds(value: Any, param: str) -> int:
    """A positive whole number of seconds (a story's scene), read by :func:`seconds` first."""
    written = seconds(value, param).strip()
    try:
        number = int(written) if written.isdigit() else 0
    except ValueError:  # more digits than int() converts
        number = 0
    if number < 1:
        raise invalid(f"Invalid '{param}': {value!r}; expected a positive whole number of seconds.", param)
    return number


@dataclass(frozen=True)
class Field:
    """What a shared field may be (in the OpenAI dialect), how it is read, and which requests take it."""

    kinds: Kinds
    read: Reader = text
    uses: tuple[str, ...] = (CREATE,)


# the VideoRequest attribute -> the field; one line a field
SHARED: dict[str, Field] = {
    "prompt": Field(STR, text, (CREATE, REMIX, EXTEND, EDIT)),
    "model": Field(STR, text, (CREATE, STORY)),
    "seconds": Field(WHOLE, seconds, (CREATE, EXTEND)),
    "size": Field(STR, text, (CREATE, STORY)),
    "input_reference": Field(REFERENCE, reference),
    "style_preset": Field(STR, text, (CREATE, STORY)),
    "negative_prompt": Field(STR, text, (CREATE, STORY)),
    "output_format": Field(STR, text, (CREATE, STORY)),
    "enhance_prompt": Field(FLAG, flag, (CREATE, STORY)),
    "callback_url": Field(STR, text, (CREATE, STORY, REMIX, EXTEND, EDIT)),
}


@dataclass(frozen=True)
class Dialect:
    """A way of writing the shared fields: its name (``VideoRequest.dialect``), and where it differs."""

    name: str
    kinds: Mapping[str, Kinds] = field(default_factory=dict)  # attribute -> the types, where wider than SHARED's
    without: frozenset[str] = frozenset()  # shared fields this dialect does not take

    def param(self, attr: str) -> str:
        """The client's name for a shared field (``duration_seconds`` for ``seconds`` in the seed dialect)."""
        return param_name(attr, self.name)

    def attrs(self, use: str) -> tuple[str, ...]:
        return tuple(a for a, f in SHARED.items() if use in f.uses and a not in self.without)

    def fields(self, use: str) -> dict[str, Kinds]:
        """The client's name -> the types it may send, for every shared field ``use`` takes."""
        return {self.param(a): self.kinds.get(a, SHARED[a].kinds) for a in self.attrs(use)}

    def read(self, data: Mapping[str, Any], attr: str) -> Any:
        """One shared field of a body checked against :meth:`fields`, as VideoRequest holds it (None: absent)."""
        name = self.param(attr)
        value = data.get(name)
        return None if value is None else SHARED[attr].read(value, name)

    def request(self, data: Mapping[str, Any], use: str = CREATE, **fixed: Any) -> VideoRequest:
        """A checked body as a VideoRequest: every shared field ``use`` takes, then ``fixed`` over them."""
        values = {a: v for a in self.attrs(use) if (v := self.read(data, a)) is not None}
        return VideoRequest(**{"prompt": "", **values, **fixed, "dialect": self.name})


OPENAI = Dialect("openai")
SEED = Dialect("seed", kinds={"seconds": NUMBER}, without=frozenset({"input_reference"}))


def kinds_text(kinds: Kinds) -> str:
    return " or ".join("string" if t is str else "integer" if t is int else t.__name__ for t in kinds)


def check_fields(data: dict[str, Any], allowed: dict[str, Kinds], required: tuple[str, ...] = ()) -> None:
    """Unknown parameters, missing ones and wrong types are refused, naming the field."""
    for name, value in data.items():
        if name not in allowed:
            raise unknown_parameter(name, allowed)
        if isinstance(value, UploadFile) and Reference in allowed[name]:
            continue  # a file, kept once every field has been checked
        if value is not None and not isinstance(value, allowed[name]):
            raise invalid(f"Invalid type for '{name}': expected {kinds_text(allowed[name])}.", name, "invalid_type")
    for name in required:
        if data.get(name) in (None, ""):
            raise invalid(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
