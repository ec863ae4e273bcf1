"""The one request reader every face shares (gateway/faces/requests.py): which fields each kind of request
takes in each dialect, each field's refusals (a wrong type, a boolean or Unicode digits for seconds, the seed
dialect's own names), and that a body becomes the same VideoRequest whichever face reads it. Last, the faces
themselves over HTTP: Unicode digits are a 400 naming the field, never a 500, and nothing goes upstream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.core.models import Reference, VideoRequest
from gateway.errors import ApiError
from gateway.faces.batches import BATCH_FIELDS
from gateway.faces.openai_videos import CREATE_FIELDS, DERIVED_FIELDS, EDIT_FIELDS, REMIX_FIELDS
from gateway.faces.requests import (
    CREATE,
    OPENAI,
    SEED,
    SHARED,
    STORY,
    check_fields,
    flag,
    reference,
    seconds,
    whole_seconds,
)
from gateway.faces.seed_generations import FIELDS as SEED_FIELDS
from gateway.faces.stories import STORY_FIELDS, parse_scenes
from tests.conftest import Stack, calls

# superscript two, Arabic-Indic three, fullwidth eight, Bengali four, a 4 with a superscript, one quarter
UNICODE_DIGITS = ["\u00b2", "\u0663", "\uff18", "\u09ea", "4\u00b2", "\u00bc"]


def refusal(call: Callable[[], Any]) -> ApiError:
    with pytest.raises(ApiError) as refused:
        call()
    assert refused.value.status == 400 and set(refused.value.body()["error"]) == {"message", "type", "param", "code"}
    return refused.value


# -- which fields each face takes ------------------------------------------------------------------------------------
def test_each_face_takes_the_shared_fields_of_its_use() -> None:
    openai = {"prompt", "model", "seconds", "size", "input_reference", "style_preset", "negative_prompt"}
    openai |= {"output_format", "enhance_prompt", "callback_url"}
    assert set(CREATE_FIELDS) == openai
    assert set(BATCH_FIELDS) == openai | {"n", "variations"}
    assert set(SEED_FIELDS) == openai - {"seconds", "size", "input_reference"} | {"duration_seconds", "resolution"}
    film = {"model", "size", "style_preset", "negative_prompt", "output_format", "callback_url", "enhance_prompt"}
    assert set(STORY_FIELDS) == film | {"scenes"}
    assert set(REMIX_FIELDS) == {"prompt", "callback_url"}
    assert set(DERIVED_FIELDS) == {"video", "prompt", "seconds", "callback_url"}
    assert set(EDIT_FIELDS) == {"video", "prompt", "callback_url"}


def test_the_dialects_differ_only_in_names_and_the_seed_seconds_types() -> None:
    assert SEED.param("seconds") == "duration_seconds" and SEED.param("size") == "resolution"
    assert OPENAI.param("seconds") == "seconds" and SEED.param("model") == "model"
    assert CREATE_FIELDS["seconds"] == (str, int) and SEED_FIELDS["duration_seconds"] == (int, float, str)
    for attr, shared in SHARED.items():
        if attr not in ("seconds", "input_reference"):
            assert SEED_FIELDS[SEED.param(attr)] == CREATE_FIELDS[attr] == shared.kinds, attr


# -- each field's refusals -------------------------------------------------------------------------------------------
WRONG_TYPES: list[tuple[str, Any]] = [
    ("prompt", 5),
    ("model", ["sora-2"]),
    ("seconds", 4.0),
    ("seconds", [4]),
    ("size", {"w": 1}),
    ("input_reference", 7),
    ("style_preset", True),
    ("negative_prompt", 1.5),
    ("output_format", 3),
    ("enhance_prompt", 1),
    ("callback_url", {"url": "x"}),
]


@pytest.mark.parametrize(("name", "value"), WRONG_TYPES, ids=[f"{n}-{type(v).__name__}" for n, v in WRONG_TYPES])
def test_a_wrong_type_is_refused_naming_the_field(name: str, value: Any) -> None:
    error = refusal(lambda: check_fields({"prompt": "p", name: value}, CREATE_FIELDS, ("prompt",)))
    assert (error.param, error.code) == (name, "invalid_type") and f"Invalid type for '{name}'" in error.message


@pytest.mark.parametrize(("name", "value"), [("duration_seconds", [4]), ("resolution", 720), ("model", 1)])
def test_the_seed_dialect_refuses_under_its_own_names(name: str, value: Any) -> None:
    error = refusal(lambda: check_fields({"prompt": "p", name: value}, SEED_FIELDS, ("prompt",)))
    assert (error.param, error.code) == (name, "invalid_type")
    for openai_name in ("seconds", "size", "input_reference"):  # the OpenAI names are unknown there
        unknown = refusal(lambda n=openai_name: check_fields({"prompt": "p", n: "4"}, SEED_FIELDS, ("prompt",)))
        assert (unknown.param, unknown.code) == (openai_name, "unknown_parameter")


def test_unknown_and_missing_fields_are_refused() -> None:
    unknown = refusal(lambda: check_fields({"prompt": "p", "fps": 24}, CREATE_FIELDS, ("prompt",)))
    assert (unknown.param, unknown.code) == ("fps", "unknown_parameter")
    missing = refusal(lambda: check_fields({"prompt": ""}, CREATE_FIELDS, ("prompt",)))
    assert (missing.param, missing.code) == ("prompt", "missing_required_parameter")


@pytest.mark.parametrize("written", UNICODE_DIGITS)
@pytest.mark.parametrize(("dialect", "param"), [(OPENAI, "seconds"), (SEED, "duration_seconds")])
def test_seconds_in_unicode_digits_are_refused_naming_the_field(dialect: Any, param: str, written: str) -> None:
    error = refusal(lambda: dialect.request({"prompt": "p", param: written}))
    assert error.param == param and "digits 0-9" in error.message


@pytest.mark.parametrize(("dialect", "param"), [(OPENAI, "seconds"), (SEED, "duration_seconds")])
def test_a_boolean_is_not_a_number_of_seconds(dialect: Any, param: str) -> None:
    error = refusal(lambda: dialect.request({"prompt": "p", param: True}))
    assert (error.param, error.code) == (param, "invalid_type") and "expected a number" in error.message


def test_seconds_keep_what_the_client_wrote_for_the_planner() -> None:
    assert [seconds(v, "seconds") for v in ("8", 8, " 12 ", 8.0, "8.5")] == ["8", "8", " 12 ", "8.0", "8.5"]


@pytest.mark.parametrize("written", [*UNICODE_DIGITS, "0", "-4", "4.0", 4.0, "", None, True, [4], "9" * 5000])
def test_a_scene_takes_only_a_positive_whole_number_in_ascii_digits(written: Any) -> None:
    error = refusal(lambda: whole_seconds(written, "scenes[0].seconds"))
    assert error.param == "scenes[0].seconds"


def test_a_scene_reads_whole_seconds() -> None:
    assert [whole_seconds(v, "s") for v in (4, "4", " 12 ", "008")] == [4, 4, 12, 8]
    scenes = parse_scenes([{"prompt": "a", "seconds": "4"}, {"prompt": "b", "seconds": 8}])
    assert [(s.prompt, s.seconds) for s in scenes] == [("a", 4), ("b", 8)]
    error = refusal(lambda: parse_scenes([{"prompt": "a", "seconds": 4}, {"prompt": "b", "seconds": "\u00b2"}]))
    assert error.param == "scenes[1].seconds"


@pytest.mark.parametrize(("dialect", "value"), [(OPENAI, "maybe"), (SEED, "2"), (OPENAI, "")])
def test_enhance_prompt_is_true_or_false(dialect: Any, value: str) -> None:
    error = refusal(lambda: dialect.request({"prompt": "p", "enhance_prompt": value}))
    assert (error.param, error.code) == ("enhance_prompt", "invalid_type")
    assert [flag(v, "enhance_prompt") for v in (True, "true", "1", "off", False)] == [True, True, True, False, False]


@pytest.mark.parametrize("value", ["not json", '{"x": 1}', "[1]", {}, {"image_url": ""}])
def test_input_reference_needs_a_file_an_image_url_or_a_file_id(value: Any) -> None:
    error = refusal(lambda: OPENAI.request({"prompt": "p", "input_reference": value}))
    assert error.param == "input_reference"


def test_input_reference_reads() -> None:
    uploaded = Reference(filename="a.png", path="/tmp/a.png", sha256="ab")
    assert reference(uploaded, "input_reference") is uploaded
    assert reference('{"image_url": "https://x/a.png"}', "input_reference") == Reference(image_url="https://x/a.png")
    assert OPENAI.request({"prompt": "p", "input_reference": {"file_id": "f1"}}).input_reference == Reference(
        file_id="f1"
    )


# -- a body as a VideoRequest ----------------------------------------------------------------------------------------
def test_both_dialects_make_the_same_request() -> None:
    common = {"prompt": "a fox", "model": "sora-2", "style_preset": "noir", "negative_prompt": "rain"}
    common |= {"output_format": "webm", "enhance_prompt": "false", "callback_url": "https://hooks.example/v"}
    openai = OPENAI.request({**common, "seconds": 8, "size": "720p"})
    seed = SEED.request({**common, "duration_seconds": 8, "resolution": "720p"})
    assert (openai.dialect, seed.dialect) == ("openai", "seed")
    seed.dialect = "openai"
    assert (
        openai
        == seed
        == VideoRequest(
            prompt="a fox",
            model="sora-2",
            seconds="8",
            size="720p",
            style_preset="noir",
            negative_prompt="rain",
            output_format="webm",
            enhance_prompt=False,
            callback_url="https://hooks.example/v",
        )
    )


def test_a_story_reads_only_the_film_wide_fields() -> None:
    body = {"scenes": [], "model": "sora-2", "size": "720x1280", "callback_url": "https://hooks.example/s"}
    assert OPENAI.request(body, STORY) == VideoRequest(
        prompt="", model="sora-2", size="720x1280", callback_url="https://hooks.example/s"
    )
    assert OPENAI.request({}, CREATE) == VideoRequest(prompt="")  # absent fields keep VideoRequest's defaults


# -- the faces over HTTP ---------------------------------------------------------------------------------------------
def test_unicode_digits_are_a_400_at_every_face(stacks: Callable[[str], Stack]) -> None:
    sim, gw = stacks("openai-2025-10")
    before = calls(sim, "create")
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/v1/videos", {"prompt": "a fox", "seconds": "\u0668"}, "seconds"),
        ("/v1/videos", {"prompt": "a fox", "seconds": "\u00b2"}, "seconds"),
        ("/v1/video/generations", {"prompt": "a fox", "duration_seconds": "\u0668"}, "duration_seconds"),
        ("/v1/gateway/batches", {"prompt": "a fox", "n": 2, "seconds": "\u0664"}, "seconds"),
        ("/v1/gateway/stories", {"scenes": [{"prompt": "a fox", "seconds": "\u00b2"}]}, "scenes[0].seconds"),
        ("/v1/gateway/stories", {"scenes": [{"prompt": "a fox", "seconds": "\u0664"}]}, "scenes[0].seconds"),
        ("/v1/videos/extensions", {"video": {"id": "video_x"}, "prompt": "on", "seconds": "\u0664"}, "seconds"),
    ]
    with gw.http() as http:
        for path, body, param in cases:
            response = http.post(path, json=body)
            assert response.status_code == 400, (path, body, response.text)
            error = response.json()["error"]
            assert error["param"] == param and set(error) == {"message", "type", "param", "code"}, (path, error)
        form = http.post("/v1/videos", data={"prompt": "a fox", "seconds": "\uff18"})  # a form, as the SDK sends
        assert form.status_code == 400 and form.json()["error"]["param"] == "seconds", form.text
    assert calls(sim, "create") == before
