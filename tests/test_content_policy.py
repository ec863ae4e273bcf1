"""Content policy: normalisation, blocked terms and patterns, sensitive lists, length, styles,
moderation through the upstream's /v1/moderations, and the non-blocking prompt lint.

Unit tests drive :class:`ContentPolicyStage` directly; the end-to-end tests use the official SDK
against a real gateway and simulator, and check that a refused prompt never reaches the upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from gateway.core.models import Job, VideoRequest
from gateway.core.plan import plan_request
from gateway.errors import ApiError
from gateway.pipeline.content_policy import ContentPolicyStage, Normalized, fold
from gateway.pipeline.lint import LINT_HEADER, lint_prompt
from gateway.pipeline.stages import Admission
from gateway.policies.model import ContentPolicy, RuleSet, Tenant
from gateway.providers import get_profile
from tests.conftest import Gateway, calls, start_gateway, write_policies
from tests.procs import Proc

CAPS = get_profile("openai-2025-10")


def admission(policy: ContentPolicy, prompt: str, **fields: Any) -> Admission:
    req = VideoRequest(prompt=prompt, **fields)
    plan = plan_request(VideoRequest(prompt=prompt), CAPS)
    job = Job(id="video_x", tenant="t", model=plan.model, prompt=prompt, size=plan.size, seconds=str(plan.seconds))
    return Admission(Tenant(name="t", policy=policy), req, plan, job, CAPS)


async def refusal(stage: ContentPolicyStage, adm: Admission) -> ApiError:
    with pytest.raises(ApiError) as err:
        await stage.admit(adm)
    assert err.value.status == 400 and err.value.code == "content_policy_violation"
    return err.value


# -- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a GORE scene",
        "a gÓrë scene",  # accents
        "a \uff47\uff4f\uff52\uff45 scene",  # full-width letters
        "a go\u200bre scene",  # zero-width space
        "a g o r e scene",  # spacing trick
        "a g.o.r.e scene",
        "a g-o_r-e scene",
        "a GO RE scene",
    ],
)
def test_blocked_terms_survive_case_accents_and_spacing_tricks(text: str) -> None:
    assert Normalized(text).has_term("gore")


@pytest.mark.parametrize("text", ["go reading", "a gorilla", "the class act", "algorithm", "ago, realistic"])
def test_terms_match_whole_words_only(text: str) -> None:
    assert not Normalized(text).has_term("gore")
    assert not Normalized(text).has_term("ass")


def test_multi_word_terms_and_folding() -> None:
    assert Normalized("a Blood-Bath at dawn").has_term("bloodbath")
    assert Normalized("a bloodbath").has_term("blood bath")
    assert fold("Ça Crème \uff21\uff22\uff23") == "ca creme abc"


# -- the stage -----------------------------------------------------------------------------------

POLICY = ContentPolicy(
    rule_sets=(
        RuleSet("tenant:t", blocked_terms=("acme lawsuit",), blocked_patterns=(r"(?i)\bcustomer\s+data\b",)),
        RuleSet("content/secret", blocked_terms=("project phoenix",), sensitive=True),
    ),
    max_prompt_chars=60,
    allowed_styles=("cinematic", "documentary"),
)


async def test_refusals_name_the_rule_and_only_echo_non_sensitive_matches() -> None:
    stage = ContentPolicyStage()
    err = await refusal(stage, admission(POLICY, "news about the ACME law-suit today"))
    assert "blocked_terms" in err.message and "tenant:t" in err.message and "acme lawsuit" in err.message
    assert err.param == "prompt"
    err = await refusal(stage, admission(POLICY, "reveal Project  Phoenix plans"))
    assert "content/secret" in err.message and "blocked_terms" in err.message
    assert "phoenix" not in err.message.lower() and "sensitive" in err.message
    err = await refusal(stage, admission(POLICY, "show the customer   data"))
    assert "blocked_patterns" in err.message
    err = await refusal(stage, admission(POLICY, "a fine prompt", negative_prompt="no acme lawsuit"))
    assert err.param == "negative_prompt"


async def test_length_and_styles() -> None:
    stage = ContentPolicyStage()
    err = await refusal(stage, admission(POLICY, "x" * 61))
    assert "max_prompt_chars" in err.message and err.param == "prompt"
    err = await refusal(stage, admission(POLICY, "a fox", style_preset="anime"))
    assert "allowed_styles" in err.message and err.param == "style_preset"
    ok = admission(POLICY, "a fox", style_preset="Cinematic")
    assert await stage.admit(ok) is None


async def test_moderation_is_asked_and_its_verdict_enforced() -> None:
    asked: list[str] = []

    async def moderate(text: str) -> dict[str, Any]:
        asked.append(text)
        return {"results": [{"flagged": "knife" in text, "categories": {"violence": "knife" in text}}]}

    stage = ContentPolicyStage(lambda: moderate)
    policy = ContentPolicy(moderation=True)
    err = await refusal(stage, admission(policy, "a knife fight"))
    assert "moderation" in err.message and "violence" in err.message
    assert await stage.admit(admission(policy, "a picnic")) is None
    assert asked == ["a knife fight", "a picnic"]

    async def broken(text: str) -> dict[str, Any]:
        raise OSError("down")

    with pytest.raises(ApiError) as unavailable:
        await ContentPolicyStage(lambda: broken).admit(admission(policy, "a picnic"))
    assert unavailable.value.status == 503 and unavailable.value.code == "moderation_unavailable"


def test_prompt_lint() -> None:
    found = lint_prompt("A beautiful sunny day under a starry sky")
    assert "contradiction=sunny+starry" in found and "vague=beautiful" in found
    assert "subjects=5" in lint_prompt("a cat, a dog, a horse, a cow and a bird in a field")
    assert lint_prompt("a red fox running through fresh snow at dawn, low tracking shot") == []


async def test_lint_is_a_header_not_a_refusal() -> None:
    adm = admission(ContentPolicy(), "an amazing sunrise at dusk")
    assert await ContentPolicyStage().admit(adm) is None
    assert adm.headers[LINT_HEADER] == "contradiction=sunrise+dusk; vague=amazing"


# -- end to end ----------------------------------------------------------------------------------

ACME_CONTENT = """\
content:
  max_prompt_chars: 200
  blocked_terms: ["acme lawsuit"]
  blocked_patterns: ['(?i)\\bcustomer\\s+data\\b']
  allowed_styles: [cinematic]
  include: [secrets]
  moderation: true
"""


@pytest.fixture(scope="module")
def gw(simulator: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("content")
    policies = write_policies(tmp / "policies", {"acme": ACME_CONTENT})
    (policies / "content").mkdir()
    (policies / "content" / "secrets.yaml").write_text('blocked_terms: ["project phoenix"]\nsensitive: true\n')
    gateway = start_gateway(simulator, tmp, f"sqlite:///{tmp / 'gw.db'}", policies=policies)
    yield gateway
    gateway.proc.stop()


def refused(gw: Gateway, prompt: str, **extra: Any) -> dict[str, Any]:
    with pytest.raises(openai.BadRequestError) as err:
        gw.client("acme").videos.create(prompt=prompt, **extra)
    body = err.value.body
    assert isinstance(body, dict) and body["code"] == "content_policy_violation", body
    return body


def test_blocked_content_never_reaches_the_upstream(gw: Gateway, simulator: Proc) -> None:
    before = calls(simulator, "create")
    body = refused(gw, "The A.C.M.E   LAW SUIT explained")
    assert "tenant:acme" in body["message"] and "acme lawsuit" in body["message"]
    body = refused(gw, "leak PROJECT phoenix now")
    assert "content/secrets" in body["message"] and "phoenix" not in body["message"].lower()
    body = refused(gw, "export customer data")
    assert "blocked_patterns" in body["message"]
    body = refused(gw, "a long prompt " * 20)
    assert "max_prompt_chars" in body["message"] and body["param"] == "prompt"
    body = refused(gw, "a fox", extra_body={"style_preset": "anime"})
    assert body["param"] == "style_preset" and "allowed_styles" in body["message"]
    assert calls(simulator, "create") == before
    metrics = httpx.get(gw.url + "/metrics").text
    assert 'sora_gateway_policy_refusals_total{rule="content/secrets:blocked_terms",tenant="acme"} 1.0' in metrics


def test_moderation_goes_through_the_upstream_endpoint(gw: Gateway, simulator: Proc) -> None:
    creates, moderations = calls(simulator, "create"), calls(simulator, "moderations")
    body = refused(gw, "something forbidden in a field")  # the simulator flags "forbidden"
    assert "moderation" in body["message"]
    assert calls(simulator, "moderations") == moderations + 1
    assert calls(simulator, "create") == creates
    video = gw.client("acme").videos.create(prompt="a calm lake at dawn", seconds="4")
    assert video.status in ("queued", "in_progress")
    assert calls(simulator, "moderations") == moderations + 2
    # globex has no content rules: no moderation call, the upstream itself refuses
    with pytest.raises(openai.BadRequestError) as err:
        gw.client("globex").videos.create(prompt="something forbidden in a field")
    assert err.value.body["code"] == "moderation_blocked"  # type: ignore[index]
    assert calls(simulator, "moderations") == moderations + 2


def test_lint_header_on_accepted_creates(gw: Gateway) -> None:
    raw = gw.client("globex").videos.with_raw_response.create(prompt="a stunning sunny night in Paris", seconds="4")
    assert raw.http_response.status_code == 200
    lint = raw.headers[LINT_HEADER]
    assert "contradiction=sunny+night" in lint and "vague=stunning" in lint
    plain = gw.client("globex").videos.with_raw_response.create(prompt="a red kite over a green hill", seconds="4")
    assert LINT_HEADER not in plain.headers
