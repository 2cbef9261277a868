"""The official OpenAI Python SDK's AzureOpenAI client against byok's proxy: byok as the
Azure endpoint, a virtual key as the API key, and nothing else changed.

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/azure), BYOK_VIRTUAL_KEY (a working
key), BYOK_BAD_KEY (a key byok does not accept). Exits non-zero with a message on the
first failed expectation.
"""

import os
import sys

import openai

DEPLOYMENT = "gpt-4o-mini"


def expect(condition, what):
    if not condition:
        sys.exit(f"azure openai sdk: {what}")


def client(key):
    return openai.AzureOpenAI(
        azure_endpoint=os.environ["BYOK_BASE_URL"], api_key=key, api_version="2024-10-21", max_retries=0, timeout=30
    )


def main():
    azure = client(os.environ["BYOK_VIRTUAL_KEY"])
    messages = [{"role": "user", "content": "Say hello."}]

    answer = azure.chat.completions.create(model=DEPLOYMENT, messages=messages)
    expect(answer.choices[0].message.content == "Hello from the fake.", f"completion {answer!r}")
    expect(answer.usage.total_tokens == 14, f"usage {answer.usage!r}")

    text = ""
    for chunk in azure.chat.completions.create(model=DEPLOYMENT, messages=messages, stream=True):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    expect(text == "Hello from the fake.", f"streamed text {text!r}")

    try:
        client(os.environ["BYOK_BAD_KEY"]).chat.completions.create(model=DEPLOYMENT, messages=messages)
        expect(False, "a bad key was accepted")
    except openai.AuthenticationError as e:
        expect(e.status_code == 401, f"authentication error {e.status_code} {e.body!r}")

    print("azure openai sdk: ok")


main()
