-- Repairs of the Odoo 16 source, in the states of Odoo 19: per company, the repair orders per
-- state (count, quantity repaired) and their parts per kind and state (count, quantity). 17
-- reduced the states to draft, confirmed, under_repair, done, cancel:
--   ready (parts reserved, repair not started)        → confirmed
--   2binvoiced (to invoice)                           → done when repaired, else confirmed
-- and made the parts (repair_line) stock moves of their repair, their kind (add, remove) in
-- repair_line_type; a part's state (draft, confirmed, done, cancel) is a move state too.
SELECT r.company_id,
       'repairs|' || CASE
           WHEN r.state = 'ready' THEN 'confirmed'
           WHEN r.state = '2binvoiced' THEN CASE WHEN r.repaired THEN 'done' ELSE 'confirmed' END
           ELSE r.state
       END AS subject,
       count(*) AS repairs,
       round(sum(r.product_qty), 4) AS quantity
FROM repair_order r
GROUP BY 1, 2
UNION ALL
SELECT r.company_id, 'parts|' || l.type || '|' || l.state, count(*), round(sum(l.product_uom_qty), 4)
FROM repair_line l
JOIN repair_order r ON r.id = l.repair_id
GROUP BY 1, 2
