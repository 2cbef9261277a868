"""The official Groq Python SDK against byok's proxy, unchanged but for its base URL.

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/groq), BYOK_VIRTUAL_KEY (a working
key), BYOK_BAD_KEY (a key byok does not accept). Exits non-zero with a message on the
first failed expectation.
"""

import os
import sys

import groq

MODEL = "llama-3.1-8b-instant"


def expect(condition, what):
    if not condition:
        sys.exit(f"groq sdk: {what}")


def main():
    base = os.environ["BYOK_BASE_URL"]
    client = groq.Groq(base_url=base, api_key=os.environ["BYOK_VIRTUAL_KEY"], max_retries=0, timeout=30)
    messages = [{"role": "user", "content": "Say hello."}]

    answer = client.chat.completions.create(model=MODEL, messages=messages)
    expect(answer.choices[0].message.content == "Hello from the fake.", f"completion {answer!r}")
    expect(answer.usage.total_tokens == 24, f"usage {answer.usage!r}")

    text = ""
    usage = None
    for chunk in client.chat.completions.create(model=MODEL, messages=messages, stream=True):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.x_groq is not None and chunk.x_groq.usage is not None:
            usage = chunk.x_groq.usage
    expect(text == "Hello from the fake.", f"streamed text {text!r}")
    expect(usage is not None and usage.total_tokens == 24, f"streamed usage {usage!r}")

    bad = groq.Groq(base_url=base, api_key=os.environ["BYOK_BAD_KEY"], max_retries=0, timeout=30)
    try:
        bad.chat.completions.create(model=MODEL, messages=messages)
        expect(False, "a bad key was accepted")
    except groq.AuthenticationError as e:
        expect(e.status_code == 401 and e.body["error"]["code"] == "invalid_api_key", f"authentication error {e.body!r}")

    print("groq sdk: ok")


main()
