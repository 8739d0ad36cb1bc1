-- Point of sale of the Odoo 16 source: per company, the orders per state (count, total, paid),
-- the payments per payment method (every method, with none: zero), and per session its state,
-- orders and their total, and its payments. 19 removed the order state 'invoiced': an invoiced
-- order is a done order with its invoice (account_move), so 16's 'invoiced' counts as 'done'.
-- Session states are the same in 16 and 19.
SELECT o.company_id,
       'orders|' || CASE o.state WHEN 'invoiced' THEN 'done' ELSE o.state END AS subject,
       count(*) AS orders,
       round(sum(o.amount_total), 2) AS total,
       round(sum(o.amount_paid), 2) AS paid
FROM pos_order o
GROUP BY 1, 2
UNION ALL
SELECT m.company_id, 'payments|method ' || m.id, count(p.id), round(coalesce(sum(p.amount), 0), 2), NULL
FROM pos_payment_method m
LEFT JOIN pos_payment p ON p.payment_method_id = m.id
GROUP BY 1, 2
UNION ALL
SELECT cf.company_id, 'session ' || s.id || '|' || s.state,
       (SELECT count(*) FROM pos_order o WHERE o.session_id = s.id),
       (SELECT round(coalesce(sum(o.amount_total), 0), 2) FROM pos_order o WHERE o.session_id = s.id),
       (SELECT round(coalesce(sum(p.amount), 0), 2) FROM pos_payment p WHERE p.session_id = s.id)
FROM pos_session s
JOIN pos_config cf ON cf.id = s.config_id
