#!/usr/bin/env bash
# gatehouse benchmark suite: one command, `bash bench/run.sh` (as root on a fresh machine, so
# it can install wrk). It builds the release binary with the `bench` feature, measures the
# pages with wrk against real gatehouse processes (one per JWT algorithm, each on its own temp
# data dir and SQLite file), floods the sign-in form, measures peak memory and cold start,
# runs the Flask + Authlib peer the project started from, and writes the table to
# bench/results/latest.md (meant to be committed).
#
# Knobs (environment): BENCH_DURATION (10s), BENCH_RUNS (3), BENCH_CONNECTIONS (32),
# BENCH_THREADS (1), BENCH_WORK (persistent dir for the Python venv; default
# $CARGO_TARGET_DIR/bench-work), BENCH_KEEP_TMP=1 (keep logs and wrk outputs), BENCH_STRICT=1
# (exit 4 when a target is not met), BENCH_COMMIT (the commit to name in the report when
# the tree is not a git checkout). CARGO_TARGET_DIR is honoured.
#
# Exit codes: 0 measured (targets may still FAIL, see the table), 1 a step failed,
# 3 some check could not be computed, 4 (BENCH_STRICT=1) a target was not met.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$REPO/bench
cd "$REPO"

DURATION=${BENCH_DURATION:-10s}
RUNS=${BENCH_RUNS:-3}
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-1}
ALGORITHMS=(EdDSA ES256 RS256 HS256)
PASSWORD='correct horse battery staple'
BCRYPT_COST=12

TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
[[ $TARGET_DIR = /* ]] || TARGET_DIR=$REPO/$TARGET_DIR   # cargo resolves it from the cwd (the repo)
BIN=$TARGET_DIR/release/gatehouse
WORK=${BENCH_WORK:-$TARGET_DIR/bench-work}
VENV=$WORK/flask-venv
export BENCH_LUA_DIR=$BENCH_DIR/lua
PY=(python3 "$BENCH_DIR/lib/bench.py")

log() { printf '\n==> %s\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() {
    printf '\nbench: error: %s\n' "$*" >&2
    exit 1
}

# --- cleanup: every background process we start is in PIDS ------------------------------
PIDS=()
TMP=$(mktemp -d -t gatehouse-bench.XXXXXX)
RESULTS=$TMP/results.jsonl
: >"$RESULTS"

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        # Give each a moment to stop cleanly, then insist.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ ${BENCH_KEEP_TMP:-0} = 1 || $rc -ne 0 ]]; then
        printf 'bench: logs and raw wrk outputs kept in %s\n' "$TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Stops one process we started, and forgets it.
stop_pid() {
    local pid=$1 keep=() p
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [[ $p = "$pid" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# Settings come from GH_ENV below only: a ROCKET_* or DATABASE_URL in the caller's
# environment (say ROCKET_WORKERS) would silently change what is measured.
for v in $(compgen -e | grep -E '^(ROCKET_|DATABASE_URL$)' || true); do unset "$v"; done

# Other work on the machine skews every number: the report shows the load around the run.
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 1. tools ----------------------------------------------------------------------------
log "tools"
apt_install() {
    [[ $(id -u) = 0 ]] || die "$* missing: run as root (or: sudo apt-get install -y $*)"
    info "installing $* from Debian"
    apt-get update -qq >/dev/null || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}
command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl
command -v python3 >/dev/null || apt_install python3 python3-venv
command -v cargo >/dev/null || die "cargo is not on PATH (install Rust: rustup)"
info "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(curl --version | head -1 | cut -d' ' -f1-2), $(python3 --version)"

# The Flask peer's venv: made once, reinstalled only when the pinned requirements change.
REQS=$BENCH_DIR/flask_peer/requirements.txt
REQS_SUM=$(sha256sum "$REQS" | cut -d' ' -f1)
if [[ ! -x $VENV/bin/gunicorn || $(cat "$VENV/.requirements.sha256" 2>/dev/null) != "$REQS_SUM" ]]; then
    info "creating the Flask + Authlib venv in $VENV"
    mkdir -p "$WORK"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS" || die "pip install -r $REQS failed"
    echo "$REQS_SUM" >"$VENV/.requirements.sha256"
else
    info "Flask + Authlib venv: $VENV (up to date)"
fi

# --- 2. build ----------------------------------------------------------------------------
BUILD_CMD="cargo build --release --features bench --bin gatehouse --example bcrypt_bound"
log "$BUILD_CMD (target dir $TARGET_DIR)"
CARGO_TARGET_DIR=$TARGET_DIR $BUILD_CMD || die "the build failed"
[[ -x $BIN ]] || die "no binary at $BIN after the build"
BOUND_BIN=$TARGET_DIR/release/examples/bcrypt_bound
[[ -x $BOUND_BIN ]] || die "no binary at $BOUND_BIN after the build"
# The build's last processes (linker, cargo) must be gone before anything is timed.
"${PY[@]}" wait-idle --min-idle 0.9 --timeout 60

# --- gatehouse processes -----------------------------------------------------------------

# GH_ENV: the settings of one instance, as env assignments (also used for its CLI calls).
gh_env() { # ALG PORT DATA_DIR
    GH_ENV=(
        ROCKET_CONFIG="$REPO/Rocket.toml"
        ROCKET_PROFILE=release
        ROCKET_ADDRESS=127.0.0.1
        ROCKET_PORT="$2"
        ROCKET_LOG_LEVEL=critical
        ROCKET_DATA_DIR="$3"
        DATABASE_URL="sqlite://$3/gatehouse.db"
        ROCKET_PUBLIC_ORIGIN="http://127.0.0.1:$2"
        ROCKET_SECURE_COOKIES=false # plain HTTP; with true the cookies are __Host-session etc.
        ROCKET_JWT_ALGORITHM="$1"
        ROCKET_BCRYPT_COST=$BCRYPT_COST
        ROCKET_TEMPLATE_DIR="$REPO/templates"
        # Throttling would start refusing the flood and the repeated sign-ins.
        ROCKET_LOGIN_IP_MAX_FAILURES=100000
        ROCKET_LOGIN_MAX_FAILURES=100000
        ROCKET_REGISTER_IP_MAX=100000
        # wrk is one client: the per-client connection cap (128) would refuse the c256 run.
        ROCKET_MAX_CONNECTIONS_PER_CLIENT=100000
        # wrk ignores Set-Cookie: with the default 60 s the token would age past the
        # revalidation interval mid-run and every request would hit the database.
        ROCKET_SESSION_REVALIDATE_INTERVAL=3600
        # gatehouse refuses a revalidation interval longer than the idle timeout (1800).
        ROCKET_SESSION_IDLE_TIMEOUT=7200
    )
}

free_port() { "${PY[@]}" free-port; }

# Waits for 200 from URL while PID lives; on failure shows the log.
wait_ok() { # URL PID LOG
    local i
    for i in $(seq 600); do
        kill -0 "$2" 2>/dev/null || die "gatehouse exited during start; its log ($3):
$(tail -n 30 "$3")"
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$1" || true) = 200 ]] && return 0
        sleep 0.05
    done
    die "no 200 from $1 within 30 s; log ($3):
$(tail -n 30 "$3")"
}

# Starts gatehouse serve; sets GH_PID, GH_PORT, GH_URL, GH_READY (epoch second it answered).
start_gatehouse() { # NAME ALG DATA_DIR
    local name=$1 alg=$2 data=$3
    GH_PORT=$(free_port)
    GH_URL=http://127.0.0.1:$GH_PORT
    gh_env "$alg" "$GH_PORT" "$data"
    env "${GH_ENV[@]}" "$BIN" serve >"$TMP/$name.log" 2>&1 &
    GH_PID=$!
    PIDS+=("$GH_PID")
    wait_ok "$GH_URL/healthz" "$GH_PID" "$TMP/$name.log"
    GH_READY=$(date +%s)
    info "$name: gatehouse ($alg) pid $GH_PID on $GH_URL, data $data"
}

# The CLI, with the current instance's settings. Password (if any) on stdin.
gh_cli() { env "${GH_ENV[@]}" "$BIN" "$@"; }

add_user() { # NAME
    printf '%s\n' "$PASSWORD" | gh_cli user add "$1" --email "$1@example.com" >"$TMP/cli.out" 2>&1 ||
        die "gatehouse user add $1 failed: $(cat "$TMP/cli.out")"
}

# The token is trusted without a database check only while iat > the process's start second
# (src/auth/guard.rs), so a sign-in in the very second the server came up would make every
# request revalidate. Wait for the next second.
after_start_second() {
    while (($(date +%s) <= GH_READY)); do sleep 0.05; done
}

# Fetches /login, keeping its cookies in JAR; sets CSRF_TOKEN and CSRF_COOKIE ("name=value; ...").
fetch_csrf() { # URL JAR
    local page
    page=$(curl -sS --fail -c "$2" "$1/login") || die "GET $1/login failed"
    CSRF_TOKEN=$("${PY[@]}" csrf-token <<<"$page") || die "no csrf_token in the /login page"
    CSRF_COOKIE=$("${PY[@]}" cookie-header "$2")
    [[ -n $CSRF_COOKIE ]] || die "GET /login set no cookie (expected the csrf cookie)"
}

# Signs in through the form like a browser; sets TOKEN (the session cookie's JWT).
sign_in() { # URL USER
    local url=$1 user=$2 jar=$TMP/jar.$RANDOM status
    after_start_second
    fetch_csrf "$url" "$jar"
    status=$(curl -sS -o "$TMP/login.body" -w '%{http_code}' -b "$jar" -c "$jar" -H "Origin: $url" \
        --data-urlencode "username=$user" --data-urlencode "password=$PASSWORD" \
        --data-urlencode "csrf_token=$CSRF_TOKEN" "$url/login") || die "POST $url/login failed"
    [[ $status = 303 ]] || die "POST /login as $user answered $status, expected 303; body:
$(head -c 2000 "$TMP/login.body")"
    TOKEN=$(awk -F'\t' '$6 == "session" { print $7 }' "$jar")
    [[ -n $TOKEN ]] || die "the sign-in set no 'session' cookie; cookie jar:
$(cat "$jar")"
}

# Abandoned sign-ins are still hashed (gatehouse frees a bcrypt place only when its work is
# done), so a flood run leaves a backlog that would eat into the next run's sign-ins. One
# sign-in waits behind the whole backlog (the queue is FIFO); the queue is idle once a
# sign-in takes about one hash. Needs LOGIN_* (the flood's form) and HASH_MS.
wait_bcrypt_idle() { # URL
    local t i
    for i in $(seq 30); do
        t=$(curl -sS -o /dev/null -w '%{time_total}' -H "Cookie: $LOGIN_COOKIE" -H "Origin: $LOGIN_ORIGIN" \
            -H 'Content-Type: application/x-www-form-urlencoded' --data "$LOGIN_BODY" "$1/login") ||
            die "POST /login failed while waiting for bcrypt to be idle"
        if awk -v t="$t" -v h="$HASH_MS" 'BEGIN { exit !(t * 1000 < 1.5 * h + 250) }'; then
            return 0
        fi
        info "bcrypt still busy (a sign-in took ${t} s); waiting"
    done
    die "bcrypt did not become idle (sign-ins still slow after 30 tries)"
}

# One curl of PATH, checked; sets GOOD_BYTES (headers + body) for wrk's sanity check.
check_page() { # URL PATH EXPECT_STATUS GREP [COOKIE]
    local out status hsize bsize extra=()
    [[ -n ${5:-} ]] && extra=(-H "Cookie: $5")
    out=$(curl -sS -D "$TMP/check.h" -o "$TMP/check.b" -w '%{http_code} %{size_header} %{size_download}' \
        "${extra[@]}" "$1$2") || die "GET $2 failed"
    read -r status hsize bsize <<<"$out"
    [[ $status = "$3" ]] || die "GET $2 answered $status, expected $3; headers:
$(cat "$TMP/check.h")"
    grep -qi -- "$4" "$TMP/check.b" "$TMP/check.h" || die "GET $2: the response does not contain '$4'"
    if [[ -n ${5:-} ]] && grep -qi '^set-cookie: *session=' "$TMP/check.h"; then
        die "GET $2 re-issued the session cookie: the token is being revalidated on each request,
so wrk (which ignores Set-Cookie) would measure the slow path. Headers:
$(cat "$TMP/check.h")"
    fi
    GOOD_BYTES=$((hsize + bsize))
}

# Runs wrk once and records it as run RUN of SCENARIO.
# The command line is recorded with the token replaced by <JWT>.
bench_one() { # SCENARIO RUN URL EXPECT_BYTES [COOKIE] [CONNECTIONS]
    local scenario=$1 r=$2 url=$3 bytes=$4 cookie=${5:-} conns=${6:-$CONNS} out
    local cmd=(wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency -s "$BENCH_DIR/lua/report.lua")
    [[ -n $cookie ]] && cmd+=(-H "Cookie: $cookie")
    cmd+=("$url")
    local shown="${cmd[*]}"
    shown=${shown//$BENCH_DIR/bench}
    [[ -n $cookie ]] && shown=${shown/"Cookie: $cookie"/"'Cookie: session=<JWT>'"}
    out=$TMP/wrk.$scenario.$r.txt
    "${cmd[@]}" >"$out" 2>&1 || die "wrk failed ($scenario run $r): $(cat "$out")"
    # More than 1% errors means we measured the wrong thing: stop rather than report it.
    "${PY[@]}" parse-wrk --results "$RESULTS" --scenario "$scenario" --run "$r" --cmd "$shown" \
        --expect-bytes "$bytes" --max-error-share 0.01 "$out"
}

# Runs wrk RUNS times (or $5) and records each run under SCENARIO.
bench_get() { # SCENARIO URL EXPECT_BYTES [COOKIE] [RUNS] [CONNECTIONS]
    local r
    for r in $(seq "${5:-$RUNS}"); do
        bench_one "$1" "$r" "$2" "$3" "${4:-}" "${6:-$CONNS}"
    done
}

# A short unrecorded wrk run: the first seconds of load on a fresh process (page faults,
# lazily built state, the CPU leaving its idle states) would otherwise count in run 1.
warm_up() { # URL [COOKIE]
    local extra=()
    [[ -n ${2:-} ]] && extra=(-H "Cookie: $2")
    wrk -t"$THREADS" -c"$CONNS" -d2s "${extra[@]}" "$1" >/dev/null 2>&1 || die "wrk warm-up of $1 failed"
}

META_CMDS=()
META_CMDS+=("$BUILD_CMD")
META_CMDS+=("# each instance: env ROCKET_PROFILE=release ROCKET_ADDRESS=127.0.0.1 ROCKET_PORT=\$PORT ROCKET_LOG_LEVEL=critical ROCKET_DATA_DIR=\$TMP ROCKET_PUBLIC_ORIGIN=http://127.0.0.1:\$PORT DATABASE_URL=sqlite://\$TMP/gatehouse.db ROCKET_SECURE_COOKIES=false ROCKET_JWT_ALGORITHM=\$ALG ROCKET_BCRYPT_COST=12 ROCKET_TEMPLATE_DIR=templates ROCKET_LOGIN_IP_MAX_FAILURES=100000 ROCKET_LOGIN_MAX_FAILURES=100000 ROCKET_REGISTER_IP_MAX=100000 ROCKET_MAX_CONNECTIONS_PER_CLIENT=100000 ROCKET_SESSION_REVALIDATE_INTERVAL=3600 ROCKET_SESSION_IDLE_TIMEOUT=7200 gatehouse serve")
META_CMDS+=("echo '$PASSWORD' | gatehouse user add bench --email bench@example.com   # same env; also users flood, probe")
META_CMDS+=("# sign-in: curl GET /login (csrf cookie + csrf_token), POST /login username, password, csrf_token, Origin -> 303 + session cookie (bench signs in twice: its dashboard then shows a previous sign-in, like /bench/page)")
META_CMDS+=("# before each flood run and the overflow: one curl sign-in as flood until it takes ~one hash (the previous run's bcrypt backlog has drained)")

# --- 3. pages, per algorithm -------------------------------------------------------------
EDDSA_DATA=
for alg in "${ALGORITHMS[@]}"; do
    log "gatehouse with $alg"
    data=$(mktemp -d -p "$TMP" "data-$alg.XXXX")
    start_gatehouse "gatehouse-$alg" "$alg" "$data"
    add_user bench
    # Twice: the dashboard then shows "your previous sign-in", as /bench/page does, so both
    # render the same parts of the template.
    sign_in "$GH_URL" bench
    sign_in "$GH_URL" bench
    check_page "$GH_URL" /dashboard 200 'data-testid="dashboard"' "session=$TOKEN"
    dash_bytes=$GOOD_BYTES
    info "signed in as bench; GET /dashboard is 200 with the dashboard ($dash_bytes bytes)"

    [[ $(curl -s -o /dev/null -w '%{http_code}' "$GH_URL/bench/page") != 404 ]] ||
        die "GET /bench/page is 404: $BIN was built without --features bench"
    check_page "$GH_URL" /bench/page 200 'data-testid="dashboard"'
    page_bytes=$GOOD_BYTES
    info "/bench/page: $page_bytes bytes"
    if [[ $alg = EdDSA ]]; then
        EDDSA_DATA=$data
        "${PY[@]}" value --results "$RESULTS" bytes_page "$page_bytes"
        "${PY[@]}" value --results "$RESULTS" bytes_dashboard "$dash_bytes"
        check_page "$GH_URL" /static/style.css 200 'color'
        warm_up "$GH_URL/static/style.css"
        bench_get static "$GH_URL/static/style.css" "$GOOD_BYTES"
    fi

    # Check 1 compares the dashboard with the public page of the same process, their runs
    # interleaved, so drift in the machine's speed during the suite hits both alike.
    warm_up "$GH_URL/dashboard" "session=$TOKEN"
    for r in $(seq "$RUNS"); do
        bench_one "page-$alg" "$r" "$GH_URL/bench/page" "$page_bytes"
        bench_one "dashboard-$alg" "$r" "$GH_URL/dashboard" "$dash_bytes" "session=$TOKEN"
    done

    if [[ $alg = EdDSA ]]; then
        check_page "$GH_URL" /auth/verify 200 'Remote-User: bench' "session=$TOKEN"
        warm_up "$GH_URL/auth/verify" "session=$TOKEN"
        bench_get verify "$GH_URL/auth/verify" "$GOOD_BYTES" "session=$TOKEN"

        # --- 4a. the machine's bcrypt bound, measured with gatehouse's own hashing ----------
        # One thread per core hashing at cost 12 (examples/bcrypt_bound.rs): the most sign-ins
        # per second this machine could complete if it did nothing else.
        log "bcrypt bound: gatehouse's hash at cost $BCRYPT_COST on every core (examples/bcrypt_bound)"
        line=$("$BOUND_BIN" "$BCRYPT_COST" 4) || die "bcrypt_bound failed"
        info "$line"
        HASH_MS=$(sed -n 's/.*single_ms=\([0-9.]*\).*/\1/p' <<<"$line")
        bound=$(sed -n 's/.*parallel_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
        [[ -n $HASH_MS && -n $bound ]] || die "cannot read bcrypt_bound's output: $line"
        for kv in bcrypt_hash_ms="$HASH_MS" bcrypt_bound_per_s="$bound" bcrypt_threads="$(nproc)"; do
            "${PY[@]}" value --results "$RESULTS" "${kv%%=*}" "${kv#*=}"
        done
        META_CMDS+=("target/release/examples/bcrypt_bound $BCRYPT_COST 4   # the bcrypt bound")

        # --- 4b. the login flood -----------------------------------------------------------
        # A user of its own for the flood: each sign-in beyond max_sessions_per_user (20)
        # evicts the user's oldest session, and evicted sessions are refused at once, so
        # flooding as `bench` would sign the dashboard's own token out mid-run.
        log "login flood: wrk -c16 POST /login beside the dashboard at -c$CONNS"
        add_user flood
        fetch_csrf "$GH_URL" "$TMP/flood.jar"
        export LOGIN_COOKIE=$CSRF_COOKIE LOGIN_ORIGIN=$GH_URL
        LOGIN_BODY=$("${PY[@]}" urlencode "username=flood" "password=$PASSWORD" "csrf_token=$CSRF_TOKEN")
        export LOGIN_BODY
        # The same form once with curl: it must sign in (303), or the flood measures nothing.
        status=$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: $LOGIN_COOKIE" -H "Origin: $GH_URL" \
            -H 'Content-Type: application/x-www-form-urlencoded' --data "$LOGIN_BODY" "$GH_URL/login")
        [[ $status = 303 ]] || die "the flood's form POST answered $status, expected 303"
        dur_s=${DURATION%s}
        [[ $dur_s =~ ^[0-9]+$ ]] || die "BENCH_DURATION must be whole seconds like 10s (got $DURATION)"
        # The flood starts first so the bcrypt queue is full when the dashboard run starts,
        # and ends after it; only the sign-ins completed during the dashboard run count.
        flood_s=$((dur_s + 3))
        for r in $(seq "$RUNS"); do
            wait_bcrypt_idle "$GH_URL"
            "${PY[@]}" flood --url "$GH_URL" --clients 16 --seconds "$flood_s" --out "$TMP/flood.$r.json" \
                2>"$TMP/flood.$r.err" &
            lpid=$!
            PIDS+=("$lpid")
            sleep 1.5
            out=$TMP/wrk.flood-dashboard.$r.txt
            # Where the cores go during the run: gatehouse's threads by kind, wrk (bash's
            # `times` for waited-for children: run in this shell, not in a subshell), the rest.
            times >"$TMP/times.0"
            "${PY[@]}" cpu-snapshot --pid "$GH_PID" --out "$TMP/cpu.0.json" <"$TMP/times.0"
            t0=$(date +%s.%N)
            wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$BENCH_DIR/lua/report.lua" \
                -H "Cookie: session=$TOKEN" "$GH_URL/dashboard" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
            t1=$(date +%s.%N)
            times >"$TMP/times.1"
            "${PY[@]}" cpu-snapshot --pid "$GH_PID" --out "$TMP/cpu.1.json" <"$TMP/times.1"
            "${PY[@]}" cpu-split --results "$RESULTS" --scenario flood-dashboard --run "$r" "$TMP/cpu.0.json" "$TMP/cpu.1.json"
            wait "$lpid" || die "the flood failed: $(cat "$TMP/flood.$r.err")"
            stop_pid "$lpid"
            # Errors are reported, not fatal: failing under a flood is a result.
            "${PY[@]}" parse-wrk --results "$RESULTS" --scenario flood-dashboard --run "$r" --expect-bytes "$dash_bytes" \
                --cmd "wrk -t$THREADS -c$CONNS -d$DURATION --latency -s bench/lua/report.lua -H 'Cookie: session=<JWT>' $GH_URL/dashboard" "$out"
            "${PY[@]}" flood-window --results "$RESULTS" --run "$r" --start "$t0" --end "$t1" "$TMP/flood.$r.json" \
                --cmd "python3 bench/lib/bench.py flood --url $GH_URL --clients 16 --seconds $flood_s --out flood.json   # LOGIN_BODY, LOGIN_COOKIE, LOGIN_ORIGIN as above"
            # The dashboard session must have survived the flood.
            check_page "$GH_URL" /dashboard 200 'data-testid="dashboard"' "session=$TOKEN"
        done

        # --- 4c. beyond the bcrypt queue: are the 503s fast? -------------------------------
        # 100 clients > permits (cores) + bcrypt_max_queue (64): the rest must get a quick
        # 503 + Retry-After. A refused client waits as told, so the 503s are timed on a
        # machine busy with bcrypt, not on one busy spinning through refusals.
        log "bcrypt queue overflow: 100 clients signing in, timing the 503s"
        wait_bcrypt_idle "$GH_URL"
        "${PY[@]}" overflow --results "$RESULTS" --url "$GH_URL" --fillers 100 --seconds 10 \
            --sample-after 3 --samplers 4 --pause 0.02
        META_CMDS+=("python3 bench/lib/bench.py overflow --fillers 100 --seconds 10 --sample-after 3 --samplers 4 --pause 0.02 --url http://127.0.0.1:\$PORT   # LOGIN_* as for the flood")
    fi
    if [[ $alg = RS256 ]]; then
        # Kept running: target 6 interleaves its dashboard runs with the Flask peer's.
        RS_URL=$GH_URL RS_TOKEN=$TOKEN RS_BYTES=$dash_bytes RS_PID=$GH_PID
    else
        stop_pid "$GH_PID"
    fi
done

# --- 5. peak RSS under 256 connections ---------------------------------------------------
# A fresh process on the EdDSA data dir, so the flood's peak (bcrypt queue) is not in VmHWM.
log "peak RSS: wrk -c256 on the dashboard of a fresh EdDSA process"
start_gatehouse gatehouse-rss EdDSA "$EDDSA_DATA"
sign_in "$GH_URL" bench
check_page "$GH_URL" /dashboard 200 'data-testid="dashboard"' "session=$TOKEN"
idle_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$GH_PID/status")
bench_get rss-dashboard "$GH_URL/dashboard" "$GOOD_BYTES" "session=$TOKEN" 1 256
hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$GH_PID/status")
[[ -n $hwm_kb ]] || die "no VmHWM in /proc/$GH_PID/status"
"${PY[@]}" value --results "$RESULTS" peak_rss_mb "$(awk -v k="$hwm_kb" 'BEGIN { printf "%.2f", k / 1024 }')"
"${PY[@]}" value --results "$RESULTS" idle_rss_mb "$(awk -v k="$idle_kb" 'BEGIN { printf "%.2f", k / 1024 }')"
info "VmRSS idle $((idle_kb / 1024)) MB, VmHWM after c256 $((hwm_kb / 1024)) MB"
META_CMDS+=("grep VmHWM /proc/\$GATEHOUSE_PID/status   # after the c256 run")
stop_pid "$GH_PID"

# --- 6. cold start -----------------------------------------------------------------------
log "cold start: spawn to first 200 from /healthz, existing database and keys, median of 5"
gh_env EdDSA 0 "$EDDSA_DATA" # the port is chosen per start by bench.py
env "${GH_ENV[@]}" "${PY[@]}" cold-start --results "$RESULTS" --runs 5 --poll-ms 5 "$BIN"
META_CMDS+=("python3 bench/lib/bench.py cold-start --runs 5 --poll-ms 5 target/release/gatehouse   # same env, existing data dir")

# --- 7. the Flask + Authlib peer ---------------------------------------------------------
log "Flask + Authlib peer (gunicorn -w 2, sync workers)"
FPORT=$(free_port)
FURL=http://127.0.0.1:$FPORT
"$VENV/bin/python" "$BENCH_DIR/flask_peer/make_token.py" "$TMP/flask" "$FURL" 2>"$TMP/make_token.err" ||
    die "make_token.py failed: $(cat "$TMP/make_token.err")"
FTOKEN=$(cat "$TMP/flask/token")
fcmd=("$VENV/bin/gunicorn" -w 2 -k sync -b "127.0.0.1:$FPORT" --chdir "$BENCH_DIR/flask_peer" app:app)
PEER_PUBLIC_KEY=$TMP/flask/public.pem PEER_ISSUER=$FURL "${fcmd[@]}" >"$TMP/flask.log" 2>&1 &
FPID=$!
PIDS+=("$FPID")
for i in $(seq 600); do
    kill -0 "$FPID" 2>/dev/null || die "gunicorn exited; log: $(tail -n 30 "$TMP/flask.log")"
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: session=$FTOKEN" "$FURL/dashboard" || true) = 200 ]] && break
    ((i < 600)) || die "the Flask peer did not answer 200 within 30 s; log: $(tail -n 30 "$TMP/flask.log")"
    sleep 0.05
done
check_page "$FURL" /dashboard 200 'data-testid="dashboard"' "session=$FTOKEN"
warm_up "$FURL/dashboard" "session=$FTOKEN"
info "Flask peer on $FURL (pid $FPID), /dashboard $GOOD_BYTES bytes"
"${PY[@]}" value --results "$RESULTS" bytes_flask "$GOOD_BYTES"
# Interleaved with gatehouse's RS256 dashboard (the process from step 3, idle meanwhile), so
# the machine's drift during the suite hits both sides of the ratio alike.
warm_up "$RS_URL/dashboard" "session=$RS_TOKEN"
for r in $(seq "$RUNS"); do
    bench_one flask "$r" "$FURL/dashboard" "$GOOD_BYTES" "session=$FTOKEN"
    bench_one peer-dashboard-RS256 "$r" "$RS_URL/dashboard" "$RS_BYTES" "session=$RS_TOKEN"
done
stop_pid "$RS_PID"
META_CMDS+=("python bench/flask_peer/make_token.py \$DIR http://127.0.0.1:\$PORT; PEER_PUBLIC_KEY=\$DIR/public.pem PEER_ISSUER=http://127.0.0.1:\$PORT gunicorn -w 2 -k sync -b 127.0.0.1:\$PORT --chdir bench/flask_peer app:app")
stop_pid "$FPID"

# --- 8. the report -----------------------------------------------------------------------
log "report"
# BENCH_COMMIT names the commit when the tree is not a git checkout (e.g. a `git archive`).
commit=${BENCH_COMMIT:-$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
if [[ -z ${BENCH_COMMIT:-} && $commit != unknown &&
    -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    commit="$commit (with uncommitted changes)"
fi
# Meta as JSON: values pass through the environment so no quoting can break them.
printf '%s\n' "${META_CMDS[@]}" >"$TMP/commands.txt"
M_DATE=$(date -u '+%Y-%m-%d %H:%M UTC') \
    M_NPROC=$(nproc) \
    M_CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) \
    M_MEM=$(awk '/^MemTotal:/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo) \
    M_KERNEL=$(uname -r) \
    M_COMMIT=$commit \
    M_RUSTC=$(rustc --version 2>/dev/null || echo rustc) \
    M_WRK=$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2) \
    M_BUILD=$BUILD_CMD \
    M_WRK_DEFAULT="wrk -t$THREADS -c$CONNS -d$DURATION" \
    M_RUNS=$RUNS \
    M_ALGS="${ALGORITHMS[*]}" \
    M_LOAD_START="$LOAD_START" \
    python3 - "$TMP/meta.json" "$TMP/commands.txt" <<'EOF'
import json, os, sys
e = os.environ
meta = {
    "date": e["M_DATE"], "nproc": int(e["M_NPROC"]), "cpu": e["M_CPU"].strip() or "unknown CPU",
    "mem": e["M_MEM"], "kernel": e["M_KERNEL"], "commit": e["M_COMMIT"], "rustc": e["M_RUSTC"],
    "wrk_version": e["M_WRK"], "build_cmd": e["M_BUILD"], "wrk_default": e["M_WRK_DEFAULT"],
    "runs": int(e["M_RUNS"]), "algorithms": e["M_ALGS"].split(),
    "load_start": e["M_LOAD_START"], "load_end": open("/proc/loadavg").read().split()[:3],
    "commands": open(sys.argv[2]).read().splitlines(),
}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
EOF
mkdir -p "$BENCH_DIR/results"
"${PY[@]}" report --results "$RESULTS" --meta "$TMP/meta.json" --out "$BENCH_DIR/results/latest.md"
info "written to bench/results/latest.md"
