"""Verifies a gatehouse session token with Authlib (authlib.jose) and PyJWT, then forges one
with a key gatehouse does not hold. Driven by tests/interop.rs; prints one JSON object.

Input (stdin, JSON): {"token", "jwks", "alg", "issuer", "audience", "secret_b64"?}
"""
import base64
import json
import sys
import time
import warnings

warnings.simplefilter("ignore")  # authlib.jose announces its successor; the API is what we test

import jwt as pyjwt
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose import errors as jose_errors
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def main():
    req = json.load(sys.stdin)
    token, alg = req["token"], req["alg"]
    iss, aud = req["issuer"], req["audience"]
    out = {}

    header = pyjwt.get_unverified_header(token)
    out["header"] = header

    # --- Authlib -----------------------------------------------------------------------
    jwt = JsonWebToken([alg])
    if alg == "HS256":
        key = base64.b64decode(req["secret_b64"])
    else:
        key = JsonWebKey.import_key_set(req["jwks"])
    claims = jwt.decode(
        token,
        key,
        claims_options={
            "iss": {"essential": True, "value": iss},
            "aud": {"essential": True, "value": aud},
            "exp": {"essential": True},
            "sub": {"essential": True},
        },
    )
    claims.validate(now=int(time.time()), leeway=5)
    out["authlib"] = {"sub": claims["sub"], "sid": claims["sid"], "exp": claims["exp"]}

    # Authlib must also refuse the token for another audience.
    try:
        bad = jwt.decode(token, key, claims_options={"aud": {"essential": True, "value": "https://other.example"}})
        bad.validate()
        out["authlib_wrong_aud"] = "accepted"
    except jose_errors.JoseError as e:
        out["authlib_wrong_aud"] = type(e).__name__

    # --- PyJWT ---------------------------------------------------------------------------
    if alg == "HS256":
        pkey = base64.b64decode(req["secret_b64"])
    else:
        jwks = pyjwt.PyJWKSet.from_dict(req["jwks"])
        pkey = next(k for k in jwks.keys if k.key_id == header["kid"])
    decoded = pyjwt.decode(
        token,
        pkey,
        algorithms=[alg],
        audience=aud,
        issuer=iss,
        options={"require": ["exp", "iss", "aud", "sub", "nbf", "iat"]},
        leeway=5,
    )
    out["pyjwt"] = {"sub": decoded["sub"], "sid": decoded["sid"], "exp": decoded["exp"]}
    try:
        pyjwt.decode(token, pkey, algorithms=[alg], audience=aud, issuer="https://other.example")
        out["pyjwt_wrong_iss"] = "accepted"
    except pyjwt.InvalidTokenError as e:
        out["pyjwt_wrong_iss"] = type(e).__name__

    # --- A forgery: the same claims, our kid, a key we never held -----------------------
    if alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        private = None
    if private is not None:
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        forge_key = JsonWebKey.import_key(pem, {"kty": {"EdDSA": "OKP", "ES256": "EC", "RS256": "RSA"}[alg]})
    else:
        forge_key = b"not-the-secret-" * 4
    forged = jwt.encode({"alg": alg, "typ": "JWT", "kid": header["kid"]}, dict(claims), forge_key)
    out["forged"] = forged.decode() if isinstance(forged, bytes) else forged
    print(json.dumps(out))


if __name__ == "__main__":
    main()
