-- Per-company copies that the run made of records Odoo 16 shared between companies (rules'
-- [[company_copies]]): which record each copies, for whom, so that `rollback` deletes them with
-- their external ids and `verify --deep` knows a reference to a copy is a reference to its original.
CREATE TABLE IF NOT EXISTS odoo_migrate.copied_rows (
    run_id       bigint  NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    model        text    NOT NULL,
    target_model text    NOT NULL,
    table_name   text    NOT NULL,
    target_id    integer NOT NULL,
    copy_of      integer NOT NULL,
    company_id   integer NOT NULL,
    PRIMARY KEY (run_id, table_name, target_id)
);
