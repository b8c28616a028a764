#!/usr/bin/env bash
# The README's test command: installs what a fresh machine lacks (as root, idempotently),
# then runs every test on SQLite and PostgreSQL. Developers re-run `cargo test` as the inner
# loop once this has run (it prints the variable to export).
#
# Installs, only where missing: Debian's nginx, caddy, chromium, chromium-driver, CJK fonts,
# Node.js and npm, a PostgreSQL server (when none answers); the npm packages of tests/e2e;
# a Python venv with Authlib and PyJWT in target/interop-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "scripts/test.sh: $1 is missing; run this script as root once (it installs it), or: apt-get install -y $2" >&2
        exit 1
    fi
}

apt_install() {
    need_root "$*" "$*"
    # Try with the package lists the machine has; refresh them only if that fails.
    apt-get install -y -qq "$@" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }
}

echo "== system packages"
missing=()
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx)
[ -x /usr/bin/caddy ] || command -v caddy >/dev/null || missing+=(caddy)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
# Korean glyphs for the screenshots the browser tests take.
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
command -v node >/dev/null || missing+=(nodejs npm)
command -v psql >/dev/null || missing+=(postgresql-client)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt_install "${missing[@]}"
fi

echo "== PostgreSQL (every database test runs on SQLite and on PostgreSQL)"
pg_ok() { psql "$1" -tAc 'select 1' >/dev/null 2>&1; }
# This machine kind's server: trust auth on loopback for user postgres.
default_url=postgres://postgres@127.0.0.1:5432/test
# The role this script makes on a server it had to install (Debian's default auth needs a
# password on TCP).
own_url=postgres://gatehouse_test:gatehouse_test@127.0.0.1:5432/gatehouse_test
url="${GATEHOUSE_TEST_POSTGRES_URL:-}"
if [ -z "$url" ]; then
    for candidate in "$default_url" "$own_url"; do
        if pg_ok "$candidate"; then url=$candidate; break; fi
    done
fi
if [ -z "$url" ]; then
    # A server that is installed but stopped, or none at all: Debian's, started on loopback.
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        echo "installing: postgresql"
        apt_install postgresql
    fi
    need_root "a running PostgreSQL" postgresql
    cluster=$(ls /etc/postgresql | sort -V | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$cluster" main start 2>/dev/null || true
    for _ in $(seq 1 30); do
        su postgres -c "psql -tAc 'select 1'" >/dev/null 2>&1 && break
        sleep 1
    done
    if pg_ok "$default_url"; then
        url=$default_url
    else
        su postgres -c "psql -q" <<'SQL'
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gatehouse_test') THEN
        CREATE ROLE gatehouse_test LOGIN PASSWORD 'gatehouse_test';
    END IF;
END $$;
SQL
        su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'gatehouse_test'\"" | grep -q 1 ||
            su postgres -c "createdb -O gatehouse_test gatehouse_test"
        url=$own_url
    fi
fi
if ! pg_ok "$url"; then
    echo "scripts/test.sh: PostgreSQL does not answer at $url" >&2
    exit 1
fi
export GATEHOUSE_TEST_POSTGRES_URL="$url"
echo "GATEHOUSE_TEST_POSTGRES_URL=$url"
# Schemas left behind by interrupted earlier runs (each test drops its own when it ends).
psql "$url" -q -c "DO \$\$ DECLARE s text; BEGIN
    FOR s IN SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'gh_test_%'
    LOOP EXECUTE 'DROP SCHEMA ' || quote_ident(s) || ' CASCADE'; END LOOP; END \$\$;" 2>/dev/null || true

echo "== python venv for the Authlib/PyJWT interop test"
venv=target/interop-venv
if ! "$venv/bin/python" -c "import authlib, jwt, cryptography" 2>/dev/null; then
    mkdir -p target
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r tests/interop/requirements.txt
fi

echo "== node modules for the browser tests"
if [ ! -d tests/e2e/node_modules/playwright-core ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules ]; then
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "== tests"
# The URL exported above makes every PostgreSQL test run, whatever GATEHOUSE_TEST_SKIP_POSTGRES says.
cargo test

echo "== the benchmark build's baseline page"
cargo test --features bench --test bench_page

echo
echo "All tests passed. Inner loop: export GATEHOUSE_TEST_POSTGRES_URL=$url; cargo test"
