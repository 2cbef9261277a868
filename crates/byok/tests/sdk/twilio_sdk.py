"""The official Twilio Python SDK against byok's proxy: a virtual key where the SDK
wants the account SID and the auth token, and Twilio's documented custom HTTP client
to send its requests to byok instead of api.twilio.com.

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/twilio), BYOK_VIRTUAL_KEY (a working
key), BYOK_REVOKED_KEY (a revoked key), BYOK_ACCOUNT_SID (the owner's real account,
which Twilio's answers name), BYOK_SENDER (the credential's phone number). Exits
non-zero with a message on the first failed expectation.
"""

import os
import sys

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"


def expect(condition, what):
    if not condition:
        sys.exit(f"twilio sdk: {what}")


class ByokHttpClient(TwilioHttpClient):
    """Twilio's HTTP client, sending to byok's proxy instead of api.twilio.com."""

    def __init__(self, base_url):
        super().__init__(timeout=30)
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        return super().request(method, url.replace(TWILIO_API, self.base_url, 1), *args, **kwargs)


def client(key, **kwargs):
    return Client(key, key, http_client=ByokHttpClient(os.environ["BYOK_BASE_URL"]), **kwargs)


def main():
    vk = os.environ["BYOK_VIRTUAL_KEY"]
    account, sender = os.environ["BYOK_ACCOUNT_SID"], os.environ["BYOK_SENDER"]
    twilio = client(vk)

    sent = twilio.messages.create(to="+15558675310", from_=sender, body="Your code is 123456")
    expect(sent.sid.startswith("SM") and sent.status == "queued", f"create answered {sent.sid} {sent.status}")
    expect(sent.account_sid == account, f"the message went to account {sent.account_sid}")
    expect(sent.body == "Your code is 123456" and sent.to == "+15558675310", f"message {sent.body!r} to {sent.to}")

    default = twilio.messages.create(to="+15558675310", body="Sent from the default number")
    expect(default.from_ == sender, f"the default sender was {default.from_!r}")

    polled = twilio.messages(sent.sid).fetch()
    expect(polled.status == "delivered" and polled.sid == sent.sid, f"polling answered {polled.status}")

    # Pages of one message each: the SDK follows Twilio's next_page_uri, which names the
    # real account; byok lets that read through to the account that pays.
    listed = twilio.messages.list(page_size=1, limit=2)
    expect(len(listed) == 2 and listed[0].sid != listed[1].sid, f"listed {[m.sid for m in listed]}")
    expect(all(m.account_sid == account for m in listed), "listed another account's messages")

    try:
        client(os.environ["BYOK_REVOKED_KEY"]).messages.create(to="+15558675310", from_=sender, body="no")
        expect(False, "a revoked key was accepted")
    except TwilioRestException as e:
        expect(e.status == 401 and e.code == 20003, f"revoked key: {e.status} {e.code}")

    other = "AC" + "0" * 32
    try:
        client(vk, account_sid=other).messages.create(to="+15558675310", from_=sender, body="no")
        expect(False, "another account's path was accepted")
    except TwilioRestException as e:
        expect(e.status == 403 and e.code == 20403, f"another account: {e.status} {e.code}")
        expect(e.details == {"byok_code": "path_not_allowed"}, f"details {e.details!r}")
    try:
        client(vk, account_sid=other).messages(sent.sid).fetch()
        expect(False, "a read of another account was accepted")
    except TwilioRestException as e:
        expect(e.status == 403 and e.code == 20403, f"another account's read: {e.status} {e.code}")
    try:
        client(vk, account_sid=account).messages.create(to="+15558675310", from_=sender, body="no")
        expect(False, "sending with the real account in the path was accepted")
    except TwilioRestException as e:
        expect(e.status == 403 and e.code == 20403, f"the real account's path: {e.status} {e.code}")

    print("twilio sdk: ok")


main()
