"""The official Resend Python SDK against byok's proxy: a virtual key as the API key and
the SDK's base URL (`resend.api_url`, also read from RESEND_API_URL) pointed at byok.

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/resend), BYOK_VIRTUAL_KEY (a working
key), BYOK_REVOKED_KEY (a revoked key), BYOK_EXHAUSTED_KEY (a key at its monthly
limit), BYOK_SENDER (the credential's from address). Exits non-zero with a message on
the first failed expectation.
"""

import os
import sys

import resend
from resend.exceptions import InvalidApiKeyError, RateLimitError


def expect(condition, what):
    if not condition:
        sys.exit(f"resend sdk: {what}")


def main():
    resend.api_url = os.environ["BYOK_BASE_URL"]
    resend.api_key = os.environ["BYOK_VIRTUAL_KEY"]
    sender = os.environ["BYOK_SENDER"]

    sent = resend.Emails.send(
        {"from": f"Acme <{sender}>", "to": ["delivered@example.org"], "subject": "Welcome", "html": "<p>Hi</p>"}
    )
    expect(sent["id"], f"send answered {sent!r}")

    default = resend.Emails.send({"to": ["delivered@example.org"], "subject": "From the default sender", "text": "Hi"})
    fetched = resend.Emails.get(default["id"])
    expect(fetched["from"] == sender, f"the default sender was {fetched['from']!r}")

    batch = resend.Batch.send(
        [
            {"to": ["a@example.org"], "subject": "One", "text": "1"},
            {"from": f"Acme <{sender}>", "to": ["b@example.org"], "subject": "Two", "text": "2"},
        ]
    )
    expect(len(batch["data"]) == 2, f"batch answered {batch!r}")

    resend.api_key = os.environ["BYOK_REVOKED_KEY"]
    try:
        resend.Emails.send({"from": sender, "to": ["a@example.org"], "subject": "no", "text": "no"})
        expect(False, "a revoked key was accepted")
    except InvalidApiKeyError as e:
        expect(str(e.code) == "403" and e.error_type == "invalid_api_key", f"revoked key: {e.code} {e.error_type}")

    resend.api_key = os.environ["BYOK_EXHAUSTED_KEY"]
    try:
        resend.Emails.send({"from": sender, "to": ["a@example.org"], "subject": "no", "text": "no"})
        expect(False, "an exhausted key was accepted")
    except RateLimitError as e:
        expect(str(e.code) == "429" and e.error_type == "monthly_quota_exceeded", f"exhausted: {e.code} {e.error_type}")

    print("resend sdk: ok")


main()
