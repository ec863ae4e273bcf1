"""Feedback and its summary: validation naming the field, team scoping, admin view, means, durability."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.core.models import Job, Status
from gateway.errors import ApiError
from gateway.pipeline.feedback import FeedbackService
from gateway.store.base import JobStore
from tests.conftest import start_gateway, store_url
from tests.procs import Proc

ADMIN = "sk-admin-feedback-0000000000000000"


def _job(job_id: str, tenant: str, model: str, style: str | None = None) -> Job:
    job = Job(job_id, tenant, model, "p", "720x1280", "4", status=Status.COMPLETED)
    if style:
        job.requested["style_preset"] = style
    return job


async def test_feedback_is_kept_and_summarised_in_every_store(store: JobStore) -> None:
    service = FeedbackService(store)
    a1, a2, b1 = (
        _job("video_a1", "acme", "sora-2", "cinematic"),
        _job("video_a2", "acme", "sora-2-pro"),
        _job("video_b1", "globex", "sora-2"),
    )
    await service.record(a1, {"rating": 5, "scores": {"visual_quality": 9, "narrative": 6}, "comment": "great"})
    await service.record(a1, {"rating": 2, "scores": {"visual_quality": 4}})
    await service.record(a2, {"rating": 4})
    await service.record(b1, {"rating": 1, "scores": {"consistency": 3}})
    mine = await service.summary("model", "acme")
    assert mine["data"] == [
        {
            "group": "sora-2",
            "count": 2,
            "rating_mean": 3.5,
            "scores": {"narrative": {"count": 1, "mean": 6.0}, "visual_quality": {"count": 2, "mean": 6.5}},
        },
        {"group": "sora-2-pro", "count": 1, "rating_mean": 4.0, "scores": {}},
    ]
    styles = await service.summary("style_preset", "acme")
    assert [(g["group"], g["count"], g["rating_mean"]) for g in styles["data"]] == [
        ("cinematic", 2, 3.5),
        ("none", 1, 4.0),
    ]
    everyone = await service.summary("tenant", None)
    rows = [(g["group"], g["count"], g["rating_mean"]) for g in everyone["data"]]
    assert rows == [("acme", 3, round(11 / 3, 4)), ("globex", 1, 1.0)]
    assert await store.doc_put("feedback_probe", "x", "1") is True
    assert await store.doc_put("feedback_probe", "x", "2", nx=True) is False
    assert await store.doc_get("feedback_probe", "x") == "1"
    assert await store.doc_delete("feedback_probe", "x") and await store.doc_get("feedback_probe", "x") is None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"rating": 6}, "rating"),
        ({"rating": 0}, "rating"),
        ({"rating": "5"}, "rating"),
        ({"rating": True}, "rating"),
        ({}, "rating"),
        ({"rating": 3, "scores": {"visual_quality": 11}}, "scores.visual_quality"),
        ({"rating": 3, "scores": {"beauty": 5}}, "scores.beauty"),
        ({"rating": 3, "scores": [1]}, "scores"),
        ({"rating": 3, "comment": 5}, "comment"),
        ({"rating": 3, "stars": 5}, "stars"),
    ],
)
async def test_bad_feedback_names_the_field(body: dict[str, object], param: str) -> None:
    from gateway.store.memory import MemoryStore

    with pytest.raises(ApiError) as caught:
        await FeedbackService(MemoryStore()).record(_job("video_x", "acme", "sora-2"), body)
    assert caught.value.status == 400 and caught.value.param == param, caught.value.body()


def test_feedback_end_to_end(simulator: Proc, tmp_path: Path) -> None:
    store = store_url("sqlite", tmp_path)
    gw = start_gateway(simulator, tmp_path / "a", store, env={"SORA_GATEWAY_ADMIN_KEY": ADMIN})
    try:
        acme, globex = gw.client("acme"), gw.client("globex")
        v1 = acme.videos.create_and_poll(prompt="feedback one", seconds="4", poll_interval_ms=100)
        v2 = globex.videos.create_and_poll(prompt="feedback two", seconds="4", poll_interval_ms=100)
        a, g = gw.http("acme"), gw.http("globex")
        ok = a.post(
            f"/v1/videos/{v1.id}/feedback", json={"rating": 4, "scores": {"visual_quality": 8}, "comment": "ok"}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["object"] == "video.feedback" and ok.json()["video_id"] == v1.id
        assert a.post(f"/v1/videos/{v1.id}/feedback", json={"rating": 2}).status_code == 200
        assert g.post(f"/v1/videos/{v2.id}/feedback", json={"rating": 5}).status_code == 200
        other = g.post(f"/v1/videos/{v1.id}/feedback", json={"rating": 1})  # another team's video
        assert other.status_code == 404 and other.json()["error"]["param"] == "video_id", other.text
        bad = a.post(f"/v1/videos/{v1.id}/feedback", json={"rating": 9})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "rating"
        assert set(bad.json()["error"]) == {"message", "type", "param", "code"}
        wrong = a.get("/v1/gateway/feedback/summary", params={"group_by": "color"})
        assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "group_by"
    finally:
        gw.proc.stop()
    gw2 = start_gateway(simulator, tmp_path / "b", store, env={"SORA_GATEWAY_ADMIN_KEY": ADMIN})
    try:  # a restart loses nothing
        mine = gw2.http("acme").get("/v1/gateway/feedback/summary", params={"group_by": "tenant"}).json()
        assert [(d["group"], d["count"], d["rating_mean"]) for d in mine["data"]] == [("acme", 2, 3.0)]
        assert mine["data"][0]["scores"] == {"visual_quality": {"count": 1, "mean": 8.0}}
        admin = httpx.get(
            gw2.url + "/v1/gateway/feedback/summary?group_by=tenant", headers={"Authorization": f"Bearer {ADMIN}"}
        ).json()
        assert [(d["group"], d["count"], d["rating_mean"]) for d in admin["data"]] == [
            ("acme", 2, 3.0),
            ("globex", 1, 5.0),
        ]
        by_model = gw2.http("globex").get("/v1/gateway/feedback/summary").json()
        assert by_model["group_by"] == "model" and [d["count"] for d in by_model["data"]] == [1]
        assert gw2.http("globex").post(f"/v1/videos/{v2.id}/feedback", json={"rating": 3}).status_code == 200
        metrics = httpx.get(gw2.url + "/metrics").text
        assert 'sora_gateway_feedback_rating_count{model="sora-2",tenant="globex"} 1.0' in metrics
    finally:
        gw2.proc.stop()
