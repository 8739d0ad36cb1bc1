-- Event registrations of the Odoo 19 target (ids translated back): per company, event and state,
-- the registrations and the archived ones.
SELECT c.source_id AS company_id,
       'event ' || coalesce(me.source_id::text, 'unmapped') || '|' || r.state AS subject,
       count(*) FILTER (WHERE coalesce(r.active, true)) AS registrations,
       count(*) FILTER (WHERE NOT coalesce(r.active, true)) AS archived
FROM event_registration r
JOIN event_event e ON e.id = r.event_id
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = e.company_id
LEFT JOIN odoo_migrate.id_map me ON me.model = 'event.event' AND me.target_id = r.event_id
GROUP BY 1, 2
