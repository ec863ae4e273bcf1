"""The front door (issue 22): each mistake a newcomer makes gets a refusal that names the way forward.

A base URL without ``/v1`` or a trailing slash (item 2), a JSON body sent as a form (item 3), the other
dialect's field names and typos (item 4), ``4K`` sizes and digits of other scripts (item 5), the admin key on a
team route (item 8). Every hint is checked to be true: the path it names is served, the field it names is taken.
Real gateway and simulator processes, plain HTTP and the official SDK.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from gateway.app import create_app
from gateway.config import Settings
from gateway.core.translate import parse_size
from gateway.errors import ApiError
from gateway.faces.batches import BATCH_FIELDS
from gateway.faces.hints import DIALECT_ROUTES, ELSEWHERE
from gateway.faces.http import ADMIN_COUNTERPARTS
from gateway.faces.openai_videos import CREATE_FIELDS
from gateway.faces.requests import check_fields
from gateway.faces.seed_generations import FIELDS as SEED_FIELDS
from gateway.faces.stories import STORY_FIELDS
from tests.conftest import Gateway, Stack, calls, start_gateway
from tests.procs import Proc, start_simulator

ADMIN_KEY = "sk-admin-front-door-0123456789"
SHAPE = {"message", "type", "param", "code"}


@pytest.fixture(scope="module")
def admin_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Gateway]]:
    sim = start_simulator()
    gw = start_gateway(
        sim, tmp_path_factory.mktemp("front-door"), "memory://", env={"SORA_GATEWAY_ADMIN_KEY": ADMIN_KEY}
    )
    yield sim, gw
    gw.proc.stop()
    sim.stop()


def refused(response: httpx.Response, status: int = 400) -> dict[str, str]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == SHAPE, error
    return dict(error)


# -- item 2: a base URL without /v1, a trailing slash ----------------------------------------------------------------
def test_a_path_missing_v1_is_named_and_the_named_path_is_served(stacks: Callable[[str], Stack]) -> None:
    _sim, gw = stacks("openai-2025-10")
    with gw.http() as http:
        for method, wrong, right in [
            ("POST", "/videos", "/v1/videos"),
            ("GET", "/videos", "/v1/videos"),
            ("POST", "/video/generations", "/v1/video/generations"),
            ("GET", "/gateway/usage", "/v1/gateway/usage"),
            ("POST", "/v1/v1/videos", "/v1/videos"),
        ]:
            error = refused(http.request(method, wrong, json={"prompt": "a fox"}), 404)
            assert f"Did you mean {method} {right}?" in error["message"], error
            if wrong.count("/v1") == 0:
                assert "base URL must end in /v1" in error["message"], error
            # the hint is true: the path it names answers that method (not a 404 or 405)
            assert http.request(method, right, json={"prompt": "a fox", "seconds": "4"}).status_code not in (404, 405)
        error = refused(http.get("/nothing/here"), 404)  # nothing to suggest: nothing suggested
        assert error["message"] == "Unknown request URL: GET /nothing/here."
    # the SDK with a base URL that lacks /v1 gets the same hint
    client = openai.OpenAI(base_url=gw.url, api_key="sk-acme-test-key-0001", max_retries=0)
    with pytest.raises(openai.NotFoundError) as err:
        client.videos.create(prompt="a fox")
    assert "Did you mean POST /v1/videos?" in str(err.value)


def test_a_trailing_slash_is_never_redirected_through_the_host_header(stacks: Callable[[str], Stack]) -> None:
    sim, gw = stacks("openai-2025-10")
    before = calls(sim, "create")
    with gw.http() as http:
        for method, path in [("POST", "/v1/videos/"), ("GET", "/v1/videos/"), ("GET", "/v1/models/")]:
            response = http.request(
                method, path, json={"prompt": "a fox"}, headers={"Host": "attacker.example"}, follow_redirects=False
            )
            assert "location" not in response.headers and "attacker.example" not in response.text, response.headers
            error = refused(response, 404)
            assert f"Did you mean {method} {path.rstrip('/')}?" in error["message"], error
    assert calls(sim, "create") == before


# -- item 3: a JSON body sent as a form ------------------------------------------------------------------------------
def test_json_sent_as_a_form_names_the_content_type(stacks: Callable[[str], Stack]) -> None:
    sim, gw = stacks("openai-2025-10")
    before = calls(sim, "create")
    body = '{"prompt": "a fox in snow", "seconds": "4"}'
    form = {"Content-Type": "application/x-www-form-urlencoded"}  # what curl -d sends without -H
    with gw.http() as http:
        for path in ("/v1/videos", "/v1/video/generations", "/v1/gateway/batches"):
            error = refused(http.post(path, content=body, headers=form))
            assert "Content-Type: application/json" in error["message"] and error["param"] == "Content-Type", error
            assert '"prompt"' not in error["message"]  # the body is no longer quoted as a parameter name
        curl = subprocess.run(
            ["curl", "-s", "-H", f"Authorization: Bearer {http.headers['authorization'][7:]}", "-d", body,
             gw.url + "/v1/videos"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert "Content-Type: application/json" in curl.stdout, curl.stdout
        # the same body with the header is accepted; a real form still works
        assert http.post("/v1/videos", content=body, headers={"Content-Type": "application/json"}).status_code == 200
        assert http.post("/v1/videos", data={"prompt": "a fox in rain", "seconds": "4"}).status_code == 200
    assert calls(sim, "create") == before + 2


# -- item 4: the other dialect's names, typos ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "sent", "named"),
    [
        (CREATE_FIELDS, "duration_seconds", "seconds"),
        (CREATE_FIELDS, "resolution", "size"),
        (CREATE_FIELDS, "second", "seconds"),
        (CREATE_FIELDS, "Prompt", "prompt"),
        (CREATE_FIELDS, "duration", "seconds"),
        (CREATE_FIELDS, "negative_promt", "negative_prompt"),
        (SEED_FIELDS, "seconds", "duration_seconds"),
        (SEED_FIELDS, "size", "resolution"),
        (SEED_FIELDS, "second", "duration_seconds"),
        (BATCH_FIELDS, "duration_seconds", "seconds"),
        (STORY_FIELDS, "resolution", "size"),
    ],
)
def test_an_unknown_field_names_the_nearest_field_this_route_takes(
    fields: dict[str, tuple[type, ...]], sent: str, named: str
) -> None:
    with pytest.raises(ApiError) as err:
        check_fields({sent: "x"}, fields)
    assert err.value.code == "unknown_parameter" and err.value.param == sent
    assert f"Did you mean '{named}'?" in err.value.message and named in fields  # true: the route takes it


def test_the_other_dialects_names_point_to_their_route_over_http(stacks: Callable[[str], Stack]) -> None:
    _sim, gw = stacks("openai-2025-10")
    with gw.http() as http:
        error = refused(http.post("/v1/videos", json={"prompt": "a fox", "duration_seconds": 8}))
        assert error["param"] == "duration_seconds" and "Did you mean 'seconds'?" in error["message"]
        assert "POST /v1/video/generations" in error["message"]
        error = refused(http.post("/v1/video/generations", json={"prompt": "a fox", "seconds": 8, "size": "720p"}))
        assert "Did you mean 'duration_seconds'?" in error["message"] and "POST /v1/videos" in error["message"]
        error = refused(http.post("/v1/videos", json={"prompt": "a fox", "n": 3}))
        assert "POST /v1/gateway/batches" in error["message"]
        error = refused(http.post("/v1/gateway/stories", json={"scenes": [{"prompt": "a", "duration": 4}]}))
        assert error["param"] == "scenes[0].duration" and "Did you mean 'seconds'?" in error["message"]
        # each route a hint names exists for that method (the body is refused, not the path)
        for path in ("/v1/video/generations", "/v1/videos", "/v1/gateway/batches"):
            assert http.post(path, json={"nonsense": 1}).status_code == 400


# -- item 5: 4K sizes, other scripts' digits -------------------------------------------------------------------------
def test_k_labels_are_sizes_and_the_adaptation_is_reported(stacks: Callable[[str], Stack]) -> None:
    _sim, gw = stacks("openai-2025-10")
    with gw.http() as http:
        for label in ("4K", "4k", " 8K ", "2K"):
            body = {"prompt": f"a fox at {label}", "duration_seconds": 4, "resolution": label}
            seed = http.post("/v1/video/generations", json=body)
            assert seed.status_code == 200, seed.text
            assert f"resolution={label}->1280x720" in seed.headers["x-sora-gateway-adapted"].split("; ")
        made = http.post("/v1/videos", json={"prompt": "a fox", "seconds": "4", "size": "4k", "model": "sora-2-pro"})
        assert made.status_code == 200, made.text
        assert "size=4k->1792x1024" in made.headers["x-sora-gateway-adapted"].split("; ")
        for bad in ("3K", "4KK", "K"):
            error = refused(http.post("/v1/videos", json={"prompt": "a fox", "size": bad}))
            assert error["param"] == "size" and "4K" in error["message"]


def test_parse_size_reads_k_labels_and_only_ascii_digits() -> None:
    assert [parse_size(v) for v in ("2K", "4k", " 5K ", "8K")] == [
        (2560, 1440),
        (3840, 2160),
        (5120, 2880),
        (7680, 4320),
    ]
    assert parse_size("2160p") == (3840, 2160) and parse_size("1280x720") == (1280, 720)
    for written in ("\u0661\u0662\u0668\u0660x\u0667\u0662\u0660", "\u0667\u0662\u0660p", "\uff14K", "3K", "12K"):
        with pytest.raises(ApiError) as err:
            parse_size(written, "resolution")
        assert err.value.param == "resolution" and "4K" in err.value.message


def test_sizes_in_other_scripts_digits_are_refused(stacks: Callable[[str], Stack]) -> None:
    sim, gw = stacks("openai-2025-10")
    before = calls(sim, "create")
    arabic_indic = "\u0661\u0662\u0668\u0660x\u0667\u0662\u0660"  # 1280x720 in Arabic-Indic digits
    fullwidth = "\uff17\uff12\uff10p"  # 720p in fullwidth digits
    with gw.http() as http:
        for size in (arabic_indic, fullwidth, "\u0664K"):
            error = refused(http.post("/v1/videos", json={"prompt": "a fox", "size": size}))
            assert error["param"] == "size", error
            error = refused(http.post("/v1/video/generations", json={"prompt": "a fox", "resolution": size}))
            assert error["param"] == "resolution", error
    assert calls(sim, "create") == before


# -- item 8: the admin key on a team route ---------------------------------------------------------------------------
def test_the_admin_key_on_a_team_route_names_the_admin_route(admin_stack: tuple[Proc, Gateway]) -> None:
    _, gw = admin_stack
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=gw.url, headers=admin, timeout=30) as http:
        error = refused(http.get("/v1/gateway/usage"), 401)
        assert "admin key" in error["message"] and "GET /v1/gateway/admin/usage" in error["message"], error
        assert error["code"] == "admin_key_not_a_team_key"
        error = refused(http.get("/v1/videos"), 401)
        assert "GET /v1/gateway/admin/videos" in error["message"], error
        error = refused(http.post("/v1/videos", json={"prompt": "a fox"}), 401)
        assert "needs a team key" in error["message"], error
        # the routes named are real and open to the admin key
        for path in re.findall(r"GET (/v1/gateway/admin/\w+)", error["message"]):
            assert http.get(path).status_code == 200, path
    # a wrong key is still just a wrong key
    wrong = httpx.get(gw.url + "/v1/gateway/usage", headers={"Authorization": "Bearer sk-nothing-0123456789"})
    assert refused(wrong, 401)["code"] == "invalid_api_key" and "admin" not in wrong.text


def test_the_hints_module_names_only_routes_the_app_serves(tmp_path: Path) -> None:
    settings = Settings(upstream_api_key="sk-x", store="memory://", data_dir=str(tmp_path), policies=str(tmp_path))
    app = create_app(settings)  # the very app the gateways run (not started: only its routes are read)
    served = {(m, r.path) for r in app.router.routes for m in getattr(r, "methods", None) or ()}
    named = [*DIALECT_ROUTES.values(), *(v.split(" (")[0] for v in ELSEWHERE.values())]
    named += [where for _, where in ADMIN_COUNTERPARTS]
    for route in named:
        method, path = route.split(" ", 1)
        assert (method, path.replace("{}", "{video_id}")) in served, route
