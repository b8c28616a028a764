#!/usr/bin/env bash
# Instructions per request of the real server (hyper, Rocket, gatehouse; not the kernel):
#   bash bench/callgrind-server.sh page|page-cookie|dashboard [N]
# runs `gatehouse serve` under callgrind twice, once for 200 and once for 200 + N keep-alive
# GETs from one client, and prints (total(200 + N) - total(200)) / N, so start-up, key
# loading and the sign-in cancel out. `page` is /bench/page, `page-cookie` the same page sent
# the session cookie, `dashboard` the signed-in page. The two profiles stay in the printed
# directory for callgrind_annotate. Needs valgrind (apt-get install -y valgrind) and a build
# with the bench feature; honours CARGO_TARGET_DIR.
set -euo pipefail
MODE=${1:?usage: callgrind-server.sh page|page-cookie|dashboard [N]}
N=${2:-1000}
[[ $MODE =~ ^(page|page-cookie|dashboard)$ ]] || { echo "unknown mode $MODE" >&2; exit 2; }
[[ $N =~ ^[0-9]+$ ]] || { echo "N must be a whole number" >&2; exit 2; }
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
[[ $TARGET_DIR = /* ]] || TARGET_DIR=$REPO/$TARGET_DIR
(cd "$REPO" && cargo build --release --features bench) >&2
BIN=$TARGET_DIR/release/gatehouse
OUT=$(mktemp -d -t gatehouse-callgrind.XXXXXX)
PY=(python3 "$REPO/bench/lib/bench.py")

one() { # COUNT -> total instructions
    local count=$1 data port url vp
    data=$(mktemp -d -p "$OUT")
    port=$("${PY[@]}" free-port)
    url=http://127.0.0.1:$port
    # The debug profile (same release binary) allows bcrypt cost 4: the sign-in is not measured.
    local env=(ROCKET_CONFIG="$REPO/Rocket.toml" ROCKET_PROFILE=debug ROCKET_ADDRESS=127.0.0.1 ROCKET_PORT="$port"
        ROCKET_LOG_LEVEL=off ROCKET_DATA_DIR="$data" DATABASE_URL="sqlite://$data/g.db" ROCKET_PUBLIC_ORIGIN="$url"
        ROCKET_SECURE_COOKIES=false ROCKET_JWT_ALGORITHM=EdDSA ROCKET_BCRYPT_COST=4
        ROCKET_TEMPLATE_DIR="$REPO/templates" ROCKET_SESSION_REVALIDATE_INTERVAL=3600 ROCKET_SESSION_IDLE_TIMEOUT=7200)
    printf 'correct horse battery staple\n' | env "${env[@]}" "$BIN" user add bench --email bench@example.com >/dev/null
    env "${env[@]}" valgrind --tool=callgrind --callgrind-out-file="$OUT/$MODE.$count.out" "$BIN" serve \
        >/dev/null 2>"$data/valgrind.log" &
    vp=$!
    for _ in $(seq 600); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/healthz" || true) = 200 ]] && break
        sleep 0.1
    done
    sleep 1.1 # a token minted in the start-up second is revalidated on use
    "${PY[@]}" keepalive-gets --url "$url" --mode "$MODE" --count "$count"
    kill -TERM "$vp"
    wait "$vp" || true
    awk '/^(summary|totals):/ { print $2; exit }' "$OUT/$MODE.$count.out"
}

base=$(one 200)
more=$(one $((200 + N)))
echo "$MODE: $(((more - base) / N)) instructions per request (profiles in $OUT)"
