"""The web console in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

A team signs in with its key, creates a video, sees it progress and complete with its thumbnail and
cost, plays it (the MP4 is fetched as a blob with the Authorization header), and sees its usage
change; the admin key sees every team, upstream health and cache savings. Keys never reach a URL,
localStorage or the gateway's logs. ``SORA_GATEWAY_SCREENSHOTS=DIR`` also saves the screenshots
there (``docs/`` holds the ones the README shows).
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

    sign_in(page, gw.url, KEYS["acme"])
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#who")).to_contain_text("team key")
    usage = page.locator("#usage-body")
    expect(usage).to_contain_text("Spend this month: $0.00 of $25.00")

    page.get_by_label("Prompt").fill("a lighthouse at dawn, seen from the console")
    page.get_by_label("Seconds").fill("5")
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
    expect(row.locator("td.adapted")).to_contain_text("seconds=5->8(trimmed to 5)")
    expect(page.locator("#video-rows tr")).to_have_count(1)  # one video for the double click
    expect(row.locator("img.thumb")).to_have_attribute("src", _blob())
    assert page.evaluate("document.querySelector('#video-rows img.thumb').naturalWidth") > 0

    row.get_by_role("button", name="Play").click()
    player = page.locator("#player")
    expect(player).to_have_attribute("src", _blob())
    wait_in_page(page, "document.getElementById('player').readyState >= 1")
    duration = page.evaluate("document.getElementById('player').duration")
    assert abs(duration - 5.0) < 0.2, duration  # the trimmed MP4, played from a blob
    expect(usage).to_contain_text("Spend this month: $0.80")
    expect(usage).to_contain_text("Video seconds today: 8 s of 600 s")

    feedback = httpx.get(gw.url + "/v1/gateway/feedback/summary", headers={"Authorization": f"Bearer {KEYS['acme']}"})
    if feedback.status_code == 404:
        expect(page.locator("#feedback")).to_be_hidden()
    else:  # the feedback endpoint answers: the panel shows its summary, with a rating given here
        video_id = row.get_attribute("data-id")
        rated = httpx.post(
            f"{gw.url}/v1/videos/{video_id}/feedback",
            json={"rating": 5, "scores": {"visual_quality": 8}, "comment": "from the console test"},
            headers={"Authorization": f"Bearer {KEYS['acme']}"},
        )
        assert rated.status_code == 200, rated.text
        expect(page.locator("#feedback")).to_be_visible()
        expect(page.locator("#feedback-body")).to_contain_text("sora-2")
    shot(page, tmp_path, "console-team.png")

    # the key stays in this tab: sessionStorage only, in no URL, and survives a reload
    assert page.evaluate("sessionStorage.getItem('sora-gateway-console-key')") == KEYS["acme"]
    assert page.evaluate("localStorage.length") == 0
    page.reload()
    expect(page.locator("#app")).to_be_visible()
    assert requested and not any(KEYS["acme"] in url for url in requested)
    context.close()


def test_the_admin_sees_every_team_health_and_savings(
    stack: tuple[Proc, Gateway], browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _, gw = stack
    globex = gw.client("globex")
    first = globex.videos.create_and_poll(prompt="a globex video", seconds="4", poll_interval_ms=100)
    globex.videos.create(prompt="a globex video", seconds="4")  # a cache hit: something saved
    assert first.status == "completed"

    context = browser.new_context(viewport={"width": 1280, "height": 1100})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    sign_in(page, gw.url, ADMIN_KEY)
    expect(page.locator("#who")).to_contain_text("admin")
    expect(page.locator("#create")).to_be_hidden()
    rows = page.locator("#video-rows tr")
    expect(rows.filter(has_text="globex").first).to_be_visible()
    expect(page.locator("#usage-body [data-tenant=acme]")).to_be_visible()
    expect(page.locator("#usage-body [data-tenant=globex]")).to_be_visible()
    expect(page.locator("#ready-status")).to_have_text("ready")
    expect(page.locator("#health-body")).to_contain_text("profile")
    expect(page.locator("#health-body")).to_contain_text("openai-2025-10")
    expect(page.locator("#savings-body")).to_contain_text("globex")
    expect(page.locator("#savings-body")).to_contain_text("$0.40")
    done = rows.filter(has_text="globex").filter(has=page.locator("button.play:visible")).first
    done.get_by_role("button", name="Play").click()
    wait_in_page(page, "document.getElementById('player').readyState >= 1")
    assert abs(page.evaluate("document.getElementById('player').duration") - 4.0) < 0.2
    shot(page, tmp_path, "console-admin.png")
    context.close()
    logs = gw.proc.logs()
    assert ADMIN_KEY not in logs and KEYS["acme"] not in logs and KEYS["globex"] not in logs


def test_console_is_self_contained(stack: tuple[Proc, Gateway]) -> None:
    _, gw = stack
    page = httpx.get(gw.url + "/console")
    assert page.status_code == 200 and 'for="api-key">API key<' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no external assets
    assert "default-src 'none'" in page.headers["content-security-policy"]
    script = httpx.get(gw.url + "/console/console.js")
    assert script.status_code == 200 and "sessionStorage" in script.text and "localStorage" not in script.text
    root = httpx.get(gw.url + "/", follow_redirects=False, headers={"Host": "evil.example"})
    assert root.status_code == 302 and root.headers["location"] == "/console"
    assert httpx.get(gw.url + "/console/nope.js").status_code == 404
    forbidden = httpx.get(gw.url + "/v1/gateway/admin/videos", headers={"Authorization": f"Bearer {KEYS['acme']}"})
    assert forbidden.status_code == 401 and forbidden.json()["error"]["code"] == "invalid_admin_key"


def _blob() -> object:
    return re.compile(r"^blob:")
