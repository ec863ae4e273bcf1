"""Scene records whose story was never stored: a story's request that died between the two.

A story writes its scene records before it is admitted (so every id in its ``scenes`` resolves from the first
upstream call on), and is stored only once its stages pass (content policy, quota, enhancement). A replica killed
in between leaves scene records that nothing will ever complete. So the request holds a lease on the story
(``story:<id>``, renewed while it runs) and lists it in the store's collection ``stories:open`` (story id -> its
scene ids) until the story is stored; :func:`clean_orphans` (run with the batch resume, at start-up and every few
seconds) deletes the scenes of every listed story whose lease has expired and which was never stored, and gives
back the story's quota charge if its request had taken it. Nothing was made upstream for them: the story's first
create comes after it is stored.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from gateway.observability import log
from gateway.pipeline.leased import leased
from gateway.store.base import JobStore, StoreError

OPEN = "stories:open"  # store document collection: story id -> JSON list of its scene ids, until it is stored
LEASE_PREFIX = "story:"
Refund = Callable[[str, str], Awaitable[None]]  # (tenant, story id): give back a charge its request took


@contextlib.asynccontextmanager
async def scenes_pending(
    store: JobStore, tenant: str, story_id: str, scene_ids: list[str], lease_ttl_s: float
) -> AsyncIterator[None]:
    """Around writing a story's scene records and admitting it: listed (and leased) until the block succeeds.

    On an error the listing stays: :func:`clean_orphans` checks the story and drops what it left."""
    async with leased(store, LEASE_PREFIX + story_id, lease_ttl_s) as held:
        assert held is not None  # a new id: nobody else holds it
        entry = json.dumps({"tenant": tenant, "scenes": scene_ids})
        await store.doc_put(OPEN, story_id, entry)  # the store down: refused, nothing written
        yield
        with contextlib.suppress(StoreError):  # still listed: the next clean finds the story stored, drops the entry
            await store.doc_delete(OPEN, story_id)


async def clean_orphans(store: JobStore, lease_ttl_s: float, refund: Refund | None = None) -> int:
    """Delete the scene records of stories that were never stored (their request died) and ``refund`` the story's
    charge if the quota stage had taken it; how many stories."""
    cleaned = 0
    for story_id, raw in await store.doc_list(OPEN):
        async with leased(store, LEASE_PREFIX + story_id, lease_ttl_s) as held:
            if held is None:  # its request is still running (here or on another replica)
                continue
            if await store.get(story_id) is None:
                entry = json.loads(raw or "{}")
                if refund is not None:  # nothing was made for it: a charge taken before the crash goes back
                    await refund(str(entry.get("tenant")), story_id)
                scene_ids = [str(s) for s in entry.get("scenes") or []]
                for scene_id in scene_ids:
                    await store.delete(scene_id)
                log.warning("story_orphaned_scenes_deleted", video_id=story_id, scenes=len(scene_ids))
                cleaned += 1
            await store.doc_delete(OPEN, story_id)
    return cleaned
