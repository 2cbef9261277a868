"""The official Anthropic Python SDK against byok's proxy, unchanged but for its base URL.

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/anthropic), BYOK_VIRTUAL_KEY (a working
key), BYOK_EXHAUSTED_KEY (a key whose owner's credential is at its monthly limit),
BYOK_BAD_KEY (a key byok does not accept). Exits non-zero with a message on the first
failed expectation.
"""

import os
import sys

import anthropic

MODEL = "claude-sonnet-4-5-20250929"


def expect(condition, what):
    if not condition:
        sys.exit(f"anthropic sdk: {what}")


def main():
    base = os.environ["BYOK_BASE_URL"]
    client = anthropic.Anthropic(base_url=base, api_key=os.environ["BYOK_VIRTUAL_KEY"], max_retries=0, timeout=30)
    messages = [{"role": "user", "content": "Say hello."}]

    answer = client.messages.create(model=MODEL, max_tokens=64, messages=messages)
    expect(answer.content[0].text == "Hello from the fake.", f"message {answer!r}")
    expect(answer.usage.input_tokens == 10 and answer.usage.output_tokens == 7, f"usage {answer.usage!r}")

    with client.messages.stream(model=MODEL, max_tokens=64, messages=messages) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    expect(text == "Hello from the fake.", f"streamed text {text!r}")
    expect(final.usage.output_tokens == 15, f"streamed usage {final.usage!r}")

    exhausted = anthropic.Anthropic(base_url=base, api_key=os.environ["BYOK_EXHAUSTED_KEY"], max_retries=0, timeout=30)
    try:
        exhausted.messages.create(model=MODEL, max_tokens=64, messages=messages)
        expect(False, "an exhausted quota was not refused")
    except anthropic.RateLimitError as e:
        expect(e.status_code == 429 and e.body["error"]["code"] == "quota_exhausted", f"rate limit error {e.body!r}")

    bad = anthropic.Anthropic(base_url=base, api_key=os.environ["BYOK_BAD_KEY"], max_retries=0, timeout=30)
    try:
        bad.messages.create(model=MODEL, max_tokens=64, messages=messages)
        expect(False, "a bad key was accepted")
    except anthropic.AuthenticationError as e:
        expect(e.status_code == 401, f"authentication error {e.status_code!r}")

    print("anthropic sdk: ok")


main()
