-- The slices of one plan ($2, model $3 of run $1): its planned source ids cut into $4 ranges of
-- about the same count; the first starts at the beginning and the last runs to the end.
INSERT INTO odoo_migrate.slices (run_id, source_table, slice, after_id, upto_id, rows_total, last_source_id)
SELECT $1, $2, b.slice,
       lag(b.upto) OVER (ORDER BY b.slice),
       CASE WHEN b.slice < max(b.slice) OVER () THEN b.upto END,
       b.rows,
       lag(b.upto) OVER (ORDER BY b.slice)
FROM (SELECT n.slice, max(n.source_id)::bigint AS upto, count(*) AS rows
      FROM (SELECT p.source_id, ntile($4) OVER (ORDER BY p.source_id) AS slice
            FROM odoo_migrate.id_plan p WHERE p.model = $3) n
      GROUP BY n.slice) b
