"""Listing a team's batches (issue 22, item 9): ``GET /v1/gateway/batches``, newest first, ``limit``/``after``,
the OpenAI list shape, on every store (memory, sqlite, redis), another team's batches never shown, an expired
batch dropped from the listing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.core.models import Job, VideoRequest
from gateway.pipeline.batches import KV_PREFIX, BatchService
from gateway.pipeline.stages import Created
from gateway.policies.model import Tenant
from gateway.store.base import JobStore
from tests.conftest import Stack

SHAPE = {"message", "type", "param", "code"}


class Videos:
    """Stands in for VideoService.create: every variation accepted and stored."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.made = 0

    async def create(self, tenant: Tenant, req: VideoRequest, **_: Any) -> Created:
        self.made += 1
        job = Job(
            id=f"video_l{self.made}", tenant=tenant.name, model="sora-2", prompt=req.prompt, size="s", seconds="4"
        )
        await self.store.put(job)
        return Created(job)


async def test_batches_list_newest_first_per_team_on_every_store(store: JobStore) -> None:
    service = BatchService(Videos(store), store, ttl_s=None)  # type: ignore[arg-type]
    acme, globex = Tenant(name="acme"), Tenant(name="globex")
    made = [(await service.create(acme, VideoRequest(prompt=f"p{i}"), [f"p{i}a", f"p{i}b"]))[0].id for i in range(5)]
    other = (await service.create(globex, VideoRequest(prompt="g"), ["g1", "g2"]))[0].id
    newest_first = list(reversed(made))

    page, more = await service.list(acme, limit=2)
    assert [b.id for b, _ in page] == newest_first[:2] and more
    assert all(len(jobs) == 2 and all(j is not None and j.tenant == "acme" for j in jobs) for _, jobs in page)
    page, more = await service.list(acme, after=page[-1][0].id, limit=2)
    assert [b.id for b, _ in page] == newest_first[2:4] and more
    page, more = await service.list(acme, after=page[-1][0].id, limit=2)
    assert [b.id for b, _ in page] == newest_first[4:] and not more
    everything, more = await service.list(acme, limit=100)
    assert [b.id for b, _ in everything] == newest_first and not more and other not in [b.id for b, _ in everything]
    assert [b.id for b, _ in (await service.list(globex))[0]] == [other]

    # a batch whose record expired leaves the listing (and its index), the cursor of a gone batch still pages
    await store.kv_delete(KV_PREFIX + made[3])
    page, _ = await service.list(acme, limit=100)
    assert [b.id for b, _ in page] == [made[4], made[2], made[1], made[0]]
    assert made[3] not in [doc_id for doc_id, _ in await store.doc_list("batches:acme")]
    page, _ = await service.list(acme, after=made[3], limit=100)
    assert [b.id for b, _ in page] == [made[2], made[1], made[0]]


def test_get_v1_gateway_batches_lists_the_callers_batches(stacks: Callable[[str], Stack]) -> None:
    _, gw = stacks("openai-2025-10")
    http, other = gw.http(), gw.http("globex")
    made = []
    for i in range(3):
        created = http.post("/v1/gateway/batches", json={"prompt": f"a listed kite {i}", "n": 2, "seconds": "4"})
        assert created.status_code == 200, created.text
        made.append(created.json()["id"])
    theirs = other.post("/v1/gateway/batches", json={"prompt": "a listed kite elsewhere", "n": 2, "seconds": "4"})
    assert theirs.status_code == 200, theirs.text

    first = http.get("/v1/gateway/batches", params={"limit": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["object"] == "list" and body["has_more"] is True
    assert [b["id"] for b in body["data"]] == [made[2], made[1]]
    assert body["first_id"] == made[2] and body["last_id"] == made[1]
    one = body["data"][0]
    alone = http.get(f"/v1/gateway/batches/{made[2]}").json()  # each item is the batch as GET returns it
    assert set(one) == set(alone) and one["id"] == alone["id"] and one["created_at"] == alone["created_at"]
    assert one["object"] == "video.batch" and [v["id"] for v in one["videos"]] == [v["id"] for v in alone["videos"]]
    rest = http.get("/v1/gateway/batches", params={"limit": 2, "after": body["last_id"]}).json()
    assert rest["has_more"] is False and made[0] in [b["id"] for b in rest["data"]]
    assert theirs.json()["id"] not in [b["id"] for b in http.get("/v1/gateway/batches?limit=100").json()["data"]]
    assert [b["id"] for b in other.get("/v1/gateway/batches").json()["data"]] == [theirs.json()["id"]]

    for params, param in [({"limit": 0}, "limit"), ({"limit": "x"}, "limit"), ({"after": "video_1"}, "after")]:
        refused = http.get("/v1/gateway/batches", params=params)
        assert refused.status_code == 400 and set(refused.json()["error"]) == SHAPE, refused.text
        assert refused.json()["error"]["param"] == param
    assert gw.http(None).get("/v1/gateway/batches").status_code == 401
