"""A way forward for a field the route does not take: the nearest known name, or where that name belongs.

``Unknown parameter: 'duration_seconds'.`` alone leaves a newcomer guessing. :func:`unknown_parameter` adds one
hint, and only a true one (every name it suggests is a field the route takes, every route it names exists):

- the other dialect's name for a field this route takes: ``duration_seconds``/``resolution`` sent to
  ``/v1/videos`` point to ``seconds``/``size`` (and to ``POST /v1/video/generations``, where those names
  belong); ``seconds``/``size`` sent to ``/v1/video/generations`` point the other way;
- a name other APIs use for a field this route takes (``duration``, ``n_seconds``, ``width``, ``aspect_ratio``);
- a field of another gateway route (``n`` and ``variations`` are a batch's, ``scenes`` a story's);
- else the nearest known name by spelling (``second`` -> ``seconds``; :func:`difflib.get_close_matches`).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from gateway.core.translate import PARAM_NAMES
from gateway.errors import ApiError, invalid

# where each dialect's create lives (the names of PARAM_NAMES' dialects)
DIALECT_ROUTES = {"openai": "POST /v1/videos", "seed": "POST /v1/video/generations"}
# names other video APIs use -> the shared field (VideoRequest attribute) they mean
ALIASES = {
    "duration": "seconds",
    "n_seconds": "seconds",
    "length": "seconds",
    "width": "size",
    "height": "size",
    "aspect_ratio": "size",
    "dimensions": "size",
    "negativeprompt": "negative_prompt",
    "style": "style_preset",
    "format": "output_format",
    "webhook_url": "callback_url",
    "callback": "callback_url",
    "image": "input_reference",
    "image_url": "input_reference",
}
# fields of the gateway's other create routes
ELSEWHERE = {
    "n": "POST /v1/gateway/batches (n variations of one prompt)",
    "variations": "POST /v1/gateway/batches",
    "scenes": "POST /v1/gateway/stories",
}


def _names(attr: str) -> dict[str, str]:
    """Every dialect's name for a shared field: client name -> dialect."""
    names = {attr: "openai"}
    for (field, dialect), name in PARAM_NAMES.items():
        if field == attr:
            names[name] = dialect
    return names


def _taken(attr: str, allowed: Collection[str]) -> str | None:
    """This route's name for the shared field ``attr``, if it takes it."""
    return next((name for name in _names(attr) if name in allowed), None)


def hint(name: str, allowed: Collection[str]) -> str:
    """The sentence that follows ``Unknown parameter: '<name>'.`` (empty when nothing true can be said)."""
    if "scenes" in allowed and name in ("prompt", "seconds", "duration_seconds", "duration"):
        return 'A story\'s prompts and lengths go in each scene: {"scenes": [{"prompt": "...", "seconds": 4}, ...]}.'
    for (attr, dialect), other in PARAM_NAMES.items():
        here = _taken(attr, allowed)
        if here is None or here == name:
            continue
        if name == other:  # the seed dialect's name on a route that takes the OpenAI one
            return f"Did you mean '{here}'? '{name}' is the name {DIALECT_ROUTES[dialect]} uses."
        if name == attr:  # the OpenAI name on a route of the seed dialect
            return f"Did you mean '{here}'? '{name}' is the name {DIALECT_ROUTES['openai']} uses."
    lowered = name.strip().lower().replace("-", "_")
    if lowered in allowed and lowered != name:
        return f"Did you mean '{lowered}'? Field names are lower case."
    aliased = ALIASES.get(lowered) or ALIASES.get(lowered.replace("_", ""))
    if aliased is not None and (here := _taken(aliased, allowed)) is not None:
        shape = ' (an object {"image_url": "https://..."} or a file)' if here == "input_reference" else ""
        return f"Did you mean '{here}'{shape}?"
    if name in ELSEWHERE:
        return f"'{name}' is a field of {ELSEWHERE[name]}."
    spelled = {known: known for known in allowed}  # a spelling near any dialect's name of a field taken here
    for (attr, _), other in PARAM_NAMES.items():
        if (here := _taken(attr, allowed)) is not None:
            spelled.setdefault(attr, here)
            spelled.setdefault(other, here)
    close = difflib.get_close_matches(lowered, list(spelled), n=1, cutoff=0.6)
    return f"Did you mean '{spelled[close[0]]}'?" if close else ""


def unknown_parameter(name: str, allowed: Collection[str]) -> ApiError:
    """The 400 for a field the route does not take, with a hint where one is true."""
    said = hint(name, allowed)
    return invalid(f"Unknown parameter: '{name}'." + (f" {said}" if said else ""), name, "unknown_parameter")
