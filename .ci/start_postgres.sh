# shellcheck shell=bash
# Start a local PostgreSQL for the ledger tests and export its URL.
#
#   source .ci/start_postgres.sh   # exports PLATEGATE_TEST_PG_URL
#   bash .ci/start_postgres.sh     # prints the URL
#
# Idempotent and non-interactive (run as root): installs Debian's postgresql
# package only if the server binaries are missing, creates/starts the newest
# cluster, creates role and database plategate / plategate_test. Safe to
# source: no `set -e`, no `exit`, everything in a function that returns.

_plategate_pg() {
    local user=plategate password=plategate db=plategate_test
    local port="${PLATEGATE_PG_PORT:-5432}" ver state i

    if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
        if [ "$(id -u)" != 0 ]; then
            echo "start_postgres: PostgreSQL is not installed and we are not root" >&2
            return 1
        fi
        echo "start_postgres: installing postgresql from Debian packages" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || return 1
    fi

    ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    if ! pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" {found = 1} END {exit !found}'; then
        pg_createcluster "$ver" main --port "$port" >&2 || return 1
    fi
    port=$(pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" {print $3}')
    state=$(pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" {print $4}')
    if [ "$state" != "online" ]; then
        pg_ctlcluster "$ver" main start >&2 || return 1
    fi
    for i in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p "$port" && break
        sleep 1
    done
    pg_isready -q -h 127.0.0.1 -p "$port" || { echo "start_postgres: server did not come up on port $port" >&2; return 1; }

    _plategate_psql() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -tAq "$@"; }
    if [ "$(_plategate_psql -c "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" != 1 ]; then
        _plategate_psql -c "CREATE ROLE $user LOGIN PASSWORD '$password'" >&2 || return 1
    fi
    if [ "$(_plategate_psql -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
        _plategate_psql -c "CREATE DATABASE $db OWNER $user" >&2 || return 1
    fi
    unset -f _plategate_psql

    export PLATEGATE_TEST_PG_URL="postgresql+psycopg://$user:$password@127.0.0.1:$port/$db"
    echo "$PLATEGATE_TEST_PG_URL"
}

_plategate_pg
_plategate_pg_rc=$?
unset -f _plategate_pg
# `return` when sourced, `exit` only when run as a script
return "$_plategate_pg_rc" 2>/dev/null || exit "$_plategate_pg_rc"
