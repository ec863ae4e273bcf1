"""`sora-gateway demo` is the front door: one process, a printed key, the official SDK works against it."""

from __future__ import annotations

import re
import time
from pathlib import Path

from openai import OpenAI

from gateway.media.probe import probe_duration
from tests.procs import Proc, free_port


def test_demo_prints_a_working_base_url_and_key(tmp_path: Path) -> None:
    port = free_port()
    demo = Proc(["demo", "--port", str(port), "--time-scale", "0.004"], port).start(ready_path="/healthz")
    try:
        for _ in range(100):
            if "demo key" in demo.logs():
                break
            time.sleep(0.1)
        text = demo.logs()
        base = re.search(r"base URL\s+(\S+)", text)
        key = re.search(r"demo key\s+(\S+)", text)
        assert base and key, text
        assert "client.videos.create_and_poll" in text
        client = OpenAI(base_url=base.group(1), api_key=key.group(1), max_retries=0)
        video = client.videos.create_and_poll(prompt="the demo works", seconds="4", poll_interval_ms=100)
        assert video.status == "completed"
        out = tmp_path / "demo.mp4"
        client.videos.download_content(video.id).write_to_file(out)
        assert abs(probe_duration(out) - 4) < 0.2
    finally:
        code = demo.stop()
    work = re.search(r"(\S*sora-gateway-demo-[^/\s]+)", demo.logs())
    assert work, demo.logs()
    assert code == 0 and not Path(work.group(1)).exists(), "the demo left its temporary directory behind"
