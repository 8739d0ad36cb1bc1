-- Side schema version 10: how each run's row hashes (008) were computed, so that a catch-up only
-- compares hashes made alike. 'md5' (the first 8 bytes of the MD5 of the row's text, as version 8
-- made them); 'record/<server major version>' (PostgreSQL's hash_record_extended of the row, each
-- column hashed by its type's own hash function, no text conversion); 'text/<major>' (the same of
-- the row's text, for a row with a column type that has no hash function). A catch-up given
-- hashes of another method, or of another server version, reads the whole table again.
ALTER TABLE odoo_migrate.source_row_hashes ADD COLUMN IF NOT EXISTS method text NOT NULL DEFAULT 'md5';
