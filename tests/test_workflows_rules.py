"""The workflows' rules, table by table: story segment plans, batch prompts, extension lengths, the
cache key's defaults, the tenant's enhance_prompt default."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.content import LocalContentStore
from gateway.core.models import Job, Segment, SegStatus, Status, VideoRequest
from gateway.core.plan import plan_request
from gateway.errors import ApiError
from gateway.pipeline.batches import batch_status, variation_prompts
from gateway.pipeline.cache import cache_key
from gateway.pipeline.derived import DerivedCreates
from gateway.pipeline.stages import Admission
from gateway.pipeline.stories import SCENE_IDS, Scene, StoryService, story_plan, story_segments
from gateway.policies.loader import load_policies
from gateway.policies.model import Tenant
from gateway.providers import PROFILES
from gateway.store.base import PASSIVE, JobStore
from gateway.store.memory import MemoryStore

STORY_PLANS = [
    # profile, scene seconds -> (strategy, generated lengths, kept lengths)
    ("openai-2026-03", [4, 8, 4], ("extend", [4, 8, 4], [4, 8, 4])),
    ("openai-2026-03", [4, 10], ("chain", [4, 12], [4, 10])),
    ("openai-2025-10", [4, 8, 4], ("chain", [4, 8, 4], [4, 8, 4])),
    ("openai-2025-10", [5, 3], ("chain", [8, 4], [5, 3])),
    ("openai-2025-10", [15], ("chain", [8, 8], [8, 7])),
    ("azure-sora-1", [4, 8, 4], ("chain", [4, 8, 4], [4, 8, 4])),
    ("azure-sora-1", [25, 3], ("chain", [13, 12, 3], [13, 12, 3])),
]


@pytest.mark.parametrize(("profile", "seconds", "expected"), STORY_PLANS)
def test_story_segments(profile: str, seconds: list[int], expected: tuple[str, list[int], list[int]]) -> None:
    scenes = [Scene(f"scene {i}", s) for i, s in enumerate(seconds)]
    segments, strategy, keeps, owners = story_segments(scenes, [s.prompt for s in scenes], PROFILES[profile])
    assert (strategy, [s.seconds for s in segments], keeps) == expected
    assert sum(keeps) == sum(seconds)
    assert sorted(set(owners)) == list(range(len(scenes)))
    assert [s.kind for s in segments[1:]] == ["extend" if strategy == "extend" else "create"] * (len(segments) - 1)


def test_batch_prompts_differ_and_status_follows_the_videos() -> None:
    numbered = variation_prompts("a fox", 3, None)
    assert len(set(numbered)) == 3 and all(p.startswith("a fox") for p in numbered)
    assert "Variation 3 of 3" in numbered[2]
    assert variation_prompts(None, None, ["a", "b"]) == ["a", "b"]
    assert variation_prompts("boat", None, ["as noir"]) == ["boat\n\nas noir"]
    assert batch_status([]) == "completed"
    assert batch_status([None]) == "failed"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        ("4", (4, 4, [])),
        ("10", (10, 12, ["seconds=10->12(trimmed to 10)"])),
        ("1", (1, 4, ["seconds=1->4(trimmed to 1)"])),
    ],
)
def test_extension_lengths_are_translated_like_creates(seconds: str, expected: tuple[int, int, list[str]]) -> None:
    assert DerivedCreates._extension_length(seconds, PROFILES["openai-2026-03"]) == expected


@pytest.mark.parametrize("seconds", ["21", "0", "-4", "ten", "4.5", None])
def test_extension_lengths_out_of_range_are_refused_with_the_list(seconds: str | None) -> None:
    with pytest.raises(ApiError) as refused:
        DerivedCreates._extension_length(seconds, PROFILES["openai-2026-03"])
    assert refused.value.param == "seconds" and "supported extension lengths: 4, 8, 12, 16, 20" in refused.value.message


def _key(req: VideoRequest) -> str:
    caps = PROFILES["openai-2025-10"]
    plan = plan_request(req, caps)
    tenant = Tenant(name="acme")
    job = Job(id="video_x", tenant="acme", model=plan.model, prompt=req.prompt, size=plan.size, seconds="4")
    return cache_key(Admission(tenant, req, plan, job, caps))


def test_the_cache_key_does_not_depend_on_a_default_written_out() -> None:
    base = VideoRequest(prompt="a balloon", seconds="4", size="720p", dialect="seed")
    assert _key(base) == _key(VideoRequest(**{**base.__dict__, "output_format": "mp4"}))
    assert _key(base) == _key(VideoRequest(**{**base.__dict__, "output_format": " MP4 "}))
    assert _key(base) != _key(VideoRequest(**{**base.__dict__, "output_format": "webm"}))


def test_tenant_enhance_prompt_default(tmp_path: Path) -> None:
    (tmp_path / "tenants").mkdir()
    (tmp_path / "defaults.yaml").write_text("enhance_prompt: true\n")
    key = "sha256:" + "0" * 64
    (tmp_path / "tenants" / "a.yaml").write_text(f'tenant: a\napi_keys: ["{key}"]\n')
    (tmp_path / "tenants" / "b.yaml").write_text(f'tenant: b\napi_keys: ["{key[:-1]}1"]\nenhance_prompt: false\n')
    policy, problems = load_policies(tmp_path)
    assert problems == []
    assert policy.tenants["a"].enhance_prompt is True and policy.tenants["b"].enhance_prompt is False
    (tmp_path / "tenants" / "b.yaml").write_text(f'tenant: b\napi_keys: ["{key[:-1]}1"]\nenhance_prompt: maybe\n')
    _, problems = load_policies(tmp_path)
    assert [p.reason for p in problems] == ["enhance_prompt must be true or false"]


async def test_scene_records_are_never_driven(store: JobStore) -> None:
    """A story's scene video is a passive record: stored, listed, never in the driver's active set."""
    scene = Job(id="video_scene", tenant="acme", model="sora-2", prompt="p", size="720x1280", seconds="4")
    scene.requested = {PASSIVE: True, "story_of": "video_story"}
    story = Job(id="video_story", tenant="acme", model="sora-2", prompt="p", size="720x1280", seconds="4")
    await store.put(scene)
    await store.put(story)
    assert await store.active_ids() == ["video_story"]
    scene.status = Status.COMPLETED
    assert await store.update(scene)
    assert await store.active_ids() == ["video_story"]
    assert {j.id for j in (await store.list("acme"))[0]} == {"video_scene", "video_story"}


@pytest.mark.parametrize(
    ("profile", "strategy", "continuity"),
    [("openai-2025-10", "chain", "last_frame"), ("openai-2026-03", "extend", None), ("azure-sora-1", "chain", None)],
)
def test_story_plan_keeps_continuity_and_clauses(profile: str, strategy: str, continuity: str | None) -> None:
    caps = PROFILES[profile]
    scenes = [Scene("a seed sprouting", 4), Scene("a plant growing", 8), Scene("a flower blooming", 4)]
    plans = [
        plan_request(VideoRequest(prompt=s.prompt, seconds=str(s.seconds), style_preset="cinematic"), caps)
        for s in scenes
    ]
    plan, owners = story_plan(scenes, plans, caps)
    assert plan.strategy == strategy and plan.seconds == 16 and owners == [0, 1, 2]
    assert plan.extras.get("continuity") == continuity  # the previous scene's last frame where files are taken
    assert "trim_seconds" not in plan.extras
    assert plan.segments[1].prompt.startswith("a plant growing") and "Scene 2 of 3" in plan.segments[1].prompt
    assert all("Style:" in s.prompt for s in plan.segments)
    assert plan.adapted[-1] == f"scenes=4+8+4->4+8+4({'extended' if strategy == 'extend' else 'stitched'})"
    assert plan.cost_usd == pytest.approx(16 * caps.price_per_second(plan.upstream_model, plan.size))


async def test_a_running_scene_shows_its_part_of_the_story(tmp_path: Path) -> None:
    store = MemoryStore()
    stories = StoryService(None, store, LocalContentStore(tmp_path), max_seconds=120)  # type: ignore[arg-type]
    story = Job(id="video_story", tenant="acme", model="sora-2", prompt="p", size="720x1280", seconds="16")
    story.kind = "story"
    story.segments = [
        Segment(index=0, seconds=4, prompt="a", status=SegStatus.COMPLETED, progress=100),
        Segment(index=1, seconds=8, prompt="b", status=SegStatus.IN_PROGRESS, progress=50),
        Segment(index=2, seconds=4, prompt="c"),
    ]
    story.requested = {"scene_of_segment": [0, 1, 2], SCENE_IDS: ["s0", "s1", "s2"]}
    await store.put(story)
    scenes = []
    for index in range(3):
        scene = Job(id=f"s{index}", tenant="acme", model="sora-2", prompt="p", size="720x1280", seconds="4")
        scene.kind, scene.requested = "scene", {PASSIVE: True, "story_of": story.id, "scene_index": index}
        scenes.append(await stories.view(scene))
    assert [(s.status, s.progress) for s in scenes] == [
        (Status.IN_PROGRESS, 99),  # generated, waiting for the film to be cut
        (Status.IN_PROGRESS, 50),
        (Status.QUEUED, 0),
    ]
    story.status = Status.COMPLETED
    await store.put(story)
    assert (await stories.view(scenes[2])).status == Status.QUEUED  # the listener writes the outcome
