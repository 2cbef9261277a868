"""Google's `google-genai` SDK (Gemini Developer API) against byok's proxy, unchanged but
for its base URL (`http_options`) and key.

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/gemini), BYOK_VIRTUAL_KEY (a working
key), BYOK_EXHAUSTED_KEY (a key whose owner's credential is at its monthly limit),
BYOK_BAD_KEY (a key byok does not accept). Exits non-zero with a message on the first
failed expectation.
"""

import os
import sys

from google import genai
from google.genai import errors, types

MODEL = "gemini-2.5-flash"


def expect(condition, what):
    if not condition:
        sys.exit(f"gemini sdk: {what}")


def client(key):
    options = types.HttpOptions(base_url=os.environ["BYOK_BASE_URL"], timeout=30_000)
    return genai.Client(api_key=key, http_options=options)


def main():
    gemini = client(os.environ["BYOK_VIRTUAL_KEY"])

    answer = gemini.models.generate_content(model=MODEL, contents="Say hello.")
    expect(answer.text == "Hello from the fake.", f"generate_content {answer!r}")
    expect(answer.usage_metadata.total_token_count == 9, f"usage {answer.usage_metadata!r}")

    chunks = list(gemini.models.generate_content_stream(model=MODEL, contents="Say hello."))
    text = "".join(c.text or "" for c in chunks)
    expect(text == "Hello from the fake.", f"streamed text {text!r}")
    expect(chunks[-1].usage_metadata.total_token_count == 10, f"streamed usage {chunks[-1].usage_metadata!r}")

    counted = gemini.models.count_tokens(model=MODEL, contents="Say hello.")
    expect(counted.total_tokens == 4, f"count_tokens {counted!r}")

    # Each client is kept in a variable: a client that is garbage-collected closes its
    # connections mid-call.
    exhausted = client(os.environ["BYOK_EXHAUSTED_KEY"])
    try:
        exhausted.models.generate_content(model=MODEL, contents="Say hello.")
        expect(False, "an exhausted quota was not refused")
    except errors.ClientError as e:
        expect(e.code == 429 and e.status == "RESOURCE_EXHAUSTED", f"quota error {e.code} {e.status}")
        expect(e.details["error"]["details"][0]["reason"] == "quota_exhausted", f"quota error {e.details!r}")

    bad = client(os.environ["BYOK_BAD_KEY"])
    try:
        bad.models.generate_content(model=MODEL, contents="Say hello.")
        expect(False, "a bad key was accepted")
    except errors.ClientError as e:
        expect(e.code == 401 and e.status == "UNAUTHENTICATED", f"authentication error {e.code} {e.status}")

    print("gemini sdk: ok")


main()
