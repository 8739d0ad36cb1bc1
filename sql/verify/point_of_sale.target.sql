-- Point of sale of the Odoo 19 target (ids translated back): per company, orders per state,
-- payments per payment method (a method of Odoo 19's own, not migrated, only when it has
-- payments), and per session its state, orders, their total and its payments (see
-- point_of_sale.source.sql).
SELECT c.source_id AS company_id,
       'orders|' || o.state AS subject,
       count(*) AS orders,
       round(sum(o.amount_total), 2) AS total,
       round(sum(o.amount_paid), 2) AS paid
FROM pos_order o
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = o.company_id
GROUP BY 1, 2
UNION ALL
SELECT c.source_id, 'payments|method ' || coalesce(mm.source_id::text, 'unmapped'), count(p.id),
       round(coalesce(sum(p.amount), 0), 2), NULL
FROM pos_payment_method m
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = m.company_id
LEFT JOIN odoo_migrate.id_map mm ON mm.model = 'pos.payment.method' AND mm.target_id = m.id
LEFT JOIN pos_payment p ON p.payment_method_id = m.id
GROUP BY 1, 2
HAVING bool_or(mm.source_id IS NOT NULL) OR count(p.id) > 0
UNION ALL
SELECT c.source_id, 'session ' || coalesce(ms.source_id::text, 'unmapped') || '|' || s.state,
       (SELECT count(*) FROM pos_order o WHERE o.session_id = s.id),
       (SELECT round(coalesce(sum(o.amount_total), 0), 2) FROM pos_order o WHERE o.session_id = s.id),
       (SELECT round(coalesce(sum(p.amount), 0), 2) FROM pos_payment p WHERE p.session_id = s.id)
FROM pos_session s
JOIN pos_config cf ON cf.id = s.config_id
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = cf.company_id
LEFT JOIN odoo_migrate.id_map ms ON ms.model = 'pos.session' AND ms.target_id = s.id
