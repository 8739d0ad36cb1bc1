-- Fleet of the Odoo 16 source: per company (the vehicle's) and vehicle, the contracts per state
-- (count, amount, recurring cost) and the odometer readings (count, highest value, last date).
-- Contract states (futur, open, expired, closed) are the same in 19.
SELECT v.company_id,
       'vehicle ' || v.id || '|contracts|' || k.state AS subject,
       count(*) AS readings,
       round(sum(k.amount), 2) AS amount,
       round(sum(k.cost_generated), 2) AS cost,
       NULL::date AS last
FROM fleet_vehicle_log_contract k
JOIN fleet_vehicle v ON v.id = k.vehicle_id
GROUP BY 1, 2
UNION ALL
SELECT v.company_id, 'vehicle ' || v.id || '|odometer', count(*), round(max(o.value)::numeric, 2), NULL, max(o.date)
FROM fleet_vehicle_odometer o
JOIN fleet_vehicle v ON v.id = o.vehicle_id
GROUP BY 1, 2
