"""Non-blocking prompt lint: the classic pitfalls of video prompts, reported in a response header.

* ``contradiction=a+b``: two cues that cannot both hold (``sunny`` and ``starry night``);
* ``vague=word,...``: words that tell the model nothing it can render (``beautiful``, ``nice``);
* ``subjects=N``: more separate subjects than one short clip can follow (4 or more).

The header is plain ASCII so it survives every HTTP stack; the create is never refused for it.
"""

from __future__ import annotations

import functools
import re
import unicodedata

LINT_HEADER = "x-sora-gateway-prompt-lint"
MAX_SUBJECTS = 3

VAGUE = (
    "beautiful",
    "nice",
    "amazing",
    "awesome",
    "stunning",
    "gorgeous",
    "incredible",
    "interesting",
    "good",
    "cool",
    "epic",
    "pretty",
    "lovely",
    "great",
    "wonderful",
)
# groups of cues that contradict every cue of the other group
CONTRADICTIONS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("sunny", "sunlit", "midday", "noon", "daylight", "daytime", "bright day"),
        ("night", "starry", "midnight", "moonlit"),
    ),
    (("sunrise", "dawn"), ("sunset", "dusk")),
    (("winter", "snowy", "snow"), ("summer heat", "scorching", "heatwave")),
    (("underwater",), ("desert", "dry land")),
    (("silent", "silence"), ("loud", "noisy", "roaring")),
    (("slow motion",), ("time-lapse", "timelapse", "fast forward")),
    (("black and white", "monochrome"), ("vibrant colors", "colorful", "technicolor")),
)
_SUBJECT_START = re.compile(
    r"(?:^|,|;|\band\b|\bwith\b|\bplus\b|&)\s*(?:a|an|the|two|three|four|five|several|some|many|\d+)\s+\w+"
)


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = decomposed.encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", ascii_text.lower())


@functools.cache
def _cue(cue: str) -> re.Pattern[str]:
    return re.compile(r"\b" + re.escape(cue) + r"\b")


def _has(text: str, cue: str) -> bool:
    return cue in text and _cue(cue).search(text) is not None  # most cues are not there at all


def lint_prompt(prompt: str) -> list[str]:
    text = _plain(prompt)
    found: list[str] = []
    for left, right in CONTRADICTIONS:
        a = next((c for c in left if _has(text, c)), None)
        b = next((c for c in right if _has(text, c)), None)
        if a and b:
            found.append(f"contradiction={a}+{b}")
    vague = [w for w in VAGUE if _has(text, w)]
    if vague:
        found.append("vague=" + ",".join(vague))
    subjects = len(_SUBJECT_START.findall(text))
    if subjects > MAX_SUBJECTS:
        found.append(f"subjects={subjects}")
    return found
