-- A large load writes odoo_migrate.id_map without its keys: the primary key and the index by target
-- id are built once after the copy, the foreign key to the runs is validated once (each was
-- maintained or checked row by row otherwise). Built again by id_map_keys_restore.sql.
DROP INDEX IF EXISTS odoo_migrate.id_map_target;
ALTER TABLE odoo_migrate.id_map DROP CONSTRAINT IF EXISTS id_map_pkey, DROP CONSTRAINT IF EXISTS id_map_run_id_fkey;
