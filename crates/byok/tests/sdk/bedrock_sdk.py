"""boto3's bedrock-runtime client against byok's proxy: byok as the endpoint URL and a
virtual key as the access key id (the secret is anything: byok does not check the
client's signature, it signs again with the owner's key). Converse, plain and streamed.

Environment: BYOK_BASE_URL (http://HOST/v1/proxy/aws), BYOK_VIRTUAL_KEY (a working
key), BYOK_BAD_KEY (a key byok does not accept), BYOK_TEXT (what the fake answers).
Exits non-zero with a message on the first failed expectation.
"""

import os
import sys

import boto3
from botocore.exceptions import ClientError

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Say hello."}]}]


def expect(condition, what):
    if not condition:
        sys.exit(f"bedrock sdk: {what}")


def client(key):
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=os.environ["BYOK_BASE_URL"],
        aws_access_key_id=key,
        aws_secret_access_key="not-checked-by-byok",
    )


def main():
    bedrock = client(os.environ["BYOK_VIRTUAL_KEY"])
    text = os.environ["BYOK_TEXT"]

    answer = bedrock.converse(modelId=MODEL, messages=MESSAGES)
    expect(answer["output"]["message"]["content"][0]["text"] == text, f"converse answered {answer!r}")
    expect(answer["usage"]["totalTokens"] == 13, f"usage {answer['usage']!r}")

    streamed, usage = "", None
    for event in bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]:
        if "contentBlockDelta" in event:
            streamed += event["contentBlockDelta"]["delta"]["text"]
        if "metadata" in event:
            usage = event["metadata"]["usage"]
    expect(streamed == text, f"streamed {streamed!r}")
    expect(usage is not None and usage["totalTokens"] == 14, f"streamed usage {usage!r}")

    try:
        client(os.environ["BYOK_BAD_KEY"]).converse(modelId=MODEL, messages=MESSAGES)
        expect(False, "a bad key was accepted")
    except ClientError as e:
        expect(e.response["ResponseMetadata"]["HTTPStatusCode"] == 401, f"bad key: {e.response!r}")

    print("bedrock sdk: ok")


main()
