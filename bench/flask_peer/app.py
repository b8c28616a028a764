"""The Flask + Authlib peer: what gatehouse's dashboard does, the way the project's first
version did it. One route, /dashboard: read the `session` cookie, verify the RS256 JWT with
authlib.jose (signature, iss, aud, exp), render a Jinja page of about the dashboard's size.

Settings (environment): PEER_PUBLIC_KEY (PEM file), PEER_ISSUER (also the audience).
Run: gunicorn -w 2 -b 127.0.0.1:PORT app:app   (from this directory; see bench/run.sh)
"""
import os
import time
import warnings
from datetime import datetime, timezone

warnings.simplefilter("ignore")  # authlib.jose announces joserfc; the API is what we measure

from authlib.jose import JsonWebToken
from authlib.jose.errors import JoseError
from flask import Flask, redirect, render_template, request

app = Flask(__name__)

with open(os.environ["PEER_PUBLIC_KEY"], "rb") as f:
    PUBLIC_KEY = f.read()
ISSUER = os.environ["PEER_ISSUER"]
JWT = JsonWebToken(["RS256"])
CLAIMS_OPTIONS = {
    "iss": {"essential": True, "value": ISSUER},
    "aud": {"essential": True, "value": ISSUER},
    "exp": {"essential": True},
    "sub": {"essential": True},
}


def when(ts):
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%-d %B %Y, %H:%M UTC")


def iso(ts):
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


app.jinja_env.filters["when"] = when
app.jinja_env.filters["iso"] = iso


@app.get("/dashboard")
def dashboard():
    token = request.cookies.get("session")
    if not token:
        return redirect("/login?next=/dashboard", 303)
    try:
        claims = JWT.decode(token, PUBLIC_KEY, claims_options=CLAIMS_OPTIONS)
        claims.validate(now=int(time.time()), leeway=5)
    except JoseError:
        return redirect("/login?next=/dashboard", 303)
    return render_template(
        "dashboard.html",
        user={"name": claims["name"]},
        session={
            "started": claims["auth_time"],
            "expires": claims["exp"],
            "absolute_expires": claims["auth_time"] + 43200,
            "remember": False,
        },
        previous_login={"at": claims["auth_time"] - 3600, "ip": "127.0.0.1"},
    )
