"""Google's google-genai SDK in Vertex AI mode against byok's proxy: a virtual key as
the SDK's API key (Vertex "express mode", no project) and byok as its base URL. Gemini
on Vertex (plain and streamed), and a Veo video: generate_videos, then polling the
long-running operation until it is done.

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/gcp), BYOK_VIRTUAL_KEY (a working
key), BYOK_BAD_KEY (a key byok does not accept), BYOK_VIDEO_URI (where the fake says the
video is). Exits non-zero with a message on the first failed expectation.
"""

import os
import sys

from google import genai
from google.genai import errors, types


def expect(condition, what):
    if not condition:
        sys.exit(f"vertex sdk: {what}")


def client(key):
    return genai.Client(vertexai=True, api_key=key, http_options=types.HttpOptions(base_url=os.environ["BYOK_BASE_URL"]))


def main():
    vertex = client(os.environ["BYOK_VIRTUAL_KEY"])

    answer = vertex.models.generate_content(model="gemini-2.5-flash", contents="Say hello.")
    expect(answer.text == "Hello from the fake.", f"generate_content answered {answer.text!r}")
    expect(answer.usage_metadata.total_token_count == 9, f"usage {answer.usage_metadata!r}")

    streamed = "".join(c.text or "" for c in vertex.models.generate_content_stream(model="gemini-2.5-flash", contents="Say hello."))
    expect(streamed == "Hello from the fake.", f"streamed {streamed!r}")

    operation = vertex.models.generate_videos(
        model="veo-3.0-generate-001",
        source=types.GenerateVideosSource(prompt="A lighthouse on a cliff at dawn"),
    )
    polls = 0
    while not operation.done:
        polls += 1
        expect(polls <= 5, "the operation never finished")
        operation = vertex.operations.get(operation)
    videos = operation.response.generated_videos
    expect(len(videos) == 1 and videos[0].video.uri == os.environ["BYOK_VIDEO_URI"], f"videos {videos!r}")

    # The SDK closes a client's connections once the client is gone: keep it.
    bad = client(os.environ["BYOK_BAD_KEY"])
    try:
        bad.models.generate_content(model="gemini-2.5-flash", contents="no")
        expect(False, "a bad key was accepted")
    except errors.ClientError as e:
        expect(e.code == 401, f"bad key: {e.code} {e.message}")

    print("vertex sdk: ok")


main()
