-- Secondary indexes of the tables a run fills in bulk, dropped before the load and built again
-- after it; each record is committed with its drop and deleted once its index exists again.
CREATE TABLE IF NOT EXISTS odoo_migrate.deferred_indexes (
    run_id      bigint      NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    table_name  text        NOT NULL,
    index_name  text        NOT NULL,
    definition  text        NOT NULL,
    dropped_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, index_name)
);
