#!/usr/bin/env bash
# Entrypoint of the source and target services: refuses to serve a data directory whose dump was
# not restored completely, then hands over to the postgres image's own entrypoint.
#
# The image runs /docker-entrypoint-initdb.d (and so restore-dump.sh) only while the data
# directory is empty. When a restore fails, the container stops, but the data directory already
# exists: a second start would skip the restore and serve a half-restored database as healthy.
# restore-dump.sh leaves RESTORE_MARKER in the data directory once its dump is in; without it, an
# existing data directory is refused, and the container exits (so `docker compose up --wait` and
# `docker compose run` fail at once, with this message in `docker compose logs`).

set -euo pipefail

data="${PGDATA:?PGDATA is not set}"
marker="$data/${RESTORE_MARKER:-odoo-migrate-restored}"

if [ -s "$data/PG_VERSION" ] && [ ! -e "$marker" ]; then
    echo "start-postgres: $data holds a database whose dump was not restored completely" \
        "(an earlier restore failed or was interrupted; see the first start's logs):" \
        "run 'docker compose down -v' to forget it, then start again" >&2
    exit 1
fi

exec docker-entrypoint.sh "$@"
