"""The official OpenAI Python SDK against byok's proxy, unchanged but for its base URL.

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/openai/v1), BYOK_VIRTUAL_KEY (a working
key), BYOK_EXHAUSTED_KEY (a key at its monthly limit), BYOK_BAD_KEY (a key byok does not
accept). Exits non-zero with a message on the first failed expectation.
"""

import os
import sys

import openai


def expect(condition, what):
    if not condition:
        sys.exit(f"openai sdk: {what}")


def main():
    base = os.environ["BYOK_BASE_URL"]
    client = openai.OpenAI(base_url=base, api_key=os.environ["BYOK_VIRTUAL_KEY"], max_retries=0, timeout=30)

    models = [m.id for m in client.models.list()]
    expect("gpt-4o-mini" in models, f"models.list answered {models}")

    messages = [{"role": "user", "content": "Say hello."}]
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    expect(answer.choices[0].message.content == "Hello from the fake.", f"completion {answer!r}")
    expect(answer.usage.total_tokens == 14, f"usage {answer.usage!r}")

    text = ""
    usage = None
    for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage is not None:
            usage = chunk.usage
    expect(text == "Hello from the fake.", f"streamed text {text!r}")
    expect(usage is not None and usage.total_tokens == 14, f"streamed usage {usage!r}")

    response = client.responses.create(model="gpt-4o-mini", input="Say hello.")
    expect(response.output_text == "Hello from the fake.", f"response {response!r}")
    expect(response.usage.input_tokens == 12 and response.usage.output_tokens == 5, f"response usage {response.usage!r}")

    embedded = client.embeddings.create(model="text-embedding-3-small", input="Say hello.")
    expect(embedded.data[0].embedding == [0.5, -0.25, 0.125], f"embedding {embedded.data[0].embedding!r}")
    expect(embedded.usage.total_tokens == 3, f"embedding usage {embedded.usage!r}")

    exhausted = openai.OpenAI(base_url=base, api_key=os.environ["BYOK_EXHAUSTED_KEY"], max_retries=0, timeout=30)
    try:
        exhausted.chat.completions.create(model="gpt-4o-mini", messages=messages)
        expect(False, "an exhausted key was accepted")
    except openai.RateLimitError as e:
        expect(e.status_code == 429 and e.code == "virtual_key_quota_exhausted", f"rate limit error {e.code!r}")

    bad = openai.OpenAI(base_url=base, api_key=os.environ["BYOK_BAD_KEY"], max_retries=0, timeout=30)
    try:
        bad.models.list()
        expect(False, "a bad key was accepted")
    except openai.AuthenticationError as e:
        expect(e.status_code == 401 and e.code == "invalid_api_key", f"authentication error {e.code!r}")

    print("openai sdk: ok")


main()
