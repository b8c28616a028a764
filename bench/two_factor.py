#!/usr/bin/env python3
"""Sign-ins per second with and without two-step sign-in, in one run, against one release
gatehouse with the shipped settings (release profile, bcrypt cost 12, logging on to a file).

    cargo build --release && python3 bench/two_factor.py [--seconds 10] [--clients 4] [--runs 3]

Standard library only. Users are made with `gatehouse user add` (password on stdin); the 2FA
users enrol through the web pages like a person would (the TOTP code computed here from the
secret the page shows), and sign in with their recovery codes (each works once, so every
sign-in of the run is a fresh, valid second step). Prints a Markdown table.
"""
import argparse
import base64
import hashlib
import hmac
import html
import http.client
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

PASSWORD = "correct horse battery staple"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def totp(secret_b32, at=None):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = struct.pack(">Q", int((at or time.time()) // 30))
    mac = hmac.new(key, counter, hashlib.sha1).digest()
    offset = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000)


class Client:
    """One browser: its cookies, speaking HTTP/1.1 to gatehouse."""

    def __init__(self, port):
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.cookies = {}

    def request(self, method, path, fields=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = self.origin
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        text = r.read().decode("utf-8", "replace")
        for name, value in r.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                k, _, v = pair.partition("=")
                if "Max-Age=0" in value or v == "":
                    self.cookies.pop(k, None)
                else:
                    self.cookies[k] = v
        conn.close()
        return r.status, r.getheader("Location"), text

    def csrf(self, path):
        _, _, page = self.request("GET", path)
        m = re.search(r'name="csrf_token" value="([^"]*)"', page)
        if not m:
            raise SystemExit(f"no csrf_token on {path}")
        return html.unescape(m.group(1))

    def sign_in(self, user):
        token = self.csrf("/login")
        return self.request("POST", "/login", {"username": user, "password": PASSWORD, "csrf_token": token})


def field(page, name):
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    return html.unescape(m.group(1)) if m else None


def enrol(port, user):
    """Signs `user` in and turns TOTP on through the pages; their recovery codes."""
    c = Client(port)
    status, _, _ = c.sign_in(user)
    assert status == 303, status
    _, _, page = c.request("GET", "/account/2fa")
    secret = re.search(r'data-testid="totp-secret">([^<]+)<', page).group(1).strip()
    status, _, page = c.request("POST", "/account/2fa/totp", {
        "setup": field(page, "setup"), "code": totp(secret),
        "current_password": PASSWORD, "csrf_token": field(page, "csrf_token"),
    })
    assert status == 200, (status, page[:500])
    codes = re.findall(r"<li><code>([^<]+)</code></li>", page)
    assert len(codes) == 10, codes
    return codes


def run_clients(clients, seconds, work):
    """`clients` threads call work() until `seconds` pass; the answers and their times."""
    stop = time.monotonic() + seconds
    results = []
    lock = threading.Lock()

    def loop():
        while time.monotonic() < stop:
            out = work()
            if out is None:
                return
            with lock:
                results.append(out)

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "gatehouse"))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--users", type=int, default=24)
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    work = tempfile.mkdtemp(prefix="gatehouse-2fa-bench.")
    port = free_port()
    env = dict(os.environ)
    env.update({
        "ROCKET_PROFILE": "release", "ROCKET_ADDRESS": "127.0.0.1", "ROCKET_PORT": str(port),
        "ROCKET_DATA_DIR": os.path.join(work, "data"), "ROCKET_PUBLIC_ORIGIN": f"http://127.0.0.1:{port}",
        "DATABASE_URL": f"sqlite://{work}/gatehouse.db",
    })
    env.pop("ROCKET_LOG_LEVEL", None)
    env.pop("ROCKET_BCRYPT_COST", None)
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    for kind in ("plain", "twofa"):
        for i in range(args.users):
            subprocess.run([binary, "user", "add", f"{kind}{i}", "--email", f"{kind}{i}@example.com"],
                           input=PASSWORD + "\n", text=True, env=env, cwd=repo, check=True,
                           stdout=subprocess.DEVNULL)
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([binary], env=env, cwd=repo, stdout=log, stderr=log)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        print(f"enrolling {args.users} users in two-step sign-in ...", file=sys.stderr)
        codes = {f"twofa{i}": enrol(port, f"twofa{i}") for i in range(args.users)}
        spare = [(u, c) for u, cs in codes.items() for c in cs]
        spare_lock = threading.Lock()
        plain_next = [0]

        def plain():
            with spare_lock:
                plain_next[0] += 1
                user = f"plain{plain_next[0] % args.users}"
            c = Client(port)
            t0 = time.monotonic()
            status, location, _ = c.sign_in(user)
            return (status == 303 and location == "/dashboard", time.monotonic() - t0, None)

        def twofa():
            with spare_lock:
                if not spare:
                    return None
                user, code = spare.pop()
            c = Client(port)
            t0 = time.monotonic()
            status, location, _ = c.sign_in(user)
            ok = status == 303 and location == "/login/2fa"
            t1 = time.monotonic()
            token = c.csrf("/login")
            status, location, _ = c.request("POST", "/login/2fa", {"code": code, "csrf_token": token})
            t2 = time.monotonic()
            return (ok and status == 303 and location == "/dashboard", t2 - t0, t2 - t1)

        rows = {"plain": [], "twofa": []}
        for run in range(args.runs):
            for kind, work_fn in (("plain", plain), ("twofa", twofa)):
                results = run_clients(args.clients, args.seconds, work_fn)
                done = [r for r in results if r[0]]
                rows[kind].append({
                    "rate": len(done) / args.seconds,
                    "failed": len(results) - len(done),
                    "p50": statistics.median(r[1] for r in done) * 1000 if done else float("nan"),
                    "step2_p50": statistics.median(r[2] for r in done) * 1000 if kind == "twofa" and done else None,
                })
                print(f"run {run + 1} {kind}: {rows[kind][-1]}", file=sys.stderr)
                time.sleep(2)  # let the bcrypt queue drain between runs

        def med(kind, key):
            return statistics.median(r[key] for r in rows[kind])

        print(f"| sign-in (c{args.clients}, {args.seconds:g} s, median of {args.runs}) | completed/s | p50 | second step p50 | failed |")
        print("|---|---:|---:|---:|---:|")
        print(f"| password only | {med('plain', 'rate'):.2f} | {med('plain', 'p50'):.0f} ms | - | {sum(r['failed'] for r in rows['plain'])} |")
        print(f"| password + recovery code (2FA) | {med('twofa', 'rate'):.2f} | {med('twofa', 'p50'):.0f} ms | {med('twofa', 'step2_p50'):.1f} ms | {sum(r['failed'] for r in rows['twofa'])} |")
        print(f"\nratio 2FA / password only: {med('twofa', 'rate') / med('plain', 'rate'):.2f}")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
