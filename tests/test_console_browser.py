"""The web console in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

A team signs in with its key, creates a video, sees it progress and complete with its thumbnail and
cost, plays it (the MP4 is fetched as a blob with the Authorization header), sees its usage change and
its spend in the chart; finds it among its jobs with the filters, opens its page and plays it there,
and the page fits a 360 px screen. The admin key sees every team, readiness, cache savings and the
provider tiles. Every view loads with no console error; keys never reach a URL, localStorage or the
gateway's logs. ``SORA_GATEWAY_SCREENSHOTS=DIR`` also saves the screenshots there (``docs/`` holds the
ones the README shows).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEYS, Gateway, start_gateway, write_policies
from tests.procs import Proc, start_simulator

CHROMIUM = os.environ.get("SORA_GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium")
ADMIN_KEY = "sk-admin-console-test-0123456789"
TIMEOUT_MS = 60_000


def browser_or_fail() -> None:
    if not Path(CHROMIUM).exists():  # .ci/run installs it; locally: apt-get install -y chromium
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set SORA_GATEWAY_TEST_CHROMIUM)")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Gateway]]:
    sim = start_simulator(time_scale=0.05)  # a 4 s video takes ~3 s: progress is visible
    tmp = tmp_path_factory.mktemp("console")
    quotas = "quotas: {requests_per_minute: 60, concurrent_jobs: 4, video_seconds_per_day: 600, "
    quotas += "budget_usd_per_month: 25}\n"
    policies = write_policies(tmp / "policies", {"acme": quotas, "globex": quotas.replace("25}", "10}")})
    gw = start_gateway(sim, tmp, "memory://", policies=policies, env={"SORA_GATEWAY_ADMIN_KEY": ADMIN_KEY})
    yield sim, gw
    gw.proc.stop()
    sim.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    browser_or_fail()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # a loaded CI machine: every expectation polls this long

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def shot(page: object, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("SORA_GATEWAY_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / name)


def wait_in_page(page: object, expression: str, timeout_s: float = TIMEOUT_MS / 1000) -> None:
    """Poll ``expression`` in the page (``wait_for_function`` would need 'unsafe-eval', which the CSP forbids)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"gave up waiting for {expression}"
        time.sleep(0.1)


WIDEST = """[...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > 362 && e.offsetParent !== null && !e.closest('.scroll'))
    .slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className + ' '
        + Math.round(e.getBoundingClientRect().right))"""


def watch_errors(page: object) -> list[str]:
    """Console errors and uncaught exceptions of ``page`` (a failed fetch of a resource is one too)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: errors.append(str(e)))  # type: ignore[attr-defined]
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)  # type: ignore[attr-defined]
    return errors


def sign_in(page: object, url: str, key: str) -> None:
    page.goto(url + "/")  # type: ignore[attr-defined]
    assert page.url.endswith("/console")  # type: ignore[attr-defined]
    page.get_by_label("API key").fill(key)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]


def test_a_team_signs_in_makes_a_video_plays_it_and_sees_usage(
    stack: tuple[Proc, Gateway], browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _, gw = stack
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    creates: list[dict[str, str]] = []
    page.on("request", lambda r: creates.append(r.headers) if r.method == "POST" and "/v1/videos" in r.url else None)

    sign_in(page, gw.url, "sk-not-a-real-key-000")
    expect(page.locator("#signin-error")).to_contain_text("Incorrect API key")
    errors = watch_errors(page)  # from here on (the refused sign-in above is a 401 on purpose)

    sign_in(page, gw.url, KEYS["acme"])
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#who")).to_contain_text("team key")
    usage = page.locator("#usage-body")
    expect(usage).to_contain_text("Spend this month: $0.00 of $25.00")
    expect(page.locator("#chart-spend .total")).to_have_text("$0.00")

    page.get_by_label("Prompt", exact=True).fill("a lighthouse at dawn, seen from the console")
    page.get_by_label("Seconds", exact=True).select_option("5")  # the pickers come from /v1/models
    page.get_by_role("button", name="Create").dblclick()  # the button is disabled while a create is in flight
    expect(page.locator("#create-result")).to_contain_text("seconds=5->8(trimmed to 5)")
    assert len(creates) == 1, creates  # one request for a double click, with its own Idempotency-Key
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", creates[0]["idempotency-key"])
    expect(page.get_by_role("button", name="Create")).to_be_enabled()
    row = page.locator("#video-rows tr").first
    expect(row).to_have_attribute("data-status", "in_progress")  # live progress while it renders
    expect(row.locator("progress")).to_be_visible()
    expect(row).to_have_attribute("data-status", "completed")
    expect(row.locator("td.cost")).to_have_text("$0.80")  # 8 s generated at $0.10, trimmed to 5
    expect(row.locator(".adapted")).to_contain_text("seconds=5->8(trimmed to 5)")
    expect(row.locator("td.created time")).to_have_text(re.compile(r"just now|min ago"))  # human time ...
    assert row.locator("td.created time").get_attribute("title")  # ... and the local time on hover
    expect(page.locator("#video-rows tr")).to_have_count(1)  # one video for the double click
    expect(row.locator("img.thumb")).to_have_attribute("src", _blob())
    wait_in_page(page, "document.querySelector('#video-rows img.thumb').naturalWidth > 0")

    row.get_by_role("button", name=re.compile("^Play")).click()
    player = page.locator("#player")
    expect(player).to_have_attribute("src", _blob())
    wait_in_page(page, "document.getElementById('player').readyState >= 1")
    duration = page.evaluate("document.getElementById('player').duration")
    assert abs(duration - 5.0) < 0.2, duration  # the trimmed MP4, played from a blob
    expect(usage).to_contain_text("Spend this month: $0.80")
    expect(usage).to_contain_text("Video seconds today: 8 s of 600 s")
    expect(page.locator("#chart-spend .total")).to_have_text("$0.80")  # the chart shows what this test spent
    expect(page.locator("#chart-seconds .total")).to_have_text("8 s")
    expect(page.locator("#chart-spend rect.bar")).to_have_count(1)

    video_id = row.get_attribute("data-id")
    rated = httpx.post(
        f"{gw.url}/v1/videos/{video_id}/feedback",
        json={"rating": 5, "scores": {"visual_quality": 8}, "comment": "from the console test"},
        headers={"Authorization": f"Bearer {KEYS['acme']}"},
    )
    assert rated.status_code == 200, rated.text
    page.locator("input[name=range][value=hour]").check()  # another range redraws the charts
    expect(page.locator("#chart-spend figcaption")).to_contain_text("last hour")
    expect(page.locator("#feedback-body")).to_contain_text("sora-2")
    expect(page.locator("#feedback-body")).to_contain_text("5 / 5")
    shot(page, tmp_path, "console-team.png")

    # jobs: a second video; the filters narrow the list
    gw.client("acme").videos.create_and_poll(
        prompt="a red fox crossing a frozen lake", seconds="4", poll_interval_ms=100
    )
    page.get_by_role("link", name="Jobs", exact=True).click()
    jobs = page.locator("#job-rows tr")
    expect(jobs).to_have_count(2)
    page.get_by_label("Prompt contains").fill("FROZEN lake")
    page.get_by_role("button", name="Apply").click()
    expect(jobs).to_have_count(1)
    expect(jobs.first).to_contain_text("a red fox crossing a frozen lake")
    expect(page.locator("#jobs-status")).to_contain_text("1 job, all shown")
    page.get_by_role("button", name="Clear").click()
    expect(jobs).to_have_count(2)
    page.get_by_label("Status", exact=True).select_option("failed")
    expect(page.locator("#jobs-status")).to_contain_text("none match")
    page.get_by_label("Status", exact=True).select_option("completed")
    expect(jobs).to_have_count(2)
    shot(page, tmp_path, "console-jobs.png")

    # the job page: the video plays, what was adapted and why, its segment and provider, the fetch lines
    page.locator(f"#job-rows tr[data-id='{video_id}'] a.prompt").click()
    expect(page.locator("#job-title")).to_contain_text("a lighthouse at dawn")
    body = page.locator("#job-body")
    expect(body.locator(".adapted-list")).to_contain_text("trimmed to 5")
    expect(body).to_contain_text("openai-2025-10")
    expect(body.locator("pre.fetch").first).to_contain_text(f"/v1/videos/{video_id}/content")
    expect(body).to_contain_text("from the console test")
    expect(page.locator("#job-player")).to_have_attribute("src", _blob())
    wait_in_page(page, "document.getElementById('job-player').readyState >= 1")
    assert abs(page.evaluate("document.getElementById('job-player').duration") - 5.0) < 0.2
    shot(page, tmp_path, "console-job.png")

    # 360 px wide: nothing runs past the screen, long text wraps
    page.set_viewport_size({"width": 360, "height": 800})
    for view in ("#/", "#/jobs", f"#/jobs/{video_id}"):
        page.evaluate(f"location.hash = '{view}'")
        expect(page.locator("#app")).to_be_visible()
        try:
            wait_in_page(page, "document.documentElement.scrollWidth <= 362", timeout_s=10)
        except AssertionError:
            wide = page.evaluate(WIDEST)
            raise AssertionError(f"{view} is wider than 360 px: {wide}") from None
    page.evaluate("location.hash = '#/'")
    expect(page.locator("#video-rows tr")).to_have_count(2)
    shot(page, tmp_path, "console-mobile.png")

    # the key stays in this tab: sessionStorage only, in no URL, and survives a reload
    assert page.evaluate("sessionStorage.getItem('sora-gateway-console-key')") == KEYS["acme"]
    assert page.evaluate("localStorage.length") == 0
    page.reload()
    expect(page.locator("#app")).to_be_visible()
    assert requested and not any(KEYS["acme"] in url for url in requested)
    assert errors == [], errors
    context.close()


def test_the_admin_sees_every_team_health_savings_and_providers(
    stack: tuple[Proc, Gateway], browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _, gw = stack
    globex = gw.client("globex")
    first = globex.videos.create_and_poll(prompt="a globex video", seconds="4", poll_interval_ms=100)
    globex.videos.create(prompt="a globex video", seconds="4")  # a cache hit: something saved
    assert first.status == "completed"

    context = browser.new_context(viewport={"width": 1280, "height": 1100}, color_scheme="dark")  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors = watch_errors(page)
    sign_in(page, gw.url, ADMIN_KEY)
    expect(page.locator("#who")).to_contain_text("admin")
    expect(page.locator("#create")).to_be_hidden()
    rows = page.locator("#video-rows tr")
    expect(rows.filter(has_text="globex").first).to_be_visible()
    expect(rows.filter(has_text="from the cache").first).to_be_visible()  # a hit says what it is
    expect(page.locator("#usage-body [data-tenant=acme]")).to_be_visible()
    expect(page.locator("#usage-body [data-tenant=globex]")).to_be_visible()
    expect(page.locator("#ready-status")).to_have_text("ready")
    expect(page.locator("#ready-checks [data-check=store]")).to_contain_text("ok")
    expect(page.locator("#savings-body")).to_contain_text("globex")
    expect(page.locator("#savings-body")).to_contain_text("$0.40")
    spent = sum(v.cost_usd or 0 for v in gw.client("acme").videos.list().data) + (first.cost_usd or 0)  # type: ignore[attr-defined]
    expect(page.locator("#chart-spend .total")).to_have_text(f"${spent:.2f}")  # every team's spend
    page.locator("#range-team").select_option("globex")  # one team's
    expect(page.locator("#chart-spend .total")).to_have_text(f"${first.cost_usd:.2f}")
    expect(page.locator("#chart-saved .total")).to_have_text("$0.40")
    page.locator("#range-team").select_option("")  # the whole gateway again
    expect(page.locator("#chart-spend .total")).to_have_text(f"${spent:.2f}")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(245, 247, 249)"  # dark
    done = rows.filter(has_text="globex").filter(has=page.locator("button.play:visible")).first
    done.get_by_role("button", name=re.compile("^Play")).click()
    wait_in_page(page, "document.getElementById('player').readyState >= 1")
    assert abs(page.evaluate("document.getElementById('player').duration") - 4.0) < 0.2
    shot(page, tmp_path, "console-admin.png")

    page.get_by_role("link", name="Jobs", exact=True).click()
    page.get_by_label("Team").select_option("globex")
    expect(page.locator("#job-rows tr")).to_have_count(2)
    expect(page.locator("#job-rows tr[data-tenant=acme]")).to_have_count(0)

    page.get_by_role("link", name="Providers", exact=True).click()
    tile = page.locator(".tile").first
    expect(tile).to_contain_text("openai-2025-10")
    expect(tile).to_contain_text("healthy")
    expect(tile).to_contain_text("breaker")
    expect(tile).to_contain_text("$")
    shot(page, tmp_path, "console-providers.png")
    assert errors == [], errors
    context.close()
    logs = gw.proc.logs()
    assert ADMIN_KEY not in logs and KEYS["acme"] not in logs and KEYS["globex"] not in logs


def test_a_batch_and_a_story_made_from_the_form(stack: tuple[Proc, Gateway], browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    _, gw = stack
    context = browser.new_context(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors = watch_errors(page)
    sign_in(page, gw.url, KEYS["acme"])
    expect(page.locator("#app")).to_be_visible()
    page.get_by_role("button", name="Create").click()  # nothing to make: said as an error a person notices
    expect(page.locator("#create-result.error[role=alert]")).to_contain_text("write a prompt")

    page.get_by_label("Prompt", exact=True).fill("a paper kite over the dunes")
    page.locator("summary").click()
    page.get_by_label("Variations").fill("2")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#create-result")).to_contain_text("created batch batch_")
    kite = page.locator("#video-rows tr", has_text="a paper kite over the dunes")
    expect(kite).to_have_count(2)
    expect(kite.locator("td.status .state").first).to_have_text("completed")
    kite.first.locator("a.prompt").click()
    cards = page.locator("#variations li")
    expect(cards).to_have_count(2)  # side by side, the one shown marked
    expect(page.locator("#variations li.current")).to_have_count(1)
    shot(page, tmp_path, "console-batch.png")

    page.get_by_role("link", name="Overview").click()
    page.get_by_label("Variations").fill("1")
    page.get_by_label("Prompt", exact=True).fill("")
    page.get_by_label("Story scenes").fill("a lantern glows in a tent\nthe tent opens at dawn")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#create-result")).to_contain_text("created story video_")
    story_id = page.locator("#create-result").inner_text().split("created story ")[1].split()[0]
    page.evaluate(f"location.hash = '#/jobs/{story_id}'")
    scenes = page.locator("#scenes li")
    expect(scenes).to_have_count(2)
    expect(scenes.first).to_contain_text("scene 1")
    expect(scenes.first).to_contain_text("a lantern glows in a tent")
    # its own thumbnail, derived by the gateway from the scene's cut (no provider makes one for a scene)
    expect(scenes.first.locator("img.thumb")).to_have_attribute("src", _blob())
    wait_in_page(page, "document.querySelector('#scenes li img.thumb').naturalWidth > 0")
    expect(page.locator("#job-facts-status")).to_have_text("completed")
    expect(page.locator("#job-player")).to_have_attribute("src", _blob())  # the stitched film plays
    wait_in_page(page, "document.getElementById('job-player').readyState >= 1")
    assert page.evaluate("document.getElementById('job-player').duration") > 7  # two scenes of 4 s, stitched
    shot(page, tmp_path, "console-story.png")
    scenes.first.locator("a").click()
    expect(page.locator("#job-body")).to_contain_text("A scene of")
    assert errors == [], errors
    context.close()


def test_console_is_self_contained(stack: tuple[Proc, Gateway]) -> None:
    _, gw = stack
    page = httpx.get(gw.url + "/console")
    assert page.status_code == 200 and 'for="api-key">API key<' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no external assets
    assert "default-src 'none'" in page.headers["content-security-policy"]
    modules = re.findall(r'src="(/console/js/[\w-]+\.js)"', page.text)
    assert modules == ["/console/js/main.js"]
    sources = {}
    for name in ("main", "api", "dom", "chart", "rows", "overview", "jobs", "job", "providers", "create"):
        script = httpx.get(f"{gw.url}/console/js/{name}.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        assert "http://" not in script.text.replace("http://www.w3.org/2000/svg", "")  # nothing from a CDN
        sources[name] = script.text
    assert "sessionStorage" in sources["api"] and not any("localStorage" in s for s in sources.values())
    assert not any("/metrics" in s for s in sources.values())  # the JSON API, which works behind deploy/nginx
    root = httpx.get(gw.url + "/", follow_redirects=False, headers={"Host": "evil.example"})
    assert root.status_code == 302 and root.headers["location"] == "/console"
    assert httpx.get(gw.url + "/console/nope.js").status_code == 404
    assert httpx.get(gw.url + "/console/js/nope.js").json()["error"]["code"] == "not_found"
    assert httpx.get(gw.url + "/console/js/..%2Fconsole.html").status_code == 404
    forbidden = httpx.get(gw.url + "/v1/gateway/admin/videos", headers={"Authorization": f"Bearer {KEYS['acme']}"})
    assert forbidden.status_code == 401 and forbidden.json()["error"]["code"] == "invalid_admin_key"


def _blob() -> object:
    return re.compile(r"^blob:")
