"""``/v1/models`` in front of two providers (simulated Gemini Veo, then Kling), through the official SDK.

The list names the Sora names first (each with what it makes on every upstream, in order of preference) and
then each provider's own models, with sizes, clip lengths, the lengths the gateway makes, prices by size and
resolution with their date and source. A tenant's ``models:`` list may use either kind of name: a name allows
what it makes on an upstream, so a team allowed only ``kling-v3`` sees (and may create) ``sora-2-pro`` where it
makes ``kling-v3`` (routed past Veo to Kling), and is refused ``sora-2``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import OpenAI

from gateway.core.model_list import SORA_NAMES
from gateway.providers import PROFILES
from tests.conftest import FAST_CONFIG, UPSTREAM_KEY, Gateway, calls, start_gateway, write_tenants
from tests.procs import Proc, start_simulator

KLING_KEY = "ak-models-0001:sk-models-SECRET-0123456789"
TENANTS = {"narrow": "models: [kling-v3]\n", "sora": "models: [sora-2]\n"}
VEO, KLING = PROFILES["gemini-veo"], PROFILES["kling"]

Stack = tuple[Proc, Proc, Gateway]


def key_of(tenant: str) -> str:
    return f"sk-{tenant}-models-key-0001"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    veo = start_simulator("--api-key", UPSTREAM_KEY, profile="gemini-veo", time_scale=0.004)
    kling = start_simulator("--api-key", KLING_KEY, profile="kling", time_scale=0.004)
    config = (
        FAST_CONFIG
        + "upstreams:\n"
        + f"  - {{url: {veo.url}/v1beta, api_key_env: VEO_MODELS_KEY, profile: gemini-veo}}\n"
        + f"  - {{url: {kling.url}, api_key_env: KLING_MODELS_KEY, profile: kling}}\n"
    )
    tmp = tmp_path_factory.mktemp("models")
    policies = write_tenants(tmp / "policies", TENANTS, key_of)
    env = {"VEO_MODELS_KEY": UPSTREAM_KEY, "KLING_MODELS_KEY": KLING_KEY}
    gw = start_gateway(veo, tmp, "memory://", config=config, policies=policies, env=env)
    yield veo, kling, gw
    gw.proc.stop()
    veo.stop()
    kling.stop()
    assert UPSTREAM_KEY not in gw.proc.logs() and KLING_KEY not in gw.proc.logs()


def client_of(gw: Gateway, tenant: str) -> OpenAI:
    return gw.client() if tenant == "acme" else OpenAI(base_url=gw.url + "/v1", api_key=key_of(tenant), max_retries=0)


def listed(gw: Gateway, tenant: str = "acme") -> dict[str, dict[str, Any]]:
    models = client_of(gw, tenant).models.list()
    assert models.object == "list"
    return {m.id: m.model_dump() for m in models}


def test_every_name_with_its_provider_sizes_lengths_and_prices(stack: Stack) -> None:
    _, _, gw = stack
    models = listed(gw)
    ids = list(models)
    assert ids[:2] == list(SORA_NAMES)  # the Sora names first, then Veo's models, then Kling's
    assert set(ids[2:]) == set(VEO.models) | set(KLING.models) and ids[2] in VEO.models and ids[-1] in KLING.models
    sora2 = models["sora-2"]
    assert sora2["object"] == "model" and isinstance(sora2["created"], int) and sora2["owned_by"] == "sora-gateway"
    assert sora2["maps_to"] == [
        {"upstream_profile": "gemini-veo", "provider": VEO.provider, "model": VEO.base_model("sora-2")},
        {"upstream_profile": "kling", "provider": KLING.provider, "model": "kling-v2-5-turbo"},
    ]
    caps = sora2["capabilities"]  # described where a create goes first: Veo
    assert caps["upstream_profile"] == "gemini-veo" and caps["upstream_model"] == VEO.base_model("sora-2")
    assert caps["prices_as_of"] == VEO.prices_as_of and caps["price_source"].startswith("https://")

    v3 = models["kling-v3"]
    assert v3["owned_by"] == "kling" and v3["maps_to"] == [
        {"upstream_profile": "kling", "provider": KLING.provider, "model": "kling-v3"}
    ]
    caps = v3["capabilities"]
    assert caps["sizes"] == list(KLING.models["kling-v3"]) and caps["clip_seconds"] == list(range(3, 16))
    assert (caps["min_seconds"], caps["max_seconds"], caps["long_videos"]) == (1, 120, "chain")
    assert caps["usd_per_second"]["1280x720"] == KLING.price_per_second("kling-v3", "1280x720") == 0.084
    assert caps["usd_per_second_by_resolution"] == {"720p": 0.084, "1080p": 0.112}
    assert caps["prices_as_of"] == "2026-05-15" and caps["price_source"] == KLING.price_source
    assert caps["also_answers_to"] == ["sora-2-pro"] and caps["any_size"] == "scaled"
    shape = next(s for s in caps["shapes"] if s["size"] == "1920x1080")
    assert shape == {
        "size": "1920x1080",
        "label": "16:9@1080p/pro",
        "clip_seconds": list(range(3, 16)),
        "usd_per_second": 0.112,
    }


def test_a_tenant_sees_and_uses_what_its_models_list_allows(stack: Stack) -> None:
    veo, kling, gw = stack
    narrow = listed(gw, "narrow")  # allowed only kling-v3: sora-2-pro where it makes kling-v3
    assert set(narrow) == {"sora-2-pro", "kling-v3"}
    assert [m["upstream_profile"] for m in narrow["sora-2-pro"]["maps_to"]] == ["kling"]
    assert narrow["sora-2-pro"]["capabilities"]["upstream_model"] == "kling-v3"
    assert set(listed(gw, "sora")) == {"sora-2", VEO.base_model("sora-2"), "kling-v2-5-turbo"}

    before = calls(veo, "veo_create"), calls(kling, "kling_text2video")
    client = client_of(gw, "narrow")
    video = client.videos.create(prompt="a narrow harbour", model="sora-2-pro", seconds="5")
    assert video.model_extra is not None and video.model_extra["provider"] == "kling"  # routed past Veo
    assert video.model_extra["upstream_model"] == "kling-v3" and video.model == "sora-2-pro"
    with pytest.raises(openai.BadRequestError) as refused:
        client.videos.create(prompt="a narrow harbour", model="sora-2", seconds="5")
    error: Any = refused.value.body
    assert error["code"] == "model_not_allowed" and error["param"] == "model" and "kling-v3" in error["message"]

    sora = client_of(gw, "sora")  # allowed sora-2: the Sora name, and what it makes (here on Kling)
    first = sora.videos.create(prompt="a sora harbour", model="sora-2", seconds="4")
    native = sora.videos.create(prompt="a kling harbour", model="kling-v2-5-turbo", seconds="5")
    assert first.model_extra is not None and native.model_extra is not None
    assert (first.model_extra["provider"], native.model_extra["provider"]) == ("gemini-veo", "kling")
    with pytest.raises(openai.BadRequestError) as pro:
        sora.videos.create(prompt="a pro harbour", model="sora-2-pro", seconds="4")
    assert pro.value.body["code"] == "model_not_allowed"  # type: ignore[index]
    after = calls(veo, "veo_create"), calls(kling, "kling_text2video")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 2)  # nothing refused reached a provider


def test_a_job_planned_again_for_another_provider_keeps_to_the_team_models() -> None:
    """A job turned away for capacity moves only where the team's names allow what it would make there."""
    from gateway.core.models import Job
    from gateway.core.plan import plan_request
    from gateway.jobs.replan import replanner

    replan = replanner(plan_request)
    asked = {"model": "sora-2-pro", "seconds": "5", "dialect": "openai"}

    def job(allowed: list[str] | None) -> Job:
        requested = {**asked, **({"allowed_models": allowed} if allowed is not None else {})}
        return Job(id="video_x", tenant="t", model="sora-2-pro", prompt="p", size="", seconds="5", requested=requested)

    assert not replan(job(["kling-v3"]), VEO, "at capacity")  # sora-2-pro makes veo-3.1 there: not this team's
    moved = job(["kling-v3"])
    assert replan(moved, KLING, "at capacity") and moved.requested["upstream_model"] == "kling-v3"
    free = job(None)
    assert replan(free, VEO, "at capacity") and free.requested["upstream_model"] == VEO.base_model("sora-2-pro")
