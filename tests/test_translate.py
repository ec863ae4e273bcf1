"""The translation rules as one table per rule: every size and duration class, on every profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.models import Reference, VideoRequest
from gateway.core.plan import Plan, PlanOptions, adaptation_kind, plan_request
from gateway.core.styles import DEFAULT_STYLES, StyleBook, StyleError, parse_styles
from gateway.core.translate import balanced, nearest_size, parse_size, split_seconds
from gateway.errors import ApiError
from gateway.providers import PROFILES, get_profile

O25, O26, AZ = "openai-2025-10", "openai-2026-03", "azure-sora-1"


def plan(profile: str, options: PlanOptions | None = None, **fields: object) -> Plan:
    prompt = str(fields.pop("prompt", "a fox in snow"))
    return plan_request(VideoRequest(prompt=prompt, **fields), PROFILES[profile], options)  # type: ignore[arg-type]


# -- sizes: (profile, model, asked) -> (size sent upstream, adaptation or None)
SIZES = [
    # exact supported sizes pass unchanged
    (O25, "sora-2", "1280x720", "1280x720", None),
    (O25, "sora-2", "720x1280", "720x1280", None),
    (O26, "sora-2-pro", "1792x1024", "1792x1024", None),
    (AZ, None, "854x480", "854x480", None),
    # landscape: same orientation, closest area
    (O25, "sora-2", "1920x1080", "1280x720", "size=1920x1080->1280x720"),
    (O25, "sora-2-pro", "1920x1080", "1792x1024", "size=1920x1080->1792x1024"),
    (O26, "sora-2-pro", "1000x600", "1280x720", "size=1000x600->1280x720"),
    (AZ, None, "1000x560", "854x480", "size=1000x560->854x480"),
    (AZ, None, "1100x620", "1280x720", "size=1100x620->1280x720"),
    (AZ, None, "3840x2160", "1920x1080", "size=3840x2160->1920x1080"),
    # portrait
    (O25, "sora-2", "1080x1920", "720x1280", "size=1080x1920->720x1280"),
    (O26, "sora-2-pro", "1080x1920", "1024x1792", "size=1080x1920->1024x1792"),
    (AZ, None, "1080x1920", "1080x1920", None),
    (AZ, None, "400x700", "480x854", "size=400x700->480x854"),
    # square: Azure has squares; OpenAI has none, so the closest area wins, landscape first
    (AZ, None, "1024x1024", "1080x1080", "size=1024x1024->1080x1080"),
    (AZ, None, "500x500", "480x480", "size=500x500->480x480"),
    (O25, "sora-2", "1024x1024", "1280x720", "size=1024x1024->1280x720"),
    (O26, "sora-2-pro", "2000x2000", "1792x1024", "size=2000x2000->1792x1024"),
    # 480p / 720p / 1080p are 16:9 landscape
    (O25, "sora-2", "480p", "1280x720", "size=480p->1280x720"),
    (O25, "sora-2", "720p", "1280x720", None),
    (O26, "sora-2-pro", "1080p", "1792x1024", "size=1080p->1792x1024"),
    (AZ, None, "480p", "854x480", None),
    (AZ, None, "720p", "1280x720", None),
    (AZ, None, "1080p", "1920x1080", None),
    # absent: the profile's default
    (O25, None, None, "720x1280", None),
    (AZ, None, None, "1280x720", None),
]


@pytest.mark.parametrize(("profile", "model", "asked", "size", "note"), SIZES)
def test_size_rules(profile: str, model: str | None, asked: str | None, size: str, note: str | None) -> None:
    result = plan(profile, model=model, size=asked, seconds="4")
    assert result.size == size
    assert size in PROFILES[profile].models[result.upstream_model]
    size_notes = [n for n in result.adapted if adaptation_kind(n) == "size"]
    assert size_notes == ([note] if note else [])


@pytest.mark.parametrize("bad", ["big", "1920", "x1080", "1920x", "0x0", "10x10", "99999x1080", "1080i", "-5x5", ""])
def test_sizes_that_are_not_sizes_are_400s(bad: str) -> None:
    if bad == "":  # empty means "not given": the default
        assert plan(O25, size=bad, seconds="4").size == "720x1280"
        return
    with pytest.raises(ApiError) as err:
        plan(O25, size=bad)
    assert err.value.status == 400 and err.value.param == "size" and repr(bad) in err.value.message


def test_seed_dialect_names_its_own_fields() -> None:
    result = plan(O25, size="1080p", seconds="5", dialect="seed")
    assert result.adapted == ["resolution=1080p->1280x720", "duration_seconds=5->8(trimmed to 5)"]
    for fields, param in (({"size": "huge"}, "resolution"), ({"seconds": "-1"}, "duration_seconds")):
        with pytest.raises(ApiError) as err:
            plan(O25, dialect="seed", **fields)
        assert err.value.param == param


# -- durations: (profile, asked) -> (segment lengths, strategy, trimmed to, adaptation)
DURATIONS = [
    # absent: the profile's default clip
    (O25, None, [4], "single", None, None),
    (AZ, None, [5], "single", None, None),
    # a supported clip length is used as is
    (O25, "4", [4], "single", None, None),
    (O25, "12", [12], "single", None, None),
    (O26, "8", [8], "single", None, None),
    (AZ, "1", [1], "single", None, None),
    (AZ, "7", [7], "single", None, None),
    (AZ, "20", [20], "single", None, None),
    # below the longest clip: round up to the next clip length, trim back
    (O25, "1", [4], "single", 1, "seconds=1->4(trimmed to 1)"),
    (O25, "5", [8], "single", 5, "seconds=5->8(trimmed to 5)"),
    (O26, "10", [12], "single", 10, "seconds=10->12(trimmed to 10)"),
    # above it: a chain of creates (stitched) or create + extensions, trimmed when lengths cannot add up
    (O25, "16", [8, 8], "chain", None, "seconds=16->8+8(stitched)"),
    (O25, "24", [12, 12], "chain", None, "seconds=24->12+12(stitched)"),
    (O25, "25", [12, 8, 8], "chain", 25, "seconds=25->12+8+8(stitched,trimmed to 25)"),
    (O25, "30", [12, 12, 8], "chain", 30, "seconds=30->12+12+8(stitched,trimmed to 30)"),
    (O25, "120", [12] * 10, "chain", None, "seconds=120->" + "+".join(["12"] * 10) + "(stitched)"),
    (O26, "16", [12, 4], "extend", None, "seconds=16->12+4(extended)"),
    (O26, "25", [12, 16], "extend", 25, "seconds=25->12+16(extended,trimmed to 25)"),
    (O26, "30", [12, 20], "extend", 30, "seconds=30->12+20(extended,trimmed to 30)"),
    (O26, "60", [12, 16, 16, 16], "extend", None, "seconds=60->12+16+16+16(extended)"),
    (AZ, "21", [11, 10], "chain", None, "seconds=21->11+10(stitched)"),
    (AZ, "25", [13, 12], "chain", None, "seconds=25->13+12(stitched)"),
    (AZ, "30", [15, 15], "chain", None, "seconds=30->15+15(stitched)"),
    (AZ, "120", [20] * 6, "chain", None, "seconds=120->" + "+".join(["20"] * 6) + "(stitched)"),
]


@pytest.mark.parametrize(("profile", "asked", "lengths", "strategy", "trim", "note"), DURATIONS)
def test_duration_rules(
    profile: str, asked: str | None, lengths: list[int], strategy: str, trim: int | None, note: str | None
) -> None:
    result = plan(profile, seconds=asked)
    caps = PROFILES[profile]
    assert [s.seconds for s in result.segments] == lengths
    assert result.strategy == strategy and result.extras.get("trim_seconds") == trim
    assert result.seconds == int(asked or caps.default_seconds)
    assert sum(lengths) >= result.seconds
    assert [n for n in result.adapted if adaptation_kind(n) == "seconds"] == ([note] if note else [])
    assert lengths[0] in caps.clip_seconds
    rest = caps.extension_seconds if strategy == "extend" else caps.clip_seconds
    assert all(n in rest for n in lengths[1:])
    kinds = [s.kind for s in result.segments]
    assert kinds == ["create"] + (["extend"] if strategy == "extend" else ["create"]) * (len(lengths) - 1)
    assert result.cost_usd == round(sum(lengths) * result.price_per_second, 4)  # trimmed seconds are paid for
    # chained creates carry the scene forward in words, and with the last frame where the upstream takes files
    for seg in result.segments[1:]:
        assert seg.prompt.startswith("a fox in snow") and f"of {len(lengths)})" in seg.prompt
    expects_frames = strategy == "chain" and "file" in caps.reference_kinds
    assert (result.extras.get("continuity") == "last_frame") == expects_frames


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize(
    ("asked", "fragment"),
    [
        ("-3", "positive whole number"),
        ("0", "positive whole number"),
        ("4.5", "positive whole number"),
        ("abc", "not a number"),
        ("nan", "positive whole number"),
        ("121", "exceeds the maximum of 120"),
        ("100000", "exceeds the maximum of 120"),
    ],
)
def test_bad_durations_are_400s_naming_the_field(profile: str, asked: str, fragment: str) -> None:
    with pytest.raises(ApiError) as err:
        plan(profile, seconds=asked)
    assert err.value.status == 400 and err.value.param == "seconds" and fragment in err.value.message


def test_the_maximum_is_configurable() -> None:
    assert plan(O25, PlanOptions(max_seconds=200), seconds="180").seconds == 180
    with pytest.raises(ApiError, match="maximum of 20"):
        plan(O25, PlanOptions(max_seconds=20), seconds="24")


def test_split_and_balance_helpers() -> None:
    assert balanced([4, 8, 12], 3, 32) == [12, 12, 8]
    assert balanced([4, 8, 12], 3, 30) is None
    assert split_seconds(41, range(1, 21), range(1, 21)) == [14, 14, 13]
    assert split_seconds(33, (4, 8, 12), (4, 8, 12)) == [12, 12, 12]
    assert parse_size(" 1280 X 720 ") == (1280, 720) and parse_size("1080p") == (1920, 1080)
    assert nearest_size(600, 600, ("720x1280", "1280x720")) == "1280x720"


# -- models
def test_models_are_never_changed_silently() -> None:
    same = plan(O25, model="sora-2-2025-10-06", seconds="4")  # a dated alias is the same model
    assert (same.model, same.upstream_model, same.adapted) == ("sora-2-2025-10-06", "sora-2", [])
    azure = plan(AZ, model="sora-2-pro", seconds="4")
    assert azure.upstream_model == "sora" and azure.adapted == ["model=sora-2-pro->sora"]
    kept = plan(O25, model="sora-2", size="1792x1024", seconds="4")
    assert (kept.upstream_model, kept.size) == ("sora-2", "1280x720")
    upgraded = plan(O25, PlanOptions(allow_model_upgrade=True), model="sora-2", size="1792x1024", seconds="4")
    assert (upgraded.model, upgraded.upstream_model, upgraded.size) == ("sora-2-pro", "sora-2-pro", "1792x1024")
    assert upgraded.adapted == ["model=sora-2->sora-2-pro"] and upgraded.price_per_second == 0.5
    only_basic = plan_request(
        VideoRequest(prompt="x", model="sora-2", size="1792x1024"),
        PROFILES[O25],
        PlanOptions(allow_model_upgrade=True),
        allowed_models=["sora-2"],
    )
    assert only_basic.upstream_model == "sora-2" and only_basic.size == "1280x720"


@pytest.mark.parametrize("profile", list(PROFILES))
def test_unknown_models_are_400s(profile: str) -> None:
    with pytest.raises(ApiError) as err:
        plan(profile, model="sora-9")
    assert err.value.status == 400 and err.value.param == "model" and "available" in err.value.message


# -- style, negative prompt, output format, references
@pytest.mark.parametrize("profile", list(PROFILES))
def test_style_and_negative_prompt_become_prompt_clauses(profile: str) -> None:
    result = plan(profile, style_preset="film-noir", negative_prompt="people, text", seconds="30")
    native = "negative_prompt" in PROFILES[profile].native_fields  # a provider with its own field (Runway's Veo)
    for seg in result.segments:
        assert f"Style: {DEFAULT_STYLES['film-noir']}." in seg.prompt
        assert ("Avoid: people, text." in seg.prompt) is not native
    assert "style_preset->prompt" in result.adapted
    if native:
        assert result.extras["native"] == {"negative_prompt": "people, text"}
        assert "negative_prompt->native" in result.adapted
    else:
        assert "negative_prompt->prompt" in result.adapted


def test_native_fields_are_left_to_the_upstream() -> None:
    import dataclasses

    caps = dataclasses.replace(get_profile(O25), native_fields=frozenset({"style_preset", "negative_prompt"}))
    req = VideoRequest(prompt="x", seconds="4", style_preset="anime", negative_prompt="rain")
    result = plan_request(req, caps)
    assert result.segments[0].prompt == "x" and result.adapted == []
    assert result.extras["native"] == {"style_preset": "anime", "negative_prompt": "rain"}


def test_unknown_style_is_a_400_listing_the_known_ones() -> None:
    with pytest.raises(ApiError) as err:
        plan(O25, style_preset="vaporwave")
    assert err.value.param == "style_preset"
    assert all(name in err.value.message for name in ("cinematic", "watercolor", "8mm", "anime"))


def test_operators_extend_styles_without_restart(tmp_path: Path) -> None:
    path = tmp_path / "styles.yaml"
    path.write_text("vaporwave: neon pink and teal, retro 80s computer graphics\n")
    book = StyleBook(path)
    result = plan(O25, PlanOptions(styles=book), style_preset="Vaporwave", seconds="4")
    assert "Style: neon pink and teal, retro 80s computer graphics." in result.segments[0].prompt
    assert book.get("cinematic") == DEFAULT_STYLES["cinematic"]  # the built-ins stay
    path.write_text("vaporwave: neon\nsynthwave: sunset grid\n")
    import os

    os.utime(path, ns=(1, 1))  # a different stamp, as an editor's save gives
    assert book.get("synthwave") == "sunset grid"
    path.write_text("vaporwave: [not, a, string]\n")
    os.utime(path, ns=(2, 2))
    assert book.get("synthwave") == "sunset grid" and book.error and "styles.yaml:1" in book.error
    with pytest.raises(StyleError, match=r"x:2: 'Bad Name!'"):
        parse_styles("ok: fine\nBad Name!: nope\n", "x")
    shipped = Path(__file__).parent.parent / "policies" / "styles.yaml"
    assert parse_styles(shipped.read_text(), str(shipped)) == DEFAULT_STYLES


def test_output_formats() -> None:
    webm = plan(O25, output_format="webm", seconds="4")
    assert webm.extras["output_format"] == "webm" and webm.adapted == ["output_format=webm(transcoded from mp4)"]
    assert plan(O25, output_format="MP4", seconds="4").extras == {}
    cases = [(PlanOptions(webm_enabled=False), "webm", "unsupported_output_format"), (None, "gif", "invalid_value")]
    for options, fmt, code in cases:
        with pytest.raises(ApiError) as err:
            plan(O25, options, output_format=fmt)
        assert err.value.param == "output_format" and err.value.code == code


def test_references_the_upstream_cannot_take_are_refused() -> None:
    ref = Reference(filename="a.png", content_type="image/png", path="/tmp/a.png")
    assert plan(O25, input_reference=ref, seconds="4").segments[0].kind == "create"
    with pytest.raises(ApiError) as err:
        plan(AZ, input_reference=ref)
    assert err.value.param == "input_reference" and err.value.code == "unsupported_by_upstream"


def test_prompt_length_counts_the_clauses() -> None:
    with pytest.raises(ApiError) as err:
        plan(O25, PlanOptions(max_prompt_chars=100), prompt="x" * 95, style_preset="cinematic")
    assert err.value.param == "prompt" and "style" in err.value.message
    with pytest.raises(ApiError) as err:
        plan(O25, prompt="   ")
    assert err.value.param == "prompt"


def test_a_scaling_provider_keeps_the_shape_of_the_ask() -> None:
    sizes = ("832x480", "1280x720", "1920x1080", "1632x1248", "1440x1440", "480x832")
    assert nearest_size(1792, 1024, sizes, shape_first=True) == "1920x1080"  # 16:9-ish, not 4:3 of similar area
    assert nearest_size(1792, 1024, sizes) == "1632x1248"  # the Sora family's rule: the closest area
    assert nearest_size(1024, 768, sizes, shape_first=True) == "1632x1248"
    assert nearest_size(1000, 1000, sizes, shape_first=True) == "1440x1440"
    assert nearest_size(640, 360, sizes, shape_first=True) == "832x480"
