"""Verifies webhook deliveries as a product's receiver would, with the Standard Webhooks
library (`standardwebhooks` from PyPI).

Reads {"secret": "whsec_…", "deliveries": [{"headers": {…}, "body": "…"}]} on stdin.
Writes {"verified": [payload, …]} for deliveries whose signature verifies, and
{"refused": n} for the rest.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main():
    spec = json.load(sys.stdin)
    receiver = Webhook(spec["secret"])
    verified, refused = [], 0
    for delivery in spec["deliveries"]:
        try:
            verified.append(receiver.verify(delivery["body"], delivery["headers"]))
        except WebhookVerificationError:
            refused += 1
    json.dump({"verified": verified, "refused": refused}, sys.stdout)


if __name__ == "__main__":
    main()
