-- Event registrations of the Odoo 16 source: per company (the event's), event and state, the
-- registrations (archived ones apart). The states (draft, open, done, cancel) are the same in 19.
SELECT e.company_id,
       'event ' || r.event_id || '|' || r.state AS subject,
       count(*) FILTER (WHERE coalesce(r.active, true)) AS registrations,
       count(*) FILTER (WHERE NOT coalesce(r.active, true)) AS archived
FROM event_registration r
JOIN event_event e ON e.id = r.event_id
GROUP BY 1, 2
