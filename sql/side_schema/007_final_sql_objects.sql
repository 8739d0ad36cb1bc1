-- Side schema version 7: what the rules' `final_sql` created in the target beyond values — tables,
-- columns, constraints and indexes (DDL), and rows of any table (such as the manual fields of
-- ir_model_fields that go with new columns) — found by comparing the target before and after the
-- final SQL, in its transaction. `rollback` deletes the rows, then drops the objects newest first.
CREATE TABLE IF NOT EXISTS odoo_migrate.final_sql_objects (
    run_id     bigint NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    position   bigserial,
    -- 'table', 'column', 'constraint', 'index' (of `table_name`, named `name`) or 'row' (its id).
    kind       text   NOT NULL CHECK (kind IN ('table', 'column', 'constraint', 'index', 'row')),
    table_name text   NOT NULL,
    name       text   NOT NULL,
    PRIMARY KEY (run_id, kind, table_name, name)
);
