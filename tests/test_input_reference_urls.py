"""``input_reference`` (issue 21, item 12): its fields are type-checked and an ``image_url`` must be an ``https://``
URL on a public host (or a ``data:image/…;base64,`` URI); the callback guard's address rules decide what a public
host is, in every way a fetcher would read an address. Refusals are 400s naming ``input_reference.image_url`` or
``input_reference.file_id``, and nothing reaches the upstream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.core.models import Reference
from gateway.errors import ApiError
from gateway.faces.image_urls import image_url_problem
from gateway.faces.requests import OPENAI, reference
from tests.conftest import Stack, calls

FORBIDDEN_URLS = [
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00:ec2::254]/latest",
    "https://100.100.100.200/latest",
    "https://127.0.0.1/a.png",
    "https://127.1/a.png",
    "https://2130706433/a.png",
    "https://0x7f000001/a.png",
    "https://0177.0.0.1/a.png",
    "https://[::1]/a.png",
    "https://[::ffff:10.0.0.1]/a.png",
    "https://10.1.2.3/a.png",
    "https://192.168.1.1/a.png",
    "https://172.16.0.1/a.png",
    "https://169.254.1.1/a.png",
    "https://localhost/a.png",
    "https://LOCALHOST./a.png",
    "https://svc.localhost/a.png",
    "https://metadata.google.internal/computeMetadata/v1/",
    "gopher://example.com/a",
    "ftp://example.com/a.png",
    "https://",
    "https://example.com:port/a.png",
    "data:text/html;base64,PHNjcmlwdD4=",
    "data:image/png,raw",
    "not a url",
]


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_an_image_url_that_must_not_be_fetched_is_refused(url: str) -> None:
    assert image_url_problem(url) is not None
    with pytest.raises(ApiError) as err:
        OPENAI.request({"prompt": "p", "input_reference": {"image_url": url}})
    assert err.value.status == 400 and err.value.param == "input_reference.image_url"
    assert err.value.code == "invalid_value"


@pytest.mark.parametrize(
    ("value", "param"),
    [
        ({"image_url": 123}, "input_reference.image_url"),
        ({"image_url": ["https://example.com/a.png"]}, "input_reference.image_url"),
        ({"image_url": {"url": "https://example.com/a.png"}}, "input_reference.image_url"),
        ({"file_id": 7}, "input_reference.file_id"),
        ({"file_id": True}, "input_reference.file_id"),
        ('{"image_url": 5}', "input_reference.image_url"),
    ],
)
def test_input_reference_fields_are_strings(value: Any, param: str) -> None:
    with pytest.raises(ApiError) as err:
        reference(value, "input_reference")
    assert (err.value.status, err.value.param, err.value.code) == (400, param, "invalid_type")


def test_public_https_urls_data_uris_and_file_ids_are_read() -> None:
    for url in ("https://example.com/a.png", "https://cdn.example.org:8443/x/y.jpg?sig=1", "https://8.8.8.8/a.png"):
        assert reference({"image_url": url}, "input_reference") == Reference(image_url=url)
    data = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    assert reference({"image_url": data}, "input_reference") == Reference(image_url=data)
    assert reference({"file_id": "file_abc"}, "input_reference") == Reference(file_id="file_abc")


def test_the_faces_refuse_them_over_http_and_nothing_goes_upstream(stacks: Callable[[str], Stack]) -> None:
    sim, gw = stacks("openai-2025-10")
    before = calls(sim, "create")
    with gw.http() as http:
        for ref, param, code in [
            ({"image_url": "file:///etc/passwd"}, "input_reference.image_url", "invalid_value"),
            ({"image_url": "http://169.254.169.254/"}, "input_reference.image_url", "invalid_value"),
            ({"image_url": "https://127.0.0.1:8080/x.png"}, "input_reference.image_url", "invalid_value"),
            ({"image_url": 123}, "input_reference.image_url", "invalid_type"),
            ({"file_id": 42}, "input_reference.file_id", "invalid_type"),
        ]:
            response = http.post("/v1/videos", json={"prompt": "a cat", "input_reference": ref})
            assert response.status_code == 400, (ref, response.text)
            error = response.json()["error"]
            assert (error["param"], error["code"]) == (param, code) and set(error) == {
                "message",
                "type",
                "param",
                "code",
            }
        # the SDK's form: input_reference[image_url]=...
        form = http.post("/v1/videos", data={"prompt": "a cat", "input_reference[image_url]": "https://10.0.0.1/x.png"})
        assert form.status_code == 400 and form.json()["error"]["param"] == "input_reference.image_url", form.text
        batch = http.post(
            "/v1/gateway/batches",
            json={"prompt": "a cat", "n": 2, "input_reference": {"image_url": "https://localhost/x.png"}},
        )
        assert batch.status_code == 400 and batch.json()["error"]["param"] == "input_reference.image_url"
        assert calls(sim, "create") == before
        fine = http.post(
            "/v1/videos", json={"prompt": "a cat", "input_reference": {"image_url": "https://example.com/c.png"}}
        )
        assert fine.status_code == 200, fine.text
    assert calls(sim, "create") == before + 1
