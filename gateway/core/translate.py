"""Translation rules from what a client asks to what an upstream offers: sizes, durations, prompt clauses.

Pure functions over :class:`~gateway.core.capabilities.Capabilities`; each either returns the
translated value or raises an OpenAI-shaped 400 naming the field. ``param`` is the client's own
field name (``size`` in the OpenAI dialect, ``resolution`` in the seed dialect).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from gateway.errors import invalid

MAX_SIDE = 8192
# ASCII only: ``\d`` would also take other scripts' digits (Arabic-Indic 1280x720), which ``int()`` then reads
_WXH = re.compile(r"^\s*(\d{1,5})\s*[xX*\u00d7]\s*(\d{1,5})\s*$", re.ASCII)
_PROGRESSIVE = re.compile(r"^\s*(\d{3,4})\s*[pP]\s*$", re.ASCII)
_K_LABEL = re.compile(r"^\s*(\d{1,2})\s*[kK]\s*$", re.ASCII)
# the "nK" labels of 16:9 video: 2K as the 1440p of monitors and phones, 4K UHD, 5K, 8K UHD
K_LABELS: dict[int, tuple[int, int]] = {2: (2560, 1440), 4: (3840, 2160), 5: (5120, 2880), 8: (7680, 4320)}
SIZE_FORMS = "WIDTHxHEIGHT (e.g. 1280x720), 480p, 720p, 1080p, or 2K, 4K, 5K, 8K"

# (field, dialect) -> the client's name for it
PARAM_NAMES: dict[tuple[str, str], str] = {("seconds", "seed"): "duration_seconds", ("size", "seed"): "resolution"}


def param_name(field: str, dialect: str) -> str:
    return PARAM_NAMES.get((field, dialect), field)


# -- sizes ---------------------------------------------------------------------------------------------------------
def parse_size(value: str, param: str = "size") -> tuple[int, int]:
    """``WxH``, ``480p``/``720p``/``1080p`` or ``2K``/``4K``/``5K``/``8K`` (16:9 landscape) as (width, height)."""
    match = _WXH.match(value)
    k_label = _K_LABEL.match(value)
    if match:
        width, height = int(match.group(1)), int(match.group(2))
    elif progressive := _PROGRESSIVE.match(value):
        height = int(progressive.group(1))
        width = round(height * 16 / 9 / 2) * 2
    elif k_label and int(k_label.group(1)) in K_LABELS:
        width, height = K_LABELS[int(k_label.group(1))]
    else:
        raise invalid(f"Invalid '{param}': {value!r} is not a size; expected {SIZE_FORMS}.", param)
    if not (16 <= width <= MAX_SIDE and 16 <= height <= MAX_SIDE):
        raise invalid(f"Invalid '{param}': {value!r}; each side must be between 16 and {MAX_SIDE} pixels.", param)
    return width, height


def _dims(size: str) -> tuple[int, int]:
    width, _, height = size.partition("x")
    return int(width), int(height)


def orientation(width: int, height: int) -> str:
    return "landscape" if width > height else "portrait" if height > width else "square"


def nearest_size(width: int, height: int, sizes: Sequence[str], *, shape_first: bool = False) -> str:
    """The supported size with the same orientation and the closest area (then the closest aspect ratio).

    Where no size has the requested orientation (a square on an upstream without squares), every size
    is a candidate: the closest area wins, landscape first on a tie. ``shape_first`` (an upstream whose
    video the gateway scales to the size asked): the closest aspect ratio first, then the closest area,
    so the scaled video is not stretched (1792x1024 -> 16:9 at 1080p, not a 4:3 frame of similar area).
    """
    wanted = orientation(width, height)
    candidates = [s for s in sizes if orientation(*_dims(s)) == wanted] or list(sizes)
    area, aspect = width * height, width / height

    def distance(size: str) -> tuple[float, ...]:
        w, h = _dims(size)
        area_gap = round(abs(math.log(w * h / area)), 9)
        aspect_gap = abs(math.log((w / h) / aspect))
        landscape_first = 0 if orientation(w, h) == "landscape" else 1
        if shape_first:  # aspect ratios within ~4% of each other count as the same shape
            return math.floor(aspect_gap / 0.04), area_gap, landscape_first
        return area_gap, landscape_first, aspect_gap

    return min(candidates, key=distance)


def upgrade_model(size: str, model: str, models: dict[str, tuple[str, ...]], allowed: Iterable[str]) -> str | None:
    """Another model (allowed for the caller) that has exactly ``size``, when ``model`` does not."""
    if size in models.get(model, ()):
        return None
    return next((m for m in allowed if m != model and size in models.get(m, ())), None)


# -- durations -----------------------------------------------------------------------------------------------------
def parse_seconds(value: object, default: int, maximum: int, param: str = "seconds") -> int:
    """A whole, positive number of seconds no larger than ``maximum``."""
    if value is None or value == "":
        return default
    try:
        text = str(value).strip()
        if not text.isascii():  # float() reads "٣" and "U+FF15" as digits: a count is written in ASCII
            raise ValueError(text)
        number = float(text)
    except ValueError:
        raise invalid(f"Invalid '{param}': {value!r} is not a number of seconds.", param) from None
    if not math.isfinite(number) or number <= 0 or number != int(number):
        raise invalid(f"Invalid '{param}': {value!r} must be a positive whole number of seconds.", param)
    if number > maximum:
        raise invalid(f"Invalid '{param}': {int(number)} seconds exceeds the maximum of {maximum}.", param)
    return int(number)


def balanced(lengths: Sequence[int], count: int, total: int) -> list[int] | None:
    """``count`` lengths from ``lengths`` summing to ``total``, as equal as possible (longest first), or None."""
    if count == 0:
        return [] if total == 0 else None
    ordered = sorted(set(lengths))
    ideal = total / count
    for low, high in zip(ordered, [*ordered[1:], ordered[-1]], strict=True):
        if not low <= ideal <= high:
            continue
        if low == high or ideal == low:
            return [low] * count if low * count == total else None
        highs, rest = divmod(total - count * low, high - low)
        if rest == 0 and 0 <= highs <= count:
            return [high] * highs + [low] * (count - highs)
        return None
    return None


def split_seconds(seconds: int, first: Sequence[int], rest: Sequence[int]) -> list[int]:
    """Segment lengths covering ``seconds``: the least generated total first, then the fewest segments.

    The first segment takes a length from ``first`` (a create); the others from ``rest`` (more creates
    for a chain, extension lengths for create + extend). The total may exceed ``seconds`` when the
    lengths cannot add up to it exactly; the stitcher then trims the end.
    """
    longest_first = sorted(set(first), reverse=True)
    ceiling = seconds + max(max(first), max(rest))
    for total in range(seconds, ceiling + 1):
        for count in range(1, total // min(min(first), min(rest)) + 2):
            if set(first) == set(rest):  # a chain of creates: equal parts
                parts = balanced(first, count, total)
                if parts is not None:
                    return parts
                continue
            for head in longest_first:  # create + extensions: the longest create, then equal extensions
                tail = balanced(rest, count - 1, total - head)
                if tail is not None:
                    return [head, *tail]
    raise ValueError(f"no split of {seconds}s into {first} + {rest}")  # unreachable for non-empty lengths


def round_up(seconds: int, lengths: Sequence[int]) -> int | None:
    """The shortest supported length that is at least ``seconds``."""
    return min((n for n in lengths if n >= seconds), default=None)


# -- prompt clauses ------------------------------------------------------------------------------------------------
def style_clause(description: str) -> str:
    return f"Style: {description.strip().rstrip('.')}."


def avoid_clause(negative: str) -> str:
    return f"Avoid: {negative.strip().rstrip('.')}."


def continuation_clause(part: int, parts: int) -> str:
    return (
        f"Continuation (part {part} of {parts}): carry the previous shot forward seamlessly; same characters, "
        "setting, lighting, colour palette and camera style, no scene cut."
    )


def compose_prompt(prompt: str, *clauses: str) -> str:
    extra = [c for c in clauses if c]
    return "\n\n".join([prompt.rstrip(), *extra]) if extra else prompt
