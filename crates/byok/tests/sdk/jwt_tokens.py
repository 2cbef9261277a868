"""Mints signing keys and JWTs with PyJWT, as a product's backend would (or its identity
provider: Supabase, Clerk, Auth0), for byok's sign-in tests.

Reads a JSON spec on stdin: {"keys": [{"kid", "alg"}], "hs256_secret",
"tokens": {name: {"kid", "alg", "claims"}}}. `alg` is RS256, ES256, EdDSA or HS256;
two forgeries are made by hand: "none" (an unsigned token) and "HS256-with-public-key"
(HMAC over the token with the PEM of the key `kid`'s public half, the algorithm
confusion attack). Writes {"jwks": {kid: public JWK}, "tokens": {name: token}}.
"""

import base64
import hashlib
import hmac
import json
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key(alg):
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise SystemExit(f"unknown key algorithm {alg}")


def public_jwk(kid, alg, key):
    exporter = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}[alg]
    jwk = exporter.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


def unsigned(header, claims, key):
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    return signing_input + "." + b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def main():
    spec = json.load(sys.stdin)
    keys = {k["kid"]: (k["alg"], new_key(k["alg"])) for k in spec.get("keys", [])}
    tokens = {}
    for name, t in spec["tokens"].items():
        alg, kid, claims = t["alg"], t.get("kid"), t["claims"]
        if alg == "none":
            tokens[name] = unsigned({"alg": "none", "typ": "JWT"}, claims, None)
        elif alg == "HS256-with-public-key":
            pem = keys[kid][1].public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            tokens[name] = unsigned({"alg": "HS256", "typ": "JWT", "kid": kid}, claims, pem)
        elif alg == "HS256":
            tokens[name] = jwt.encode(claims, spec["hs256_secret"], algorithm="HS256")
        else:
            headers = {"kid": kid} if kid else {}
            tokens[name] = jwt.encode(claims, keys[kid][1], algorithm=alg, headers=headers)
    json.dump({"jwks": {kid: public_jwk(kid, alg, key) for kid, (alg, key) in keys.items()}, "tokens": tokens}, sys.stdout)


main()
