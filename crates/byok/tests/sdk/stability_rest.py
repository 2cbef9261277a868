"""Stability AI's REST API as its documentation calls it (Python `requests`, a
multipart upload, `accept: image/*`), pointed at byok's proxy with a virtual key.

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/stability), BYOK_VIRTUAL_KEY (a
working key), BYOK_BAD_KEY (a key byok does not accept), BYOK_EXPECTED_IMAGE (the hex
of the bytes the provider sends). Exits non-zero with a message on the first failed
expectation.
"""

import os
import sys

import requests


def expect(condition, what):
    if not condition:
        sys.exit(f"stability rest: {what}")


def generate(key):
    return requests.post(
        f"{os.environ['BYOK_BASE_URL']}/v2beta/stable-image/generate/core",
        headers={"authorization": f"Bearer {key}", "accept": "image/*"},
        files={"none": ""},
        data={"prompt": "Lighthouse on a cliff overlooking the ocean", "output_format": "png"},
        timeout=30,
    )


def main():
    answer = generate(os.environ["BYOK_VIRTUAL_KEY"])
    expect(answer.status_code == 200, f"status {answer.status_code}: {answer.text}")
    expect(answer.headers["content-type"] == "image/png", f"content type {answer.headers['content-type']}")
    expect(answer.headers["finish-reason"] == "SUCCESS", f"finish-reason {answer.headers.get('finish-reason')}")
    expect(answer.content == bytes.fromhex(os.environ["BYOK_EXPECTED_IMAGE"]), f"image bytes {answer.content!r}")

    refused = generate(os.environ["BYOK_BAD_KEY"])
    expect(refused.status_code == 401, f"bad key status {refused.status_code}")
    body = refused.json()
    expect(set(body) == {"id", "name", "errors"}, f"Stability's error shape {body!r}")
    expect(body["name"] == "invalid_api_key" and body["errors"], f"refusal {body!r}")

    print("stability rest: ok")


main()
