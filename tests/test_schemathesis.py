"""Schemathesis against a real gateway, from the official spec's ``/videos`` subset.

The spec (``shared/reference/openai-videos.openapi.yaml``) is loaded as published with two relaxations the
real API itself needs: a video's ``seconds`` and ``size`` are any string (after an extension ``seconds`` is the
stitched total; the SDK types both as strings), and a spritesheet is ``image/jpeg``. Every generated request
(valid and invalid) must get no 5xx, a response that conforms to the spec where the spec documents it, and
any refusal in OpenAI's error shape. Bounded: :data:`EXAMPLES` per operation, a few hundred in all.

Every other profile of the catalog gets the same checks with :data:`PROFILE_EXAMPLES` per operation (one test per
profile: its simulator and a gateway pinned to it, then every operation fuzzed and the main answers validated).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import FAST_CONFIG, KEYS, Gateway, start_gateway
from tests.procs import Proc, start_simulator
from tests.profiles import ALL_PROFILES, start_profile_gateway, start_profile_simulator

SPEC_NAME = "reference/openai-videos.openapi.yaml"  # in shared/, beside the repository (CI) or under /work
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "10"))
PROFILE_EXAMPLES = int(os.environ.get("SCHEMATHESIS_PROFILE_EXAMPLES", "3"))  # per operation, on each other profile
FULL_PROFILE = "openai-2026-03"  # fuzzed with EXAMPLES per operation (the profile with every operation)
SEEN: dict[str, int] = {"cases": 0, "2xx": 0, "4xx": 0, "5xx": 0}


def relaxed_spec() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    spec = copy.deepcopy(raw)
    video = spec["components"]["schemas"]["VideoResource"]["properties"]
    video["seconds"] = {"type": "string"}
    video["size"] = {"type": "string"}
    content = spec["paths"]["/videos/{video_id}/content"]["get"]["responses"]["200"]["content"]
    content["image/jpeg"] = {"schema": {"type": "string", "format": "binary"}}
    return spec


def find_spec() -> Path:
    given = os.environ.get("SORA_GATEWAY_SPEC")
    candidates = (
        [Path(given)] if given else [Path(__file__).parents[2] / "shared" / SPEC_NAME, Path("/work/shared") / SPEC_NAME]
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"the official spec subset is not at {', '.join(map(str, candidates))}")


SPEC = find_spec()
schema = schemathesis.openapi.from_dict(relaxed_spec())


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    sim: Proc = start_simulator(profile=FULL_PROFILE)
    gateway = start_gateway(sim, tmp_path_factory.mktemp("schemathesis"), "memory://", config=FAST_CONFIG)
    yield gateway
    gateway.proc.stop()
    sim.stop()
    logs = gateway.proc.logs()
    assert "Traceback" not in logs and "unhandled_error" not in logs
    print(f"\nschemathesis: {SEEN}")  # the figures for the notes (per process under xdist)


def openai_shaped(response: Any) -> None:
    if response.status_code < 400:
        return
    body = httpx.Response(response.status_code, content=response.content).json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body


def checked(case: Case, gw: Gateway) -> None:
    """No 5xx, a refusal in OpenAI's shape, a success as the spec documents it."""
    response = case.call(base_url=gw.url + "/v1", headers={"Authorization": f"Bearer {KEYS['acme']}"}, timeout=60)
    SEEN["cases"] += 1
    SEEN[f"{response.status_code // 100}xx"] = SEEN.get(f"{response.status_code // 100}xx", 0) + 1
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:500])
    openai_shaped(response)
    if response.status_code < 300:
        case.validate_response(response, checks=[response_schema_conformance])


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_conforming_responses(case: Case, gw: Gateway) -> None:
    checked(case, gw)


@pytest.mark.parametrize("profile", [p for p in ALL_PROFILES if p != FULL_PROFILE])
def test_every_profile_answers_without_5xx_and_as_the_spec_says(profile: str, tmp_path: Path) -> None:
    sim = start_profile_simulator(profile)
    gateway = start_profile_gateway(profile, sim, tmp_path, "memory://")
    try:
        for result in schema.get_all_operations():

            @given(case=result.ok().as_strategy())
            @settings(
                max_examples=PROFILE_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
            )
            def fuzz(case: Case) -> None:
                checked(case, gateway)

            fuzz()
        main_answers_conform(gateway)  # every profile has previews: the gateway derives what a provider lacks
    finally:
        gateway.proc.stop()
        sim.stop()
    logs = gateway.proc.logs()
    assert "Traceback" not in logs and "unhandled_error" not in logs


def test_the_main_answers_conform_to_the_relaxed_spec(gw: Gateway) -> None:
    main_answers_conform(gw)


def main_answers_conform(gw: Gateway, previews: bool = True) -> None:
    """Deterministic: a create, retrieve, list and every content variant of a finished video, validated.

    ``previews=False``: thumbnail and spritesheet may answer a 404 ``not_found`` in OpenAI's shape (the gateway
    derives them from the video for providers that make none, so every profile is checked with ``True``).
    """
    auth = {"Authorization": f"Bearer {KEYS['acme']}"}
    base = gw.url + "/v1"

    def call(path: str, method: str, missing_ok: bool = False, **kw: Any) -> Any:
        case = schema[path][method].Case(**kw)
        response = case.call(base_url=base, headers=auth, timeout=60)
        if missing_ok and response.status_code == 404:
            openai_shaped(response)
            assert response.json()["error"]["code"] == "not_found"
            return response
        assert response.status_code == 200, response.text[:300]
        case.validate_response(response, checks=[response_schema_conformance])
        return response

    created = call(
        "/videos", "POST", body={"prompt": "a conforming lighthouse", "seconds": "4"}, media_type="application/json"
    ).json()
    video_id = created["id"]
    deadline = 120
    started = time.monotonic()
    while call("/videos/{video_id}", "GET", path_parameters={"video_id": video_id}).json()["status"] != "completed":
        assert time.monotonic() - started < deadline, "the video never completed"
        time.sleep(0.1)
    call("/videos", "GET", query={"limit": 5})
    for variant in ("video", "thumbnail", "spritesheet"):
        call(
            "/videos/{video_id}/content",
            "GET",
            missing_ok=variant != "video" and not previews,
            path_parameters={"video_id": video_id},
            query={"variant": variant},
        )
