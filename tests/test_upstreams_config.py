"""``upstreams:`` in the config file: checked at start, every problem at its file:line; the breaker's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, build_settings
from gateway.upstream_setup import router_from_settings
from gateway.upstreams.base import UpstreamError
from gateway.upstreams.breaker import Breaker


def settings_from(tmp_path: Path, text: str) -> object:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return build_settings({"config": str(path)})


GOOD = """\
port: 8080
upstreams:
  - url: http://first.example/v1
    api_key_env: FIRST_KEY
  - {url: http://second.example/openai/v1, api_key_env: SECOND_KEY, profile: azure-sora-1}
"""


def test_a_valid_list_builds_one_route_per_upstream_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SORA_GATEWAY_UPSTREAM_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("FIRST_KEY", "sk-first-0000000000")
    monkeypatch.setenv("SECOND_KEY", "sk-second-000000000")
    settings = settings_from(tmp_path, GOOD)  # no upstream_api_key needed: each entry names its own
    assert settings.upstreams == [  # type: ignore[attr-defined]
        {"url": "http://first.example/v1", "api_key_env": "FIRST_KEY"},
        {"url": "http://second.example/openai/v1", "api_key_env": "SECOND_KEY", "profile": "azure-sora-1"},
    ]
    router = router_from_settings(settings)  # type: ignore[arg-type]
    assert [r.name for r in router.routes] == ["first.example", "second.example"]
    assert router.routes[1].pinned == "azure-sora-1"


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("upstreams: http://x/v1\n", 1, "must be a non-empty list"),
        ("upstreams: []\n", 1, "must be a non-empty list"),
        ("upstreams:\n  - http://x/v1\n", 2, "upstreams[0] must be a mapping"),
        ("upstreams:\n  - url: http://x/v1\n    api_key_env: FIRST_KEY\n    weight: 2\n", 4, "unknown key 'weight'"),
        ("upstreams:\n  - url: ftp://x\n    api_key_env: FIRST_KEY\n", 2, "url must be an http(s) URL"),
        ("upstreams:\n  - url: http://x/v1\n", 2, "api_key_env must be a non-empty string"),
        ("upstreams:\n  - url: http://x/v1\n    api_key_env: NOT_SET_ANYWHERE\n", 3, "NOT_SET_ANYWHERE is not set"),
        ("upstreams:\n  - url: http://x/v1\n    api_key_env: sk-abc def\n", 3, "must name an environment variable"),
        (
            "\nupstreams:\n  - {url: http://x/v1, api_key_env: FIRST_KEY, profile: sora-9}\n",
            3,
            "profile must be one of",
        ),
        ("upstreams:\n  - {url: http://x/v1, api_key_env: FIRST_KEY, url: http://y/v1}\n", 2, "duplicate key 'url'"),
    ],
)
def test_each_problem_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, where: int, reason: str
) -> None:
    monkeypatch.setenv("FIRST_KEY", "sk-first-0000000000")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ConfigError) as raised:
        settings_from(tmp_path, text)
    assert f"gateway.yaml:{where}: " in str(raised.value), raised.value
    assert reason in str(raised.value)
    assert "sk-first" not in str(raised.value)


def test_the_environment_takes_the_same_list_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRST_KEY", "sk-first-0000000000")
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAMS", '[{"url": "http://x/v1", "api_key_env": "FIRST_KEY"}]')
    assert build_settings({}).upstreams == [{"url": "http://x/v1", "api_key_env": "FIRST_KEY"}]
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAMS", '[{"url": "http://x/v1"}]')
    with pytest.raises(ConfigError, match="SORA_GATEWAY_UPSTREAMS: upstreams\\[0\\]: api_key_env"):
        build_settings({})


def test_the_breaker_opens_after_failures_in_a_row_and_half_opens_after_open_s() -> None:
    now = [0.0]
    breaker = Breaker("t", failures=3, open_s=10, clock=lambda: now[0])
    for _ in range(2):
        breaker.record(UpstreamError(503, "down"))
    breaker.record(UpstreamError(400, "bad value"))  # the upstream answered: not its fault, resets the count
    for _ in range(2):
        breaker.record(UpstreamError(0, "unreachable"))
    assert breaker.state == "closed"
    breaker.record(UpstreamError(429, "out of capacity"))
    assert breaker.state == "open" and not breaker.accepts_new_jobs
    breaker.record(None)  # a call that got through early does not close it before open_s
    assert breaker.state == "open"
    now[0] = 10.0
    assert breaker.state == "half_open" and not breaker.accepts_new_jobs
    breaker.record(UpstreamError(502, "still down"))  # the trial failed: open again, for open_s
    assert breaker.state == "open"
    now[0] = 20.0
    assert breaker.state == "half_open"
    breaker.record(None)
    assert breaker.state == "closed" and breaker.accepts_new_jobs


def test_only_a_job_that_surely_never_reached_its_upstream_may_move() -> None:
    from gateway.core.models import Job, Segment, SegStatus
    from gateway.jobs.reroute import never_sent

    def job(*segments: Segment, marks: dict[str, bool] | None = None) -> Job:
        requested = {"submit_not_sent": marks} if marks else {}
        return Job(
            id="v",
            tenant="t",
            model="m",
            prompt="p",
            size="s",
            seconds="4",
            segments=list(segments),
            requested=requested,
        )

    assert never_sent(job(Segment(index=0, seconds=4, prompt="p")))
    sending = Segment(index=0, seconds=4, prompt="p", status=SegStatus.SUBMITTING)
    assert not never_sent(job(sending)), "a send whose outcome is unknown may have created a video"
    assert never_sent(job(sending, marks={"0": True})), "refused at the door (429, connection refused)"
    made = Segment(index=0, seconds=12, prompt="p", status=SegStatus.COMPLETED, upstream_id="up_1")
    assert not never_sent(job(made, Segment(index=1, seconds=20, prompt="p", kind="extend")))
