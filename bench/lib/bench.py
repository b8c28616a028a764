#!/usr/bin/env python3
"""Helpers for bench/run.sh (standard library only, any Python 3.8+).

bash drives the processes; this file does what bash is bad at: parsing wrk's output,
picking medians, timing a cold start with 5 ms polling, sampling latencies of individual
responses, and writing the report. Results travel as JSON lines in one file ($TMP/results.jsonl):

  {"kind": "wrk", "scenario": ..., "run": N, "rps": ..., "p50_ms": ..., ...}
  {"kind": "value", "key": ..., "value": ...}

Subcommands (see main()): free-port, csrf-token, cookie-header, urlencode, parse-wrk,
value, note, median, cold-start, overflow, report.
"""
import argparse
import html
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse


def die(msg):
    print(f"bench.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


# --- small helpers for run.sh ----------------------------------------------------------


def free_port():
    """A port that was free a moment ago (the kernel's pick for port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def csrf_token(page):
    """The value of the hidden csrf_token input, whatever the attribute order, unescaped
    (Tera escapes '/' and friends inside attribute values)."""
    for tag in re.findall(r"<input\b[^>]*>", page, flags=re.I):
        if re.search(r'\bname\s*=\s*"csrf_token"', tag):
            m = re.search(r'\bvalue\s*=\s*"([^"]*)"', tag)
            if m:
                return html.unescape(m.group(1))
    return None


def cookie_header(jar_path):
    """'name=value; ...' from a curl (Netscape) cookie jar. HttpOnly cookies are written as
    lines starting with '#HttpOnly_', so those are not comments."""
    pairs = []
    with open(jar_path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#HttpOnly_"):
                line = line[len("#HttpOnly_"):]
            elif not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) >= 7:
                pairs.append(f"{fields[5]}={fields[6]}")
    return "; ".join(pairs)


# --- wrk output ------------------------------------------------------------------------

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(text):
    """wrk's human latencies ('456.78us', '1.23ms', '1.02s', '2.00m') in milliseconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(us|ms|s|m|h)\s*", text)
    if not m:
        raise ValueError(f"not a wrk latency: {text!r}")
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def parse_wrk(text):
    """The numbers of one wrk run. Prefers the BENCH line printed by bench/lua/common.lua
    (exact, already in ms); falls back to wrk's own text ('Requests/sec:' and the
    '--latency' distribution) when that line is missing."""
    out = {}
    m = re.search(r"^BENCH (.*)$", text, flags=re.M)
    if m:
        for k, v in (kv.split("=", 1) for kv in m.group(1).split()):
            out[k] = float(v) if "." in v else int(v)
    else:
        rps = re.search(r"^Requests/sec:\s*([0-9.]+)", text, flags=re.M)
        if not rps:
            raise ValueError("neither a BENCH line nor 'Requests/sec:' in wrk's output")
        out["rps"] = float(rps.group(1))
        for pct, key in (("50", "p50_ms"), ("90", "p90_ms"), ("99", "p99_ms")):
            lm = re.search(rf"^\s*{pct}(?:\.000)?%\s+([0-9.]+\s*[a-z]+)", text, flags=re.M)
            if lm:
                out[key] = to_ms(lm.group(1))
        req = re.search(r"^\s*([0-9]+) requests in ([0-9.]+)(us|ms|s|m)", text, flags=re.M)
        if req:
            out["requests"] = int(req.group(1))
            out["duration_s"] = to_ms(req.group(2) + req.group(3)) / 1000
        non = re.search(r"Non-2xx or 3xx responses:\s*([0-9]+)", text)
        out["err_status"] = int(non.group(1)) if non else 0
        sock = re.search(
            r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)", text
        )
        for i, k in enumerate(("err_connect", "err_read", "err_write", "err_timeout")):
            out[k] = int(sock.group(i + 1)) if sock else 0
    s = re.search(r"^STATUS (.*)$", text, flags=re.M)
    if s:
        for k, v in (kv.split("=", 1) for kv in s.group(1).split()):
            out[k] = v if k == "other_codes" else int(v)
    return out


def errors_of(r):
    """Socket errors plus responses with status >= 400 (wrk's 'Non-2xx or 3xx')."""
    return sum(r.get(k, 0) for k in ("err_connect", "err_read", "err_write", "err_timeout", "err_status"))


def append(path, obj):
    with open(path, "a") as f:
        f.write(json.dumps(obj) + "\n")


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


# --- cold start ------------------------------------------------------------------------


def healthz_ok(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/healthz")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def cold_start(binary, runs, poll_s, timeout_s):
    """Milliseconds from spawning the server to its first 200 from /healthz, once per run.
    The environment (data dir, database, algorithm...) is inherited; only the port changes."""
    times = []
    for i in range(runs):
        port = free_port()
        env = dict(os.environ, ROCKET_PORT=str(port), ROCKET_PUBLIC_ORIGIN=f"http://127.0.0.1:{port}")
        t0 = time.perf_counter()
        p = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while True:
                if healthz_ok(port):
                    times.append((time.perf_counter() - t0) * 1000)
                    break
                if p.poll() is not None:
                    die(f"cold start {i + 1}: the server exited with {p.returncode}: "
                        f"{p.stderr.read().decode(errors='replace')[-2000:]}")
                if time.perf_counter() - t0 > timeout_s:
                    die(f"cold start {i + 1}: no 200 from /healthz within {timeout_s} s")
                time.sleep(poll_s)
        finally:
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    return times


# --- beyond the bcrypt queue --------------------------------------------------------------


def _post_login(u, headers, body, timeout=120):
    """One sign-in POST on a fresh connection: (status, ms, retry_after)."""
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        t0 = time.perf_counter()
        c.request("POST", "/login", body=body, headers=headers)
        r = c.getresponse()
        r.read()
        ms = (time.perf_counter() - t0) * 1000
        return r.status, ms, r.getheader("Retry-After")
    finally:
        c.close()


def flood(url, cookie, body, origin, clients, seconds, out):
    """`clients` threads sign in over and over for `seconds`; every answer's wall-clock end
    time, status and latency go to `out` (JSON), so the sign-ins that completed while the
    dashboard was measured can be counted exactly (wrk only gives totals for its whole run,
    which also covers the unloaded seconds before and after). Requests still waiting at the
    end are dropped. Python threads cost nothing here: a few sign-ins a second."""
    u = urllib.parse.urlsplit(url)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, "Origin": origin}
    deadline = time.time() + seconds
    lock = threading.Lock()
    done = []

    def client():
        while time.time() < deadline:
            try:
                st, ms, _ = _post_login(u, headers, body, timeout=60)
            except OSError as e:
                st, ms = f"error:{type(e).__name__}", None
            with lock:
                done.append((time.time(), st, ms))

    for _ in range(clients):
        threading.Thread(target=client, daemon=True).start()
    time.sleep(max(0.0, deadline - time.time()))
    with lock:
        json.dump({"clients": clients, "seconds": seconds, "answers": list(done)}, open(out, "w"))


def flood_window(path, start, end):
    """The flood's answers that completed within [start, end] (the dashboard's wrk run)."""
    data = json.load(open(path))
    inside = [(t, st, ms) for t, st, ms in data["answers"] if start <= t <= end]
    ok = [ms for _, st, ms in inside if st == 303]
    others = sorted({str(st) for _, st, _ in inside if st not in (303, 503)})
    return {
        "kind": "flood", "clients": data["clients"], "window_s": end - start,
        "s303": len(ok), "s503": sum(1 for _, st, _ in inside if st == 503),
        "other": sum(1 for _, st, _ in inside if st not in (303, 503)), "other_codes": ",".join(others) or "-",
        "rps": len(ok) / max(1e-9, end - start), "p50_ms": pct(ok, 50), "p99_ms": pct(ok, 99),
        "all_303": sum(1 for _, st, _ in data["answers"] if st == 303), "flood_s": data["seconds"],
    }


def overflow(url, cookie, body, origin, fillers, seconds, sample_after, samplers, pause, patience=1.0):
    """Fills gatehouse's bcrypt queue and times the 503s it answers beyond it.

    `fillers` threads sign in over and over; more of them than bcrypt permits (cores) plus
    `bcrypt_max_queue` (64), so the queue stays full and the rest are refused. A refused
    filler honours Retry-After (as a client should) instead of retrying at once: a tight
    retry loop would only measure how fast the machine can spin through 503s (Little's law),
    not how fast one 503 is. After `sample_after` seconds, `samplers` threads send one
    sign-in every `pause` seconds and record each response's status and latency: wrk's
    histogram would mix the slow 303s with the 503s. A sampler request that slipped into a
    freed queue slot would wait seconds for its 303 and stall the sampler, so one without an
    answer after `patience` seconds is abandoned and counted as "queued"."""
    u = urllib.parse.urlsplit(url)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, "Origin": origin}
    t_start = time.perf_counter()
    deadline = t_start + seconds
    lock = threading.Lock()
    fill = {"303": 0, "503": 0, "other": 0}
    samples = []

    def filler():
        while time.perf_counter() < deadline:
            try:
                st, _, retry = _post_login(u, headers, body)
            except OSError:
                st, retry = None, None
            with lock:
                fill["303" if st == 303 else "503" if st == 503 else "other"] += 1
            if st == 503:
                try:
                    wait = float(retry)
                except (TypeError, ValueError):
                    wait = 2.0
                time.sleep(min(wait, max(0.0, deadline - time.perf_counter())))

    def sampler():
        time.sleep(sample_after)
        while time.perf_counter() < deadline:
            try:
                st, ms, _ = _post_login(u, headers, body, timeout=patience)
            except TimeoutError:
                st, ms = "queued", None
            except OSError as e:
                st, ms = f"error:{type(e).__name__}", None
            with lock:
                samples.append((st, ms))
            time.sleep(pause)

    # Daemon threads: a filler still waiting for its 303 when time is up is simply dropped
    # (the server is stopped right after), so the phase lasts `seconds`, not until the queue drains.
    ts = [threading.Thread(target=filler, daemon=True) for _ in range(fillers)]
    ts += [threading.Thread(target=sampler, daemon=True) for _ in range(samplers)]
    for t in ts:
        t.start()
    time.sleep(max(0.0, deadline - time.perf_counter()))
    time.sleep(0.5)  # the samplers' last requests are fast 503s (or dropped)
    with lock:
        return dict(fill), list(samples)


def pct(values, p):
    """Nearest-rank percentile (no interpolation: small samples stay honest)."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1))
    return v[k]


# --- the report ------------------------------------------------------------------------


def cpu_times():
    """(idle, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)  # idle + iowait


def keepalive_gets(url, mode, count):
    """Signs in as `bench`, then sends `count` GETs on one kept-alive connection: /bench/page
    (`page`), the same with the session cookie (`page-cookie`), or /dashboard (`dashboard`).
    For bench/callgrind-server.sh: one client, so the profile holds no contention."""
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    c.request("GET", "/login")
    r = c.getresponse()
    page = r.read().decode()
    cookies = "; ".join(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie")
    form = urllib.parse.urlencode({"username": "bench", "password": "correct horse battery staple",
                                   "csrf_token": csrf_token(page)})
    c.request("POST", "/login", body=form, headers={"Cookie": cookies, "Origin": url,
                                                     "Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    r.read()
    session = next((v.split(";")[0] for k, v in r.getheaders()
                    if k.lower() == "set-cookie" and v.startswith("session=")), None)
    if r.status != 303 or not session:
        die(f"sign-in answered {r.status} without a session cookie")
    path = "/dashboard" if mode == "dashboard" else "/bench/page"
    headers = {"Cookie": session} if mode in ("dashboard", "page-cookie") else {}
    for _ in range(count):
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        body = r.read()
        if r.status != 200 or b'data-testid="dashboard"' not in body:
            die(f"GET {path} answered {r.status}")


def thread_group(comm):
    """bcrypt-0, bcrypt-1 -> bcrypt; rocket-worker-thread -> web; the rest -> other."""
    if comm.startswith("bcrypt"):
        return "bcrypt"
    if comm.startswith("rocket-worker"):
        return "web"
    return "other"


def cpu_snapshot(pid, children_times):
    """CPU used so far by each thread group of `pid` (seconds), the machine's idle and total
    (seconds of all CPUs), and bash's `times` for its waited-for children (wrk)."""
    tick = os.sysconf("SC_CLK_TCK")
    groups = {}
    task_dir = f"/proc/{pid}/task"
    for tid in os.listdir(task_dir):
        try:
            with open(f"{task_dir}/{tid}/stat") as f:
                stat = f.read()
        except OSError:  # the thread ended between listdir and open
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        g = thread_group(comm)
        groups[g] = groups.get(g, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    idle, total = cpu_times()
    # `times` prints the shell's own line, then its children's: "0m1.230s 0m0.450s".
    lines = [ln.split() for ln in children_times.strip().splitlines()]
    child = sum(to_seconds(x) for x in lines[-1]) if lines else 0.0
    return {"t": time.time(), "groups": groups, "idle": idle / tick, "total": total / tick, "children": child}


def to_seconds(text):
    m = re.fullmatch(r"(\d+)m([\d.]+)s", text)
    if not m:
        die(f"cannot read a time from `times` output: {text!r}")
    return int(m.group(1)) * 60 + float(m.group(2))


def cpu_split(before, after):
    """Where the cores went between two snapshots, in cores (CPU seconds per second)."""
    el = max(1e-9, after["t"] - before["t"])
    out = {g: (after["groups"].get(g, 0.0) - before["groups"].get(g, 0.0)) / el
           for g in ("bcrypt", "web", "other")}
    out["wrk"] = (after["children"] - before["children"]) / el
    out["idle"] = (after["idle"] - before["idle"]) / el
    busy = (after["total"] - before["total"]) / el - out["idle"]
    # Flood clients, the kernel's own threads, anything else on the machine.
    out["rest"] = max(0.0, busy - sum(out[g] for g in ("bcrypt", "web", "other", "wrk")))
    return out


def wait_idle(min_idle, timeout):
    """Waits (up to timeout s) until the CPUs were idle at least min_idle of one second; returns
    the last share measured. The load average lags by minutes, so it cannot tell."""
    deadline = time.monotonic() + timeout
    while True:
        i0, t0 = cpu_times()
        time.sleep(1)
        i1, t1 = cpu_times()
        share = (i1 - i0) / max(1, t1 - t0)
        if share >= min_idle or time.monotonic() >= deadline:
            return share


def median_run(rows, scenario):
    """The run with the median req/s (its p50/p99 are reported with it, so the three numbers
    of a row come from one run). With an even count the lower middle is taken."""
    runs = sorted((r for r in rows if r.get("kind") == "wrk" and r["scenario"] == scenario),
                  key=lambda r: r["rps"])
    if not runs:
        return None
    return runs[(len(runs) - 1) // 2]


def fmt_ms(v):
    if v is None:
        return "n/a"
    return f"{v:.2f} ms" if v < 100 else f"{v:.0f} ms"


def fmt_num(v, digits=0):
    return "n/a" if v is None else f"{v:,.{digits}f}"


def report(results_path, meta_path, out_path):
    rows = load(results_path)
    meta = json.load(open(meta_path))
    values = {r["key"]: r["value"] for r in rows if r.get("kind") == "value"}
    algs = meta["algorithms"]
    runs = meta["runs"]

    lines = []
    w = lines.append
    w("# gatehouse benchmark")
    w("")
    w(f"- date: {meta['date']}")
    w(f"- machine: {meta['nproc']} cores ({meta['cpu']}), {meta['mem']} RAM, Linux {meta['kernel']}")
    w(f"- gatehouse commit: `{meta['commit']}`; built with `{meta['build_cmd']}` ({meta['rustc']})")
    w(f"- load generator: {meta['wrk_version']}, on the same machine (it shares the {meta['nproc']} cores)")
    w(f"- load average (1, 5, 15 min) before the run: {meta['load_start']}; after: {' '.join(meta['load_end'])} "
      f"(the run itself keeps about {meta['nproc']} busy; more means other work skewed the numbers)")
    w("- every gatehouse process ran with `ROCKET_SESSION_REVALIDATE_INTERVAL=3600`: wrk ignores "
      "`Set-Cookie`, so with the default 60 s the token would go stale mid-run and every request "
      "would revalidate it against the database, which is not the hot path being measured "
      "(`ROCKET_SESSION_IDLE_TIMEOUT=7200` too: gatehouse refuses an interval longer than the idle timeout). "
      "Also: release profile, bcrypt cost 12, `secure_cookies=false` (plain HTTP), throttling "
      "limits raised to 100000 (and the per-client connection cap where the build has one: wrk "
      "is a single client).")
    w("")
    w(f"## Throughput ({meta['wrk_default']}, median of {runs} runs unless noted)")
    w("")
    w("| scenario | req/s | p50 | p99 | errors |")
    w("|---|---:|---:|---:|---:|")
    table = []

    def row(label, scenario, note=""):
        r = median_run(rows, scenario)
        if r is None:
            return None
        errs = errors_of(r)
        err_txt = f"{errs} ({100 * errs / max(1, r.get('requests', 1)):.1f}%)" if errs else "0"
        if r.get("size_mismatch"):
            err_txt += " size!"
        table.append((label + note, r["rps"], r.get("p50_ms"), r.get("p99_ms"), err_txt))
        return r

    static = row("static file `GET /static/style.css` (EdDSA instance)", "static")
    page = {}
    dash = {}
    for alg in algs:
        page[alg] = row(f"public page `GET /bench/page` ({alg} instance)", f"page-{alg}")
        dash[alg] = row(f"dashboard `GET /dashboard` {alg}", f"dashboard-{alg}")
    fwd = row("forward-auth `GET /auth/verify` (EdDSA)", "verify")
    flood_dash = row("dashboard EdDSA **during login flood** (c32)", "flood-dashboard")
    flood_login = None
    if flood_dash is not None:
        # The login wrk of the same run as the median dashboard-under-flood run.
        flood_login = next((r for r in rows if r.get("kind") == "flood" and r["run"] == flood_dash["run"]), None)
        if flood_login:
            table.append(("sign-ins (303) completed while that dashboard run lasted (16 clients)",
                          flood_login["rps"], flood_login.get("p50_ms"), flood_login.get("p99_ms"),
                          f"{flood_login.get('other', 0)} not 303/503"))
    rss_run = row("dashboard EdDSA at c256 (peak-RSS run, 1 run)", "rss-dashboard")
    flask = row("Flask + Authlib `/dashboard` RS256 (gunicorn -w 2 sync)", "flask")
    peer_dash = row("dashboard RS256, runs interleaved with the Flask peer's", "peer-dashboard-RS256")
    for label, rps, p50, p99, err in table:
        w(f"| {label} | {fmt_num(rps, 0 if rps >= 100 else 2)} | {fmt_ms(p50)} | {fmt_ms(p99)} | {err} |")
    w("")

    # --- the targets ---
    checks = []  # (id, what, measured text, target text, ok or None)

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b

    def paired(num, den):
        """The median of run-by-run ratios of two interleaved scenarios (run r of one beside run r
        of the other), and the ratios. Each pair ran back to back, so the machine's drift over
        the suite, which can move a page by 20% in minutes, cancels within a pair; a ratio of
        the two medians could pair a fast minute with a slow one."""
        a = {r["run"]: r["rps"] for r in rows if r.get("kind") == "wrk" and r["scenario"] == num}
        b = {r["run"]: r["rps"] for r in rows if r.get("kind") == "wrk" and r["scenario"] == den}
        pairs = [a[k] / b[k] for k in sorted(a) if k in b and b[k]]
        if not pairs:
            return None, []
        return statistics.median_low(pairs), pairs

    for alg in algs:
        rr, pairs = paired(f"dashboard-{alg}", f"page-{alg}")
        rm = ratio(dash[alg] and dash[alg]["rps"], page[alg] and page[alg]["rps"])
        shown = (f"{fmt_num(rr, 2)} (runs {', '.join(fmt_num(p, 2) for p in pairs)}; ratio of medians "
                 f"{fmt_num(rm, 2) if rm else 'n/a'})") if rr else "n/a"
        checks.append(("1", f"dashboard {alg} / public page (same process, runs interleaved: median of the "
                       "run-by-run ratios)", shown, ">= 0.9", None if rr is None else rr >= 0.9))
    checks.append(("2", "dashboard hot path makes no database query", "see `cargo test dashboard_hot_path_makes_no_query`",
                   "test passes", None))
    undisturbed = dash.get("EdDSA")
    fr = ratio(flood_dash and flood_dash["rps"], undisturbed and undisturbed["rps"])
    checks.append(("3a", "flood: dashboard req/s / undisturbed (EdDSA)", fmt_num(fr, 2) if fr else "n/a", ">= 0.5",
                   None if fr is None else fr >= 0.5))
    fp99 = flood_dash and flood_dash.get("p99_ms")
    checks.append(("3b", "flood: dashboard p99", fmt_ms(fp99), "< 20 ms", None if fp99 is None else fp99 < 20))
    hash_ms = values.get("bcrypt_hash_ms")
    bound = values.get("bcrypt_bound_per_s")
    logins_per_s = None
    if flood_login:
        logins_per_s = flood_login["rps"]
    lr = ratio(logins_per_s, bound)
    checks.append(("3c", "flood: sign-ins/s (303s) / bcrypt bound",
                   f"{fmt_num(logins_per_s, 2)}/s / {fmt_num(bound, 2)}/s = {fmt_num(lr, 2)}" if lr else "n/a",
                   ">= 0.6", None if lr is None else lr >= 0.6))
    o503 = values.get("overflow_503_p99_ms")
    checks.append(("3d", "503s are fast: p99 of 503 answers when the bcrypt queue is full", fmt_ms(o503),
                   "< 20 ms", None if o503 is None else o503 < 20))
    rss = values.get("peak_rss_mb")
    checks.append(("4", "peak RSS (VmHWM) after c256 on the dashboard", f"{rss:.1f} MB" if rss else "n/a",
                   "<= 40 MB", None if rss is None else rss <= 40))
    cold = values.get("cold_start_ms")
    checks.append(("5", "cold start to first 200 from /healthz (median of 5)", fmt_ms(cold), "< 300 ms",
                   None if cold is None else cold < 300))
    fl, fpairs = paired("peer-dashboard-RS256", "flask")
    fm = ratio(peer_dash and peer_dash["rps"], flask and flask["rps"])
    fshown = (f"{fmt_num(fl, 1)} (runs {', '.join(fmt_num(p, 1) for p in fpairs)}; ratio of medians "
              f"{fmt_num(fm, 1) if fm else 'n/a'})") if fl else "n/a"
    checks.append(("6", "dashboard RS256 / Flask + Authlib (runs interleaved: median of the run-by-run ratios)",
                   fshown, ">= 10", None if fl is None else fl >= 10))

    w("## Targets")
    w("")
    w("| # | check | measured | target | result |")
    w("|---|---|---|---|---|")
    for cid, what, measured, target, ok in checks:
        res = "note" if cid == "2" else ("n/a" if ok is None else ("PASS" if ok else "FAIL"))
        w(f"| {cid} | {what} | {measured} | {target} | {res} |")
    w("")

    # --- details ---
    w("## Details")
    w("")
    if hash_ms is not None:
        w(f"- the bcrypt bound: {bound:.2f} hashes/s, measured with gatehouse's own hashing at cost 12 on "
          f"{values.get('bcrypt_threads', meta['nproc'])} threads at once (`examples/bcrypt_bound`); one hash alone "
          f"took {hash_ms:.1f} ms.")
    if flood_login:
        total = flood_login.get("s303", 0) + flood_login.get("s503", 0) + flood_login.get("other", 0)
        share = 100 * flood_login.get("s503", 0) / max(1, total)
        w(f"- login flood (run {flood_login['run']}, the median dashboard run): {flood_login.get('s303', 0)} sign-ins "
          f"(303) completed within the {flood_login['window_s']:.1f} s of the dashboard's wrk run = {logins_per_s:.2f}/s "
          f"({flood_login['all_303']} in the whole {flood_login['flood_s']:g} s flood, which starts 1.5 s before "
          f"and ends about 1.5 s after); 503: {flood_login.get('s503', 0)} "
          f"({share:.1f}% of {total} responses); other statuses: {flood_login.get('other', 0)} "
          f"({flood_login.get('other_codes', '-')}). With 16 connections at most 16 sign-ins wait, "
          f"under `bcrypt_max_queue` (64), so no 503 is expected here.")
        all_flood = [r for r in rows if r.get("kind") == "wrk" and r["scenario"] == "flood-dashboard"]
        w("- dashboard during the flood, every run: " + ", ".join(
            f"{r['rps']:,.0f} req/s p99 {fmt_ms(r.get('p99_ms'))}" for r in sorted(all_flood, key=lambda r: r["run"])))
        cpu_rows = sorted((r for r in rows if r.get("kind") == "cpu" and r["scenario"] == "flood-dashboard"),
                          key=lambda r: r["run"])
        if cpu_rows:
            w("- where the cores went during each flood run (CPU seconds per second; bcrypt = gatehouse's hashing "
              "threads, web = its Rocket workers, wrk = the load generator, rest = flood clients, kernel threads, "
              "anything else): " + "; ".join(
                  f"run {r['run']}: " + ", ".join(f"{k} {v:.2f}" for k, v in r["cores"].items()) for r in cpu_rows))
        cpu_med = next((r for r in cpu_rows if r["run"] == flood_dash["run"]), None)
        if cpu_med and fr and logins_per_s and bound:
            c = cpu_med["cores"]
            per_login = c["bcrypt"] / logins_per_s
            need_c = 0.6 * bound * per_login
            need_a = (c["web"] + c["wrk"]) * 0.5 / fr
            w(f"- the CPU budget of target 3 in that run: one sign-in cost {per_login * 1000:.0f} ms of bcrypt-thread "
              f"CPU, so 60% of the bound ({0.6 * bound:.2f}/s) needs {need_c:.2f} cores of hashing; the dashboard "
              f"kept {fr:.2f} of its undisturbed rate with {c['web'] + c['wrk']:.2f} cores (gatehouse's workers + wrk), "
              f"so 0.5 needs {need_a:.2f}. Together {need_c + need_a:.2f} of the {meta['nproc']} cores, while "
              f"{c['rest'] + c['other'] + c['idle']:.2f} went to everything else or stayed idle.")
    if "overflow_total" in values:
        w(f"- bcrypt queue overflow ({values['overflow_desc']}): the fillers got {values['overflow_303']} sign-ins, "
          f"{values['overflow_503']} 503 ({values['overflow_503_share']:.1f}%), {values['overflow_other']} other; "
          f"a side sampler timed {values['overflow_samples_503']} individual 503s: p50 "
          f"{fmt_ms(values.get('overflow_503_p50_ms'))}, p99 {fmt_ms(values.get('overflow_503_p99_ms'))}, "
          f"max {fmt_ms(values.get('overflow_503_max_ms'))}; {values.get('overflow_samples_queued', 0)} sampler requests "
          f"found a free slot and were queued (abandoned after 1 s), {values['overflow_samples_other']} got another "
          f"answer ({', '.join(values.get('overflow_sample_statuses', []))}).")
    if "bytes_flask" in values:
        w(f"- response sizes (headers + body): dashboard {values.get('bytes_dashboard')} bytes, public page "
          f"{values.get('bytes_page')}, Flask peer {values['bytes_flask']}; `bench` signs in twice so its "
          "dashboard shows a previous sign-in, as the public page does")
    bd, bp = values.get("bytes_dashboard"), values.get("bytes_page")
    if bd and bp and abs(bd - bp) > 0.05 * bp:
        w(f"- WARNING: the dashboard ({bd} bytes) and the public page ({bp} bytes) differ by more than 5%: "
          "they no longer render the same parts of the template, so check 1 compares unequal pages")
    if rss is not None:
        w(f"- memory: VmRSS {values.get('idle_rss_mb', 0):.1f} MB idle after sign-in, VmHWM {rss:.1f} MB after "
          f"`wrk -c256` (a fresh process, so the flood's peak is not in it)")
    if cold is not None:
        w(f"- cold starts (ms): {', '.join(f'{t:.0f}' for t in values.get('cold_start_all_ms', []))}; "
          f"existing database and keys, /healthz polled every 5 ms")
    for r in rows:
        if r.get("kind") == "wrk" and r.get("size_mismatch"):
            w(f"- WARNING {r['scenario']} run {r['run']}: {r['size_mismatch']}")
    for r in rows:
        if r.get("kind") == "note":
            w(f"- {r['text']}")
    all_runs = {}
    for r in rows:
        if r.get("kind") in ("wrk", "flood"):
            all_runs.setdefault(r["scenario"], []).append(r)
    w("- every run's req/s: " + "; ".join(
        f"{s} " + "/".join(f"{r['rps']:,.{0 if r['rps'] >= 100 else 2}f}" for r in sorted(v, key=lambda r: r["run"]))
        for s, v in all_runs.items()))
    w("")
    w("## Commands")
    w("")
    w("```sh")
    for c in meta["commands"]:
        w(c)
    # wrk command lines, ports generalised, each with the scenarios it ran.
    by_cmd = {}
    for r in rows:
        if r.get("kind") in ("wrk", "flood") and r.get("cmd"):
            c = re.sub(r"127\.0\.0\.1:[0-9]+", "127.0.0.1:$PORT", r["cmd"])
            by_cmd.setdefault(c, [])
            if r["scenario"] not in by_cmd[c]:
                by_cmd[c].append(r["scenario"])
    for c, scenarios in by_cmd.items():
        w(f"{c}   # {', '.join(scenarios)}")
    w("```")
    text = "\n".join(lines) + "\n"
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out_path)
    sys.stdout.write(text)
    failed = [c for c in checks if c[4] is False]
    missing = [c for c in checks if c[4] is None and c[0] != "2"]
    return failed, missing


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("free-port")
    sub.add_parser("csrf-token", help="HTML on stdin -> the csrf_token value")
    p = sub.add_parser("cookie-header")
    p.add_argument("jar")
    p = sub.add_parser("urlencode", help="key=value pairs -> a form body")
    p.add_argument("pairs", nargs="+")
    p = sub.add_parser("parse-wrk", help="record one wrk run")
    p.add_argument("--results", required=True)
    p.add_argument("--scenario", required=True)
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--cmd", default="")
    p.add_argument("--expect-bytes", type=int, default=0,
                   help="size of one good response (headers + body); the run's average must be within 10%%")
    p.add_argument("--max-error-share", type=float, default=None,
                   help="fail when errors exceed this share of the requests")
    p.add_argument("file")
    p = sub.add_parser("value")
    p.add_argument("--results", required=True)
    p.add_argument("key")
    p.add_argument("value")
    p = sub.add_parser("note")
    p.add_argument("--results", required=True)
    p.add_argument("text")
    p = sub.add_parser("median", help="median of numbers on stdin")
    p = sub.add_parser("wait-idle", help="wait until the CPUs are mostly idle")
    p.add_argument("--min-idle", type=float, default=0.9)
    p.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("cold-start")
    p.add_argument("--results", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--poll-ms", type=float, default=5)
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("binary")
    p = sub.add_parser("overflow", help="fill the bcrypt queue and time the 503s (LOGIN_* env)")
    p.add_argument("--results", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--fillers", type=int, default=100)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--sample-after", type=float, default=3)
    p.add_argument("--samplers", type=int, default=4)
    p.add_argument("--pause", type=float, default=0.02)
    p = sub.add_parser("flood", help="sign in from N clients for S seconds, log every answer (LOGIN_* env)")
    p.add_argument("--url", required=True)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("flood-window", help="record the flood's answers within a time window")
    p.add_argument("--results", required=True)
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--start", type=float, required=True)
    p.add_argument("--end", type=float, required=True)
    p.add_argument("--cmd", default="")
    p.add_argument("file")
    p = sub.add_parser("keepalive-gets", help="sign in, then COUNT GETs on one connection")
    p.add_argument("--url", required=True)
    p.add_argument("--mode", choices=["page", "page-cookie", "dashboard"], required=True)
    p.add_argument("--count", type=int, required=True)
    p = sub.add_parser("cpu-snapshot", help="CPU used by a process's threads (bash `times` on stdin)")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("cpu-split", help="record where the cores went between two snapshots")
    p.add_argument("--results", required=True)
    p.add_argument("--scenario", required=True)
    p.add_argument("--run", type=int, required=True)
    p.add_argument("before")
    p.add_argument("after")
    p = sub.add_parser("report")
    p.add_argument("--results", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--out", required=True)
    a = ap.parse_args()

    if a.command == "free-port":
        print(free_port())
    elif a.command == "csrf-token":
        tok = csrf_token(sys.stdin.read())
        if not tok:
            die('no <input name="csrf_token" value="..."> in the page')
        print(tok)
    elif a.command == "cookie-header":
        print(cookie_header(a.jar))
    elif a.command == "urlencode":
        print(urllib.parse.urlencode([tuple(p.split("=", 1)) for p in a.pairs]))
    elif a.command == "parse-wrk":
        text = open(a.file).read()
        try:
            r = parse_wrk(text)
        except ValueError as e:
            die(f"{a.file}: {e}\n--- wrk output ---\n{text}")
        r.update(kind="wrk", scenario=a.scenario, run=a.run, cmd=a.cmd)
        if a.expect_bytes and r.get("requests"):
            avg = r["bytes"] / r["requests"]
            if abs(avg - a.expect_bytes) > 0.1 * a.expect_bytes:
                r["size_mismatch"] = (f"average response {avg:.0f} bytes, a good one is {a.expect_bytes}: "
                                      "wrk was probably not getting the page it was meant to")
        append(a.results, r)
        errs = errors_of(r)
        print(f"    {a.scenario} run {a.run}: {r['rps']:,.0f} req/s, p50 {fmt_ms(r.get('p50_ms'))}, "
              f"p99 {fmt_ms(r.get('p99_ms'))}, errors {errs}"
              + (f", 303={r['s303']} 503={r['s503']} other={r['other']}" if "s303" in r else ""),
              file=sys.stderr)
        if r.get("size_mismatch"):
            print(f"    WARNING: {r['size_mismatch']}", file=sys.stderr)
        if a.max_error_share is not None and errs > a.max_error_share * max(1, r.get("requests", 0)):
            die(f"{a.scenario} run {a.run}: {errs} errors in {r.get('requests')} requests "
                f"(socket errors or status >= 400)\n--- wrk output ---\n{text}")
    elif a.command == "value":
        try:
            v = json.loads(a.value)
        except json.JSONDecodeError:
            v = a.value
        append(a.results, {"kind": "value", "key": a.key, "value": v})
    elif a.command == "note":
        append(a.results, {"kind": "note", "text": a.text})
    elif a.command == "wait-idle":
        idle = wait_idle(a.min_idle, a.timeout)
        print(f"    CPU idle {100 * idle:.0f}% over the last second", file=sys.stderr)
    elif a.command == "median":
        nums = [float(x) for x in sys.stdin.read().split()]
        if not nums:
            die("median of nothing")
        print(f"{statistics.median(nums):.3f}")
    elif a.command == "cold-start":
        times = cold_start(a.binary, a.runs, a.poll_ms / 1000, a.timeout)
        append(a.results, {"kind": "value", "key": "cold_start_all_ms", "value": times})
        append(a.results, {"kind": "value", "key": "cold_start_ms", "value": statistics.median(times)})
        print(f"    cold starts: {', '.join(f'{t:.0f}' for t in times)} ms, median "
              f"{statistics.median(times):.0f} ms", file=sys.stderr)
    elif a.command == "overflow":
        fill, samples = overflow(a.url, os.environ["LOGIN_COOKIE"], os.environ["LOGIN_BODY"],
                                 os.environ["LOGIN_ORIGIN"], a.fillers, a.seconds, a.sample_after,
                                 a.samplers, a.pause)
        s503 = [ms for st, ms in samples if st == 503]
        other = [ms for st, ms in samples if st != 503 and ms is not None]
        queued = sum(1 for st, _ in samples if st == "queued")
        total = sum(fill.values())
        vals = {
            "overflow_desc": (f"{a.fillers} threads signing in for {a.seconds:g} s, each honouring "
                              f"Retry-After when refused; from {a.sample_after:g} s on, {a.samplers} "
                              f"sampler threads, one sign-in every {a.pause * 1000:g} ms each"),
            "overflow_303": fill["303"],
            "overflow_503": fill["503"],
            "overflow_other": fill["other"],
            "overflow_total": total,
            "overflow_503_share": 100 * fill["503"] / max(1, total),
            "overflow_samples_503": len(s503),
            "overflow_samples_other": len(other),
            "overflow_samples_queued": queued,
            "overflow_503_p50_ms": pct(s503, 50),
            "overflow_503_p99_ms": pct(s503, 99),
            "overflow_503_max_ms": max(s503) if s503 else None,
            "overflow_other_p50_ms": pct(other, 50),
            "overflow_sample_statuses": sorted({str(st) for st, _ in samples}),
        }
        for k, v in vals.items():
            append(a.results, {"kind": "value", "key": k, "value": v})
        print(f"    fillers: {fill['303']} x 303, {fill['503']} x 503, {fill['other']} other; sampler: "
              f"{len(s503)} x 503 (p50 {fmt_ms(vals['overflow_503_p50_ms'])}, p99 "
              f"{fmt_ms(vals['overflow_503_p99_ms'])}), {queued} queued (abandoned after 1 s), {len(other)} other "
              f"({', '.join(vals['overflow_sample_statuses'])})", file=sys.stderr)
    elif a.command == "flood":
        flood(a.url, os.environ["LOGIN_COOKIE"], os.environ["LOGIN_BODY"], os.environ["LOGIN_ORIGIN"],
              a.clients, a.seconds, a.out)
    elif a.command == "flood-window":
        r = flood_window(a.file, a.start, a.end)
        r.update(run=a.run, scenario="flood-login", cmd=a.cmd)
        append(a.results, r)
        print(f"    flood-login run {a.run}: {r['s303']} sign-ins in the {r['window_s']:.1f} s window = "
              f"{r['rps']:.2f}/s (p50 {fmt_ms(r['p50_ms'])}, p99 {fmt_ms(r['p99_ms'])}), 503={r['s503']} "
              f"other={r['other']}; {r['all_303']} in the whole {r['flood_s']:g} s flood", file=sys.stderr)
    elif a.command == "keepalive-gets":
        keepalive_gets(a.url, a.mode, a.count)
    elif a.command == "cpu-snapshot":
        json.dump(cpu_snapshot(a.pid, sys.stdin.read()), open(a.out, "w"))
    elif a.command == "cpu-split":
        split = cpu_split(json.load(open(a.before)), json.load(open(a.after)))
        append(a.results, {"kind": "cpu", "scenario": a.scenario, "run": a.run, "cores": split})
        print(f"    cores during {a.scenario} run {a.run}: " + ", ".join(f"{k} {v:.2f}" for k, v in split.items()),
              file=sys.stderr)
    elif a.command == "report":
        failed, missing = report(a.results, a.meta, a.out)
        if failed:
            print(f"\n{len(failed)} target(s) not met: " + ", ".join(c[0] for c in failed), file=sys.stderr)
        if missing:
            print(f"{len(missing)} check(s) could not be computed: " + ", ".join(c[0] for c in missing),
                  file=sys.stderr)
            sys.exit(3)
        if failed and os.environ.get("BENCH_STRICT") == "1":
            sys.exit(4)


if __name__ == "__main__":
    main()
