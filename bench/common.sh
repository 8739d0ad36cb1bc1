# Shared by the benchmark scripts (sourced, not run): the server to use, the binary, a scratch
# directory removed on exit, and small helpers around psql.
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
JOBS="${JOBS:-4}"
BIN=target/release/odoo-migrate
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

say() { printf '%s\n' "$*" >&2; }
q() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
url() { printf 'postgres://%s@%s:%s/%s' "$PGUSER" "$PGHOST" "$PGPORT" "$1"; }
exists() { [ "$(q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ]; }
