#!/usr/bin/env bash
# Creates (or updates) the Python virtual environment with the official provider SDKs
# that the proxy tests drive, and prints the path of its interpreter: export it as
# BYOK_TEST_PYTHON. Usage: scripts/sdk-venv.sh [VENV_DIR]   (default: .venv-sdk)
set -euo pipefail
cd "$(dirname "$0")/.."

OPENAI_VERSION=3.54.0
ANTHROPIC_VERSION=2.12.0
TWILIO_VERSION=9.13.0
RESEND_VERSION=2.51.0
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
  "openai==$OPENAI_VERSION" "anthropic==$ANTHROPIC_VERSION" \
  "twilio==$TWILIO_VERSION" "resend==$RESEND_VERSION" "schemathesis==$SCHEMATHESIS_VERSION" >&2
"$VENV/bin/python" -c 'import openai, anthropic, twilio, resend, schemathesis' >&2
echo "$(cd "$VENV" && pwd)/bin/python"
