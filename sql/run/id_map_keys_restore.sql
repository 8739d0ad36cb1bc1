-- The keys of odoo_migrate.id_map that a large load set aside (id_map_keys_aside.sql), each built
-- again unless it is there: the primary key (one sort of the mappings; fails on a mapping written
-- twice), the foreign key to the runs (one anti-join) and the index by target id.
DO $restore$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'odoo_migrate.id_map'::regclass AND contype = 'p') THEN
        ALTER TABLE odoo_migrate.id_map ADD CONSTRAINT id_map_pkey PRIMARY KEY (model, source_id);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'odoo_migrate.id_map'::regclass AND contype = 'f') THEN
        ALTER TABLE odoo_migrate.id_map ADD CONSTRAINT id_map_run_id_fkey
            FOREIGN KEY (run_id) REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE;
    END IF;
END
$restore$;
CREATE INDEX IF NOT EXISTS id_map_target ON odoo_migrate.id_map (model, target_id);
