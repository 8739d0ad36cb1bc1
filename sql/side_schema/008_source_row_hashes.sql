-- Side schema version 8: what each migration run read from the source, row by row, as a hash, so
-- that a catch-up (`run --catch-up`) reads again only the rows whose values differ from the last
-- sync. One row per run and source table: the source ids, and for each the first 8 bytes of the
-- MD5 of the row as the table's plan selects it (joined values and rules' subqueries included),
-- end to end in `hashes`; a many2many table has one id, 0, whose hash covers all its pairs.
CREATE TABLE IF NOT EXISTS odoo_migrate.source_row_hashes (
    run_id        bigint  NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    source_table  text    NOT NULL,
    ids           integer[] NOT NULL,
    hashes        bytea   NOT NULL,
    PRIMARY KEY (run_id, source_table)
);
-- Hashes do not compress: stored out of line as they are.
ALTER TABLE odoo_migrate.source_row_hashes ALTER COLUMN ids SET STORAGE EXTERNAL;
ALTER TABLE odoo_migrate.source_row_hashes ALTER COLUMN hashes SET STORAGE EXTERNAL;

-- The external ids earlier runs created on records they created that the catch-up's newer snapshot
-- no longer gives those records (removed or renamed in the source), found by its id plan and
-- deleted by the catch-up (kept in removed_rows for `rollback`).
CREATE TABLE IF NOT EXISTS odoo_migrate.catch_up_lost_xmlids (
    run_id  bigint NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    module  text   NOT NULL,
    name    text   NOT NULL,
    PRIMARY KEY (run_id, module, name)
);
