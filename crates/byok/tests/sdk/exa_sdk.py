"""The official Exa Python SDK (`exa-py`) against byok's proxy, unchanged but for its
base URL and key (which it sends in `x-api-key`).

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/exa), BYOK_VIRTUAL_KEY (a working
key), BYOK_BAD_KEY (a key byok does not accept). Exits non-zero with a message on the
first failed expectation.
"""

import json
import os
import sys

from exa_py import Exa


def expect(condition, what):
    if not condition:
        sys.exit(f"exa sdk: {what}")


def main():
    base = os.environ["BYOK_BASE_URL"]
    exa = Exa(api_key=os.environ["BYOK_VIRTUAL_KEY"], base_url=base, timeout=30)
    found = exa.search("hottest AI startups", num_results=1)
    expect([r.url for r in found.results] == ["https://example.com/"], f"search {found!r}")

    # exa-py raises ValueError("Request failed with status code N: <body>") for any
    # error answer: byok's refusal carries Exa's own body.
    try:
        Exa(api_key=os.environ["BYOK_BAD_KEY"], base_url=base, timeout=30).search("hottest AI startups")
        expect(False, "a bad key was accepted")
    except ValueError as e:
        prefix = "Request failed with status code 401: "
        expect(str(e).startswith(prefix), f"error {e}")
        body = json.loads(str(e)[len(prefix):])
        expect(body["tag"] == "INVALID_API_KEY" and body["error"] and body["requestId"], f"Exa's error shape {body!r}")

    print("exa sdk: ok")


main()
