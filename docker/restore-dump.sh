#!/usr/bin/env bash
# Run once by the postgres image on the first start of an empty data directory: restores the dump
# named by RESTORE_DUMP into POSTGRES_DB, owned by POSTGRES_USER.
set -euo pipefail
if [ -z "${RESTORE_DUMP:-}" ] || [ ! -f "$RESTORE_DUMP" ]; then
    echo "restore-dump: no dump at '${RESTORE_DUMP:-}', starting with an empty database" >&2
    exit 0
fi
echo "restore-dump: restoring $RESTORE_DUMP into $POSTGRES_DB"
pg_restore --no-owner --no-acl --exit-on-error -U "$POSTGRES_USER" -d "$POSTGRES_DB" "$RESTORE_DUMP"
