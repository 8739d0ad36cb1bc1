-- The records of a catch-up's update that the target's users wrote after the last sync and whose
-- values the update would change: the target's row and the source's, whole, for the caller to name
-- the columns that differ. {table} is the target table, {differs} the comparison of the columns
-- the update writes. $1 the last sync's end (UTC text), $2 the Odoo 16 model.
SELECT t.id, m.source_id, to_jsonb(t) AS target_row, to_jsonb(u) AS source_row
FROM public.{table} t
JOIN pg_temp.odoo_migrate_update u ON u.id = t.id
LEFT JOIN odoo_migrate.id_map m ON m.model = $2 AND m.target_id = t.id
WHERE t.write_date > $1::text::timestamp AND {differs}
ORDER BY t.id
