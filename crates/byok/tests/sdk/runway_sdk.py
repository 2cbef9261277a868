"""The official Runway Python SDK (`runwayml`) against byok's proxy, unchanged but for
its base URL and key: an image-to-video task created, then polled to completion.

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/runway), BYOK_VIRTUAL_KEY (a working
key), BYOK_EXHAUSTED_KEY (a key whose own monthly limit is used up), BYOK_BAD_KEY (a
key byok does not accept). Exits non-zero with a message on the first failed
expectation.
"""

import os
import sys

import runwayml

IMAGE = "https://example.com/first-frame.jpg"


def expect(condition, what):
    if not condition:
        sys.exit(f"runway sdk: {what}")


def client(key):
    return runwayml.RunwayML(base_url=os.environ["BYOK_BASE_URL"], api_key=key, max_retries=0, timeout=30)


def main():
    runway = client(os.environ["BYOK_VIRTUAL_KEY"])
    task = runway.image_to_video.create(
        model="gen4_turbo", prompt_image=IMAGE, prompt_text="A slow pan", ratio="1280:720", duration=5
    )
    expect(task.id, f"created {task!r}")

    seen = []
    while True:
        polled = runway.tasks.retrieve(task.id)
        seen.append(polled.status)
        if polled.status in ("SUCCEEDED", "FAILED", "CANCELLED") or len(seen) > 10:
            break
    expect(seen == ["PENDING", "RUNNING", "SUCCEEDED"], f"statuses {seen}")
    expect(polled.output == [os.environ["BYOK_EXPECTED_OUTPUT"]], f"output {polled.output!r}")

    # The key's own limit is used up: creating is refused, polling the task still works.
    exhausted = client(os.environ["BYOK_EXHAUSTED_KEY"])
    try:
        exhausted.image_to_video.create(model="gen4_turbo", prompt_image=IMAGE, ratio="1280:720", duration=5)
        expect(False, "an exhausted key was accepted")
    except runwayml.RateLimitError as e:
        expect(e.status_code == 429 and e.body["code"] == "virtual_key_quota_exhausted", f"rate limit {e.body!r}")
    expect(exhausted.tasks.retrieve(task.id).status == "SUCCEEDED", "a poll with an exhausted key")

    try:
        client(os.environ["BYOK_BAD_KEY"]).tasks.retrieve(task.id)
        expect(False, "a bad key was accepted")
    except runwayml.AuthenticationError as e:
        expect(e.status_code == 401 and isinstance(e.body["error"], str), f"authentication error {e.body!r}")

    print("runway sdk: ok")


main()
