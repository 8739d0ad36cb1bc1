# Shared by the benchmark scripts (sourced, not run, as `. "$(dirname "$0")/common.sh"`): strict
# mode, the repository as working directory, the server to use, a scratch directory removed on
# exit, and helpers around psql, the build and timed runs of the tool.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
JOBS="${JOBS:-4}"
BIN=target/release/odoo-migrate
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

say() { printf '%s\n' "$*" >&2; }
q() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
# A URL with the host and the port always named: the tool does not fill a missing port from PGPORT.
url() { printf 'postgres://%s@%s:%s/%s' "$PGUSER" "$PGHOST" "$PGPORT" "$1"; }
exists() { [ "$(q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ]; }
# A fresh copy of the Odoo 19 dump (database omb_tgt, restored by bench/run.sh) named $1.
fresh_target() { q -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1 TEMPLATE omb_tgt"; }
# timed_run SOURCE_DB TARGET_DB OPTION…: `odoo-migrate run` between them, quiet, its output in
# $WORK/run.out and $WORK/run.err; "peak_rss_kb wall_seconds" in $WORK/time. Exits on failure.
timed_run() {
    local source=$1 target=$2
    shift 2
    /usr/bin/time -f '%M %e' -o "$WORK/time" "$BIN" --source "$(url "$source")" --target "$(url "$target")" \
        --quiet run "$@" > "$WORK/run.out" 2> "$WORK/run.err" \
        || { say "odoo-migrate run $* failed:"; cat "$WORK/run.err" >&2; exit 1; }
}

command -v /usr/bin/time > /dev/null || { say "GNU time is needed for the peak RSS: apt-get install time"; exit 2; }
# build_release [EXAMPLE …]: the release binary, and the named examples.
build_release() {
    local args=(--bin odoo-migrate) example
    for example in "$@"; do args+=(--example "$example"); done
    say "building the release binary${1:+ and $*}"
    cargo build --release --quiet "${args[@]}"
}
