-- Fleet of the Odoo 19 target (ids translated back): per company and vehicle, the contracts per
-- state and the odometer readings (see fleet.source.sql).
SELECT c.source_id AS company_id,
       'vehicle ' || coalesce(mv.source_id::text, 'unmapped') || '|contracts|' || k.state AS subject,
       count(*) AS readings,
       round(sum(k.amount), 2) AS amount,
       round(sum(k.cost_generated), 2) AS cost,
       NULL::date AS last
FROM fleet_vehicle_log_contract k
JOIN fleet_vehicle v ON v.id = k.vehicle_id
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = v.company_id
LEFT JOIN odoo_migrate.id_map mv ON mv.model = 'fleet.vehicle' AND mv.target_id = v.id
GROUP BY 1, 2
UNION ALL
SELECT c.source_id, 'vehicle ' || coalesce(mv.source_id::text, 'unmapped') || '|odometer', count(*),
       round(max(o.value)::numeric, 2), NULL, max(o.date)
FROM fleet_vehicle_odometer o
JOIN fleet_vehicle v ON v.id = o.vehicle_id
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = v.company_id
LEFT JOIN odoo_migrate.id_map mv ON mv.model = 'fleet.vehicle' AND mv.target_id = v.id
GROUP BY 1, 2
