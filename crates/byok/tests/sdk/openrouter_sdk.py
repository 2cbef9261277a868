"""OpenRouter through the official OpenAI Python SDK, as OpenRouter documents it
(`base_url` ending in `/api/v1`), pointed at byok's proxy.

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/openrouter/api/v1), BYOK_VIRTUAL_KEY
(a working key), BYOK_BAD_KEY (a key byok does not accept). Exits non-zero with a
message on the first failed expectation.
"""

import os
import sys

import openai

MODEL = "openai/gpt-4o-mini"


def expect(condition, what):
    if not condition:
        sys.exit(f"openrouter via openai sdk: {what}")


def main():
    base = os.environ["BYOK_BASE_URL"]
    client = openai.OpenAI(base_url=base, api_key=os.environ["BYOK_VIRTUAL_KEY"], max_retries=0, timeout=30)
    messages = [{"role": "user", "content": "Say hello."}]

    answer = client.chat.completions.create(model=MODEL, messages=messages)
    expect(answer.choices[0].message.content == "Hello from the fake.", f"completion {answer!r}")
    expect(answer.usage.total_tokens == 16, f"usage {answer.usage!r}")

    text = ""
    usage = None
    for chunk in client.chat.completions.create(model=MODEL, messages=messages, stream=True):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage is not None:
            usage = chunk.usage
    expect(text == "Hello from the fake.", f"streamed text {text!r}")
    expect(usage is not None and usage.total_tokens == 16, f"streamed usage {usage!r}")

    bad = openai.OpenAI(base_url=base, api_key=os.environ["BYOK_BAD_KEY"], max_retries=0, timeout=30)
    try:
        bad.chat.completions.create(model=MODEL, messages=messages)
        expect(False, "a bad key was accepted")
    except openai.AuthenticationError as e:
        expect(e.status_code == 401 and e.code == "invalid_api_key", f"authentication error {e.code!r}")

    print("openrouter via openai sdk: ok")


main()
