#!/usr/bin/env bash
# Creates (or updates) the Python virtual environment with the official provider SDKs
# that the proxy tests drive (and the Node `openai` package beside it, in VENV/node), and prints the path of its interpreter: export it as
# BYOK_TEST_PYTHON. Usage: scripts/sdk-venv.sh [VENV_DIR]   (default: .venv-sdk)
set -euo pipefail
cd "$(dirname "$0")/.."

OPENAI_VERSION=3.54.0
ANTHROPIC_VERSION=2.12.0
GOOGLE_GENAI_VERSION=3.6.1
GROQ_VERSION=1.7.0
EXA_PY_VERSION=2.28.0
RUNWAYML_VERSION=5.24.0
# Stability has no official Python SDK: its docs call the REST API with `requests`.
REQUESTS_VERSION=2.34.2
# The Node `openai` package (the 6.x line runs on Node 20, Debian's nodejs), installed
# into VENV/node; the Node SDK test loads it from there.
OPENAI_NODE_VERSION=6.49.0
TWILIO_VERSION=9.13.0
RESEND_VERSION=2.51.0
# Amazon Bedrock's runtime through the proxy (crates/byok/tests/sdk/bedrock_sdk.py).
BOTO3_VERSION=1.44.8
# Mints the JWTs of the sign-in tests as a product's backend would (PyJWT with cryptography).
PYJWT_VERSION=2.15.1
CRYPTOGRAPHY_VERSION=50.0.2
# Verifies webhook deliveries as a product's receiver would (crates/byok/tests/sdk/verify_webhooks.py).
STANDARDWEBHOOKS_VERSION=1.1.0
# Fuzzes the API from its OpenAPI document (crates/byok/tests/it/schema_conformance.rs).
SCHEMATHESIS_VERSION=4.32.5
VENV="${1:-.venv-sdk}"

if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    # Debian's python3 lacks ensurepip until python3-venv is installed.
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
    python3 -m venv "$VENV"
  fi
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
  "openai==$OPENAI_VERSION" "anthropic==$ANTHROPIC_VERSION" "google-genai==$GOOGLE_GENAI_VERSION" \
  "groq==$GROQ_VERSION" "exa-py==$EXA_PY_VERSION" "runwayml==$RUNWAYML_VERSION" "requests==$REQUESTS_VERSION" \
  "twilio==$TWILIO_VERSION" "resend==$RESEND_VERSION" "boto3==$BOTO3_VERSION" \
  "pyjwt==$PYJWT_VERSION" "cryptography==$CRYPTOGRAPHY_VERSION" "schemathesis==$SCHEMATHESIS_VERSION" \
  "standardwebhooks==$STANDARDWEBHOOKS_VERSION" >&2
"$VENV/bin/python" -c 'import openai, anthropic, google.genai, groq, exa_py, runwayml, requests, twilio, resend, boto3, jwt, cryptography, schemathesis, standardwebhooks' >&2
npm install --prefix "$VENV/node" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
  "openai@$OPENAI_NODE_VERSION" >&2
node -e 'require(require("path").resolve(process.argv[1]))' "$VENV/node/node_modules/openai" >&2
echo "$(cd "$VENV" && pwd)/bin/python"
