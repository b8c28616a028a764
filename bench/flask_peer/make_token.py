"""Makes what the Flask peer needs: an RSA-2048 key pair (the size gatehouse generates for
RS256) and one valid session token, signed with Authlib like gatehouse's claims.

usage: python make_token.py OUT_DIR ISSUER
writes OUT_DIR/private.pem, OUT_DIR/public.pem, OUT_DIR/token (the JWT, no newline)
"""
import os
import sys
import time
import uuid
import warnings

warnings.simplefilter("ignore")  # authlib.jose announces joserfc; the API is what we measure

from authlib.jose import JsonWebToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def main():
    out, issuer = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    # The same claims gatehouse puts in its session token.
    claims = {
        "iss": issuer,
        "aud": issuer,
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 1800,
        "auth_time": now,
        "name": "bench",
    }
    token = JsonWebToken(["RS256"]).encode({"alg": "RS256", "typ": "JWT", "kid": "bench"}, claims, private_pem)
    with open(os.path.join(out, "private.pem"), "wb") as f:
        f.write(private_pem)
    with open(os.path.join(out, "public.pem"), "wb") as f:
        f.write(public_pem)
    with open(os.path.join(out, "token"), "wb") as f:
        f.write(token)


if __name__ == "__main__":
    main()
